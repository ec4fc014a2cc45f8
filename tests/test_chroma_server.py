"""Server mode against a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import KB, KB_FILES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("chroma run did not start") from None
            time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_search_and_ask_through_a_chroma_server(cli, chroma_server, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_STORE_MODE", "http")
    monkeypatch.setenv("RAG_STORE_PORT", str(chroma_server))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    code, out, err = cli("ingest", KB, "--json")
    assert code == 0, err
    assert json.loads(out)["chunks"] > 100
    assert not (tmp_path / "data" / "chroma").exists()  # vectors went to the server, not the embedded store

    code, out, err = cli("search", "how do I set up email in thunderbird", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["source"] == "email/email-setup-desktop.html"

    code, out, err = cli("ask", "Why is my first bill higher than expected?", "--json")
    assert code == 0, err
    assert json.loads(out)["sources"][0]["source"] == "billing/billing-and-invoices.md"

    code, out, _ = cli("ingest", KB, "--json")
    assert json.loads(out)["unchanged"] == KB_FILES


def test_unreachable_server_is_one_clear_line(cli, kb_data, monkeypatch):
    monkeypatch.setenv("RAG_STORE_MODE", "http")
    monkeypatch.setenv("RAG_STORE_PORT", str(free_port()))
    code, _, err = cli("search", "router", "--data-dir", kb_data)
    assert code == 3
    assert "is `chroma run` running there?" in err and len(err.strip().splitlines()) == 1


def test_a_second_data_directory_cannot_take_over_a_shared_collection(cli, chroma_server, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_STORE_MODE", "http")
    monkeypatch.setenv("RAG_STORE_PORT", str(chroma_server))
    monkeypatch.setenv("RAG_STORE_COLLECTION", "team-shared")
    first, second = tmp_path / "first", tmp_path / "second"
    code, out, err = cli("ingest", KB / "billing", "--json", "--data-dir", first)
    assert code == 0, err
    kept = json.loads(out)["total_chunks"]
    # Another data directory, pointed at the same collection: it would delete the first one's chunks as
    # strays when it reconciles. It is refused instead, and the first index is untouched.
    for args in (("ingest", KB / "email"), ("ingest", KB / "email", "--rebuild"), ("search", "invoice")):
        code, _, err = cli(*args, "--data-dir", second)
        assert code in (1, 3) and "holds the index of another data directory" in err, (args, err)
    code, out, err = cli("search", "copy of an old invoice", "--json", "--retriever", "dense", "--data-dir", first)
    assert code == 0 and json.loads(out)[0]["source"] == "billing-and-invoices.md"
    code, out, _ = cli("status", "--json", "--data-dir", first)
    assert json.loads(out)["chunks"] == kept
    monkeypatch.setenv("RAG_STORE_COLLECTION", "team-second")  # its own collection on the same server
    assert cli("ingest", KB / "email", "--quiet", "--data-dir", second)[0] == 0
