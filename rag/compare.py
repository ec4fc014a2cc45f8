"""`rag compare`: every question under every (model, mode) configuration, side by side, scored when the
question file carries reference answers and relevant documents (the ../shared/eval format)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer import Answer
from rag.evaluate import LabelledQuery


def normalise_tokens(text: str) -> list[str]:
    text = re.sub(r"\[\d+\]", " ", text.lower())  # citation markers are not answer words
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return re.findall(r"[a-z0-9]+", text)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token overlap F1 between an answer and the reference answer."""
    pred, ref = normalise_tokens(prediction), normalise_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Row:
    query: LabelledQuery
    config: str  # "model/mode"
    answer: Answer

    @property
    def f1(self) -> float | None:
        return token_f1(self.answer.answer, self.query.answer) if self.query.answer else None

    @property
    def source_hit(self) -> bool | None:
        if not self.query.relevant or self.answer.mode == "plain":
            return None
        return any(h.source in self.query.relevant for h in self.answer.sources)


def run_compare(
    queries: list[LabelledQuery], configs: list[tuple[str, str]], answer: Callable[[str, str, str], Answer]
) -> list[Row]:
    return [Row(q, f"{model}/{mode}", answer(q.question, model, mode)) for q in queries for model, mode in configs]


def summarise(rows: list[Row]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for config in dict.fromkeys(r.config for r in rows):
        mine = [r for r in rows if r.config == config]
        f1s = [r.f1 for r in mine if r.f1 is not None]
        hits = [r.source_hit for r in mine if r.source_hit is not None]
        out[config] = {
            "model": mine[0].answer.model,
            "n": len(mine),
            "token_f1": round(statistics.fmean(f1s), 4) if f1s else None,
            "source_hit_rate": round(sum(hits) / len(hits), 4) if hits else None,
            "abstained": sum(r.answer.abstained for r in mine),
            "seconds_mean": round(statistics.fmean(r.answer.timings.get("total_s", 0.0) for r in mine), 3),
        }
    return out


def to_json(rows: list[Row]) -> dict:
    return {
        "summary": summarise(rows),
        "answers": [
            {
                "id": r.query.id,
                "question": r.query.question,
                "config": r.config,
                "answer": r.answer.answer,
                "sources": [h.source for h in r.answer.sources],
                "token_f1": r.f1,
                "source_hit": r.source_hit,
            }
            for r in rows
        ],
    }


def to_markdown(rows: list[Row]) -> str:
    summary = summarise(rows)
    lines = [
        "# rag compare",
        "",
        "| configuration | model | n | token F1 | cited a relevant doc | abstained | s/answer |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, s in summary.items():
        f1 = "" if s["token_f1"] is None else f"{s['token_f1']:.3f}"
        hit = "" if s["source_hit_rate"] is None else f"{s['source_hit_rate']:.0%}"
        lines.append(
            f"| {config} | {s['model']} | {s['n']} | {f1} | {hit} | {s['abstained']} | {s['seconds_mean']:.2f} |"
        )
    for query in dict.fromkeys(r.query for r in rows):
        lines += ["", f"## {query.question}", ""]
        if query.answer:
            lines += [f"*Reference:* {_cell(query.answer)}", ""]
        lines += ["| configuration | answer | sources | F1 |", "|---|---|---|---|"]
        for r in (r for r in rows if r.query == query):
            f1 = "" if r.f1 is None else f"{r.f1:.2f}"
            sources = ", ".join(dict.fromkeys(h.source for h in r.answer.sources))
            lines.append(f"| {r.config} | {_cell(r.answer.answer)} | {sources} | {f1} |")
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int = 600) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit] + " ..."
