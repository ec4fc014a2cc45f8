"""`rag tune`: choose ranking and abstention settings for a team's own labelled questions, honestly.

A k-fold cross-validated search: for each fold, the setting that scores best on the other folds is scored on
this one. The out-of-fold figure is what to expect on new questions; the in-fold figure (the best setting
scored on the questions that chose it) is always higher, and the gap shows how much a grid over-fits this
many questions. Ranking settings are chosen by nDCG@10 over answerable questions; when the file holds
unanswerable ones (`relevant_docs: []`), the abstention threshold is chosen too: the most unanswerable
questions declined while at most `max_false_decline` of the answerable ones are.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from rag.abstain import everyday_words, evidence
from rag.errors import InputError
from rag.evaluate import LabelledQuery, ndcg
from rag.memo import MemoRetriever
from rag.retrieve import Retriever
from rag.settings import Settings

MIN_QUESTIONS = 20
GRID: dict[str, Sequence[float]] = {
    "bm25_weight": (0.1, 0.2, 0.3, 0.5),
    "lead_weight": (0.0, 0.2, 0.3, 0.4),
    "title_weight": (0.0, 0.1),
    "intent_weight": (0.0, 0.15),
}
ABSTAIN_GRID = {"min_score": (0.25, 0.3, 0.35, 0.4), "abstain_similarity": (0.0, 0.45, 0.5, 0.55, 0.6, 0.65)}


@dataclass(frozen=True)
class Fold:
    chosen: dict[str, float]
    in_fold: float  # the chosen setting on the questions that chose it
    out_of_fold: float  # the chosen setting on this fold's questions
    default: float  # the current settings on this fold's questions


@dataclass
class TuneReport:
    questions: int
    unanswerable: int
    folds: list[Fold]
    chosen: dict[str, float]  # chosen on all questions: what --out writes
    ndcg_default: float
    ndcg_chosen: float  # in-sample: the chosen setting on all questions
    abstention: dict[str, float] = field(default_factory=dict)  # declined rates, in and out of fold

    @property
    def in_fold(self) -> float:
        return statistics.fmean(f.in_fold for f in self.folds)

    @property
    def out_of_fold(self) -> float:
        return statistics.fmean(f.out_of_fold for f in self.folds)

    @property
    def default_out_of_fold(self) -> float:
        return statistics.fmean(f.default for f in self.folds)

    def toml(self) -> str:
        lines = [
            f"# chosen by `rag tune` on {self.questions} questions ({len(self.folds)}-fold cross-validated)",
            "[retrieve]",
        ]
        lines += [f"{name} = {value}" for name, value in self.chosen.items()]
        return "\n".join(lines) + "\n"


def _folds(n: int, k: int, seed: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i::k] for i in range(k)]


def tune(
    queries: list[LabelledQuery],
    retriever: Retriever,
    settings: Settings,
    folds: int = 5,
    seed: int = 7,
    max_false_decline: float = 0.05,
) -> TuneReport:
    if len(queries) < MIN_QUESTIONS:
        raise InputError(
            f"rag tune needs at least {MIN_QUESTIONS} labelled questions to say anything (got {len(queries)}); "
            "add questions with their relevant_docs, or keep the defaults"
        )
    answerable = [q for q in queries if q.answerable]
    if len(answerable) < folds:
        raise InputError(f"rag tune needs at least {folds} answerable questions (relevant_docs not empty)")
    memo = MemoRetriever(retriever)
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    default = {name: getattr(settings.retrieve, name) for name in GRID}
    if default not in grid:
        grid.append(default)
    # nDCG@10 of every (setting, question): the grid is small and the parts remember their answers.
    scores = [
        [ndcg(tuple(memo.with_settings(**g).documents(q.question, 10)), q.relevant, 10) for q in answerable]
        for g in grid
    ]
    parts = _folds(len(answerable), folds, seed)
    default_row = scores[grid.index(default)]
    report_folds = []
    for held in parts:
        train = [i for i in range(len(answerable)) if i not in set(held)]
        best = max(range(len(grid)), key=lambda g: (_mean(scores[g], train), -g))
        report_folds.append(
            Fold(grid[best], _mean(scores[best], train), _mean(scores[best], held), _mean(default_row, held))
        )
    everything = list(range(len(answerable)))
    best = max(range(len(grid)), key=lambda g: (_mean(scores[g], everything), -g))
    chosen: dict[str, float] = dict(grid[best])
    report = TuneReport(
        len(queries),
        len(queries) - len(answerable),
        report_folds,
        chosen,
        _mean(default_row, everything),
        _mean(scores[best], everything),
    )
    if report.unanswerable:
        tuned = memo.with_settings(**chosen)
        _tune_abstention(queries, tuned, settings, report, folds, seed, max_false_decline)
    return report


def _mean(row: list[float], idx: list[int]) -> float:
    return statistics.fmean(row[i] for i in idx) if idx else 0.0


def _tune_abstention(queries, retriever, settings, report, folds, seed, max_false_decline) -> None:
    words = everyday_words(settings)
    seen = []
    for q in queries:
        hits = retriever.search(q.question, settings.retrieve.k)
        seen.append((q.answerable, evidence(q.question, hits, retriever.lexical, words)))
    grid = [dict(zip(ABSTAIN_GRID, v, strict=True)) for v in itertools.product(*ABSTAIN_GRID.values())]

    def declines(g: dict, e) -> bool:
        return e.similarity < g["min_score"] or bool(e.names and e.similarity < g["abstain_similarity"])

    def rates(g: dict, idx: list[int]) -> tuple[float, float]:
        una = [declines(g, seen[i][1]) for i in idx if not seen[i][0]]
        ans = [declines(g, seen[i][1]) for i in idx if seen[i][0]]
        return (statistics.fmean(una) if una else 0.0), (statistics.fmean(ans) if ans else 0.0)

    def pick(idx: list[int]) -> dict:
        ok = [g for g in grid if rates(g, idx)[1] <= max_false_decline] or [min(grid, key=lambda g: rates(g, idx)[1])]
        return max(ok, key=lambda g: (rates(g, idx)[0], -rates(g, idx)[1]))

    outside_una, outside_ans = [], []
    for held in _folds(len(queries), folds, seed):
        train = [i for i in range(len(queries)) if i not in set(held)]
        u, a = rates(pick(train), held)
        outside_una.append(u)
        outside_ans.append(a)
    chosen = pick(list(range(len(queries))))
    u, a = rates(chosen, list(range(len(queries))))
    d = rates(
        {"min_score": settings.retrieve.min_score, "abstain_similarity": settings.retrieve.abstain_similarity},
        list(range(len(queries))),
    )
    report.chosen.update(chosen)
    report.abstention = {
        "declined_unanswerable_in": u,
        "declined_answerable_in": a,
        "declined_unanswerable_out": statistics.fmean(outside_una),
        "declined_answerable_out": statistics.fmean(outside_ans),
        "declined_unanswerable_default": d[0],
        "declined_answerable_default": d[1],
    }


def chosen_settings(report: TuneReport, settings: Settings) -> Settings:
    return replace(settings, retrieve=replace(settings.retrieve, **report.chosen))
