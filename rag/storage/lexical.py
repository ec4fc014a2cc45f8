"""Keyword retrieval: a BM25 index (bm25s) over the chunk texts, kept beside Chroma in the data directory.

Local Chroma has no keyword ranking, and on some corpora BM25 beats dense retrieval. The index is built from the
catalog, written to a temporary folder and swapped in whole, so a reader never sees half an index. Building
tokenizes in batches into token ids (never every chunk's tokens as strings at once).

An ingest that changes a little of a large index does not rebuild it: the chunks it added are kept in a small
delta beside the built index (`delta.json`, written in one step), scored with the built index's statistics
(document count, average length, document frequencies), and the chunks it removed are masked out. When the delta
grows past `DELTA_SHARE` of the index (or `DELTA_MIN` chunks, whichever is more), the next ingest rebuilds it all.
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.files import new_directory, swap_directory, write_atomically

INDEX_DIR = "bm25"
DELTA_FILE = "delta.json"
META_FILE = "meta.json"
DELTA_SHARE = 0.05
DELTA_MIN = 2000
K1, B = 1.5, 0.75  # bm25s defaults (method "lucene"): the delta is scored the same way


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokenize(texts: list[str], stemmer) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


class _Delta:
    """Chunks added since the index was built (their tokens) and built chunks removed since."""

    def __init__(self, added: dict[str, list[str]], removed: set[str]):
        self.added = added
        self.removed = removed
        self.ids = list(added)
        self.lengths = np.asarray([len(t) for t in added.values()], dtype=np.float32)
        self.postings: dict[str, list[tuple[int, int]]] = {}  # term -> (delta position, term frequency)
        for n, tokens in enumerate(added.values()):
            for term, tf in Counter(tokens).items():
                self.postings.setdefault(term, []).append((n, tf))

    def as_json(self) -> str:
        return json.dumps({"added": self.added, "removed": sorted(self.removed)})


class BM25Index:
    def __init__(self, retriever, ids: list[str], delta: _Delta | None = None, avgdl: float = 0.0):
        self._retriever = retriever
        self._main = len(ids)
        self._delta = delta or _Delta({}, set())
        self._ids = ids + self._delta.ids
        self._position = {chunk_id: n for n, chunk_id in enumerate(self._ids)}
        self._masked = np.asarray(sorted(self._position[i] for i in self._delta.removed if i in self._position), int)
        self._avgdl = avgdl
        self._stemmer = _stemmer()
        self._by_prefix: dict[str, list[str]] | None = None
        # A question is tokenized for scoring, the title rule and abstention: once is enough.
        self._tokens: dict[str, list[str]] = {}

    @staticmethod
    def build(chunks: Iterable[tuple[str, str]], data_dir: Path) -> int:
        """Index (id, text) pairs; returns how many."""
        import bm25s

        ids: list[str] = []
        token_ids: list[np.ndarray] = []
        vocab: dict[str, int] = {}
        stemmer = _stemmer()
        batch: list[tuple[str, str]] = []
        total_length = 0

        def flush() -> None:
            nonlocal total_length
            ids.extend(i for i, _ in batch)
            for tokens in _tokenize([t for _, t in batch], stemmer):
                token_ids.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), np.int32))
                total_length += len(tokens)
            batch.clear()

        for pair in chunks:
            batch.append(pair)
            if len(batch) >= 5000:
                flush()
        flush()
        tmp = new_directory(data_dir, INDEX_DIR)
        try:
            if ids:
                vocab.setdefault("", len(vocab))  # bm25s scores token-less chunks through the empty token
                retriever = bm25s.BM25()
                retriever.index((token_ids, vocab), show_progress=False)  # arrays: a quarter of the memory of lists
                retriever.save(str(tmp))
            (tmp / "ids.json").write_text(json.dumps(ids))
            (tmp / META_FILE).write_text(json.dumps({"avgdl": total_length / max(len(ids), 1)}))
            swap_directory(tmp, data_dir / INDEX_DIR)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return len(ids)

    @classmethod
    def load(cls, data_dir: Path, mmap: bool = False) -> BM25Index | None:
        """The index, or None when it is missing or damaged (an ingest or `rag repair` rebuilds it). `mmap`: map
        the arrays instead of reading them (a check of a large index in well under a second)."""
        import bm25s

        path = data_dir / INDEX_DIR
        try:
            ids = json.loads((path / "ids.json").read_text())
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return None
            meta = json.loads((path / META_FILE).read_text()) if (path / META_FILE).is_file() else {}
            delta = None
            if (path / DELTA_FILE).is_file():
                data = json.loads((path / DELTA_FILE).read_text())
                delta = _Delta({str(k): list(v) for k, v in data["added"].items()}, set(data["removed"]))
            if not ids:
                return cls(None, [], delta, float(meta.get("avgdl", 0.0)))
            retriever = bm25s.BM25.load(str(path), mmap=mmap)
            if int(retriever.scores["num_docs"]) != len(ids):  # ids.json from another build
                return None
            return cls(retriever, ids, delta, float(meta.get("avgdl", 0.0)))
        except Exception:  # damaged files raise whatever their reader raises
            return None

    @staticmethod
    def update(data_dir: Path, written: Iterable[tuple[str, str]], gone: set[str]) -> bool:
        """Apply one ingest's changes as a delta: chunks written (id, text) and chunk ids gone. False when the
        index cannot take a delta (missing, damaged, built before deltas, or the delta would grow too large):
        then the caller rebuilds it."""
        index = BM25Index.load(data_dir)
        if index is None or not index._main or not index._avgdl:
            return False
        built = set(index._ids[: index._main])
        added = dict(index._delta.added)
        removed = set(index._delta.removed)
        for chunk_id in gone:
            if chunk_id in added:
                del added[chunk_id]
            elif chunk_id in built:
                removed.add(chunk_id)
        pending = []
        for chunk_id, text in written:
            if chunk_id in built:
                removed.discard(chunk_id)  # the same id is the same text: the built chunk serves again
            elif chunk_id not in added:
                pending.append((chunk_id, text))
        if len(added) + len(pending) + len(removed) > max(DELTA_MIN, DELTA_SHARE * index._main):
            return False
        stemmer = _stemmer()
        for start in range(0, len(pending), 5000):
            part = pending[start : start + 5000]
            for (chunk_id, _), tokens in zip(part, _tokenize([t for _, t in part], stemmer), strict=True):
                added[chunk_id] = tokens
        write_atomically({data_dir / INDEX_DIR / DELTA_FILE: _Delta(added, removed).as_json()})
        return True

    @property
    def size(self) -> int:
        return len(self._ids) - len(self._masked)

    def _df(self, term: str) -> int:
        i = self._retriever.vocab_dict.get(term) if self._main else None
        if i is None:
            return 0
        indptr = self._retriever.scores["indptr"]
        return int(indptr[i + 1] - indptr[i])

    def idf(self, terms: frozenset[str]) -> dict[str, float]:
        """How rare each term is in the index (BM25's IDF; a term the index never saw gets the highest)."""
        if not self._ids:
            return {}
        n = self._main or len(self._ids)
        return {term: math.log(1 + (n - self._df(term) + 0.5) / (self._df(term) + 0.5)) for term in terms}

    def known(self, term: str) -> bool:
        """Whether any chunk contains the (stemmed) term."""
        return (self._main > 0 and term in self._retriever.vocab_dict) or term in self._delta.postings

    def terms_starting(self, prefix: str) -> list[str]:
        """Indexed terms that start with `prefix` (for spotting misspellings); built on first use."""
        by_prefix = self._by_prefix
        if by_prefix is None:
            # Filled before it is published: a concurrent caller sees no map (and builds its own) or the whole one.
            by_prefix = {}
            vocab = set(self._retriever.vocab_dict if self._main else ()) | set(self._delta.postings)
            for term in vocab:
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
        out = np.zeros(len(self._ids), dtype=np.float32)
        if not tokens:
            return out, self._position
        if self._main:
            out[: self._main] = np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
            out[self._masked] = 0.0
        if self._delta.ids:
            # Scored as bm25s scores the built chunks ("lucene"): the built index's average length, and document
            # counts of built and added chunks together.
            n, lengths = max(self.size, 1), self._delta.lengths
            norm = K1 * ((1 - B) + B * lengths / max(self._avgdl, 1e-9))
            for term in set(tokens):
                postings = self._delta.postings.get(term)
                if not postings:
                    continue
                df = self._df(term) + len(postings)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                rows = np.fromiter((p for p, _ in postings), int, len(postings))
                tf = np.fromiter((f for _, f in postings), np.float32, len(postings))
                out[self._main + rows] += idf * tf / (norm[rows] + tf)
        return out, self._position

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
