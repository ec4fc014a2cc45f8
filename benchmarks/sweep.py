"""Sweep retrieval settings on an ingested index: which fusion weights, depth and k win on the dev split.

    python benchmarks/sweep.py DATA_DIR QUERIES_FILE

Query embeddings and each retriever's raw results are computed once and cached, so the grid is cheap.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.app import open_retriever  # noqa: E402
from rag.evaluate import load_queries, run_queries, score  # noqa: E402
from rag.settings import load_settings  # noqa: E402


class Memo:
    """Wraps an object so repeated calls with the same arguments are answered from memory."""

    def __init__(self, inner, *names):
        self._inner = inner
        for name in names:
            setattr(self, name, lru_cache(maxsize=None)(self._freeze(getattr(inner, name))))

    @staticmethod
    def _freeze(fn):
        def call(*args):
            return fn(*[list(a) if isinstance(a, tuple) else a for a in args])

        return call

    def __getattr__(self, name):
        return getattr(self._inner, name)


def main() -> None:
    data_dir, queries_file = Path(sys.argv[1]), Path(sys.argv[2])
    settings = load_settings(overrides={"data_dir": str(data_dir)})
    base = open_retriever(settings)
    embedder = base._embedder
    cached_vectors = {}

    class Embed:
        info = embedder.info

        def embed(self, texts):
            key = tuple(texts)
            if key not in cached_vectors:
                cached_vectors[key] = embedder.embed(texts)
            return cached_vectors[key]

    store = base._store
    store_cache = {}

    class Store:
        def query(self, vector, k, where=None):
            key = (vector.tobytes(), k, str(where))
            if key not in store_cache:
                store_cache[key] = store.query(vector, k, where)
            return store_cache[key]

    lex_cache = {}

    class Lex:
        def search(self, query, k):
            if (query, k) not in lex_cache:
                lex_cache[(query, k)] = base._lexical.search(query, k)
            return lex_cache[(query, k)]

    queries = load_queries(queries_file)
    rows = []
    grid = itertools.product(["dense", "bm25", "hybrid"], [50, 100], [20, 60], [1.0, 2.0, 3.0])
    for mode, cand, rrf_k, dense_w in grid:
        if mode != "hybrid" and (rrf_k, dense_w) != (60, 1.0):
            continue
        rs = replace(settings.retrieve, retriever=mode, candidates=cand, rrf_k=rrf_k, dense_weight=dense_w)
        from rag.retrieve import Retriever

        r = Retriever(Embed(), Store(), rs, Lex(), base._catalog)
        m = score(run_queries(queries, lambda q, r=r: r.documents(q, 10)))
        rows.append((m["ndcg@10"], mode, cand, rrf_k, dense_w, m["recall@1"], m["recall@5"], m["mrr@10"]))
        print(
            f"{mode:>6} cand={cand:<4} rrf_k={rrf_k:<3} dense_w={dense_w:<4} "
            f"nDCG@10={m['ndcg@10']:.4f} R@1={m['recall@1']:.3f} R@5={m['recall@5']:.3f} MRR={m['mrr@10']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
