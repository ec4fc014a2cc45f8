from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.cli import main
from rag.embed import MiniLMEmbedder
from rag.settings import Settings, load_settings
from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "knowledge_base"
KB_FILES = sum(1 for p in KB.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Tests see no settings or keys from the machine they run on."""
    for name in list(os.environ):
        if name.startswith("RAG_") or name in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_AUTH_TOKEN"}:
            monkeypatch.delenv(name, raising=False)
    # The session's shared data directory must not collect a query log; the log's own tests turn it on.
    monkeypatch.setenv("RAG_LOG_ENABLED", "false")


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def kb_data(tmp_path_factory, embedder) -> Path:
    """A data directory holding the ingested sample knowledge base (ingested once per session)."""
    from ingest.pipeline import ingest_folder

    data = tmp_path_factory.mktemp("kb-data")
    ingest_folder(load_settings(environ={}, overrides={"data_dir": str(data)}), KB, embedder)
    return data


@pytest.fixture
def kb_copy(tmp_path, kb_data) -> Path:
    """A private copy of the ingested data directory, for tests that write."""
    target = tmp_path / "data"
    shutil.copytree(kb_data, target)
    return target


@pytest.fixture
def settings_for(kb_data):
    def make(data: Path | None = None, **sections) -> Settings:
        s = load_settings(environ={}, overrides={"data_dir": str(data or kb_data)})
        for name, values in sections.items():
            s = replace(s, **{name: replace(getattr(s, name), **values)})
        return s

    return make


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def openai_env(monkeypatch, fake_openai):
    """Point the real `openai` client at our server, with a key and a base chat model."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    monkeypatch.setenv("RAG_CHAT_BASE", "base-model-1")
    return fake_openai


@pytest.fixture
def cli(capsys):
    """Run `rag ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
