"""Retrieval benchmark: ingest a corpus with `rag`, run labelled queries through `rag`'s retrieval.

    python benchmarks/retrieval.py DATASET_DIR [QUERIES_FILE] [--data-dir DIR] [--variant fp32|int8]

DATASET_DIR is a ../shared/eval folder (its corpus/ is ingested); QUERIES_FILE defaults to its
queries.dev.jsonl. Prints document-level R@1, R@5, MRR@10, nDCG@10, ingest chunks/s and query latency.
The index is kept in --data-dir (default benchmarks/.data/<dataset>-<variant>), so a second run re-uses it
(incremental ingest: nothing changed, nothing embedded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import BM25Documents, NaiveDense  # noqa: E402
from rag.embed import make_embedder  # noqa: E402
from rag.evaluate import load_queries, run_queries, score, worst_misses  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import ingest, open_retriever  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("queries", type=Path, nargs="?")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--variant", default="fp32", choices=["fp32", "int8"])
    parser.add_argument("--retriever", choices=["hybrid", "dense", "bm25"], default=None)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--peers", default="bm25,naive", help="comma-separated: bm25, naive (empty: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    queries_file = args.queries or args.dataset / "queries.dev.jsonl"
    data_dir = args.data_dir or Path(__file__).parent / ".data" / f"{args.dataset.name}-{args.variant}"
    overrides = {"data_dir": str(data_dir), "embedder": {"variant": args.variant}}
    if args.retriever:
        overrides["retrieve"] = {"retriever": args.retriever}
    settings = load_settings(overrides=overrides)
    embedder = make_embedder(settings.embedder)

    t0 = time.perf_counter()
    report = ingest(settings, args.dataset / "corpus", embedder)
    ingest_s = time.perf_counter() - t0
    retriever = open_retriever(settings, embedder)
    queries = load_queries(queries_file)
    retriever.documents(queries[0].question, args.k)  # warm-up: first-call costs are not query latency
    results = run_queries(queries, lambda q: retriever.documents(q, args.k))
    metrics = score(results)
    figures = {
        "dataset": args.dataset.name,
        "queries": str(queries_file),
        "embedder": embedder.info.name,
        "retriever": retriever.mode,
        **{k: round(v, 4) for k, v in metrics.items()},
        "ingest_files": report.files,
        "ingest_chunks_total": report.total_chunks,
        "ingest_chunks_embedded": report.embedded,
        "ingest_seconds": round(ingest_s, 1),
        "ingest_chunks_per_s": round(report.embedded / ingest_s, 1) if report.embedded else None,
    }
    peers = {}
    wanted = [p for p in args.peers.split(",") if p]
    if "bm25" in wanted:
        peer = BM25Documents(args.dataset / "corpus")
        peers["bm25-whole-docs"] = score(run_queries(queries, lambda q: peer.documents(q, args.k)))
    if "naive" in wanted:
        peer = NaiveDense(args.dataset / "corpus", data_dir.parent / f"{args.dataset.name}-naive", embedder)
        peer.documents(queries[0].question, args.k)
        peers["naive-dense"] = score(run_queries(queries, lambda q: peer.documents(q, args.k)))
    for name, m in peers.items():
        figures[f"peer {name}"] = {k: round(v, 4) for k, v in m.items()}
    if peers:
        best = max(m["ndcg@10"] for m in peers.values())
        figures["target ndcg@10 (best peer + 0.3 x gap)"] = round(best + 0.3 * (1 - best), 4)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    print("worst misses:")
    for r in worst_misses(results):
        print(f"  rank {r.first_relevant_rank or '>10'}: {r.query.question[:90]!r} -> {sorted(r.query.relevant)[:2]}")


if __name__ == "__main__":
    main()
