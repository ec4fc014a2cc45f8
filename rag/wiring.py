"""Wiring: build the embedder, store and retriever that settings name (used by the CLI and benchmarks)."""

from __future__ import annotations

from pathlib import Path

from rag.embed import Embedder, make_embedder
from rag.errors import IndexMissingError
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.storage.lexical import BM25Index
from rag.storage.store import ChromaStore


def open_catalog(settings: Settings):
    """The catalog, read-only. Reading commands never create a data directory: a mistyped --data-dir is an
    error that names the path."""
    from rag.storage.catalog import Catalog

    path = settings.data_path / "catalog.sqlite3"
    if not path.is_file():
        raise IndexMissingError(
            f"nothing has been ingested into {settings.data_path}; run `rag ingest FOLDER` first "
            "(or pass the data directory you ingested into with --data-dir)"
        )
    return Catalog.open(path, readonly=True)


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    catalog = open_catalog(settings)
    if settings.store.mode == "persistent" and not (settings.data_path / "chroma").is_dir():
        raise IndexMissingError(
            f"the vector store of {settings.data_path} is missing; run `rag repair` to rebuild it from the catalog"
        )
    embedder = embedder or make_embedder(settings.embedder)
    store = ChromaStore(settings, embedder.info, create=False, owner=catalog.get_meta("owner"))
    lexical = None
    if settings.retrieve.retriever != "dense":
        lexical = BM25Index.load(settings.data_path)
    return Retriever(embedder, store, settings.retrieve, lexical, catalog)


def ingest(settings: Settings, folder: Path, embedder: Embedder | None = None, **kwargs):
    from ingest.pipeline import ingest_folder

    return ingest_folder(settings, folder, embedder or make_embedder(settings.embedder), **kwargs)


def ranker(retriever: Retriever, settings: Settings, k: int = 10):
    """What `rag eval` scores: each question's top `k` documents, and whether `rag ask` would decline it."""
    from rag.abstain import judge
    from rag.evaluate import Ranking

    def rank(question: str) -> Ranking:
        hits, documents = retriever.ranked(question, k)
        decision = judge(question, hits[: settings.retrieve.k], retriever.lexical, settings)
        return Ranking(tuple(documents), not decision.answer)

    return rank
