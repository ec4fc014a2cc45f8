"""Sweep retrieval settings on an ingested index: which fusion weights win on a labelled question set.

    python benchmarks/sweep.py DATA_DIR QUERIES_FILE

Query embeddings and each retriever's raw results are computed once (rag/memo.py), so the grid is cheap.
For choosing defaults across corpora use benchmarks/loo.py; for a team's own questions, `rag tune`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluate import load_queries, run_queries, score  # noqa: E402
from rag.memo import MemoRetriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import open_retriever  # noqa: E402


def main() -> None:
    data_dir, queries_file = Path(sys.argv[1]), Path(sys.argv[2])
    settings = load_settings(environ={}, overrides={"data_dir": str(data_dir)})
    memo = MemoRetriever(open_retriever(settings))
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
    for config in configs:
        retriever = memo.with_settings(**config)
        m = score(run_queries(queries, lambda q, r=retriever: r.documents(q, 10)))
        label = " ".join(f"{k}={v}" for k, v in config.items())
        print(
            f"{label:<90} nDCG@10={m['ndcg@10']:.4f} R@1={m['recall@1']:.3f} R@5={m['recall@5']:.3f} "
            f"MRR={m['mrr@10']:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
