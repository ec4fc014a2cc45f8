"""Ingestion benchmark: first ingest against the embedder-alone ceiling, no-change and 1 %-edit re-ingests,
and peak memory, on a deterministic subset of a corpus.

    python benchmarks/ingest.py CORPUS_DIR [--fraction 0.1] [--variant fp32|int8] [--json]

The subset (every n-th file in sorted order) is copied to a scratch folder so edits never touch the source.
Each ingest runs as `rag ingest` in a child process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import MiniLMEmbedder  # noqa: E402


def run_ingest(folder: Path, data: Path, variant: str) -> tuple[dict, float, float]:
    """(summary, wall seconds, peak RSS MB of the child)."""
    env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_EMBEDDER_VARIANT": variant}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rag", "ingest", str(folder), "--json"], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 5):
        raise SystemExit(proc.stderr)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far: report it only when it rose.
    return json.loads(proc.stdout), wall, max(peak, before) / 1024


def ceiling(data: Path, variant: str, batch: int) -> tuple[int, float]:
    """The embedder alone, embedding the very chunks the ingest stored, in the same batch size."""
    db = sqlite3.connect(data / "catalog.sqlite3")
    texts = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY folder, path, idx")]
    db.close()
    embedder = MiniLMEmbedder(variant)
    embedder.embed(texts[:8])  # warm-up
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed(texts[start : start + batch])
    return len(texts), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--variant", default="fp32", choices=["fp32", "int8"])
    parser.add_argument("--no-ceiling", action="store_true", help="skip the embedder-alone run (it takes as long)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    files = sorted(p for p in args.corpus.rglob("*") if p.is_file())
    step = max(1, round(1 / args.fraction))
    subset = files[::step]
    scratch = Path(tempfile.mkdtemp(prefix="rag-ingest-bench-"))
    folder, data = scratch / "docs", scratch / "data"
    for path in subset:
        target = folder / path.relative_to(args.corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    try:
        first, first_s, first_rss = run_ingest(folder, data, args.variant)
        chunks, ceiling_s = (0, 0.0) if args.no_ceiling else ceiling(data, args.variant, 256)
        again, again_s, _ = run_ingest(folder, data, args.variant)
        edited_files = subset[:: max(1, len(subset) // max(1, len(subset) // 100))][: max(1, len(subset) // 100)]
        for path in edited_files:
            target = folder / path.relative_to(args.corpus)
            target.write_text(target.read_text(encoding="utf-8", errors="replace") + "\n\nEdited for the benchmark.\n")
        edit, edit_s, _ = run_ingest(folder, data, args.variant)
        figures = {
            "corpus": str(args.corpus),
            "files": len(subset),
            "variant": args.variant,
            "chunks": first["total_chunks"],
            "first_ingest_s": round(first_s, 1),
            "first_ingest_chunks_per_s": round(first["total_chunks"] / first_s, 1),
            "ceiling_embed_only_s": round(ceiling_s, 1) if ceiling_s else None,
            "ceiling_chunks_per_s": round(chunks / ceiling_s, 1) if ceiling_s else None,
            "first_ingest_vs_ceiling": round(ceiling_s / first_s, 3) if ceiling_s else None,
            "reingest_unchanged_s": round(again_s, 2),
            "reingest_unchanged_vs_first": round(again_s / first_s, 4),
            "edited_files": len(edited_files),
            "reingest_edited_s": round(edit_s, 2),
            "reingest_edited_embedded_chunks": edit["embedded"],
            "reingest_edited_vs_first": round(edit_s / first_s, 4),
            "peak_rss_mb_first_ingest": round(first_rss, 1),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
