"""Vector store: Chroma, embedded (PersistentClient in the data directory) or a server (HttpClient)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.embed import EmbedderInfo
from rag.errors import EmbedderMismatchError, IndexMissingError, StoreError
from rag.settings import Settings, StoreSettings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float  # cosine similarity, 1 is identical


class VectorStore(Protocol):
    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], metadatas: Sequence[dict]
    ) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[StoredChunk]: ...

    def nearest(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]: ...

    def ids(self) -> set[str]: ...

    def count(self) -> int: ...


def _client(settings: StoreSettings, data_dir: Path):
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    try:
        if settings.mode == "http":
            headers = {}
            token = os.environ.get(settings.auth_token_env, "")
            if token:
                headers[settings.auth_header] = token if settings.auth_header != "Authorization" else f"Bearer {token}"
            client = chromadb.HttpClient(
                host=settings.host, port=settings.port, ssl=settings.ssl, headers=headers, settings=chroma_settings
            )
            client.heartbeat()
            return client
        return chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=chroma_settings)
    except Exception as exc:
        where = f"{settings.host}:{settings.port}" if settings.mode == "http" else str(data_dir / "chroma")
        raise StoreError(
            f"cannot open the Chroma store at {where} ({type(exc).__name__}); "
            + (
                "is `chroma run` running there?"
                if settings.mode == "http"
                else "it may be damaged: `rag repair` rebuilds it from the catalog"
            )
        ) from None


_RETIRED: list = []  # client states replaced by `read_afresh`, stopped one swap later (requests may still use them)


def read_afresh(settings: Settings) -> None:
    """Make the next client of the embedded store read its directory afresh. Chroma keeps one client state per
    directory per process, and it never sees what another process (a nightly `rag ingest`) wrote to it: its
    queries keep returning the old vectors, even from a new client (chroma-core/chroma#3792). Chroma has no
    public way to drop one directory's state, so its cache entry is taken out here."""
    if settings.store.mode != "persistent":
        return  # a `chroma run` server serves every writer's data
    from chromadb.api.shared_system_client import SharedSystemClient

    state = SharedSystemClient._identifier_to_system.pop(str(settings.data_path / "chroma"), None)
    while len(_RETIRED) > 1:
        try:
            _RETIRED.pop(0).stop()
        except Exception:  # already stopped, or failing to stop: it holds only memory now
            pass
    if state is not None:
        _RETIRED.append(state)


def _absent(exc: Exception) -> bool:
    """Chroma's way of saying a collection does not exist (its exception types differ by version and mode)."""
    return type(exc).__name__ in {"NotFoundError", "InvalidCollectionException"} or "does not exist" in str(exc)


class ChromaStore:
    """One Chroma collection that remembers which embedder filled it."""

    def __init__(self, settings: Settings, embedder: EmbedderInfo, create: bool, name: str = "", owner: str = ""):
        """`owner`: the id of the data directory whose catalog describes this collection. Two data directories
        must never share one collection (on a Chroma server they could): each would delete the other's
        chunks as strays. A collection owned by another data directory is refused."""
        self._client = _client(settings.store, settings.data_path)
        self._name = name or settings.store.collection
        self.embedder = embedder
        try:
            if create:
                ef_search = settings.store.ef_search
                self._collection = self._client.get_or_create_collection(
                    self._name,
                    metadata={
                        "embedder": embedder.name,
                        "dimension": embedder.dimension,
                        **({"owner": owner} if owner else {}),
                    },
                    configuration={"hnsw": {"space": "cosine", "ef_search": ef_search}},
                    embedding_function=None,
                )
                # Only writers (ingest) create; they also bring an older collection to the current setting.
                if (self._collection.configuration_json.get("hnsw") or {}).get("ef_search") != ef_search:
                    self._collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
            else:
                self._collection = self._client.get_collection(self._name, embedding_function=None)
        except Exception as exc:
            if not create and type(exc).__name__ in {"NotFoundError", "ValueError", "InvalidCollectionException"}:
                raise IndexMissingError("nothing has been ingested yet; run `rag ingest FOLDER` first") from None
            raise StoreError(f"Chroma collection {self._name!r}: {exc}") from None
        meta = self._collection.metadata or {}
        if owner and meta.get("owner") not in (None, owner) and settings.store.mode != "http":
            # The embedded store lives inside this data directory: it is this directory's, whatever catalog
            # filled it before (one moved aside as damaged, then rebuilt). The next ingest reconciles it.
            if create:
                self._collection.modify(metadata={**meta, "owner": owner})
            meta = {**meta, "owner": owner}
        if owner and meta.get("owner") not in (None, owner):
            where = f"the Chroma server at {settings.store.host}:{settings.store.port}"
            if settings.store.mode != "http":
                where = str(settings.data_path / "chroma")
            raise StoreError(
                f"the collection {self._name!r} on {where} holds the index of another data directory; give this "
                f"one its own collection (store.collection, e.g. RAG_STORE_COLLECTION={self._name}-2)"
            )
        if owner and create and "owner" not in meta:  # a collection from before owners were recorded
            self._collection.modify(metadata={**meta, "owner": owner})
        if meta.get("embedder") != embedder.name or int(meta.get("dimension", -1)) != embedder.dimension:
            raise EmbedderMismatchError(
                f"the index was built with embedder {meta.get('embedder')} ({meta.get('dimension')} dims) but the "
                f"settings use {embedder.name} ({embedder.dimension} dims); run `rag ingest FOLDER --rebuild` "
                "to rebuild it with the current embedder, or switch the settings back"
            )

    @staticmethod
    def drop(settings: Settings, name: str = "") -> None:
        client = _client(settings.store, settings.data_path)
        try:
            client.delete_collection(name or settings.store.collection)
        except Exception as exc:
            if not _absent(exc):
                raise StoreError(
                    f"cannot drop Chroma collection {name or settings.store.collection!r}: {exc}"
                ) from None

    @classmethod
    def beside(cls, settings: Settings, embedder: EmbedderInfo, owner: str = "") -> ChromaStore:
        """An empty collection next to the live one (`<name>.next`), for a rebuild with another embedder;
        readers keep the live one until `promote`."""
        name = f"{settings.store.collection}.next"
        cls.drop(settings, name)
        return cls(settings, embedder, create=True, name=name, owner=owner)

    def promote(self, settings: Settings) -> None:
        """Put this collection in place of the live one (two renames), then drop the old one."""
        live = settings.store.collection
        old = f"{live}.old"
        self.drop(settings, old)
        try:
            self._client.get_collection(live, embedding_function=None).modify(name=old)
        except Exception as exc:
            if not _absent(exc):  # no live collection is fine: nothing to move away; anything else is said
                raise StoreError(f"cannot move the live collection {live!r} aside: {exc}") from None
        try:
            self._collection.modify(name=live)
        except Exception as exc:
            raise StoreError(f"cannot put the rebuilt collection in place of {live!r}: {exc}") from None
        self._name = live
        self.drop(settings, old)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str], metadatas: Sequence[dict]) -> None:
        # Chroma handles a few thousand rows per call well; callers batch below its max_batch_size.
        limit = 2000
        for start in range(0, len(ids), limit):
            end = start + limit
            self._collection.upsert(
                ids=list(ids[start:end]),
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                documents=list(texts[start:end]),
                metadatas=list(metadatas[start:end]),
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 2000):
            self._collection.delete(ids=ids[start : start + 2000])

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[StoredChunk]:
        if k <= 0:
            return []
        # Chroma 1.x returns what it has when asked for more; counting first cost 4 ms a query on 70k chunks.
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(id_, text or "", dict(meta or {}), 1.0 - float(dist))
            for id_, text, meta, dist in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=False
            )
        ]

    def nearest(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the `k` nearest chunks: no text or metadata fetched."""
        if k <= 0:
            return []
        try:
            result = self._collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k, where=where, include=["distances"]
            )
        except Exception as exc:  # a damaged segment raises Chroma's own errors from its Rust core
            raise StoreError(
                f"the vector store cannot answer ({type(exc).__name__}); it may be damaged: `rag repair` rebuilds it "
                "from the catalog"
            ) from None
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=False)]

    def ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            batch = self._collection.get(include=[], limit=5000, offset=offset)["ids"]
            out.update(batch)
            if len(batch) < 5000:
                return out
            offset += len(batch)

    def count(self) -> int:
        return self._collection.count()
