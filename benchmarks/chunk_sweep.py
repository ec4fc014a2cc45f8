"""Chunk-size sweep: ingest a corpus once per (target tokens, overlap) setting and score the dev queries.

    python benchmarks/chunk_sweep.py DATASET_DIR [--settings 100/16,150/32,200/32,200/0] [--gold-guides]

Each setting gets its own index in benchmarks/.data/sweep-<dataset>-<target>-<overlap> (kept, so a re-run
only scores). --gold-guides ingests only the top-level folders that hold a relevant document of the queries
(for aws_docs_qa: 14 guides, about half the corpus), which makes one setting take minutes instead of a
quarter of an hour on two cores; distractor guides are then fewer, so compare settings with each other only.
Prints nDCG@10 / R@1 / R@5 / MRR@10 for the hybrid and the dense retriever, chunks, and ingest seconds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import make_embedder  # noqa: E402
from rag.evaluate import load_queries, run_queries, score  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import ingest, open_retriever  # noqa: E402

DATA = Path(__file__).parent / ".data"


def gold_subset(dataset: Path, queries) -> Path:
    """A copy of the corpus with only the top-level folders that hold a relevant document."""
    guides = sorted({doc.split("/")[0] for q in queries for doc in q.relevant})
    target = DATA / f"{dataset.name}-gold-corpus"
    if not target.exists():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for guide in guides:
            shutil.copytree(dataset / "corpus" / guide, tmp / guide)
        tmp.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument(
        "--settings", default="100/16,150/32,200/32,200/0", help="target/overlap tokens, comma-separated"
    )
    parser.add_argument("--gold-guides", action="store_true")
    args = parser.parse_args()

    queries = load_queries(args.dataset / "queries.dev.jsonl")
    corpus = gold_subset(args.dataset, queries) if args.gold_guides else args.dataset / "corpus"
    suffix = "-gold" if args.gold_guides else ""
    for item in args.settings.split(","):
        target, overlap = (int(x) for x in item.split("/"))
        data_dir = DATA / f"sweep-{args.dataset.name}{suffix}-{target}-{overlap}"
        settings = load_settings(
            overrides={"data_dir": str(data_dir), "chunk": {"target_tokens": target, "overlap_tokens": overlap}}
        )
        embedder = make_embedder(settings.embedder)
        t0 = time.perf_counter()
        report = ingest(settings, corpus, embedder)
        seconds = time.perf_counter() - t0
        line = f"target={target:<4} overlap={overlap:<3} chunks={report.total_chunks:<6} ingest={seconds:7.1f}s"
        for mode in ("hybrid", "dense"):
            retriever = open_retriever(replace(settings, retrieve=replace(settings.retrieve, retriever=mode)), embedder)
            m = score(run_queries(queries, lambda q, r=retriever: r.documents(q, 10)))
            line += (
                f" | {mode} nDCG@10={m['ndcg@10']:.4f} R@1={m['recall@1']:.3f} R@5={m['recall@5']:.3f}"
                f" MRR={m['mrr@10']:.4f}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
