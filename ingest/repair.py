"""Chroma and the BM25 index kept equal to the catalog, the transactional record of every chunk and vector.

Chroma's on-disk index does not survive every crash, a user can delete `chroma/`, and a file can be damaged;
none of that may pass silently. Every ingest compares Chroma with the catalog (a count, cheap) and refills
it from the catalog when they differ, without embedding again; a store that cannot be opened, or that
crashes a child process probing it, is set aside and rebuilt. `rag repair` does the same on demand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.faults import checkpoint
from ingest.lock import IngestLock
from rag.embed import Embedder
from rag.errors import StoreError
from rag.settings import Settings
from rag.storage.catalog import Catalog
from rag.storage.lexical import BM25Index
from rag.storage.store import ChromaStore, read_afresh


@dataclass(frozen=True)
class Repair:
    set_aside: str = ""  # where a damaged store was moved
    added: int = 0  # chunks put back into Chroma from the catalog
    removed: int = 0  # chunks Chroma held that the catalog does not
    embedded: int = 0  # vectors the catalog lacked and the embedder made again
    bm25: bool = False  # the keyword index was rebuilt

    @property
    def changed(self) -> bool:
        return bool(self.set_aside or self.added or self.removed or self.bm25)

    def summary(self) -> str:
        if not self.changed:
            return "the index matches the catalog; nothing to repair"
        parts = []
        if self.set_aside:
            parts.append(f"moved the damaged vector store to {self.set_aside}")
        if self.added or self.removed:
            parts.append(f"restored {self.added} chunks to the vector store and removed {self.removed} stray ones")
        if self.embedded:
            parts.append(f"embedded {self.embedded} chunks whose vectors were not cached")
        if self.bm25:
            parts.append("rebuilt the keyword index")
        return "; ".join(parts)


def probe_store(settings: Settings) -> bool:
    """Open, count and query the embedded Chroma in a child process: a damaged HNSW segment can crash the
    process in native code, which no try/except would catch."""
    code = (
        "import sys, chromadb;"
        "c = chromadb.PersistentClient(path=sys.argv[1], settings=chromadb.Settings(anonymized_telemetry=False));"
        "names = [x.name for x in c.list_collections()];"
        "col = c.get_collection(sys.argv[2]) if sys.argv[2] in names else None;"
        "n = col.count() if col else 0;"
        "got = col.get(limit=1, include=['embeddings']) if n else None;"
        "n and col.query(query_embeddings=[got['embeddings'][0]], n_results=min(n, 3))"
    )
    path = settings.data_path / "chroma"
    if not path.exists():
        return True
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(path), settings.store.collection], capture_output=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def set_aside(path: Path, settings: Settings) -> str:
    if not path.exists():
        return ""
    target = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    os.replace(path, target)
    read_afresh(settings)  # this process may hold Chroma's state of the moved folder: the next client starts clean
    return str(target)


def writable_store(settings: Settings, embedder: Embedder, probe: bool, owner: str = "") -> tuple[ChromaStore, str]:
    """The store to write to, and where a damaged one was moved ("" if none). `probe`: check it in a child
    process first (after a crash); a store that fails to open at all is set aside too."""
    moved = ""
    persistent = settings.store.mode == "persistent"
    if probe and persistent and not probe_store(settings):
        moved = set_aside(settings.data_path / "chroma", settings)
    try:
        return ChromaStore(settings, embedder.info, create=True, owner=owner), moved
    except StoreError as exc:
        if not persistent or moved or "another data directory" in str(exc):
            raise
    moved = set_aside(settings.data_path / "chroma", settings)
    return ChromaStore(settings, embedder.info, create=True, owner=owner), moved


def sync_store(catalog: Catalog, store: ChromaStore, embedder: Embedder) -> tuple[int, int, int]:
    """Make Chroma hold exactly the catalog's chunks: (added, removed, embedded). Vectors come from the
    catalog's cache; the few it lacks (another embedder's chunks, a cleaned cache) are embedded again."""
    want = catalog.chunk_ids()
    have = store.ids()
    missing = sorted(want - have)
    extra = sorted(have - want)
    if extra:
        store.delete(extra)
    model = embedder.info.name
    embedded = 0
    for start in range(0, len(missing), 1000):
        chunks = list(catalog.chunks(missing[start : start + 1000]))
        cache = catalog.cached_vectors(model, [c.hash for c in chunks])
        todo = {c.hash: c.text for c in chunks if c.hash not in cache}
        if todo:
            fresh = dict(zip(todo, embedder.embed(list(todo.values())), strict=True))
            catalog.cache_vectors(model, fresh)
            cache.update(fresh)
            embedded += len(todo)
        vectors = np.stack([cache[c.hash] for c in chunks]) if chunks else np.zeros((0, 0), np.float32)
        store.upsert([c.id for c in chunks], vectors, [c.text for c in chunks], [c.metadata for c in chunks])
    return len(missing), len(extra), embedded


def reconcile(settings: Settings, catalog: Catalog, embedder: Embedder, *, suspect: bool) -> tuple[ChromaStore, Repair]:
    """Open the store for writing and make it equal to the catalog when it is not (or `suspect`: the last
    run did not finish)."""
    store, moved = writable_store(settings, embedder, probe=suspect, owner=catalog.owner())
    if not (suspect or moved) and not _answers(store):
        # A store that counts right but cannot answer (damaged HNSW files: Chroma raises when it reads them)
        # is probed in a child process and set aside, as after a crash.
        store, moved = writable_store(settings, embedder, probe=True, owner=catalog.owner())
    if not (suspect or moved) and store.count() == catalog.chunk_count():
        return store, Repair()
    checkpoint("reconcile")
    added, removed, embedded = sync_store(catalog, store, embedder)
    return store, Repair(moved, added, removed, embedded)


def _answers(store: ChromaStore) -> bool:
    """Whether the store answers a query (a cheap check in this process; a crash-level fault needs the probe)."""
    dimension = store.embedder.dimension
    try:
        store.nearest(np.full(dimension, dimension**-0.5, dtype=np.float32), 1)
        return True
    except Exception:  # whatever a damaged segment raises (InternalError, a backfill error)
        return False


def keyword_index_ok(data_dir: Path, catalog: Catalog) -> bool:
    """The keyword index loads and holds as many chunks as the catalog (its arrays mapped, not read: cheap at any
    size)."""
    index = BM25Index.load(data_dir, mmap=True)
    return index is not None and index.size == catalog.chunk_count()


def repair(settings: Settings, embedder: Embedder) -> Repair:
    """`rag repair`: probe the store, set it aside if damaged, refill it and rebuild BM25 from the catalog."""

    data_dir = settings.data_path
    with IngestLock(data_dir):
        catalog = Catalog.open(data_dir / "catalog.sqlite3")
        try:
            catalog.set_meta("dirty", "1")
            store, fixed = reconcile(settings, catalog, embedder, suspect=True)
            rebuilt = not keyword_index_ok(data_dir, catalog)
            if rebuilt:
                BM25Index.build(((c.id, c.text) for c in catalog.chunks()), data_dir)
            catalog.set_meta("dirty", "0")
        finally:
            catalog.close()
    return Repair(fixed.set_aside, fixed.added, fixed.removed, fixed.embedded, rebuilt)
