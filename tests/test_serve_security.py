"""`rag serve` fails closed: keys decided at start-up, folders confined to the operator's roots, bodies bounded
as they arrive, no-key mode for loopback names only, no cross-site writes, ratings only by the key that asked."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from rag.keys import KeyStore
from tests.conftest import KB
from tests.test_serve import client, serving


def _key(data, role: str = "admin") -> str:
    return KeyStore(data).create(role)[0]


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("how", ["revoke", "delete", "damage"])
def test_losing_the_last_key_closes_the_server_instead_of_opening_it(kb_copy, embedder, how):
    admin = _key(kb_copy)
    with serving(kb_copy, embedder) as url:
        assert httpx.get(f"{url}/v1/status").status_code == 401
        assert httpx.get(f"{url}/v1/status", headers=auth(admin)).status_code == 200
        store = KeyStore(kb_copy)
        if how == "revoke":
            store.revoke(store.records()[0].id)
        elif how == "delete":
            (kb_copy / "keys.json").rename(kb_copy / "keys.json.aside")
        else:
            (kb_copy / "keys.json").write_text("{not json")
        for status, request in (
            (401, lambda: httpx.get(f"{url}/v1/status")),
            (401, lambda: httpx.post(f"{url}/v1/search", json={"query": "router reset"})),
            (401, lambda: httpx.post(f"{url}/v1/ingest", json={"folders": [str(KB)]})),
            (503, lambda: httpx.get(f"{url}/v1/status", headers=auth(admin))),
            (503, lambda: httpx.post(f"{url}/v1/ingest", json={"folders": [str(KB)]}, headers=auth(admin))),
        ):
            refused = request()
            assert refused.status_code == status, refused.text
            assert "every request is refused" in refused.json()["error"]["message"]
        assert httpx.get(f"{url}/healthz").status_code == 200
        if how == "revoke":  # a new key opens it for that key only, with no restart
            reader = _key(kb_copy, "reader")
            assert httpx.get(f"{url}/v1/status", headers=auth(reader)).status_code == 200
            assert httpx.get(f"{url}/v1/status").status_code == 401


def test_a_server_started_without_keys_needs_them_once_one_is_created(kb_copy, embedder):
    with serving(kb_copy, embedder) as url:
        assert httpx.get(f"{url}/v1/status").status_code == 200
        key = _key(kb_copy, "reader")
        assert httpx.get(f"{url}/v1/status").status_code == 401
        assert httpx.get(f"{url}/v1/status", headers=auth(key)).status_code == 200


def test_admin_ingest_is_confined_to_the_operators_roots(kb_copy, embedder, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwords.md").write_text("# Vault\n\nThe root password of the billing database is hunter2-zebra.\n")
    allowed = tmp_path / "allowed"
    shutil.copytree(KB / "billing", allowed / "billing")
    (allowed / "escape").symlink_to(secret, target_is_directory=True)
    admin = _key(kb_copy)
    with serving(kb_copy, embedder, {"RAG_SERVE_INGEST_ROOTS": str(allowed)}) as url:
        for folder in ("/etc", str(secret), str(allowed / "escape"), str(allowed / ".." / "secret")):
            refused = httpx.post(f"{url}/v1/ingest", json={"folders": [folder]}, headers=auth(admin))
            assert refused.status_code == 403, folder
            assert "outside the folders this server may ingest" in refused.json()["error"]["message"]
        started = httpx.post(f"{url}/v1/ingest", json={"folders": [str(allowed / "billing")]}, headers=auth(admin))
        assert started.status_code == 202
        job = started.json()
        while job["status"] == "running":
            job = httpx.get(f"{url}/v1/ingest/{job['id']}", headers=auth(admin)).json()
        assert job["status"] == "done"
        hits = httpx.post(
            f"{url}/v1/search", json={"query": "root password of the billing database", "k": 20}, headers=auth(admin)
        ).json()["data"]
        assert not any("hunter2" in h["text"] for h in hits)


def test_without_roots_only_the_indexed_folders_may_be_ingested_again(kb_copy, embedder, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(KB / "billing", other)
    with serving(kb_copy, embedder) as url:
        assert httpx.post(f"{url}/v1/ingest", json={"folders": [str(other)]}).status_code == 403
        again = httpx.post(f"{url}/v1/ingest", json={"folders": [str(KB)]})
        assert again.status_code == 202


def test_forget_removes_a_folder_from_every_index(kb_copy, embedder, tmp_path, cli):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "modem.md").write_text("# Quokka modem\n\nThe Quokka Q9 modem blinks amber while it updates firmware.\n")
    assert cli("ingest", extra, "--data-dir", kb_copy, "--quiet")[0] == 0
    with serving(kb_copy, embedder) as url:
        for retriever in ("hybrid", "dense", "bm25"):
            body = {"query": "Quokka Q9 modem blinks amber", "k": 3, "retriever": retriever}
            assert httpx.post(f"{url}/v1/search", json=body).json()["data"][0]["source"] == "modem.md"
        forgotten = httpx.post(f"{url}/v1/forget", json={"folder": str(extra)})
        assert forgotten.status_code == 200 and forgotten.json()["chunks"] >= 1
        for retriever in ("hybrid", "dense", "bm25"):
            body = {"query": "Quokka Q9 modem blinks amber", "k": 10, "retriever": retriever}
            hits = httpx.post(f"{url}/v1/search", json=body).json()["data"]
            assert all(h["source"] != "modem.md" for h in hits), retriever
        assert httpx.get(f"{url}/v1/status").json()["documents"] == 20
    code, _, err = cli("forget", extra, "--data-dir", kb_copy)
    assert code == 2 and "is not in the index" in err
    code, out, _ = cli("forget", KB, "--data-dir", kb_copy)
    assert code == 0 and "20 files" in out


def test_bodies_are_counted_as_they_arrive_and_keys_checked_before(kb_copy, embedder):
    def chunked(size: int):
        yield b'{"query": "'
        for _ in range(size // 65536):
            yield b"x" * 65536
        yield b'"}'

    with serving(kb_copy, embedder) as url:
        big = httpx.post(f"{url}/v1/search", content=chunked(3_000_000), headers={"content-type": "application/json"})
        assert big.status_code == 400 and big.json()["error"]["code"] == "too_large"
        declared = httpx.post(f"{url}/v1/search", content=b"x" * 1_500_000)  # with a Content-Length
        assert declared.status_code == 400 and declared.json()["error"]["code"] == "too_large"
    key = _key(kb_copy)
    with serving(kb_copy, embedder) as url:
        # Without a key the body is never read: the answer is 401, not "too large".
        anonymous = httpx.post(f"{url}/v1/search", content=chunked(3_000_000))
        assert anonymous.status_code == 401
        small = httpx.post(f"{url}/v1/search", json={"query": "router reset"}, headers=auth(key))
        assert small.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.168.1.5", "127.0.0.1.nip.io", "[::2]"])
def test_without_keys_only_loopback_host_names_are_answered(kb_copy, embedder, host):
    with serving(kb_copy, embedder) as url:
        refused = httpx.get(f"{url}/v1/status", headers={"Host": host})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "host_not_allowed"
        port = url.rsplit(":", 1)[1]
        for ok in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            assert httpx.get(f"{url}/v1/status", headers={"Host": ok}).status_code == 200


def test_cross_site_writes_are_refused(kb_copy, embedder):
    with serving(kb_copy, embedder) as url:
        page = {"content-type": "text/plain"}
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
            refused = httpx.post(f"{url}/v1/ingest", content=b"{}", headers={**page, **headers})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
        same = httpx.post(f"{url}/v1/search", json={"query": "router"}, headers={"Origin": url})
        assert same.status_code == 200


def test_answers_are_rated_only_by_the_key_that_asked(kb_copy, embedder, openai_env, cli, tmp_path):
    asker, other = _key(kb_copy, "reader"), _key(kb_copy, "reader")
    environ = {"RAG_LOG_ENABLED": "true", "RAG_CHAT_BASE": "base-model-1"}
    with serving(kb_copy, embedder, environ) as url:
        grounded = client(url, asker).chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "Why is my first bill higher than expected?"}]
        )
        answer_id = grounded.model_extra["answer_id"]
        assert isinstance(answer_id, str) and len(answer_id) >= 20 and not answer_id.isdigit()
        for key in (other, asker):
            rated = httpx.post(f"{url}/v1/feedback", json={"answer_id": answer_id, "rating": "good"}, headers=auth(key))
            assert rated.status_code == (200 if key == asker else 400)
        plain = client(url, asker).chat.completions.create(
            model="rag-plain", messages=[{"role": "user", "content": "What is the capital of Australia?"}]
        )
        assert (
            httpx.post(
                f"{url}/v1/feedback",
                json={"answer_id": plain.model_extra["answer_id"], "rating": "good"},
                headers=auth(asker),
            ).status_code
            == 200
        )
    out = tmp_path / "train.jsonl"
    assert cli("export-finetune", out, "--from-log", "--only-good", "--no-kb-qa", "--data-dir", kb_copy)[0] == 0
    questions = [json.loads(x)["messages"][-2]["content"] for x in out.read_text().splitlines()]
    assert questions == ["Why is my first bill higher than expected?"]  # the plain answer is not grounded
    code, _, _ = cli(
        "export-finetune", out, "--from-log", "--only-good", "--include-ungrounded", "--no-kb-qa", "--data-dir", kb_copy
    )
    assert code == 0 and len(out.read_text().splitlines()) == 2


def test_a_missing_keyword_index_is_said_not_hidden(kb_copy, embedder):
    shutil.rmtree(kb_copy / "bm25")
    with serving(kb_copy, embedder) as url:
        keyword = httpx.post(f"{url}/v1/search", json={"query": "router reset", "retriever": "bm25"})
        assert keyword.status_code == 503 and "rag repair" in keyword.json()["error"]["message"]
        hybrid = httpx.post(f"{url}/v1/search", json={"query": "router reset"}).json()
        assert hybrid["data"] and "keyword index is missing" in hybrid["notice"]
        assert "keyword index is missing" in httpx.get(f"{url}/v1/status").json()["notice"]
        answer = client(url).chat.completions.create(
            model="rag", messages=[{"role": "user", "content": "How do I factory reset the AX3000 router?"}]
        )
        assert "keyword index is missing" in answer.model_extra["notice"]
