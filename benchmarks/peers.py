"""The two peers `benchmarks/retrieval.py` compares against, implemented as their users would write them.

- BM25 over whole documents (bm25s, English stop words, Snowball stemmer), raw file text.
- The common naive pipeline: plain-text load, RecursiveCharacterTextSplitter 1000/200 characters, Chroma with
  all-MiniLM-L6-v2 (the same local model rag uses), top chunks mapped to their documents.
"""

from __future__ import annotations

import time
from pathlib import Path

import bm25s
import chromadb
import numpy as np
import Stemmer
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.embed import MiniLMEmbedder


def corpus_files(corpus: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        out.append((path.relative_to(corpus).as_posix(), path.read_text(encoding="utf-8", errors="replace")))
    return out


class BM25Documents:
    def __init__(self, corpus: Path):
        self._stemmer = Stemmer.Stemmer("english")
        docs = corpus_files(corpus)
        self._names = [name for name, _ in docs]
        tokens = bm25s.tokenize(
            [text for _, text in docs], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )
        self._index = bm25s.BM25()
        self._index.index(tokens, show_progress=False)

    def documents(self, query: str, k: int) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False)
        ids, scores = self._index.retrieve(tokens, k=min(k, len(self._names)), show_progress=False)
        return [self._names[int(i)] for i, s in zip(ids[0], scores[0], strict=True) if s > 0]


class NaiveDense:
    """Kept in its own Chroma folder, so the (slow) embedding happens once per corpus."""

    def __init__(self, corpus: Path, store: Path, embedder: MiniLMEmbedder):
        self._embedder = embedder
        client = chromadb.PersistentClient(path=str(store), settings=chromadb.Settings(anonymized_telemetry=False))
        self._collection = client.get_or_create_collection(
            "naive", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        self.ingest_seconds = 0.0
        self.chunks = self._collection.count()
        if self.chunks == 0:
            splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
            texts, metas = [], []
            for name, text in corpus_files(corpus):
                for piece in splitter.split_text(text):
                    texts.append(piece)
                    metas.append({"source": name})
            t0 = time.perf_counter()
            for start in range(0, len(texts), 256):
                batch = texts[start : start + 256]
                self._collection.add(
                    ids=[str(i) for i in range(start, start + len(batch))],
                    embeddings=np.asarray(embedder.embed(batch)),
                    documents=batch,
                    metadatas=metas[start : start + len(batch)],
                )
            self.ingest_seconds = time.perf_counter() - t0
            self.chunks = len(texts)

    def documents(self, query: str, k: int) -> list[str]:
        result = self._collection.query(
            query_embeddings=[self._embedder.embed([query])[0]], n_results=k * 5, include=["metadatas"]
        )
        return list(dict.fromkeys(m["source"] for m in result["metadatas"][0]))[:k]
