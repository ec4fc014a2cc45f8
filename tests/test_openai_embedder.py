"""Embeddings from an OpenAI-compatible endpoint, chosen by settings."""

from __future__ import annotations

import json

import pytest

from tests.conftest import KB


@pytest.fixture
def openai_embed_env(monkeypatch, openai_env, tmp_path):
    monkeypatch.setenv("RAG_EMBEDDER_PROVIDER", "openai")
    monkeypatch.setenv("RAG_EMBEDDER_MODEL", "embed-small")
    monkeypatch.setenv("RAG_EMBEDDER_DIMENSION", "64")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    return openai_env


def test_ingest_and_search_with_an_embeddings_endpoint(cli, openai_embed_env):
    code, out, err = cli("ingest", KB / "billing", "--json")
    assert code == 0, err
    requests = [r.body for r in openai_embed_env.requests if r.path.endswith("/embeddings")]
    assert requests and all(r["model"] == "embed-small" for r in requests)
    code, out, err = cli("search", "charged twice this month", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["source"] == "billing-and-invoices.md"  # relative to the ingested folder


def test_switching_embedder_is_refused_until_rebuild(cli, openai_embed_env, monkeypatch):
    assert cli("ingest", KB / "billing")[0] == 0
    monkeypatch.delenv("RAG_EMBEDDER_PROVIDER")
    code, _, err = cli("ingest", KB / "billing")
    assert code != 0 and "openai:embed-small" in err and "--rebuild" in err
    code, out, err = cli("ingest", KB / "billing", "--rebuild", "--json")
    assert code == 0, err
    assert json.loads(out)["updated"] == 3
    # The new collection (built beside the old one) is now the live one.
    code, out, err = cli("search", "charged twice this month", "--json")
    assert code == 0, err and json.loads(out)[0]["source"] == "billing-and-invoices.md"
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["embedder"] == "local:all-MiniLM-L6-v2"


def test_wrong_dimension_setting_is_explained(cli, openai_embed_env, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER_DIMENSION", "1536")
    code, _, err = cli("ingest", KB / "billing")
    assert code == 2 and "embedder.dimension = 64" in err
