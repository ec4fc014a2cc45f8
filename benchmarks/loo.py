"""Leave-one-corpus-out: would the ranking defaults have been chosen without the corpus they are scored on?

    python benchmarks/loo.py DATASET_DIR [DATASET_DIR ...]

Each dataset must already be ingested in benchmarks/.data/<name>-fp32 (benchmarks/retrieval.py does that).
For every setting of the grid (rag/tune.py's), nDCG@10 on every corpus (answerable questions). Then, for each
corpus, the setting that scores best on the others (by their mean, and by their worst) is scored on it. The
defaults are reported beside; the figure to judge by is the worst corpus.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import make_embedder  # noqa: E402
from rag.evaluate import load_queries, ndcg  # noqa: E402
from rag.memo import MemoRetriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.tune import GRID  # noqa: E402
from rag.wiring import open_retriever  # noqa: E402

DATA = Path(__file__).parent / ".data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    args = parser.parse_args()
    embedder = make_embedder(load_settings(environ={}).embedder)
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    defaults = load_settings(environ={}).retrieve
    default = {name: getattr(defaults, name) for name in GRID}
    if default not in grid:
        grid.append(default)
    scores: dict[str, list[float]] = {}
    for dataset in args.datasets:
        settings = load_settings(environ={}, overrides={"data_dir": str(DATA / f"{dataset.name}-fp32")})
        memo = MemoRetriever(open_retriever(settings, embedder))
        queries = [q for q in load_queries(dataset / "queries.dev.jsonl") if q.answerable]
        scores[dataset.name] = [
            statistics.fmean(
                ndcg(tuple(memo.with_settings(**g).documents(q.question, 10)), q.relevant, 10) for q in queries
            )
            for g in grid
        ]
        got = scores[dataset.name][grid.index(default)]
        print(f"{dataset.name}: {len(queries)} answerable questions, default {got:.3f}", flush=True)
    names = list(scores)
    print(f"\n{'held out':<18}{'default':>9}{'LOO by mean':>13}{'LOO by worst':>14}  chosen by mean of the others")
    loo_mean, loo_worst = {}, {}
    for held in names:
        others = [n for n in names if n != held]
        # Ties keep the defaults: a setting replaces them only by scoring better on the other corpora.
        home = grid.index(default)
        by_mean = max(range(len(grid)), key=lambda g: (statistics.fmean(scores[n][g] for n in others), g == home))
        by_worst = max(range(len(grid)), key=lambda g: (min(scores[n][g] for n in others), g == home))
        loo_mean[held], loo_worst[held] = scores[held][by_mean], scores[held][by_worst]
        print(
            f"{held:<18}{scores[held][grid.index(default)]:>9.3f}{loo_mean[held]:>13.3f}{loo_worst[held]:>14.3f}"
            f"  {grid[by_mean]}"
        )
    worst_default = min(scores[n][grid.index(default)] for n in names)
    print(f"{'worst corpus':<18}{worst_default:>9.3f}{min(loo_mean.values()):>13.3f}{min(loo_worst.values()):>14.3f}")
    best_worst = max(range(len(grid)), key=lambda g: (min(scores[n][g] for n in names), g == grid.index(default)))
    print(
        f"\nbest worst-corpus setting on all: {grid[best_worst]} -> "
        + ", ".join(f"{n} {scores[n][best_worst]:.3f}" for n in names)
    )
    print(f"defaults {default} -> " + ", ".join(f"{n} {scores[n][grid.index(default)]:.3f}" for n in names))


if __name__ == "__main__":
    main()
