"""Defects found by the fault battery (../shared/faults, benchmarks/faults.py): each fails on the code before
its fix. Bad paths never stop a run, bombs are bounded, a folder that could not be listed keeps its chunks,
the docs folder stays a folder, the advised recovery works, streams that fail are never shown as answers."""

from __future__ import annotations

import json
import os
import zipfile

import pytest

from tests.conftest import KB


def _docs(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vpn.md").write_text("# VPN\n\nWhen the VPN does not connect, check the client's clock first.\n")
    return docs


def _report(cli, docs, data) -> tuple[int, dict]:
    code, out, err = cli("ingest", docs, "--data-dir", data, "--json")
    assert "Traceback" not in err and "unexpected" not in err, err
    return code, json.loads(out)


def test_symlink_loops_and_names_that_are_not_utf8_are_listed_and_the_run_goes_on(cli, tmp_path):
    docs = _docs(tmp_path)
    os.symlink("loop.md", docs / "loop.md")
    os.symlink("b.md", docs / "a.md")
    os.symlink("a.md", docs / "b.md")
    with open(os.path.join(os.fsencode(docs), b"caf\xe9-menu.md"), "wb") as f:
        f.write(b"# Cafe\n\nThe cafe router needs a reset every week.\n")
    code, report = _report(cli, docs, tmp_path / "d")
    assert code in (0, 5) and report["total_chunks"] >= 1
    listed = {x["path"]: x["reason"] for x in report["failed"] + report["skipped"]}
    assert "symlink loop" in listed["loop.md"] and "symlink loop" in listed["a.md"]
    assert listed["caf\\xe9-menu.md"] == "the file name is not valid UTF-8; rename the file to ingest it"
    (docs / "new.md").write_text("# Zorblat fax\n\nThe zorblat fax line needs code 7741.\n")
    code, report = _report(cli, docs, tmp_path / "d")  # an already ingested folder updates around it
    assert code in (0, 5) and report["added"] == 1


def test_a_folder_that_cannot_be_listed_keeps_its_chunks_and_the_run_says_so(cli, tmp_path, monkeypatch):
    docs = _docs(tmp_path)
    (docs / "billing").mkdir()
    (docs / "billing" / "refunds.md").write_text("# Refunds\n\nRefunds reach your card within five working days.\n")
    assert _report(cli, docs, tmp_path / "d")[0] == 0
    monkeypatch.setenv("RAG_TEST_UNREADABLE", "billing")  # a permission error, a share that hiccups
    code, report = _report(cli, docs, tmp_path / "d")
    assert code == 5 and report["removed"] == 0
    [failed] = report["failed"]
    assert failed["path"] == "billing/" and "keep their chunks" in failed["reason"]
    monkeypatch.delenv("RAG_TEST_UNREADABLE")
    code, out, _ = cli("search", "how long until a refund reaches my card", "--data-dir", tmp_path / "d", "--json")
    assert code == 0 and json.loads(out)[0]["source"] == "billing/refunds.md"


@pytest.mark.parametrize(
    "include",
    [".. include:: </etc/passwd>", ".. literalinclude:: </etc/passwd>", ".. include:: <../../../../../etc/passwd>"],
)
def test_rest_standard_include_syntax_cannot_leave_the_folder(cli, tmp_path, include):
    docs = _docs(tmp_path)
    (docs / "page.rst").write_text(f"Page\n====\n\nThe modem manual.\n\n{include}\n")
    code, report = _report(cli, docs, tmp_path / "d")
    assert code == 0
    target = include.split("::", 1)[1].strip()
    assert {
        "path": "page.rst",
        "note": f"{include.split()[1][:-2]} of {target} refused: it is outside the ingested folder",
    } in report["notes"]
    code, out, _ = cli("search", "root x 0 0 bin bash", "--data-dir", tmp_path / "d", "--json", "--retriever", "bm25")
    assert "root:x:0:0" not in out


def test_bombs_fail_their_file_with_the_reason(cli, tmp_path):
    docs = _docs(tmp_path)
    with (
        zipfile.ZipFile(KB / "support-policies.docx") as zin,
        zipfile.ZipFile(docs / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as zout,
    ):
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                para = b"<w:p><w:r><w:t>restart the modem and wait </w:t></w:r></w:p>"
                data = data.replace(b"</w:body>", para * 1_000_000 + b"</w:body>")
            zout.writestr(item, data)
    (docs / "l6.inc").write_text("Restart the modem and wait for the lights to settle.\n")
    for level in range(5, -1, -1):
        (docs / f"l{level}.inc").write_text("".join(f"\n.. include:: l{level + 1}.inc\n" for _ in range(10)))
    (docs / "bomb.rst").write_text("Bomb\n====\n\n.. include:: l0.inc\n")
    (docs / "big.html").write_text("<html><body><p>" + "router " * 3_000_000 + "</p></body></html>")
    code, report = _report(cli, docs, tmp_path / "d")
    failed = {x["path"]: x["reason"] for x in report["failed"]}
    assert code == 5 and report["total_chunks"] >= 1
    assert "inflate to" in failed["bomb.docx"]
    assert "includes expand the page" in failed["bomb.rst"]
    assert "a line of 21,000,000 characters" in failed["big.html"]


def test_the_advice_for_a_damaged_catalog_recovers(cli, tmp_path):
    docs = _docs(tmp_path)
    data = tmp_path / "d"
    assert _report(cli, docs, data)[0] == 0
    (data / "catalog.sqlite3").write_bytes(b"this is not a database" * 100)
    code, _, err = cli("status", "--data-dir", data)
    assert code != 0 and "--rebuild" in err
    for name in os.listdir(data):  # what the message says: move it aside, then rebuild
        if name.startswith("catalog.sqlite3"):
            os.rename(data / name, tmp_path / name)
    code, out, err = cli("ingest", docs, "--rebuild", "--data-dir", data)
    assert code == 0, err
    code, out, _ = cli("search", "vpn does not connect", "--data-dir", data, "--json")
    assert code == 0 and json.loads(out)[0]["source"] == "vpn.md"


def test_blank_searches_exports_into_folders_and_fifo_configs_are_refused(cli, tmp_path, kb_copy):
    for query in ("", "   "):
        code, _, err = cli("search", query, "--data-dir", kb_copy)
        assert code == 2 and "empty" in err
    (tmp_path / "out").mkdir()
    code, _, err = cli("export-finetune", tmp_path / "out", "--data-dir", kb_copy)
    assert code == 2 and "is a folder" in err
    os.mkfifo(tmp_path / "config.toml")
    code, _, err = cli("status", "--config", tmp_path / "config.toml", "--data-dir", kb_copy)
    assert code == 2 and "not a regular file" in err


class _Odd:
    """A chat server that misbehaves one way, for `rag ask` (the fake server's well-formed faults are in
    tests/fake_openai.py)."""

    def __init__(self, events: list[str] | None = None, status: int = 200, body: bytes = b""):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        odd = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                odd.key = self.headers.get("Authorization", "").split(" ", 1)[-1]
                if events is None:
                    payload = body.replace(b"KEY", odd.key.encode())
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for e in events:
                    self.wfile.write(f"data: {e}\n\n".encode())
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chunk(delta: dict, finish: str | None = None) -> str:
    return json.dumps(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


@pytest.mark.parametrize(
    "events, code, said",
    [
        (
            [_chunk({"content": "Partial"}), json.dumps({"error": {"message": "overloaded", "type": "server_error"}})],
            3,
            "overloaded",
        ),
        ([_chunk({"role": "assistant", "content": ""}), _chunk({}, "stop"), "[DONE]"], 3, "empty answer"),
        ([_chunk({"content": "Restart the modem and"}), _chunk({}, "length"), "[DONE]"], 0, "cut off"),
        (["{}", "{}", "[DONE]"], 3, "invalid response"),
    ],
)
def test_a_stream_that_fails_is_never_shown_as_a_whole_answer(cli, kb_copy, monkeypatch, events, code, said):
    odd = _Odd(events)
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", odd.url)
        monkeypatch.setenv("RAG_CHAT_BASE", "m")
        got, out, err = cli("ask", "How do I cancel my service?", "--data-dir", kb_copy, "--no-log")
    finally:
        odd.stop()
    assert got == code and said in (out + err) and "Traceback" not in err


def test_a_key_echoed_by_a_server_is_hidden_whatever_its_variable_is_called(cli, kb_copy, monkeypatch):
    secret = "plainsecret-4f9a2b7c1d"
    odd = _Odd(status=500, body=b'{"error": {"message": "upstream rejected credentials api_key=KEY"}}')
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", odd.url)
        monkeypatch.setenv("RAG_CHAT_BASE", "m")
        monkeypatch.setenv("RAG_CHAT_API_KEY_ENV", "LLM_CRED")
        monkeypatch.setenv("RAG_CHAT_MAX_RETRIES", "0")
        monkeypatch.setenv("LLM_CRED", secret)
        code, out, err = cli("ask", "How do I cancel my service?", "--data-dir", kb_copy, "--no-log")
    finally:
        odd.stop()
    assert code == 3 and "500" in err and secret not in out + err


def test_ask_server_rejects_events_without_choices_and_hides_url_passwords(cli, tmp_path, monkeypatch):
    odd = _Odd([json.dumps({"id": "x", "object": "chat.completion.chunk"}), "[DONE]"])
    try:
        port = odd.url.split(":")[2].split("/")[0]
        code, _, err = cli(
            "ask", "How do I cancel?", "--server", f"http://127.0.0.1:{port}", "--data-dir", tmp_path / "none"
        )
    finally:
        odd.stop()
    assert code == 3 and "invalid response" in err and "unexpected" not in err
    code, _, err = cli("status", "--server", "http://admin:hunter2pass@127.0.0.1:9", "--data-dir", tmp_path / "none")
    assert code == 3 and "cannot reach" in err and "hunter2pass" not in err


def test_damaged_hnsw_files_are_noticed_by_a_plain_ingest(tmp_path, fake_openai):
    """A store that counts right but cannot answer (its HNSW files garbled) is set aside and refilled from the
    catalog by the next ingest; a search before that says what to run. Each command runs as its own process,
    as a user runs them (a process keeps Chroma's state of a directory in memory). Embeddings from the local
    fake server: 1,100 chunks are needed for Chroma to write HNSW files at all."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        OPENAI_BASE_URL=fake_openai.url,
        OPENAI_API_KEY="sk-test",
        RAG_EMBEDDER_PROVIDER="openai",
        RAG_EMBEDDER_DIMENSION="64",
        RAG_LOG_ENABLED="false",
    )

    def rag(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rag", *map(str, args)], env=env, capture_output=True, text=True, timeout=300
        )

    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(1100):
        (docs / f"case-{n}.txt").write_text(f"Restart the modem for case {n} and wait for light {n % 7}.\n")
    data = tmp_path / "d"
    question = ("search", "restart the modem for case 7", "--data-dir", data, "--retriever", "dense", "--json")
    assert rag("ingest", docs, "--data-dir", data, "--quiet").returncode == 0
    assert rag(*question).returncode == 0
    garbled = [p for p in sorted(data.glob("chroma/*/*.bin")) if p.stat().st_size]
    assert garbled  # past Chroma's sync threshold: the HNSW index is on disk
    for p in garbled:
        p.write_bytes(os.urandom(p.stat().st_size))
    broken = rag(*question)
    assert broken.returncode == 3 and "rag repair" in broken.stderr and "unexpected" not in broken.stderr
    again = rag("ingest", docs, "--data-dir", data, "--json")
    assert again.returncode == 0, again.stderr
    assert "moved the damaged vector store" in json.loads(again.stdout)["repaired"]
    after = rag(*question)
    assert after.returncode == 0 and json.loads(after.stdout)
