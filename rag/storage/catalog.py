"""The catalog: SQLite in the data directory, the transactional record of what was ingested.

Chroma is rebuilt from it after a crash (its on-disk index is not safe against SIGKILL), and it holds the
embedding cache, keyed by embedder and chunk text hash, so unchanged text is never embedded twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import DamagedError, ModelError
from rag.storage.records import Chunk

LOW_KEPT = 0.8  # files whose chunks keep less of their words are listed by the ingest summary and `rag status`


def usable(vector: np.ndarray) -> bool:
    """A vector worth keeping: finite and not all zeros (a failed embedding must never be cached)."""
    return bool(vector.size) and bool(np.isfinite(vector).all()) and float(np.abs(vector).sum()) > 0.0


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    folder TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,
    chunks INTEGER NOT NULL, ingested_at REAL NOT NULL, kept REAL, notes TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY(folder, path));
CREATE TABLE IF NOT EXISTS chunks(
    id TEXT PRIMARY KEY, folder TEXT NOT NULL, path TEXT NOT NULL, idx INTEGER NOT NULL,
    text TEXT NOT NULL, hash TEXT NOT NULL, meta TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(folder, path);
CREATE TABLE IF NOT EXISTS vectors(model TEXT NOT NULL, hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY(model, hash));
CREATE TABLE IF NOT EXISTS folders(folder TEXT PRIMARY KEY, last_ingest REAL NOT NULL, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures(folder TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY(folder, path));
"""


@dataclass(frozen=True)
class FileRecord:
    path: str
    hash: str
    chunks: int


@dataclass(frozen=True)
class CatalogChunk:
    id: str
    text: str
    metadata: dict
    hash: str


def chunk_metadata(chunk: Chunk, folder: str, title: str) -> dict:
    """Flat metadata, as Chroma stores it (no None values)."""
    meta = {
        "source": chunk.source,
        "folder": folder,
        "title": title,
        "headings": chunk.heading_path,
        "chunk_index": chunk.index,
        "content_hash": chunk.content_hash,
        "kind": chunk.kind,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if chunk.kind == "qa":
        meta["question"] = chunk.question
        meta["answer_part"] = chunk.part
    return meta


class Catalog:
    @classmethod
    def open(cls, path: Path, readonly: bool = False) -> Catalog:
        """The catalog at `path`; a damaged file is reported as such, with the command that fixes it."""
        try:
            catalog = cls(path, readonly)
            catalog._db.execute("SELECT COUNT(*) FROM files").fetchone()
            return catalog
        except sqlite3.DatabaseError as exc:
            raise DamagedError(
                f"the catalog {path} is damaged ({exc}); move it aside and run `rag ingest FOLDER --rebuild` "
                "to index the folder again (every chunk is embedded again)"
            ) from None

    def __init__(self, path: Path, readonly: bool = False):
        if readonly:
            # Readers (search, ask, status) never take a write lock, so they work during an ingest.
            self._db = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None, check_same_thread=False
            )
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
        if "kept" not in columns:  # catalogs written before the kept ratio
            self._db.execute("ALTER TABLE files ADD COLUMN kept REAL")
            self._db.execute("ALTER TABLE files ADD COLUMN notes TEXT NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        self._db.close()

    # -- state -------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def owner(self) -> str:
        """This data directory's id (made on first use): the Chroma collection it fills records it."""
        owner = self.get_meta("owner")
        if not owner:
            import uuid

            owner = uuid.uuid4().hex
            self.set_meta("owner", owner)
        return owner

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    def files(self, folder: str) -> dict[str, FileRecord]:
        rows = self._db.execute("SELECT path, hash, chunks FROM files WHERE folder=?", (folder,))
        return {p: FileRecord(p, h, c) for p, h, c in rows}

    def chunk_ids(self, folder: str | None = None) -> set[str]:
        if folder is None:
            return {r[0] for r in self._db.execute("SELECT id FROM chunks")}
        return {r[0] for r in self._db.execute("SELECT id FROM chunks WHERE folder=?", (folder,))}

    def chunk_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def file_chunk_ids(self, folder: str, path: str) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM chunks WHERE folder=? AND path=?", (folder, path))}

    # -- embedding cache -----------------------------------------------------------------------
    def cached_vectors(self, model: str, hashes: Sequence[str], check: bool = True) -> dict[str, np.ndarray]:
        """`check`: leave out unusable vectors (zeros, NaN), so they are embedded again; retrieval reads without
        the check (such a vector only scores 0 there)."""
        out: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model=? AND hash IN ({marks})", (model, *part)
            )
            for h, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if not check or usable(vector):  # a poisoned entry (zeros, NaN) is a miss: embedded again
                    out[h] = vector
        return out

    def cache_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._transaction():
            self._store_vectors(model, vectors)

    def _store_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        bad = [h for h, v in vectors.items() if not usable(v)]
        if bad:
            raise ModelError(
                f"the embedding model returned {len(bad)} empty or invalid vectors (zero or not a number); "
                "nothing was stored; check embedder settings (batch_size must be at least 1)"
            )
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors(model, hash, vector) VALUES(?,?,?)",
            [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
        )

    def lead_vectors(
        self, model: str, documents: set[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], np.ndarray]:
        """The vector of each (folder, path) document's first chunk: its title and introduction. Without
        `documents`, every document's."""
        out: dict[tuple[str, str], np.ndarray] = {}
        if documents is None:
            rows = self._db.execute(
                "SELECT c.folder, c.path, v.vector FROM chunks c JOIN vectors v ON v.model=? AND v.hash=c.hash "
                "WHERE c.idx=0",
                (model,),
            )
            return {(folder, path): np.frombuffer(blob, dtype=np.float32) for folder, path, blob in rows}
        by_folder: dict[str, list[str]] = {}
        for folder, path in documents:
            by_folder.setdefault(folder, []).append(path)
        for folder, paths in by_folder.items():
            for start in range(0, len(paths), 500):
                part = paths[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT c.path, v.vector FROM chunks c JOIN vectors v ON v.model=? AND v.hash=c.hash "
                    f"WHERE c.folder=? AND c.idx=0 AND c.path IN ({marks})",
                    (model, folder, *part),
                )
                for path, blob in rows:
                    out[(folder, path)] = np.frombuffer(blob, dtype=np.float32)
        return out

    def vectors_for(self, model: str, chunks: Iterable[CatalogChunk]) -> np.ndarray:
        chunks = list(chunks)
        cache = self.cached_vectors(model, [c.hash for c in chunks])
        return np.stack([cache[c.hash] for c in chunks]) if chunks else np.zeros((0, 0), np.float32)

    # -- writes: one transaction per batch of files ----------------------------------------------
    def commit_files(
        self,
        folder: str,
        model: str,
        files: Sequence[tuple[str, str, int, list[Chunk], str, float | None, Sequence[str]]],
        vectors: dict[str, np.ndarray],
    ) -> None:
        """Replace the chunks of each (path, hash, size, chunks, title, kept ratio, notes) atomically, with
        their vectors."""
        now = time.time()
        with self._transaction():
            for path, digest, size, chunks, title, kept, notes in files:
                self._db.execute("DELETE FROM chunks WHERE folder=? AND path=?", (folder, path))
                self._db.executemany(
                    "INSERT OR REPLACE INTO chunks(id, folder, path, idx, text, hash, meta) VALUES(?,?,?,?,?,?,?)",
                    [
                        (
                            c.id,
                            folder,
                            path,
                            c.index,
                            c.text,
                            c.content_hash,
                            json.dumps(chunk_metadata(c, folder, title)),
                        )
                        for c in chunks
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO files(folder, path, hash, size, chunks, ingested_at, kept, notes) "
                    "VALUES(?,?,?,?,?,?,?,?)",
                    (folder, path, digest, size, len(chunks), now, kept, json.dumps(list(notes))),
                )
                self._db.execute("DELETE FROM failures WHERE folder=? AND path=?", (folder, path))
            self._store_vectors(model, vectors)

    def forget_folder(self, folder: str) -> None:
        """The folder's files, chunks, failures and run record, in one transaction."""
        with self._transaction():
            for table in ("chunks", "files", "failures", "folders"):
                self._db.execute(f"DELETE FROM {table} WHERE folder=?", (folder,))

    def remove_files(self, folder: str, paths: Sequence[str]) -> None:
        with self._transaction():
            for path in paths:
                self._db.execute("DELETE FROM chunks WHERE folder=? AND path=?", (folder, path))
                self._db.execute("DELETE FROM files WHERE folder=? AND path=?", (folder, path))
                self._db.execute("DELETE FROM failures WHERE folder=? AND path=?", (folder, path))

    def record_run(self, folder: str, summary: dict, failures: Sequence[tuple[str, str]]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO folders(folder, last_ingest, summary) VALUES(?,?,?)",
                (folder, time.time(), json.dumps(summary)),
            )
            self._db.execute("DELETE FROM failures WHERE folder=?", (folder,))
            self._db.executemany(
                "INSERT OR REPLACE INTO failures(folder, path, reason) VALUES(?,?,?)",
                [(folder, p, r) for p, r in failures],
            )

    def clear(self) -> None:
        """Forget every ingested file (the embedding cache stays: it is keyed by model and text)."""
        with self._transaction():
            for table in ("files", "chunks", "folders", "failures"):
                self._db.execute(f"DELETE FROM {table}")

    def chunks(self, ids: Iterable[str] | None = None) -> Iterator[CatalogChunk]:
        if ids is None:
            rows = self._db.execute("SELECT id, text, meta, hash FROM chunks ORDER BY folder, path, idx")
            for id_, text, meta, h in rows:
                yield CatalogChunk(id_, text, json.loads(meta), h)
            return
        ids = list(ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            for id_, text, meta, h in self._db.execute(
                f"SELECT id, text, meta, hash FROM chunks WHERE id IN ({marks})", part
            ):
                yield CatalogChunk(id_, text, json.loads(meta), h)

    # -- reporting -------------------------------------------------------------------------------
    def status(self) -> dict:
        folders = []
        for folder, last, summary in self._db.execute(
            "SELECT folder, last_ingest, summary FROM folders ORDER BY folder"
        ):
            docs, chunks = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM files WHERE folder=? AND chunks > 0", (folder,)
            ).fetchone()
            failed = [
                {"path": p, "reason": r}
                for p, r in self._db.execute(
                    "SELECT path, reason FROM failures WHERE folder=? ORDER BY path", (folder,)
                )
            ]
            low_kept = [
                {"path": p, "kept": round(k, 3)}
                for p, k in self._db.execute(
                    "SELECT path, kept FROM files WHERE folder=? AND kept < ? ORDER BY kept", (folder, LOW_KEPT)
                )
            ]
            notes = [
                {"path": p, "note": n}
                for p, raw in self._db.execute(
                    "SELECT path, notes FROM files WHERE folder=? AND notes != '[]' ORDER BY path", (folder,)
                )
                for n in json.loads(raw)
            ]
            folders.append(
                {
                    "folder": folder,
                    "documents": docs,
                    "chunks": chunks,
                    "last_ingest": last,
                    "last_summary": json.loads(summary),
                    "failed": failed,
                    "low_kept": low_kept,
                    "notes": notes,
                }
            )
        documents = self._db.execute("SELECT COUNT(*) FROM files WHERE chunks > 0").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return {"documents": documents, "chunks": chunks, "folders": folders}

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
