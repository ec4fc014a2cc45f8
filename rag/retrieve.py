"""Retrieval: embed the question, ask the vector store, return typed hits."""

from __future__ import annotations

from dataclasses import dataclass

from rag.embed import Embedder
from rag.store import StoredChunk, VectorStore


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    source: str
    score: float
    kind: str
    headings: str
    page: int | None
    question: str = ""

    @property
    def label(self) -> str:
        """`path > heading, page N`: how a source is cited."""
        label = self.source
        if self.headings:
            label += f" > {self.headings}"
        if self.page is not None:
            label += f", page {self.page}"
        return label

    @property
    def answer(self) -> str:
        """For Q&A chunks, the answer part of the text."""
        if self.kind != "qa":
            return self.text
        _, sep, rest = self.text.partition("\n\nA: ")
        return rest if sep else self.text

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "score": round(self.score, 4),
            "kind": self.kind,
            "headings": self.headings,
            "page": self.page,
            "text": self.text,
        }


def to_hit(chunk: StoredChunk) -> Hit:
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
    )


class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore):
        self._embedder = embedder
        self._store = store

    def documents(self, query: str, k: int) -> list[str]:
        """Distinct source documents, best first (a document ranks by its best chunk)."""
        seen: dict[str, None] = {}
        for hit in self.search(query, k * 5):
            seen.setdefault(hit.source, None)
        return list(seen)[:k]

    def search(self, query: str, k: int, kind: str | None = None) -> list[Hit]:
        vector = self._embedder.embed([query])[0]
        where = {"kind": kind} if kind else None
        return [to_hit(c) for c in self._store.query(vector, k, where)]
