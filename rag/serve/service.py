"""What `rag serve` does, without HTTP: hold the index, answer, search, rate, report, run ingests.

One process owns the data directory. Reads never see half an index: the keyword index is swapped in whole by
an ingest and reloaded here when its version (the swapped folder's identity) changes; the catalog is SQLite
in WAL mode, so every read sees a committed state; each thread reads through its own catalog connection.
An ingest runs in a background thread under the same writer lock `rag ingest` takes, so the two never
write at once.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from rag.answer import Answer, ask
from rag.embed import Embedder, make_embedder
from rag.errors import BusyError, InputError, PermissionDeniedError
from rag.followup import Followup, standalone
from rag.generate import OpenAIChat
from rag.keys import KeyStore
from rag.messages import Message
from rag.retrieve import Hit, LookupCache, Retriever
from rag.settings import EmbedderSettings, Settings
from rag.status import index_status
from rag.storage.lexical import DELTA_FILE, INDEX_DIR, BM25Index
from rag.storage.store import read_afresh
from rag.wiring import open_catalog, open_retriever


@dataclass
class IngestJob:
    id: str
    folders: list[str]
    status: str = "running"  # running | done | failed
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    progress: dict = field(default_factory=dict)
    summaries: list[dict] = field(default_factory=list)
    error: str = ""

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "folders": self.folders,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "progress": self.progress,
            "summaries": self.summaries,
            "error": self.error,
        }


@dataclass(frozen=True)
class Reply:
    answer: Answer
    followup: Followup
    answer_id: str | None  # the query log entry's token, for feedback by the key that asked


def _one_thread_per_request(settings: EmbedderSettings) -> EmbedderSettings:
    """Requests run side by side, so each embeds on one core: the model's own threads would only compete
    (4 clients on 2 cores: 78 searches/s instead of 60). A configured `embedder.threads` is kept."""
    return replace(settings, threads=1) if settings.threads == 0 else settings


class Service:
    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(_one_thread_per_request(settings.embedder))
        self.keys = KeyStore(settings.data_path)
        self.jobs: dict[str, IngestJob] = {}
        self._swap = threading.Lock()
        self._local = threading.local()
        self._version: tuple = ()
        self._retriever: Retriever | None = None
        self._cache = LookupCache()
        self._log_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._log = None
        open_catalog(settings).close()  # fail at start, not at the first question, when nothing is ingested

    # -- the index, reloaded when an ingest swapped in a new one ---------------------------------------
    def _index_version(self) -> tuple:
        """Changes whenever an ingest changed the index: the keyword index's files (rebuilt whole, or a delta
        written beside it) say so."""
        version: tuple = ()
        for name in ("ids.json", DELTA_FILE):
            try:
                info = os.stat(self.settings.data_path / INDEX_DIR / name)
                version += (info.st_ino, info.st_mtime_ns)
            except OSError:
                version += (None,)
        return version if version[0] is not None else ()

    def retriever(self) -> Retriever:
        """This thread's retriever, on the current index (a swap by an ingest is picked up here)."""
        version = self._index_version()
        with self._swap:
            if self._retriever is None or version != self._version:
                if self._retriever is not None:
                    read_afresh(self.settings)  # another process may have written the vector store
                base = open_retriever(self.settings, self.embedder)
                lexical = (
                    BM25Index.load(self.settings.data_path) if self.settings.retrieve.retriever != "dense" else None
                )
                # Lookups are remembered per index version: a swapped-in index starts a fresh cache.
                self._cache = LookupCache()
                self._retriever = Retriever(
                    self.embedder, base.store, self.settings.retrieve, lexical, base.catalog, self._cache
                )
                self._version = version
            shared, cache = self._retriever, self._cache
        # The SQLite connection is per thread; everything else is shared and read-only.
        local = getattr(self._local, "catalog", None)
        if local is None:
            local = self._local.catalog = open_catalog(self.settings)
        return Retriever(self.embedder, shared.store, self.settings.retrieve, shared.lexical, local, cache)

    # -- answering ------------------------------------------------------------------------------------
    def models(self) -> list[str]:
        from rag.answer import registered_finetuned

        names = ["rag", "rag-few-shot", "rag-plain"]
        if self.settings.chat.finetuned or registered_finetuned(self.settings):
            names += ["rag-finetuned", "rag-finetuned-few-shot", "rag-finetuned-plain"]
        return names

    def reply(
        self,
        messages: list[Message],
        model_choice: str,
        mode: str,
        k: int | None,
        on_token: Callable[[str], None] | None = None,
        asker: str = "",
    ) -> Reply:
        if not any(m.role == "user" and m.content.strip() for m in messages):
            raise InputError("messages must hold at least one user message with text")
        chat = None
        model_name = _model_name(self.settings, model_choice)
        if model_name:
            chat = OpenAIChat(self.settings.chat, model_name)
        followup = standalone(messages, chat)
        retriever = None if mode == "plain" else self.retriever()
        answer = ask(
            followup.question, self.settings, retriever, mode=mode, model_choice=model_choice, k=k, on_token=on_token
        )
        return Reply(answer, followup, self._record(answer, asker))

    def search(self, query: str, k: int, retriever: str | None = None) -> tuple[list[Hit], str]:
        """The hits, and the notice to show with them ("" when the search ran as asked)."""
        if not query.strip():
            raise InputError("query is empty")
        current = self.retriever()
        if retriever and retriever != self.settings.retrieve.retriever:
            settings = replace(self.settings.retrieve, retriever=retriever)
            current = Retriever(self.embedder, current.store, settings, current.lexical, current.catalog, current.cache)
        return current.search(query, k), current.notice

    # -- the query log (answers and their ratings) ---------------------------------------------------
    def _query_log(self):
        from rag.querylog import QueryLog, log_path

        if self._log is None:
            self._log = QueryLog(log_path(self.settings.data_path))
        return self._log

    def _record(self, answer: Answer, asker: str) -> str | None:
        if not self.settings.log.enabled:
            return None
        with self._log_lock:
            return self._query_log().record(answer, asker)[1]

    def feedback(self, answer_id: str, rating: str, comment: str = "", asker: str = "") -> None:
        """Rate an answer: only the key that asked it can (`asker`: its id; "" on a server without keys)."""
        if not self.settings.log.enabled:
            raise InputError("the query log is off (log.enabled = false); ratings are kept in it")
        with self._log_lock:
            self._query_log().rate_answer(answer_id, asker, rating, comment)

    # -- status -------------------------------------------------------------------------------------
    def status(self) -> dict:
        status = index_status(self.settings)
        del status["data_dir"]  # the server's paths are its own business
        status["ingests_running"] = [j.id for j in self.jobs.values() if j.status == "running"]
        status["notice"] = self.retriever().notice
        return status

    # -- ingest, in the background ------------------------------------------------------------------
    def folders(self) -> list[str]:
        catalog = open_catalog(self.settings)
        try:
            return [f["folder"] for f in catalog.status()["folders"]]
        finally:
            catalog.close()

    def ingest_roots(self) -> list[Path]:
        """Where an admin request may ingest: `serve.ingest_roots`, else the folders already in the index."""
        roots = self.settings.serve.ingest_roots or tuple(self.folders())
        return [Path(r).expanduser().resolve() for r in roots]

    def allowed_folder(self, folder: str) -> Path:
        """`folder` resolved (symlinks followed), if it lies under an ingest root; else PermissionDeniedError."""
        real = Path(folder).expanduser().resolve()
        roots = self.ingest_roots()
        if not any(real == root or real.is_relative_to(root) for root in roots):
            allowed = ", ".join(str(r) for r in roots) or "none"
            raise PermissionDeniedError(
                f"folder {folder} is outside the folders this server may ingest ({allowed}); the operator allows "
                "more with serve.ingest_roots (RAG_SERVE_INGEST_ROOTS)"
            )
        return real

    def start_ingest(self, folders: list[str] | None = None) -> IngestJob:
        folders = [str(self.allowed_folder(f)) for f in folders] if folders else self.folders()
        if not folders:
            raise InputError("no folder has been ingested into this data directory yet; run `rag ingest FOLDER` once")
        for folder in folders:
            if not Path(folder).is_dir():
                raise InputError(f"folder {folder} does not exist on the server")
        with self._jobs_lock:  # two requests at once: only one passes the check and starts
            if any(j.status == "running" for j in self.jobs.values()):
                raise BusyError("an ingest is already running; follow it with GET /v1/ingest/{id}")
            job = IngestJob(uuid.uuid4().hex[:12], folders)
            self.jobs[job.id] = job
        threading.Thread(target=self._run_ingest, args=(job,), daemon=True, name=f"ingest-{job.id}").start()
        return job

    def forget(self, folder: str):
        """Remove a folder's chunks from the index (`rag forget`), under the writer lock."""
        from ingest.pipeline import forget_folder

        with self._jobs_lock:
            if any(j.status == "running" for j in self.jobs.values()):
                raise BusyError("an ingest is running; forget the folder when it has finished")
            return forget_folder(self.settings, Path(folder), self.embedder)

    def _run_ingest(self, job: IngestJob) -> None:
        from ingest.pipeline import ingest_folder
        from rag.errors import RagError

        def progress(event) -> None:
            job.progress = {
                "files_done": event.files_done,
                "files_total": event.files_total,
                "chunks": event.chunks_done,
                "seconds": round(event.seconds, 1),
            }

        try:
            for folder in job.folders:
                report = ingest_folder(self.settings, Path(folder), self.embedder, progress=progress)
                job.summaries.append(report.as_json())
            job.status = "done"
        except RagError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # reported on the job, never raised into the server
            job.status, job.error = "failed", f"unexpected {type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()


def _model_name(settings: Settings, choice: str) -> str:
    from rag.answer import resolve_model

    return resolve_model(settings, choice)
