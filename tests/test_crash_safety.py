"""SIGKILL at each named step, then run again: the whole index is exactly what an uninterrupted run gives.

Kills happen at fault points (`RAG_TEST_KILL_AT`, ingest/faults.py), not after a sleep: every test asserts the
process really died by SIGKILL at that step, so none can pass because the run finished first.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import IngestLock
from rag.settings import load_settings
from rag.storage.store import ChromaStore
from rag.wiring import open_retriever

TOPICS = ["router", "printer", "invoice", "password", "laptop", "vpn", "mailbox", "phone", "mesh", "modem"]
QUERIES = ["restart the router and wait", "printer profile settings page", "mailbox guide case 7"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crash-corpus")
    for n in range(24):
        topic = TOPICS[n % len(TOPICS)]
        sections = "\n\n".join(
            f"## Step {s}\n\nFor case {n}-{s}, check the {topic} settings page, then restart the {topic} "
            f"and wait {n + s} seconds before trying again with profile {n * 7 + s}."
            for s in range(5)
        )
        (folder / f"doc-{n:02d}.md").write_text(f"# {topic.title()} guide {n}\n\n{sections}\n")
    return folder


def rag(data: Path, *args: str, kill_at: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data), RAG_INGEST_BATCH_CHUNKS="8", RAG_LOG_ENABLED="false")
    if kill_at:
        env["RAG_TEST_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True, timeout=300)


def state(data: Path, embedder) -> dict:
    """Everything a reader depends on: catalog rows, Chroma's ids, texts, metadata and vectors, the BM25 ids,
    and the top five of fixed queries."""
    settings = load_settings(environ={}, overrides={"data_dir": str(data)})
    store = ChromaStore(settings, embedder.info, create=False)
    got = store._collection.get(include=["documents", "metadatas", "embeddings"])  # the real Chroma contents
    chroma = {
        i: (d, json.dumps(m, sort_keys=True), np.round(np.asarray(e), 5).tobytes())
        for i, d, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
    }
    db = sqlite3.connect(data / "catalog.sqlite3")
    catalog = sorted(db.execute("SELECT id, folder, path, idx, text, hash, meta FROM chunks"))
    files = sorted(db.execute("SELECT folder, path, hash, chunks FROM files"))
    dirty = db.execute("SELECT value FROM meta WHERE key='dirty'").fetchone()
    db.close()
    retriever = open_retriever(settings, embedder)
    top = {q: [h.id for h in retriever.search(q, 5)] for q in QUERIES}
    bm25 = sorted(json.loads((data / "bm25" / "ids.json").read_text()))
    return {"chroma": chroma, "catalog": catalog, "files": files, "bm25": bm25, "top5": top, "dirty": dirty}


@pytest.fixture(scope="module")
def clean(corpus, tmp_path_factory, embedder) -> dict:
    data = tmp_path_factory.mktemp("clean")
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    expected = state(data, embedder)
    assert len(expected["chroma"]) == 24 * 5 and expected["dirty"] == ("0",)
    return expected


@pytest.mark.parametrize("point", ["start", "catalog-committed:2", "store-written:5", "before-bm25"])
def test_kill_at_each_step_then_resume_matches_a_clean_ingest(corpus, tmp_path, embedder, clean, point):
    data = tmp_path / "data"
    killed = rag(data, "ingest", str(corpus), "--quiet", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, f"the run was not killed at {point}: {killed.stderr}"
    resumed = rag(data, "ingest", str(corpus), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert state(data, embedder) == clean, f"killed at {point}"


def test_kill_during_a_removal_then_resume(corpus, tmp_path, embedder, clean):
    data = tmp_path / "data"
    extra = tmp_path / "docs"
    shutil.copytree(corpus, extra)
    (extra / "doc-99.md").write_text("# Extra\n\n## Step 0\n\nA page that will be deleted before the next run.\n")
    assert rag(data, "ingest", str(extra), "--quiet").returncode == 0
    (extra / "doc-99.md").unlink()
    killed = rag(data, "ingest", str(extra), "--quiet", kill_at="files-removed")
    assert killed.returncode == -signal.SIGKILL
    assert rag(data, "ingest", str(extra), "--quiet").returncode == 0
    got = state(data, embedder)
    assert [f[1:] for f in got["files"]] == [f[1:] for f in clean["files"]]
    assert {c[2] for c in got["catalog"]} == {c[2] for c in clean["catalog"]}
    assert len(got["chroma"]) == len(clean["chroma"]) and got["dirty"] == ("0",)


def test_a_killed_rebuild_leaves_a_whole_index_for_readers(corpus, tmp_path, embedder, clean):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    killed = rag(data, "ingest", str(corpus), "--rebuild", "--quiet", kill_at="catalog-committed:1")
    assert killed.returncode == -signal.SIGKILL
    # Mid-rebuild, before any repair: every document is still searchable, by meaning and by keyword.
    for retriever in ("dense", "bm25", "hybrid"):
        found = rag(data, "search", "guide", "-k", "200", "--retriever", retriever, "--json")
        assert found.returncode == 0, found.stderr
        assert len({h["source"] for h in json.loads(found.stdout)}) == 24, retriever
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    assert state(data, embedder) == clean


def test_a_deleted_vector_store_is_noticed_and_refilled(corpus, tmp_path, embedder, clean):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    shutil.rmtree(data / "chroma")
    search = rag(data, "search", "router", "--retriever", "dense")
    assert search.returncode == 1 and "rag repair" in search.stderr and len(search.stderr.splitlines()) == 1
    resumed = rag(data, "ingest", str(corpus), "--json")
    assert resumed.returncode == 0
    report = json.loads(resumed.stdout)
    assert report["unchanged"] == 24 and report["embedded"] == 0
    assert report["repaired"] == "restored 120 chunks to the vector store and removed 0 stray ones"
    assert state(data, embedder) == clean


def test_a_damaged_vector_store_is_set_aside_and_rebuilt_by_repair(corpus, tmp_path, embedder, clean):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    search = rag(data, "search", "router")
    assert search.returncode == 3 and "rag repair" in search.stderr and len(search.stderr.splitlines()) == 1
    repaired = rag(data, "repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    done = json.loads(repaired.stdout)
    assert done["set_aside"].startswith(str(data / "chroma.damaged-")) and done["added"] == 120
    assert state(data, embedder) == clean


def test_a_damaged_keyword_index_falls_back_and_is_rebuilt(corpus, tmp_path, embedder, clean):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    ids = data / "bm25" / "ids.json"
    ids.write_text(json.dumps(json.loads(ids.read_text())[:-3]))  # ids.json of another build
    search = rag(data, "search", "router")
    assert search.returncode == 0 and "searching by meaning only" in search.stderr
    assert rag(data, "repair").stdout.strip() == "rebuilt the keyword index"
    assert state(data, embedder) == clean


def test_a_damaged_catalog_is_reported_with_the_fix(corpus, tmp_path):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    (data / "catalog.sqlite3").write_bytes(b"garbage" * 1000)
    for args in (("search", "router"), ("status",), ("ingest", str(corpus))):
        result = rag(data, *args)
        assert result.returncode == 1, args
        assert "catalog" in result.stderr and "is damaged" in result.stderr and "--rebuild" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_second_writer_is_refused_while_search_keeps_working(corpus, tmp_path):
    data = tmp_path / "data"
    assert rag(data, "ingest", str(corpus), "--quiet").returncode == 0
    with IngestLock(data):  # a writer holds the data directory
        second = rag(data, "ingest", str(corpus))
        assert second.returncode == 4
        assert "another `rag ingest` is writing" in second.stderr
        search = rag(data, "search", "restart the router", "--json")
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout)
