"""Retrieval: dense (Chroma), keyword (BM25) or both fused with document-level evidence; typed hits out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

from rag import evidence
from rag.embed import Embedder
from rag.errors import DamagedError, InputError
from rag.hits import Hit
from rag.intent import load_intents
from rag.settings import RetrieveSettings
from rag.storage.lexical import BM25Index
from rag.storage.store import StoredChunk, VectorStore


def to_hit(chunk: StoredChunk, rank_score: float | None = None) -> Hit:
    meta = chunk.metadata
    page = meta.get("page")
    return Hit(
        id=chunk.id,
        text=chunk.text,
        source=str(meta.get("source", "")),
        score=chunk.score,
        kind=str(meta.get("kind", "passage")),
        headings=str(meta.get("headings", "")),
        page=int(page) if page is not None else None,
        question=str(meta.get("question", "")),
        rank_score=chunk.score if rank_score is None else rank_score,
        folder=str(meta.get("folder", "")),
        title=str(meta.get("title", "")),
    )


def ranked_as(hit: Hit, rank_score: float) -> Hit:
    """`hit` with another ranking score (dataclasses.replace costs more than the rest of a candidate)."""
    return Hit(
        hit.id,
        hit.text,
        hit.source,
        hit.score,
        hit.kind,
        hit.headings,
        hit.page,
        hit.question,
        rank_score,
        hit.folder,
        hit.title,
    )


class ChunkSource(Protocol):
    """Where BM25-only hits get their text, metadata and vector (the catalog)."""

    def chunks(self, ids: list[str]): ...

    def cached_vectors(self, model: str, hashes: list[str], check: bool = True) -> dict[str, np.ndarray]: ...

    def lead_vectors(
        self, model: str, documents: set[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], np.ndarray]: ...


class LookupCache:
    """What retrieval looks up per candidate and that does not change between questions on one index: each
    document's lead vector, each title's terms, each keyword-only candidate's row and vector. Looked up per
    question, they cost more than the vector search itself; a server shares one per index version."""

    def __init__(self, max_rows: int = 20_000):
        self.lead: dict[tuple[str, str], np.ndarray | None] = {}
        self.title_terms: dict[str, frozenset[str]] = {}
        self.rows: OrderedDict[str, Any] = OrderedDict()  # chunk id -> catalog row, oldest first
        self.vectors: OrderedDict[str, np.ndarray | None] = OrderedDict()  # text hash -> vector (None: none)
        self._max = max_rows
        self.loading = threading.Lock()  # concurrent first questions load the lead vectors once, not each
        # Support teams ask the same questions all day: a question's embedding (half a search's time) is kept.
        self.questions: OrderedDict[str, np.ndarray] = OrderedDict()
        self._questions_lock = threading.Lock()

    def question_vector(self, question: str, embed) -> np.ndarray:
        with self._questions_lock:
            vector = self.questions.get(question)
            if vector is not None:
                self.questions.move_to_end(question)
                return vector
        vector = embed([question])[0]
        with self._questions_lock:
            self.questions[question] = vector
            if len(self.questions) > 4096:
                self.questions.popitem(last=False)
        return vector

    def remember(self, table: OrderedDict, key: str, value: Any) -> None:
        table[key] = value
        if len(table) > self._max:
            table.popitem(last=False)


class Retriever:
    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        settings: RetrieveSettings | None = None,
        lexical: BM25Index | None = None,
        catalog: ChunkSource | None = None,
        cache: LookupCache | None = None,
    ):
        self._embedder = embedder
        self._store = store
        self._settings = settings or RetrieveSettings(retriever="dense")
        self._lexical = lexical
        self._catalog = catalog
        self.cache = cache or LookupCache()
        self._intents = load_intents(self._settings.intents_file) if self._settings.intent_weight else ()

    @property
    def lexical(self) -> BM25Index | None:
        return self._lexical

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @property
    def store(self) -> VectorStore:
        return self._store

    @property
    def catalog(self) -> ChunkSource | None:
        return self._catalog

    @property
    def settings(self) -> RetrieveSettings:
        return self._settings

    @property
    def notice(self) -> str:
        """What the user should know: a hybrid or keyword search that fell back to meaning only."""
        if self._settings.retriever != "dense" and (self._lexical is None or self._catalog is None):
            return "the keyword index is missing or damaged; searching by meaning only (`rag repair` rebuilds it)"
        return ""

    @property
    def mode(self) -> str:
        if self._lexical is None or self._catalog is None:
            return "dense"
        return self._settings.retriever

    def documents(self, query: str, k: int) -> list[str]:
        """Distinct source documents, best first (a document ranks by its best chunk)."""
        return self.ranked(query, k)[1]

    def ranked(self, query: str, k: int) -> tuple[list[Hit], list[str]]:
        """The ranked chunks (deep enough for `k` documents) and the distinct documents, best first."""
        hits = self.search(query, max(k * 5, self._settings.candidates))
        return hits, list(dict.fromkeys(h.source for h in hits))[:k]

    def search(self, query: str, k: int, kind: str | None = None) -> list[Hit]:
        if not query.strip():
            raise InputError("the query is empty; ask in your own words")
        mode = self.mode
        if self._settings.retriever == "bm25" and mode != "bm25":
            # Asked for keywords only: meaning-only results would be a silent substitute.
            raise DamagedError(self.notice)
        vector = self.cache.question_vector(query, self._embedder.embed)
        if kind or mode == "dense":
            return self._dense(vector, k, {"kind": kind} if kind else None)
        depth = max(k, self._settings.candidates)
        # One BM25 scoring of the whole index gives both the keyword candidates and every candidate's score.
        bm25 = self._lexical.scores(query) if self._lexical else (np.zeros(0, dtype=np.float32), {})
        lexical = self._lexical.top(bm25[0], depth) if self._lexical else []
        if mode == "bm25":
            return self._from_catalog([i for i, _ in lexical[:k]], vector, {i: s for i, s in lexical})
        return self._fuse(self._dense(vector, depth), lexical, vector, query, bm25)[:k]

    def _dense(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[Hit]:
        """The nearest chunks. Chroma gives ids and distances only (fetching its metadata cost three times the
        vector search on 70k chunks); text and metadata come from the catalog, remembered across questions."""
        if self._catalog is None:
            return [to_hit(c) for c in self._store.query(vector, k, where)]
        nearest = self._store.nearest(vector, k, where)
        cosine = dict(nearest)
        return self._from_catalog([i for i, _ in nearest], vector, cosine, cosine)

    def _fuse(
        self,
        dense: list[Hit],
        lexical: list[tuple[str, float]],
        vector: np.ndarray,
        query: str,
        bm25_scores: tuple[np.ndarray, dict[str, int]],
    ) -> list[Hit]:
        s = self._settings
        known = {h.id: h for h in dense}
        missing = [i for i, _ in lexical if i not in known]
        for hit in self._from_catalog(missing, vector, {}):
            known[hit.id] = hit
        fused: dict[str, float] = {}
        if s.fusion == "rrf":
            for rank, hit in enumerate(dense, 1):
                fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (s.rrf_k + rank)
            for rank, (chunk_id, _) in enumerate(lexical, 1):
                if chunk_id in known:  # an id the catalog no longer holds (a stale keyword index) is skipped
                    fused[chunk_id] = fused.get(chunk_id, 0.0) + s.bm25_weight / (s.rrf_k + rank)
        else:
            # Cosine (calibrated across questions) plus BM25 relative to the best BM25 match of this question.
            # BM25 is scored over the whole index, so dense-only candidates get their keyword score too.
            bm25, position = bm25_scores
            top = float(bm25.max()) if bm25.size and bm25.max() > 0 else 1.0
            weight = evidence.keyword_weight(dense, s) if s.fusion == "adaptive" else s.bm25_weight
            for chunk_id, hit in known.items():
                keyword = float(bm25[position[chunk_id]]) / top if chunk_id in position else 0.0
                fused[chunk_id] = hit.score + weight * keyword
        for lifts in (
            self._lead(known, vector),
            evidence.title(known, query, s.title_weight, self._lexical, self.cache.title_terms),
            evidence.intent(known, query, s.intent_weight, self._intents),
        ):
            for chunk_id, lift in lifts.items():
                fused[chunk_id] += lift
        ranked = sorted(fused, key=lambda i: -fused[i])
        return [ranked_as(known[i], fused[i]) for i in ranked]

    def _lead(self, known: dict[str, Hit], vector: np.ndarray) -> dict[str, float]:
        if not self._settings.lead_weight or self._catalog is None:
            return {}
        lead = self.cache.lead
        if not lead:  # every document's lead vector, once: one query instead of one per question
            with self.cache.loading:
                if not lead:
                    lead.update(self._catalog.lead_vectors(self._embedder.info.name))
        return evidence.lead(known, vector, self._settings.lead_weight, lead)

    def _from_catalog(
        self, ids: list[str], vector: np.ndarray, rank_scores: dict[str, float], cosine: dict[str, float] | None = None
    ) -> list[Hit]:
        """Hits for chunk ids, from the catalog; their cosine from `cosine` (the vector store's) or their
        cached vectors."""
        if not ids or self._catalog is None:
            return []
        cache = self.cache
        # What this question needs is copied out of the shared cache first: another request may evict an entry
        # between a check and a read.
        rows = {i: row for i in ids if (row := cache.rows.get(i)) is not None}
        missing = [i for i in ids if i not in rows]
        if missing:
            for row in self._catalog.chunks(missing):  # an id the catalog does not hold is never cached
                rows[row.id] = row
                cache.remember(cache.rows, row.id, row)
        # Vectors only where the cosine is not known already (keyword-only candidates).
        hashes = {rows[i].hash for i in ids if i in rows and (cosine is None or i not in cosine)}
        vectors = {h: cache.vectors.get(h) for h in hashes if h in cache.vectors}
        wanted = [h for h in hashes if h not in vectors]
        if wanted:
            found = self._catalog.cached_vectors(self._embedder.info.name, wanted, check=False)
            for h in wanted:
                vectors[h] = found.get(h)
                cache.remember(cache.vectors, h, found.get(h))
        hits = []
        for chunk_id in ids:
            row = rows.get(chunk_id)
            if row is None:
                continue
            if cosine is not None and chunk_id in cosine:
                score = cosine[chunk_id]
            else:
                cached = vectors.get(row.hash)
                score = float(np.dot(cached, vector)) if cached is not None else 0.0
            hits.append(to_hit(StoredChunk(row.id, row.text, row.metadata, score), rank_scores.get(chunk_id, score)))
        return hits
