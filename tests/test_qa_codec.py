"""A Q&A record whose answer spans several chunks comes back exactly: in export, answers and few-shot turns."""

from __future__ import annotations

import json

from rag.settings import load_settings
from rag.wiring import open_retriever

QUESTION = "How do I move my mailbox, contacts and calendar from another provider to Northwind Mail?"


def long_answer() -> str:
    steps = []
    for n in range(1, 19):
        steps.append(
            f"Step {n}: open the migration assistant, choose the source account number {n}, confirm the "
            f"folders to copy (Inbox, Sent, Archive {n}), and wait until the progress bar of batch {n} "
            "reaches one hundred percent before you start the next batch."
        )
    return "\n\n".join(steps)


def test_an_answer_of_several_chunks_round_trips_exactly(cli, tmp_path, embedder):
    answer = long_answer()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "migration.jsonl").write_text(json.dumps({"prompt": QUESTION, "completion": answer}) + "\n")
    data = tmp_path / "d"
    assert cli("ingest", docs, "--quiet", "--data-dir", data)[0] == 0

    from rag.storage.catalog import Catalog

    catalog = Catalog(data / "catalog.sqlite3", readonly=True)
    chunks = list(catalog.chunks())
    catalog.close()
    assert len(chunks) >= 3  # the case under test: one record, three chunks or more
    assert all(c.text.startswith(f"Q: {QUESTION}\n\nA: ") for c in chunks)

    out = tmp_path / "train.jsonl"
    code, _, err = cli("export-finetune", out, "--data-dir", data)
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["messages"][-2]["content"] == QUESTION
    assert lines[0]["messages"][-1]["content"] == answer  # exactly: no question inside, no overlap repeated

    hits = open_retriever(load_settings(environ={}, overrides={"data_dir": str(data)}), embedder).search(
        "wait for the progress bar of batch 7", 5
    )
    for hit in hits:
        assert QUESTION not in hit.answer and hit.answer in answer
