"""SIGKILL at any moment, then run again: the index is exactly what an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import ingest_folder
from rag.settings import load_settings
from rag.store import ChromaStore

TOPICS = ["router", "printer", "invoice", "password", "laptop", "vpn", "mailbox", "phone", "mesh", "modem"]


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


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data), RAG_INGEST_BATCH_CHUNKS="8")
    return env


def snapshot(data: Path, embedder) -> dict:
    settings = load_settings(environ={}, overrides={"data_dir": str(data)})
    store = ChromaStore(settings, embedder.info, create=False)
    got = store._collection.get(include=["documents", "metadatas"])  # the real Chroma contents
    chroma = {
        i: (d, json.dumps(m, sort_keys=True))
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }
    db = sqlite3.connect(data / "catalog.sqlite3")
    catalog = {r[0]: r[1] for r in db.execute("SELECT id, text FROM chunks")}
    files = sorted(db.execute("SELECT path, hash, chunks FROM files"))
    db.close()
    return {"chroma": chroma, "catalog": catalog, "files": files}


def written_files(data: Path) -> int:
    try:
        db = sqlite3.connect(data / "catalog.sqlite3", timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_sigkill_then_resume_matches_an_uninterrupted_run(corpus, tmp_path, embedder):
    reference = tmp_path / "reference"
    settings = load_settings(environ={}, overrides={"data_dir": str(reference)})
    ingest_folder(settings, corpus, embedder)
    expected = snapshot(reference, embedder)
    assert len(expected["chroma"]) == 24 * 5  # one chunk per step section

    # Kill points: before any commit, after a few batches, deep into the run.
    for after_files in (0, 3, 12):
        data = tmp_path / f"killed-{after_files}"
        proc = subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(corpus), "--quiet"], env=env_for(data))
        deadline = time.time() + 120
        while written_files(data) < after_files and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        if after_files == 0:
            time.sleep(2.5)  # mid start-up or the first embedding batch
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        resumed = subprocess.run(
            [sys.executable, "-m", "rag", "ingest", str(corpus), "--json"],
            env=env_for(data),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert snapshot(data, embedder) == expected, f"killed after {after_files} files"


def test_a_second_writer_is_refused_while_search_keeps_working(corpus, tmp_path, embedder, kb_data):
    data = tmp_path / "data"
    first = subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(corpus), "--quiet"], env=env_for(data))
    try:
        deadline = time.time() + 120
        while written_files(data) < 1 and time.time() < deadline and first.poll() is None:
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, "-m", "rag", "ingest", str(corpus)],
            env=env_for(data),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if first.poll() is None:  # only meaningful while the first is still writing
            assert second.returncode == 4
            assert "another `rag ingest` is writing" in second.stderr
        search = subprocess.run(
            [sys.executable, "-m", "rag", "search", "restart the router", "--json"],
            env=env_for(data),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert search.returncode == 0, search.stderr
        assert json.loads(search.stdout)
    finally:
        assert first.wait(timeout=300) == 0
