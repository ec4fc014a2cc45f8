"""Sweep retrieval settings on an ingested index: which fusion weights, depth and k win on the dev split.

    python benchmarks/sweep.py DATA_DIR QUERIES_FILE

Query embeddings and each retriever's raw results are computed once and cached, so the grid is cheap.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.app import open_retriever  # noqa: E402
from rag.evaluate import load_queries, run_queries, score  # noqa: E402
from rag.settings import load_settings  # noqa: E402


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

        def terms(self, texts):
            return base._lexical.terms(texts)

        def scores(self, query):
            if query not in lex_cache:
                lex_cache[query] = base._lexical.scores(query)
            return lex_cache[query]

    queries = load_queries(queries_file)
    configs = [dict(retriever="dense"), dict(retriever="bm25")]
    configs += [dict(retriever="hybrid", fusion="rrf", bm25_weight=w, lead_weight=0.0) for w in (0.5, 1.0)]
    configs += [
        dict(retriever="hybrid", fusion="score", bm25_weight=w, lead_weight=g, title_weight=t, intent_weight=i)
        for w in (0.2, 0.3, 0.4)
        for g in (0.0, 0.2, 0.4, 0.6)
        for t in (0.0, 0.05, 0.1, 0.2)
        for i in (0.0, 0.1, 0.15, 0.2, 0.3)
    ]
    from rag.retrieve import Retriever

    for config in configs:
        rs = replace(settings.retrieve, **config)
        r = Retriever(Embed(), Store(), rs, Lex(), base._catalog)
        m = score(run_queries(queries, lambda q, r=r: r.documents(q, 10)))
        label = " ".join(f"{k}={v}" for k, v in config.items())
        print(
            f"{label:<90} nDCG@10={m['ndcg@10']:.4f} R@1={m['recall@1']:.3f} R@5={m['recall@5']:.3f} "
            f"MRR={m['mrr@10']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
