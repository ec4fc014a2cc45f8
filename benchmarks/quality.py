"""The quality table: every dev corpus ingested and scored the same way, run before any change to parsing,
chunking or ranking lands.

    python benchmarks/quality.py                      # all eight corpora
    python benchmarks/quality.py --half choose        # the half ranking changes are chosen on
    python benchmarks/quality.py --save after.json --compare before.json

Per corpus: document-level nDCG@10 on the answerable questions for `rag` hybrid, dense and bm25, the two
peers (BM25 over whole files; the naive 1000/200-character Chroma pipeline with the same MiniLM), the target
(best peer + 0.3 x the gap to 1), the kept ratio, and abstention (unanswerable declined / answerable
wrongly declined). Then the macro mean and the worst corpus.

Indexes live in benchmarks/.data/<corpus>-<variant> and are re-ingested incrementally (only what a change
touched is parsed again; embeddings are cached by text). Peer scores are cached in benchmarks/.data/peers.json
by corpus, queries and embedder, since nothing of ours changes them.

Halves: ranking and chunking are chosen by looking at the CHOOSE half; the CONFIRM half is only scored,
never studied for its misses, so it says whether a choice holds on docs it was not made on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.abstain import judge  # noqa: E402
from rag.embed import make_embedder  # noqa: E402
from rag.evaluate import LabelledQuery, load_queries, ndcg  # noqa: E402
from rag.memo import MemoRetriever  # noqa: E402
from rag.settings import Settings, load_settings  # noqa: E402
from rag.wiring import ingest, open_retriever  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / ".data"
SHARED = ROOT.parent / "shared" / "eval"
EXTRA = Path(__file__).parent / "extra_eval"
CORPORA = {
    "aws_docs_qa": SHARED,
    "stackfaq_webapps": SHARED,
    "restic_docs": SHARED,
    "frigate_docs": SHARED,
    "git_docs": SHARED,
    "rclone_docs": SHARED,
    "certbot_docs": EXTRA,
    "material_docs": EXTRA,
}
# One of each kind of site in each half; aws (the slow one) is only confirmed on.
HALVES = {
    "choose": ("restic_docs", "frigate_docs", "git_docs", "stackfaq_webapps"),
    "confirm": ("aws_docs_qa", "certbot_docs", "material_docs", "rclone_docs"),
}


@dataclass(frozen=True)
class Row:
    corpus: str
    answerable: int
    unanswerable: int
    hybrid: float
    dense: float
    bm25: float
    naive_peer: float
    bm25_peer: float
    kept: float
    low_kept: int
    declined_unanswerable: int
    declined_answerable: int
    p50_ms: float

    @property
    def target(self) -> float:
        best = max(self.naive_peer, self.bm25_peer)
        return best + 0.3 * (1 - best)

    @property
    def meets(self) -> bool:
        return self.hybrid >= max(self.dense, self.bm25) - 1e-9 and self.hybrid >= self.target - 1e-9


def _mean_ndcg(rank, queries: list[LabelledQuery]) -> float:
    return statistics.fmean(ndcg(tuple(rank(q.question)), q.relevant, 10) for q in queries)


def _kept(settings: Settings) -> tuple[float, int]:
    import sqlite3

    db = sqlite3.connect(f"file:{settings.data_path / 'catalog.sqlite3'}?mode=ro", uri=True)
    rows = db.execute("SELECT kept, size FROM files WHERE kept IS NOT NULL AND chunks > 0").fetchall()
    db.close()
    total = sum(size for _, size in rows) or 1
    return sum(k * size for k, size in rows) / total, sum(1 for k, _ in rows if k < 0.8)


def _peers(name: str, dataset: Path, queries: list[LabelledQuery], embedder, refresh: bool) -> dict[str, float]:
    from benchmarks.peers import BM25Documents, NaiveDense

    cache_file = DATA / "peers.json"
    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    digest = hashlib.sha256((dataset / "queries.dev.jsonl").read_bytes()).hexdigest()[:16]
    key = f"{name}:{digest}:{embedder.info.name}"
    if key in cache and not refresh:
        return cache[key]
    answerable = [q for q in queries if q.answerable]
    bm25 = BM25Documents(dataset / "corpus")
    naive = NaiveDense(dataset / "corpus", DATA / f"{name}-naive", embedder)
    cache[key] = {
        "bm25_peer": _mean_ndcg(lambda q: bm25.documents(q, 10), answerable),
        "naive_peer": _mean_ndcg(lambda q: naive.documents(q, 10), answerable),
    }
    DATA.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(cache, indent=1, sort_keys=True))
    return cache[key]


def measure(name: str, variant: str, overrides: dict, refresh_peers: bool = False) -> Row:
    dataset = CORPORA[name] / name
    settings = load_settings(
        environ={},
        overrides={"data_dir": str(DATA / f"{name}-{variant}"), "embedder": {"variant": variant}, **overrides},
    )
    embedder = make_embedder(settings.embedder)
    t0 = time.perf_counter()
    report = ingest(settings, dataset / "corpus", embedder)
    print(
        f"  {name}: ingested ({report.embedded} chunks embedded of {report.total_chunks}, "
        f"{time.perf_counter() - t0:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    queries = load_queries(dataset / "queries.dev.jsonl")
    answerable = [q for q in queries if q.answerable]
    unanswerable = [q for q in queries if not q.answerable]
    retriever = open_retriever(settings, embedder)
    # Latency first, on the plain retriever (the memo below would answer from its cache).
    retriever.ranked(queries[0].question, 10)
    times = []
    declined: dict[str, bool] = {}
    for q in queries:
        start = time.perf_counter()
        hits, _ = retriever.ranked(q.question, 10)
        decision = judge(q.question, hits[: settings.retrieve.k], retriever.lexical, settings)
        times.append((time.perf_counter() - start) * 1000)
        declined[q.id] = not decision.answer
    memo = MemoRetriever(retriever)
    scores = {
        mode: _mean_ndcg(lambda q, m=mode: memo.with_settings(retriever=m).documents(q, 10), answerable)
        for mode in ("hybrid", "dense", "bm25")
    }
    # The peers are the tutorial pipeline with the stock fp32 model, whatever variant `rag` runs with.
    peer_embedder = embedder if variant == "fp32" else make_embedder(load_settings(environ={}).embedder)
    peers = _peers(name, dataset, queries, peer_embedder, refresh_peers)
    kept, low = _kept(settings)
    return Row(
        corpus=name,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hybrid=scores["hybrid"],
        dense=scores["dense"],
        bm25=scores["bm25"],
        naive_peer=peers["naive_peer"],
        bm25_peer=peers["bm25_peer"],
        kept=kept,
        low_kept=low,
        declined_unanswerable=sum(declined[q.id] for q in unanswerable),
        declined_answerable=sum(declined[q.id] for q in answerable),
        p50_ms=statistics.median(times),
    )


def table(rows: list[Row], before: dict[str, dict] | None = None) -> str:
    def delta(row: Row, field: str) -> str:
        if not before or row.corpus not in before:
            return ""
        change = getattr(row, field) - before[row.corpus][field]
        return f" ({change:+.3f})" if abs(change) >= 0.0005 else " (=)"

    out = [
        "| corpus (answerable q) | hybrid | dense | bm25 | naive peer | BM25 peer | target | kept | "
        "declined unanswerable | wrongly declined | p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        half = next(h for h, names in HALVES.items() if r.corpus in names)
        met = "met" if r.meets else f"missed by {max(r.target - r.hybrid, max(r.dense, r.bm25) - r.hybrid):.3f}"
        out.append(
            f"| {r.corpus} ({r.answerable}, {half}) | **{r.hybrid:.3f}**{delta(r, 'hybrid')} | {r.dense:.3f} | "
            f"{r.bm25:.3f} | {r.naive_peer:.3f} | {r.bm25_peer:.3f} | {r.target:.3f} {met} | {r.kept:.1%} "
            f"({r.low_kept} < 80 %) | {r.declined_unanswerable}/{r.unanswerable} | "
            f"{r.declined_answerable}/{r.answerable} | {r.p50_ms:.1f} |"
        )
    worst = min(rows, key=lambda r: r.hybrid)
    mean = statistics.fmean(r.hybrid for r in rows)
    unans = sum(r.unanswerable for r in rows)
    wrong = max(rows, key=lambda r: r.declined_answerable / max(r.answerable, 1))
    out.append(
        f"\nmacro mean hybrid {mean:.3f}; worst corpus {worst.corpus} {worst.hybrid:.3f}; "
        f"targets met {sum(r.meets for r in rows)}/{len(rows)}; unanswerable declined "
        f"{sum(r.declined_unanswerable for r in rows)}/{unans}; answerable wrongly declined "
        f"{sum(r.declined_answerable for r in rows)}/{sum(r.answerable for r in rows)} "
        f"(worst {wrong.corpus} {wrong.declined_answerable / max(wrong.answerable, 1):.1%})"
    )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="*", help=f"default: all ({', '.join(CORPORA)})")
    parser.add_argument("--half", choices=sorted(HALVES))
    parser.add_argument("--variant", default="fp32", choices=["fp32", "int8"])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a settings override, e.g. retrieve.bm25_weight=0.3 (repeatable)",
    )
    parser.add_argument("--save", type=Path, help="write the rows as JSON")
    parser.add_argument("--compare", type=Path, help="a JSON file from --save: show the change per corpus")
    parser.add_argument("--refresh-peers", action="store_true")
    args = parser.parse_args()
    names = args.corpora or (list(HALVES[args.half]) if args.half else list(CORPORA))
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        parser.error(f"unknown corpus {unknown[0]}; choose from {', '.join(CORPORA)}")
    overrides: dict = {}
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value  # a bare word: a string setting
        overrides.setdefault(section, {})[name] = parsed
    rows = []
    for name in names:
        rows.append(measure(name, args.variant, overrides, args.refresh_peers))
    before = json.loads(args.compare.read_text()) if args.compare else None
    print(table(rows, before))
    if args.save:
        args.save.write_text(json.dumps({r.corpus: r.__dict__ for r in rows}, indent=1))


if __name__ == "__main__":
    main()
