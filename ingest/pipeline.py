"""`rag ingest`: walk, parse, chunk, embed (cached), record in the catalog, store in Chroma.

Per batch of files: the catalog transaction commits first, then Chroma is updated. A crash between the two
leaves a `dirty` mark; the next run reconciles Chroma from the catalog (no re-embedding needed).
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ingest.chunk import Chunker
from ingest.faults import checkpoint
from ingest.kept import kept_ratio
from ingest.lock import IngestLock
from ingest.parse import SUPPORTED, NoContent, ParseError, parse_file
from ingest.repair import Repair, keyword_index_ok, reconcile, sync_store
from ingest.walk import FoundFile, walk_folder
from rag.embed import Embedder
from rag.errors import EmbedderMismatchError, InputError, ModelError
from rag.settings import IngestSettings, Settings
from rag.storage.catalog import LOW_KEPT, Catalog, chunk_metadata
from rag.storage.lexical import DELTA_MIN, DELTA_SHARE, BM25Index
from rag.storage.records import Chunk
from rag.storage.store import ChromaStore

PIPELINE_VERSION = "14"  # bump when parsing or chunking changes, so unchanged files are re-chunked (not re-embedded)


@dataclass(frozen=True)
class IngestReport:
    folder: str
    files: int
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: int
    removed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    chunks: int  # chunks written in this run
    total_chunks: int  # chunks of this folder in the index after the run
    embedded: int  # chunks actually sent to the embedder (cache misses)
    seconds: float
    dry_run: bool = False
    low_kept: tuple[tuple[str, float], ...] = ()  # files of this run whose chunks keep < 80 % of their words
    notes: tuple[tuple[str, str], ...] = ()  # what parsing refused or missed (an include outside the folder)
    repaired: str = ""  # what was found wrong with the index before this run, and put right

    def as_json(self) -> dict:
        return {
            "folder": self.folder,
            "files": self.files,
            "chunks": self.chunks,
            "total_chunks": self.total_chunks,
            "embedded": self.embedded,
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "removed": len(self.removed),
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "low_kept": [{"path": p, "kept": round(k, 3)} for p, k in self.low_kept],
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "repaired": self.repaired,
        }


@dataclass
class _Prepared:
    found: FoundFile
    digest: str
    size: int
    chunks: list[Chunk] = field(default_factory=list)
    title: str = ""
    error: str = ""
    skip: str = ""  # a well-formed file with nothing to index: recorded with no chunks, listed as skipped
    kept: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProgressEvent:
    files_done: int
    files_total: int
    chunks_done: int  # chunks parsed so far in this run (written or about to be)
    seconds: float


Progress = Callable[[ProgressEvent], None]


def folder_key(folder: Path) -> str:
    return str(folder.resolve())


def _hash_file(path: Path, limit_bytes: int, salt: str) -> tuple[str, int]:
    """Content hash, salted with the pipeline version and chunk settings: a change in either re-chunks."""
    # Non-blocking open and a check of what was opened: a file swapped for a FIFO after the walk must not
    # hang the run.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ParseError("not a regular file")
        if info.st_size > limit_bytes:
            raise ParseError(f"file is {info.st_size / 1e6:.1f} MB, over the ingest.max_file_mb limit")
        digest = hashlib.sha256(salt.encode())
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), info.st_size


def _prepare(
    found: FoundFile, known: dict, key: str, chunker: Chunker, limits: IngestSettings, salt: str, root: Path
) -> _Prepared | None:
    try:
        digest, size = _hash_file(found.path, int(limits.max_file_mb * 1e6), salt)
    except ParseError as exc:
        return _Prepared(found, "", 0, error=str(exc))
    except OSError as exc:
        return _Prepared(found, "", 0, error=f"cannot read: {exc.strerror or exc}")
    record = known.get(found.source)
    if record and record.hash == digest:
        return None
    prepared = _Prepared(found, digest, size)
    if size == 0:  # a placeholder page: nothing to index, nothing wrong
        prepared.skip = "empty file"
        return prepared
    try:
        doc = parse_file(found.path, found.source, root)
        prepared.chunks = chunker.chunk(doc, key)
        if len(prepared.chunks) > limits.max_file_chunks:
            count, prepared.chunks = len(prepared.chunks), []
            raise ParseError(
                f"makes {count:,} chunks, over ingest.max_file_chunks ({limits.max_file_chunks:,}); "
                "split the file or raise the limit"
            )
        prepared.title = doc.title
        prepared.notes = doc.notes
        prepared.kept = kept_ratio(doc.reference, [c.text for c in prepared.chunks])
        if not prepared.chunks:
            prepared.error = "no text found"
    except NoContent as exc:
        prepared.skip = str(exc)
    except ParseError as exc:
        prepared.error = str(exc)
    except OSError as exc:
        prepared.error = f"cannot read: {exc.strerror or exc}"
    return prepared


def _prefetch(items: Iterator[_Prepared | None], depth: int = 64) -> Iterator[_Prepared | None]:
    """Parse in a background thread so the embedding model never waits for the parser."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def run() -> None:
        try:
            for item in items:
                q.put(item)
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)
        q.put(done)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def ingest_folder(
    settings: Settings,
    folder: Path,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest `folder` incrementally. `rebuild`: parse, chunk and store every file again, replacing its
    chunks file by file, so readers always see a whole index (old chunks or new, never none); with another
    embedder the new index is built in a collection beside the live one and swapped in at the end."""
    started = time.perf_counter()
    walk = walk_folder(folder, settings.ingest.follow_symlinks)
    if not walk.files:
        raise InputError(f"folder {folder} has no supported documents ({', '.join(sorted(SUPPORTED))})")
    key = folder_key(folder)
    data_dir = settings.data_path
    with IngestLock(data_dir):
        catalog = Catalog.open(data_dir / "catalog.sqlite3")
        try:
            known = catalog.files(key)
            # A file under a folder that could not be listed this time is not gone: it keeps its chunks.
            unseen = {p for p in known if any(p.startswith(d) for d in walk.unreadable)}
            removed = tuple(sorted(set(known) - {f.source for f in walk.files} - unseen))
            if dry_run:
                return _dry_run(walk, known, removed, key, settings, embedder, started)
            suspect = catalog.get_meta("dirty") == "1"
            catalog.set_meta("dirty", "1")  # before anything that could leave the store and catalog apart
            catalog.set_meta("embedder", embedder.info.name)
            checkpoint("start")
            beside = None
            try:
                store, fixed = reconcile(settings, catalog, embedder, suspect=suspect)
            except EmbedderMismatchError:
                if not rebuild:
                    raise
                store, fixed, beside = ChromaStore.beside(settings, embedder.info, catalog.owner()), Repair(), True
            if rebuild:
                known = {path: replace(record, hash="") for path, record in known.items()}  # every file again
            index_ok = keyword_index_ok(data_dir, catalog)  # before this run changes the catalog
            changes = _Changes(limit=max(DELTA_MIN, int(DELTA_SHARE * catalog.chunk_count())))
            report = _run(
                settings, folder, key, walk, known, removed, catalog, store, embedder, progress, started, changes
            )
            if beside:
                sync_store(catalog, store, embedder)  # the other folders' chunks, for the new collection too
                checkpoint("before-promote")
                store.promote(settings)
            changed = report.added or report.updated or report.removed
            if changed or suspect or rebuild or fixed.changed or not index_ok:
                checkpoint("before-bm25")
                # A small change to a sound index is a delta beside it (seconds at a million chunks); anything
                # else, or a delta grown too large, rebuilds the index from the catalog.
                small = index_ok and changes.written is not None and not (suspect or rebuild or fixed.changed)
                small = small and catalog.chunk_count() >= settings.ingest.keyword_delta_from
                if not (small and BM25Index.update(data_dir, changes.written, changes.gone)):
                    BM25Index.build(((c.id, c.text) for c in catalog.chunks()), data_dir)
            catalog.set_meta("dirty", "0")
            return replace(
                report, seconds=time.perf_counter() - started, repaired=fixed.summary() if fixed.changed else ""
            )
        finally:
            catalog.close()


@dataclass(frozen=True)
class ForgetReport:
    folder: str
    files: int
    chunks: int

    def as_json(self) -> dict:
        return {"folder": self.folder, "files": self.files, "chunks": self.chunks}


def forget_folder(settings: Settings, folder: Path, embedder: Embedder) -> ForgetReport:
    """Remove everything ingested from `folder` (which may no longer exist) from the catalog, the vector store
    and the keyword index, under the writer lock: its documents are no longer found or cited."""
    key = folder_key(folder)
    data_dir = settings.data_path
    with IngestLock(data_dir):
        catalog = Catalog.open(data_dir / "catalog.sqlite3")
        try:
            known = catalog.files(key)
            folders = [f["folder"] for f in catalog.status()["folders"]]
            if key not in folders:
                listed = ", ".join(folders) or "none"
                raise InputError(f"folder {folder} is not in the index (its folders: {listed}); see `rag status`")
            ids = sorted(catalog.chunk_ids(key))
            catalog.set_meta("dirty", "1")  # until the store and the keyword index agree with the catalog
            catalog.forget_folder(key)
            store = ChromaStore(settings, embedder.info, create=True, owner=catalog.owner())
            store.delete(ids)
            BM25Index.build(((c.id, c.text) for c in catalog.chunks()), data_dir)
            catalog.set_meta("dirty", "0")
            return ForgetReport(key, len(known), len(ids))
        finally:
            catalog.close()


def _salt(settings: Settings, embedder: Embedder) -> str:
    c = settings.chunk
    return f"{PIPELINE_VERSION}:{c.max_tokens}:{c.target_tokens}:{c.overlap_tokens}:{embedder.info.name}\x00"


def _dry_run(walk, known, removed, key, settings, embedder, started) -> IngestReport:
    added, updated, failed, unchanged = [], [], [], 0
    salt = _salt(settings, embedder)
    limit = int(settings.ingest.max_file_mb * 1e6)
    for found in walk.files:
        try:
            digest, _ = _hash_file(found.path, limit, salt)
        except (ParseError, OSError) as exc:
            failed.append((found.source, str(exc)))
            continue
        record = known.get(found.source)
        if record is None:
            added.append(found.source)
        elif record.hash != digest:
            updated.append(found.source)
        else:
            unchanged += 1
    return IngestReport(
        folder=key,
        files=len(walk.files),
        added=tuple(added),
        updated=tuple(updated),
        unchanged=unchanged,
        removed=removed,
        failed=tuple(failed),
        skipped=walk.skipped,
        chunks=0,
        total_chunks=sum(r.chunks for r in known.values()),
        embedded=0,
        seconds=time.perf_counter() - started,
        dry_run=True,
    )


@dataclass
class _Changes:
    """What a run wrote and removed, for the keyword index's delta. Past `limit` chunks written, the texts are
    not kept (the index is rebuilt instead): a first ingest never holds every chunk's text at once."""

    limit: int
    written: list[tuple[str, str]] | None = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def wrote(self, chunks: list[Chunk]) -> None:
        if self.written is not None:
            self.written += [(c.id, c.text) for c in chunks]
            if len(self.written) > self.limit:
                self.written = None


class _Writer:
    """Writes prepared files in batches: embed what the cache lacks, commit to the catalog, then the store.
    Nothing of a batch is written when its embedding fails."""

    def __init__(self, catalog: Catalog, store: ChromaStore, embedder: Embedder, key: str, changes: _Changes):
        self.catalog, self.store, self.embedder, self.key, self.changes = catalog, store, embedder, key, changes
        self.pending: list[_Prepared] = []
        self.written = 0  # chunks written
        self.embedded = 0  # chunks sent to the embedder

    @property
    def pending_chunks(self) -> int:
        return sum(len(p.chunks) for p in self.pending)

    def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            return self.embedder.embed(texts)
        except ModelError as exc:
            # Nothing of this batch is written (the catalog commits after embedding): say which files wait for
            # the next run, and keep everything committed before.
            names = [p.found.source for p in self.pending]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise ModelError(
                f"{exc}; not written this run: {shown} (the files before them are; run the ingest again)"
            ) from None

    def flush(self) -> None:
        if not self.pending:
            return
        catalog, key, model = self.catalog, self.key, self.embedder.info.name
        all_chunks = [c for p in self.pending for c in p.chunks]
        cache = catalog.cached_vectors(model, [c.content_hash for c in all_chunks])
        todo = {c.content_hash: c.text for c in all_chunks if c.content_hash not in cache}
        fresh: dict[str, np.ndarray] = {}
        if todo:
            fresh = dict(zip(todo.keys(), self._embed(list(todo.values())), strict=False))
            self.embedded += len(todo)
        vectors_by_hash = {**cache, **fresh}
        old_ids = {p.found.source: catalog.file_chunk_ids(key, p.found.source) for p in self.pending}
        catalog.commit_files(
            key,
            model,
            [(p.found.source, p.digest, p.size, p.chunks, p.title, p.kept, p.notes) for p in self.pending],
            fresh,
        )
        checkpoint("catalog-committed")
        stale = set().union(*old_ids.values()) - {c.id for c in all_chunks}
        self.changes.gone |= stale
        self.changes.wrote(all_chunks)
        if stale:
            self.store.delete(sorted(stale))
        if all_chunks:
            self.store.upsert(
                [c.id for c in all_chunks],
                np.stack([vectors_by_hash[c.content_hash] for c in all_chunks]),
                [c.text for c in all_chunks],
                [chunk_metadata(c, key, p.title) for p in self.pending for c in p.chunks],
            )
        checkpoint("store-written")
        self.written += len(all_chunks)
        self.pending.clear()


def _run(
    settings, folder, key, walk, known, removed, catalog, store, embedder, progress, started, changes: _Changes
) -> IngestReport:
    chunker = Chunker(settings.chunk, embedder.count_tokens, embedder.max_tokens)
    added: list[str] = []
    updated: list[str] = []
    failed: list[tuple[str, str]] = [
        (folder_name, f"{reason}; the {n} files ingested from it before keep their chunks")
        for folder_name, reason in walk.skipped
        if folder_name.rstrip("/") + "/" in {d or "./" for d in walk.unreadable}
        and (n := sum(1 for p in known if p.startswith(folder_name if folder_name != "./" else "")))
    ]
    skipped: list[tuple[str, str]] = [s for s in walk.skipped if s[0] not in {f for f, _ in failed}]
    low_kept: list[tuple[str, float]] = []
    notes: list[tuple[str, str]] = []
    unchanged = 0
    done_files = 0
    writer = _Writer(catalog, store, embedder, key, changes)

    salt = _salt(settings, embedder)
    items = (_prepare(f, known, key, chunker, settings.ingest, salt, folder) for f in walk.files)
    for prepared in _prefetch(items):
        done_files += 1
        if prepared is None:
            unchanged += 1
        elif prepared.error:
            # A file that worked before keeps its chunks: a damaged nightly edit does not erase knowledge.
            before = known.get(prepared.found.source)
            kept = " (previous version kept)" if before is not None and before.chunks else ""
            failed.append((prepared.found.source, prepared.error + kept))
        else:
            source = prepared.found.source
            if prepared.skip:
                skipped.append((source, prepared.skip))
            else:
                (updated if source in known else added).append(source)
            if prepared.kept is not None and prepared.kept < LOW_KEPT:
                low_kept.append((source, prepared.kept))
            notes += [(source, note) for note in prepared.notes]
            writer.pending.append(prepared)
            if writer.pending_chunks >= settings.ingest.batch_chunks:
                writer.flush()
        if progress:
            chunks_so_far = writer.written + writer.pending_chunks
            progress(ProgressEvent(done_files, len(walk.files), chunks_so_far, time.perf_counter() - started))
    writer.flush()
    if removed:
        stale = set().union(*(catalog.file_chunk_ids(key, p) for p in removed))
        changes.gone |= stale
        catalog.remove_files(key, removed)
        checkpoint("files-removed")
        store.delete(sorted(stale))
    seconds = time.perf_counter() - started
    total = sum(r.chunks for r in catalog.files(key).values())
    report = IngestReport(
        folder=key,
        files=len(walk.files),
        added=tuple(added),
        updated=tuple(updated),
        unchanged=unchanged,
        removed=removed,
        failed=tuple(failed),
        skipped=tuple(skipped),
        chunks=writer.written,
        total_chunks=total,
        embedded=writer.embedded,
        seconds=seconds,
        low_kept=tuple(low_kept),
        notes=tuple(notes),
    )
    catalog.record_run(key, report.as_json(), failed)
    return report
