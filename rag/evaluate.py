"""Document-level retrieval metrics on a labelled query file (the ../shared/eval format)."""

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


@dataclass(frozen=True)
class QueryResult:
    query: LabelledQuery
    ranked: tuple[str, ...]  # distinct documents, best first
    seconds: float

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
    def recall(k: int) -> float:
        return statistics.fmean(
            len(set(r.ranked[:k]) & r.query.relevant) / max(len(r.query.relevant), 1) for r in results
        )

    def mrr(k: int) -> float:
        return statistics.fmean(1 / rank if (rank := r.first_relevant_rank) and rank <= k else 0.0 for r in results)

    latencies = sorted(r.seconds * 1000 for r in results)
    return {
        "n": len(results),
        "recall@1": recall(1),
        "recall@5": recall(5),
        "mrr@10": mrr(10),
        "ndcg@10": statistics.fmean(ndcg(r.ranked, r.query.relevant, 10) for r in results),
        "latency_ms_p50": latencies[len(latencies) // 2],
        "latency_ms_p95": latencies[min(len(latencies) - 1, math.ceil(len(latencies) * 0.95) - 1)],
    }


def run_queries(queries: list[LabelledQuery], rank: Callable[[str], list[str]]) -> list[QueryResult]:
    results = []
    for query in queries:
        t0 = time.perf_counter()
        ranked = tuple(rank(query.question))
        results.append(QueryResult(query, ranked, time.perf_counter() - t0))
    return results


def worst_misses(results: list[QueryResult], n: int = 5) -> list[QueryResult]:
    return sorted(results, key=lambda r: -(r.first_relevant_rank or 10**6))[:n]
