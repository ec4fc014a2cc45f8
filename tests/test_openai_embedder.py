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


def test_requests_in_flight_at_once_give_the_same_vectors_and_survive_429s(openai_embed_env, monkeypatch):
    """A busy embedding service (429 with Retry-After on every third request) is waited for; four requests in
    flight give the vectors one at a time gives, in the same order."""
    from rag.embed import make_embedder
    from rag.settings import load_settings

    texts = [f"modem {n} needs a firmware update before the router pairs with it" for n in range(300)]
    results = {}
    for concurrency in (1, 4):
        monkeypatch.setenv("RAG_EMBEDDER_CONCURRENCY", str(concurrency))
        monkeypatch.setenv("RAG_EMBEDDER_API_BATCH_SIZE", "16")
        openai_embed_env.requests.clear()
        openai_embed_env.busy_every = 3
        results[concurrency] = make_embedder(load_settings().embedder).embed(texts)
        assert len(openai_embed_env.requests) > 300 // 16  # the 429s were retried
    assert (results[1] == results[4]).all()


def test_a_request_that_keeps_failing_stops_the_ingest_and_names_the_files(cli, openai_embed_env, monkeypatch):
    assert cli("ingest", KB / "billing")[0] == 0
    monkeypatch.setenv("RAG_EMBEDDER_MAX_RETRIES", "1")
    openai_embed_env.fail_with = 500
    code, _, err = cli("ingest", KB / "internet")
    assert code == 3 and "not written this run" in err and ".md" in err and "sk-test" not in err
    openai_embed_env.fail_with = None
    code, out, _ = cli("status", "--json")
    status = json.loads(out)
    assert code == 0 and [f["folder"].endswith("billing") for f in status["folders"]] == [True]
    assert status["documents"] == 3  # nothing of the failed run was written
