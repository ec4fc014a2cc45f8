"""`rag serve` over real HTTP: the official `openai` client, keys and roles, feedback, follow-ups, ingest."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from openai import OpenAI

from rag.keys import KeyStore
from rag.serve.app import create_app
from rag.serve.service import Service
from rag.settings import load_settings
from tests.conftest import KB
from tests.fake_openai import REPLY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(data: Path, embedder, environ: dict | None = None):
    """A real `rag serve` app under uvicorn on 127.0.0.1, in this process (a thread)."""
    settings = load_settings(environ=environ or {}, overrides={"data_dir": str(data)})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(Service(settings, embedder)), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(kb_copy, embedder):
    with serving(kb_copy, embedder, {"RAG_LOG_ENABLED": "true"}) as url:
        yield url, kb_copy


def client(url: str, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_the_openai_client_gets_a_cited_answer(served):
    url, _ = served
    answer = client(url).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": "How do I factory reset the AX3000 router?"}]
    )
    text = answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop" and "[1]" in text
    extra = answer.model_extra
    assert extra["answered_by"] == "extractive" and extra["abstained"] is False
    first = extra["sources"][0]
    assert {"n", "label", "source", "headings", "page", "score", "text"} <= set(first)
    assert any(s["source"] == "internet/nw-ax3000-router-manual.pdf" and s["page"] for s in extra["sources"])
    assert [m.id for m in client(url).models.list().data][:3] == ["rag", "rag-few-shot", "rag-plain"]


def test_streaming_sends_openai_chunks_then_the_sources(served):
    url, _ = served
    stream = client(url).chat.completions.create(
        model="rag", stream=True, messages=[{"role": "user", "content": "What should I do if my internet is down?"}]
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("Extractive answer") and "[1]" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.model_extra["sources"]


def test_a_question_the_docs_do_not_cover_is_declined(served):
    url, _ = served
    answer = client(url).chat.completions.create(
        model="rag", messages=[{"role": "user", "content": "does the router support zigbee smart home sensors?"}]
    )
    assert answer.model_extra["abstained"] is True and answer.model_extra["sources"] == []
    assert answer.model_extra["reason"] == "the knowledge base never mentions zigbee"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"model": "rag"}, "messages: Field required"),
        ({"model": "gpt-99", "messages": [{"role": "user", "content": "hi"}]}, "unknown model 'gpt-99'"),
        ({"model": "rag", "messages": []}, "messages: List should have at least 1 item"),
        ({"model": "rag", "messages": [{"role": "user", "content": "hi"}], "k": 500}, "k: Input should be"),
        ({"model": "rag", "messages": [{"role": "user", "content": "x" * 30_000}]}, "at most 20,000 characters"),
        ({"model": "rag", "messages": [{"role": "user", "content": "hi"}] * 101}, "at most 100 items"),
        ({"model": "rag-plain", "messages": [{"role": "user", "content": "hi"}]}, "plain mode needs a chat model"),
    ],
)
def test_bad_requests_are_400_with_what_is_wrong(served, body, message):
    url, _ = served
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


def test_search_and_status(served):
    url, _ = served
    hits = httpx.post(f"{url}/v1/search", json={"query": "factory reset the router with a paper clip", "k": 3})
    hits = hits.json()["data"]
    assert len(hits) == 3
    manual = [h for h in hits if h["source"] == "internet/nw-ax3000-router-manual.pdf"]
    assert manual and all(h["page"] for h in manual) and all(h["text"] for h in hits)
    assert httpx.post(f"{url}/v1/search", json={"query": "x", "k": 0}).status_code == 400
    status = httpx.get(f"{url}/v1/status").json()
    assert status["documents"] == 20 and status["chunks"] > 100 and status["last_ingest"]
    assert httpx.get(f"{url}/healthz").json() == {"ok": True}
    assert httpx.get(f"{url}/docs").status_code == 200  # FastAPI's OpenAPI page


def test_keys_and_roles(kb_copy, embedder, cli):
    code, out, err = cli("keys", "create", "--role", "reader", "--name", "helpdesk-bot", "--data-dir", kb_copy)
    reader = out.strip()
    assert code == 0 and reader.startswith("rag_") and "shown only now" in err
    code, out, _ = cli("keys", "create", "--role", "admin", "--data-dir", kb_copy)
    admin = out.strip()
    stored = (kb_copy / "keys.json").read_text()
    assert reader not in stored and admin not in stored  # only hashes are kept
    with serving(kb_copy, embedder) as url:
        denied = httpx.get(f"{url}/v1/status")
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        wrong = httpx.get(f"{url}/v1/status", headers={"Authorization": f"Bearer {reader}x"})
        assert wrong.status_code == 401 and reader not in wrong.text
        assert httpx.get(f"{url}/v1/status", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        answer = client(url, reader).chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "How do I reset my password?"}]
        )
        assert answer.model_extra["sources"]
        forbidden = httpx.post(f"{url}/v1/ingest", headers={"Authorization": f"Bearer {reader}"})
        assert forbidden.status_code == 403 and "reader key" in forbidden.json()["error"]["message"]
        started = httpx.post(f"{url}/v1/ingest", headers={"Authorization": f"Bearer {admin}"})
        assert started.status_code == 202
        job = started.json()
        for _ in range(600):
            job = httpx.get(f"{url}/v1/ingest/{job['id']}", headers={"Authorization": f"Bearer {admin}"}).json()
            if job["status"] != "running":
                break
            time.sleep(0.1)
        assert job["status"] == "done" and job["summaries"][0]["unchanged"] == 20
    code, out, _ = cli("keys", "list", "--json", "--data-dir", kb_copy)
    listed = json.loads(out)
    assert {k["name"] for k in listed} >= {"helpdesk-bot"} and all("hash" not in k for k in listed)
    assert cli("keys", "revoke", "helpdesk-bot", "--data-dir", kb_copy)[0] == 0
    assert KeyStore(kb_copy).check(reader) is None


def test_serving_beyond_loopback_needs_keys(cli, kb_copy):
    code, _, err = cli("serve", "--host", "0.0.0.0", "--data-dir", kb_copy)
    assert code == 2 and "needs API keys" in err and "rag keys create" in err


def test_feedback_reaches_the_log_and_export(kb_copy, embedder, openai_env, cli, tmp_path):
    """With a chat model, a rated answer is training data: `export-finetune --from-log --only-good`."""
    with serving(kb_copy, embedder, {"RAG_LOG_ENABLED": "true", "RAG_CHAT_BASE": "base-model-1"}) as url:
        answer = client(url).chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "Why is my first bill higher than expected?"}]
        )
        assert answer.choices[0].message.content == REPLY
        answer_id = answer.model_extra["answer_id"]
        rated = httpx.post(f"{url}/v1/feedback", json={"answer_id": answer_id, "rating": "good", "comment": "spot on"})
        assert rated.status_code == 200
        missing = httpx.post(f"{url}/v1/feedback", json={"answer_id": "99999", "rating": "good"})
        assert missing.status_code == 400
    out = tmp_path / "train.jsonl"
    code, _, err = cli("export-finetune", out, "--from-log", "--only-good", "--no-kb-qa", "--data-dir", kb_copy)
    assert code == 0, err
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["messages"][-2]["content"] == "Why is my first bill higher than expected?"
    assert line["messages"][-1]["content"] == REPLY


def test_a_follow_up_is_rewritten_by_the_chat_model_from_the_conversation(kb_copy, embedder, openai_env):
    with serving(kb_copy, embedder, {"RAG_CHAT_BASE": "base-model-1"}) as url:
        answer = client(url).chat.completions.create(
            model="rag",
            messages=[
                {"role": "user", "content": "How do I set up Northwind mail on my iPhone?"},
                {"role": "assistant", "content": "Open Settings > Mail > Accounts."},
                {"role": "user", "content": "and on Android?"},
            ],
        )
    rewrite, grounded = openai_env.chat_requests()[-2:]
    prompt = rewrite["messages"][-1]["content"]
    assert "user: How do I set up Northwind mail on my iPhone?" in prompt and "Last message: and on Android?" in prompt
    assert answer.model_extra["rewritten"] is True
    assert answer.model_extra["question"] == REPLY.splitlines()[0]  # what the model wrote is what was searched
    assert grounded["messages"][-1]["content"].rstrip().endswith(f"Question: {REPLY.splitlines()[0]}")


def test_reads_never_fail_during_an_ingest(kb_copy, embedder, tmp_path):
    """8 clients ask and search in a loop while an admin ingest adds 40 documents: every request gets a
    complete answer (from the old index or the new), none an error or an empty result."""
    docs = tmp_path / "more"
    for n in range(2):
        shutil.copytree(KB, docs / f"copy{n}")
    with serving(kb_copy, embedder, {"RAG_SERVE_INGEST_ROOTS": str(tmp_path)}) as url:
        job = httpx.post(f"{url}/v1/ingest", json={"folders": [str(docs)]}).json()
        errors: list[str] = []
        counts = {"answers": 0, "searches": 0}
        stop = threading.Event()

        def worker(n: int) -> None:
            questions = ["How do I reset my router?", "Why is my bill high?", "My printer is offline"]
            with httpx.Client(timeout=60) as http:
                while not stop.is_set():
                    q = questions[n % len(questions)]
                    r = http.post(
                        f"{url}/v1/chat/completions",
                        json={"model": "rag", "messages": [{"role": "user", "content": q}]},
                    )
                    if r.status_code != 200 or not r.json()["choices"][0]["message"]["content"].strip():
                        errors.append(f"answer {r.status_code}: {r.text[:200]}")
                    else:
                        counts["answers"] += 1
                    s = http.post(f"{url}/v1/search", json={"query": q, "k": 5})
                    if s.status_code != 200 or not s.json()["data"]:
                        errors.append(f"search {s.status_code}: {s.text[:200]}")
                    else:
                        counts["searches"] += 1

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.time() + 300
        while time.time() < deadline:
            state = httpx.get(f"{url}/v1/ingest/{job['id']}").json()
            if state["status"] != "running":
                break
            time.sleep(0.2)
        during = dict(counts)  # requests answered while the ingest was writing
        stop.set()
        for t in threads:
            t.join(timeout=120)
        assert state["status"] == "done", state
        assert errors == []
        assert during["answers"] >= 8 and during["searches"] >= 8, during
        status = httpx.get(f"{url}/v1/status").json()
        assert status["documents"] == 60  # the new documents are served once the ingest is done


def test_reads_never_fail_while_another_process_ingests(kb_copy, embedder, tmp_path):
    """`rag ingest` in another process, on the same data directory, while the server answers."""
    import os
    import subprocess
    import sys

    docs = tmp_path / "more"
    shutil.copytree(KB, docs / "copy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(kb_copy)
    with serving(kb_copy, embedder) as url:
        writer = subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(docs), "--quiet"], env=env)
        errors, answered = [], 0
        with httpx.Client(timeout=60) as http:
            while writer.poll() is None or answered < 5:
                r = http.post(f"{url}/v1/search", json={"query": "reset the router", "k": 5})
                if r.status_code != 200 or not r.json()["data"]:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                answered += 1
        assert writer.wait() == 0
        assert errors == [] and answered >= 5
        for retriever in ("bm25", "dense", "hybrid"):  # the new index is picked up by every kind of search
            body = {"query": "reset the router", "k": 50, "retriever": retriever}
            hits = httpx.post(f"{url}/v1/search", json=body).json()
            assert any(h["source"].startswith("copy/") for h in hits["data"]), retriever


def test_the_cli_uses_a_running_server(kb_copy, embedder, cli, monkeypatch, tmp_path):
    code, out, _ = cli("keys", "create", "--role", "reader", "--data-dir", kb_copy)
    key = out.strip()
    with serving(kb_copy, embedder) as url:
        empty = tmp_path / "nothing-here"  # the local data directory is not used at all
        code, _, err = cli("search", "router reset", "--server", url, "--data-dir", empty)
        assert code == 1 and "401" in err and "RAG_API_KEY" in err and key not in err
        monkeypatch.setenv("RAG_API_KEY", key)
        monkeypatch.setenv("RAG_SERVER", url)
        code, out, err = cli("ask", "How do I factory reset the AX3000 router?", "--data-dir", empty)
        assert code == 0, err
        assert out.startswith("Extractive answer") and "Sources:\n  [1] " in out and key not in out + err
        code, out, _ = cli("search", "router reset", "--json", "--data-dir", empty)
        assert code == 0 and json.loads(out)[0]["source"]
        code, out, _ = cli("status", "--json", "--data-dir", empty)
        assert code == 0 and json.loads(out)["documents"] == 20
    assert not empty.exists()
    code, _, err = cli("status", "--server", "http://127.0.0.1:9", "--data-dir", empty)
    assert code == 3 and "cannot reach `rag serve`" in err
