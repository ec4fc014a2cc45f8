"""The offline embedding model: built from pinned sources, checked, rebuilt when damaged."""

from __future__ import annotations

import shutil

import pytest

from rag import minilm
from rag.errors import SetupError


def test_a_source_that_does_not_match_its_pin_is_refused(tmp_path):
    found = minilm.sources()
    bad = tmp_path / "tokenizer.json"
    shutil.copyfile(found["tokenizer.json"], bad)
    bad.write_bytes(bad.read_bytes().replace(b'"[UNK]"', b'"[UNKNOWN]"', 1))  # a tampered upstream file
    with pytest.raises(SetupError, match="does not match its pinned checksum"):
        minilm.build(tmp_path / "models", {**found, "tokenizer.json": bad})
    assert not (tmp_path / "models" / minilm.MODEL_NAME).exists()


def test_a_damaged_model_is_rebuilt_and_checked_against_its_reference(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER_MODEL_DIR", str(tmp_path / "models"))
    code, out, err = cli("setup")
    assert code == 0, err
    built = minilm.locate("fp32", tmp_path / "models")
    assert built.weights in {"fp32", "w8"}
    reference = minilm.embed_reference(built.model, built.tokenizer)
    model = built.model
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    model.write_bytes(bytes(data))
    again = minilm.locate("fp32", tmp_path / "models")  # noticed by its checksum, rebuilt from the sources
    assert float(minilm.embed_reference(again.model, again.tokenizer) @ reference) > 0.9999
    code, out, err = cli("search", "anything", "--data-dir", tmp_path / "no-index")
    assert code == 1 and "nothing has been ingested" in err  # and the CLI never touched the model for that
