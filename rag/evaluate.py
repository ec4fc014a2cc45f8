"""Document-level retrieval metrics on a labelled query file (the ../shared/eval format).

A question with `relevant_docs: []` is one the documents do not answer: it is scored for abstention (was it
declined?), never as a retrieval miss; retrieval metrics are over the answerable questions only.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    question: str
    relevant: frozenset[str]
    answer: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True)
class Ranking:
    documents: tuple[str, ...]  # distinct documents, best first
    abstained: bool | None = None  # None: the ranker does not decide whether to answer


@dataclass(frozen=True)
class QueryResult:
    query: LabelledQuery
    ranked: tuple[str, ...]  # distinct documents, best first
    seconds: float
    abstained: bool | None = None

    @property
    def first_relevant_rank(self) -> int | None:
        return next((n for n, doc in enumerate(self.ranked, 1) if doc in self.query.relevant), None)


def load_queries(path: Path) -> list[LabelledQuery]:
    queries = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            queries.append(
                LabelledQuery(
                    str(obj.get("id", number)),
                    obj["question"],
                    frozenset(obj.get("relevant_docs", [])),
                    obj.get("answer", ""),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f'{path}:{number}: expected a JSON object with a "question"') from None
    if not queries:
        raise InputError(f"{path} holds no questions")
    return queries


def ndcg(ranked: tuple[str, ...], relevant: frozenset[str], k: int) -> float:
    gains = sum(1 / math.log2(n + 1) for n, doc in enumerate(ranked[:k], 1) if doc in relevant)
    ideal = sum(1 / math.log2(n + 1) for n in range(1, min(len(relevant), k) + 1))
    return gains / ideal if ideal else 0.0


def score(results: list[QueryResult]) -> dict[str, float]:
    """Retrieval metrics over the answerable questions; abstention rates when the ranker abstains."""
    answerable = [r for r in results if r.query.answerable]
    unanswerable = [r for r in results if not r.query.answerable]

    def mean(values) -> float:
        values = list(values)
        return statistics.fmean(values) if values else 0.0

    def recall(k: int) -> float:
        return mean(len(set(r.ranked[:k]) & r.query.relevant) / len(r.query.relevant) for r in answerable)

    def hit(k: int) -> float:
        return mean(1.0 if set(r.ranked[:k]) & r.query.relevant else 0.0 for r in answerable)

    def mrr(k: int) -> float:
        return mean(1 / rank if (rank := r.first_relevant_rank) and rank <= k else 0.0 for r in answerable)

    latencies = sorted(r.seconds * 1000 for r in results)
    metrics = {
        "n": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": recall(1),
        "recall@5": recall(5),
        "hit@1": hit(1),
        "hit@5": hit(5),
        "mrr@10": mrr(10),
        "ndcg@10": mean(ndcg(r.ranked, r.query.relevant, 10) for r in answerable),
        "latency_ms_p50": latencies[len(latencies) // 2],
        "latency_ms_p95": latencies[min(len(latencies) - 1, math.ceil(len(latencies) * 0.95) - 1)],
    }
    if any(r.abstained is not None for r in results):
        if unanswerable:
            metrics["declined_unanswerable"] = mean(1.0 if r.abstained else 0.0 for r in unanswerable)
        metrics["declined_answerable"] = mean(1.0 if r.abstained else 0.0 for r in answerable)
    return metrics


def run_queries(queries: list[LabelledQuery], rank: Callable[[str], Ranking | list[str]]) -> list[QueryResult]:
    results = []
    for query in queries:
        t0 = time.perf_counter()
        ranking = rank(query.question)
        seconds = time.perf_counter() - t0
        if not isinstance(ranking, Ranking):
            ranking = Ranking(tuple(ranking))
        results.append(QueryResult(query, ranking.documents, seconds, ranking.abstained))
    return results


def worst_misses(results: list[QueryResult], n: int = 5) -> list[QueryResult]:
    answerable = [r for r in results if r.query.answerable]
    return sorted(answerable, key=lambda r: -(r.first_relevant_rank or 10**6))[:n]
