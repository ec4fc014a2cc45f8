"""Ingestion: incremental by content hash, cached embeddings, deterministic ids, status."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.pipeline import ingest_folder
from rag.settings import load_settings
from rag.storage.catalog import Catalog
from rag.storage.store import ChromaStore
from tests.conftest import KB


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(KB / "billing", folder)
    return folder


def run(folder, data, embedder, **kwargs):
    settings = load_settings(environ={}, overrides={"data_dir": str(data)})
    return ingest_folder(settings, folder, embedder, **kwargs), settings


def index_state(settings, embedder):
    store = ChromaStore(settings, embedder.info, create=False)
    return store.ids()


def test_reingest_is_incremental(docs, tmp_path, embedder):
    data = tmp_path / "data"
    first, settings = run(docs, data, embedder)
    assert len(first.added) == 3 and first.embedded == first.chunks > 0
    ids_before = index_state(settings, embedder)
    assert len(ids_before) == first.total_chunks

    again, _ = run(docs, data, embedder)
    assert (again.unchanged, again.chunks, again.embedded) == (3, 0, 0)
    assert index_state(settings, embedder) == ids_before

    # Edit one paragraph: only that file is re-chunked, only the changed chunk is embedded.
    path = docs / "billing-and-invoices.md"
    path.write_text(path.read_text().replace("14 days after the billing date", "21 days after the billing date"))
    edited, _ = run(docs, data, embedder)
    assert edited.updated == ("billing-and-invoices.md",) and edited.unchanged == 2
    assert edited.embedded == 1
    # Rename: nothing is embedded again; the old path disappears from the index.
    (docs / "payment-methods.txt").rename(docs / "paying.txt")
    renamed, _ = run(docs, data, embedder)
    assert renamed.added == ("paying.txt",) and renamed.removed == ("payment-methods.txt",)
    assert renamed.embedded == 0
    # Delete: its chunks leave the index.
    (docs / "cancellation-and-moving.md").unlink()
    deleted, _ = run(docs, data, embedder)
    assert deleted.removed == ("cancellation-and-moving.md",)
    ids = index_state(settings, embedder)
    assert len(ids) == deleted.total_chunks
    catalog = Catalog(data / "catalog.sqlite3")
    assert catalog.chunk_ids() == ids
    assert sorted(catalog.files(deleted.folder)) == ["billing-and-invoices.md", "paying.txt"]
    catalog.close()


def test_dry_run_touches_nothing(docs, tmp_path, embedder):
    data = tmp_path / "data"
    first, settings = run(docs, data, embedder)
    (docs / "new.md").write_text("# New\n\nA new page about refunds.\n")
    (docs / "payment-methods.txt").unlink()
    dry, _ = run(docs, data, embedder, dry_run=True)
    assert dry.added == ("new.md",) and dry.removed == ("payment-methods.txt",) and dry.dry_run
    assert len(index_state(settings, embedder)) == first.total_chunks


def test_two_folders_share_a_collection_and_removal_stays_in_its_folder(docs, tmp_path, embedder):
    data = tmp_path / "data"
    other = tmp_path / "other"
    shutil.copytree(KB / "email", other)
    a, settings = run(docs, data, embedder)
    b, _ = run(other, data, embedder)
    (docs / "payment-methods.txt").unlink()
    again, _ = run(docs, data, embedder)
    assert again.removed == ("payment-methods.txt",)
    assert len(index_state(settings, embedder)) == again.total_chunks + b.total_chunks


def test_rebuild_starts_over(docs, tmp_path, embedder):
    data = tmp_path / "data"
    first, settings = run(docs, data, embedder)
    ids = index_state(settings, embedder)
    rebuilt, _ = run(docs, data, embedder, rebuild=True)
    # Every file is parsed and stored again (replaced in place, so readers never see an empty index); the
    # vectors come from the cache.
    assert len(rebuilt.updated) == 3 and rebuilt.embedded == 0
    assert index_state(settings, embedder) == ids  # deterministic ids: the same chunks come back


def test_status_and_ingest_json(cli, docs, tmp_path):
    data = tmp_path / "data"
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    code, out, _ = cli("ingest", docs, "--json", "--data-dir", data)
    summary = json.loads(out)
    assert code == 5
    assert {"files", "chunks", "failed", "seconds", "added", "updated", "unchanged", "removed"} <= set(summary)
    assert summary["failed"][0]["path"] == "broken.pdf"
    code, out, _ = cli("status", "--json", "--data-dir", data)
    status = json.loads(out)
    assert code == 0
    assert status["documents"] == 3 and status["chunks"] == summary["chunks"]
    assert status["embedder"] == "local:all-MiniLM-L6-v2"  # recorded by the ingest that filled the index
    assert status["folders"][0]["failed"][0]["path"] == "broken.pdf"


def test_search_breadth_is_set_on_new_and_older_collections(docs, tmp_path, embedder):
    import chromadb

    def ef_search(data):
        client = chromadb.PersistentClient(str(data / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
        return client.get_collection("rag", embedding_function=None).configuration_json["hnsw"]["ef_search"]

    data = tmp_path / "data"
    settings = load_settings(environ={"RAG_STORE_EF_SEARCH": "150"}, overrides={"data_dir": str(data)})
    ingest_folder(settings, docs, embedder)
    assert ef_search(data) == 150
    # An index made with another breadth (an older version: Chroma's 100) is brought up to the setting by
    # the next ingest, even one with nothing to do.
    run(docs, data, embedder)
    assert ef_search(data) == load_settings(environ={}).store.ef_search != 150
