"""Keyword retrieval: a BM25 index (bm25s) over the chunk texts, kept beside Chroma in the data directory.

Local Chroma has no keyword ranking, and on some corpora BM25 beats dense retrieval. The index is rebuilt from
the catalog after every ingest that changed something (bm25s indexes ~50k chunks in seconds), written to a
temporary folder and swapped in atomically, so a reader never sees half an index.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.files import new_directory, swap_directory

INDEX_DIR = "bm25"


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokenize(texts: list[str], stemmer) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


class BM25Index:
    def __init__(self, retriever, ids: list[str]):
        self._retriever = retriever
        self._ids = ids
        self._position = {chunk_id: n for n, chunk_id in enumerate(ids)}
        self._stemmer = _stemmer()
        self._by_prefix: dict[str, list[str]] | None = None
        # A question is tokenized for scoring, the title rule and abstention: once is enough.
        self._tokens: dict[str, list[str]] = {}

    @staticmethod
    def build(chunks: Iterable[tuple[str, str]], data_dir: Path) -> int:
        """Index (id, text) pairs; returns how many."""
        import bm25s

        ids: list[str] = []
        tokens: list[list[str]] = []
        stemmer = _stemmer()
        batch: list[tuple[str, str]] = []

        def flush() -> None:
            ids.extend(i for i, _ in batch)
            tokens.extend(_tokenize([t for _, t in batch], stemmer))
            batch.clear()

        for pair in chunks:
            batch.append(pair)
            if len(batch) >= 5000:
                flush()
        flush()
        tmp = new_directory(data_dir, INDEX_DIR)
        try:
            if ids:
                retriever = bm25s.BM25()
                retriever.index(tokens, show_progress=False)
                retriever.save(str(tmp))
            (tmp / "ids.json").write_text(json.dumps(ids))
            swap_directory(tmp, data_dir / INDEX_DIR)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return len(ids)

    @classmethod
    def load(cls, data_dir: Path) -> BM25Index | None:
        """The index, or None when it is missing or damaged (an ingest or `rag repair` rebuilds it)."""
        import bm25s

        path = data_dir / INDEX_DIR
        try:
            ids = json.loads((path / "ids.json").read_text())
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return None
            if not ids:
                return cls(None, [])
            retriever = bm25s.BM25.load(str(path), mmap=False)
            if int(retriever.scores["num_docs"]) != len(ids):  # ids.json from another build
                return None
            return cls(retriever, ids)
        except Exception:  # damaged files raise whatever their reader raises
            return None

    @property
    def size(self) -> int:
        return len(self._ids)

    def idf(self, terms: frozenset[str]) -> dict[str, float]:
        """How rare each term is in the index (BM25's IDF; a term the index never saw gets the highest)."""
        if not self._ids:
            return {}
        scores = self._retriever.scores
        n, indptr, vocab = scores["num_docs"], scores["indptr"], self._retriever.vocab_dict
        out = {}
        for term in terms:
            i = vocab.get(term)
            df = int(indptr[i + 1] - indptr[i]) if i is not None else 0
            out[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return out

    def known(self, term: str) -> bool:
        """Whether any chunk contains the (stemmed) term."""
        return bool(self._ids) and term in self._retriever.vocab_dict

    def terms_starting(self, prefix: str) -> list[str]:
        """Indexed terms that start with `prefix` (for spotting misspellings); built on first use."""
        by_prefix = self._by_prefix
        if by_prefix is None:
            # Filled before it is published: a concurrent caller sees no map (and builds its own) or the whole one.
            by_prefix = {}
            for term in self._retriever.vocab_dict if self._ids else ():
                by_prefix.setdefault(term[:2], []).append(term)
            self._by_prefix = by_prefix
        return by_prefix.get(prefix, [])

    def terms(self, texts: list[str]) -> list[frozenset[str]]:
        """The terms BM25 matches on (stemmed, stop words dropped) of each text."""
        if len(texts) == 1:
            return [frozenset(self._query_tokens(texts[0]))]
        return [frozenset(t) for t in _tokenize(texts, self._stemmer)] if texts else []

    def _query_tokens(self, query: str) -> list[str]:
        tokens = self._tokens.get(query)
        if tokens is None:
            if len(self._tokens) >= 64:
                self._tokens.clear()
            tokens = self._tokens[query] = _tokenize([query], self._stemmer)[0]
        return tokens

    def scores(self, query: str) -> tuple[np.ndarray, dict[str, int]]:
        """BM25 score of every chunk for `query`, and where each chunk id sits in that array."""
        tokens = self._query_tokens(query) if self._ids else []
        if not tokens:
            return np.zeros(len(self._ids), dtype=np.float32), self._position
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32), self._position

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        return self.top(self.scores(query)[0], k)

    def top(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The `k` best chunks of a score array from `scores` (one scoring serves both uses)."""
        if not self._ids or not scores.size:
            return []
        k = min(k, scores.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._ids[int(i)], float(scores[i])) for i in best if scores[i] > 0]
