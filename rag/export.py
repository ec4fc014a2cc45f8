"""`rag export-finetune`: training examples from the knowledge base, as fine-tuning JSONL.

Sources: the index's Q&A records, questions answered by the configured model from retrieved context,
synthetic questions written per passage, and rated answers from the query log. Near-duplicate questions are
dropped, provenance goes to a side file, and every output file is written atomically.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.files import write_atomically
from rag.generate import ChatModel
from rag.hits import Hit
from rag.messages import Message
from rag.prompt import plain_messages, rag_messages, template
from rag.retrieve import Retriever
from rag.storage.records import join_answer, qa_piece

FORMATS = ("chat", "prompt-completion")
PC_SEPARATOR = "\n\n###\n\n"  # legacy prompt/completion guidance: a fixed separator ends every prompt


@dataclass(frozen=True)
class Example:
    question: str
    answer: str
    origin: str  # kb-qa | questions | generated | log
    sources: tuple[str, ...]


def kb_examples(qa_chunks: Iterable) -> Iterator[Example]:
    """Q&A records of the index (catalog rows of kind qa); an answer split over chunks is joined again."""
    rows = sorted(
        (c for c in qa_chunks if c.metadata.get("kind") == "qa"),
        key=lambda c: (c.metadata.get("folder", ""), c.metadata["source"], int(c.metadata.get("chunk_index", 0))),
    )
    records: list[tuple[str, str, list[tuple[int, str]]]] = []  # (source, question, pieces)
    for chunk in rows:
        meta = chunk.metadata
        question, part = meta.get("question", ""), int(meta.get("answer_part", 0))
        if part == 0 or not records or records[-1][:2] != (meta["source"], question):
            records.append((meta["source"], question, []))  # the first piece of the next record
        records[-1][2].append((part, qa_piece(chunk.text, question)))
    for source, question, pieces in records:
        answer = join_answer(pieces)
        if question and answer:
            yield Example(question, answer, "kb-qa", (source,))


def read_questions(path: Path) -> list[str]:
    """Plain lines, or JSONL with a "question" (or "prompt") field."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                questions.append(str(obj.get("question") or obj["prompt"]))
            except (json.JSONDecodeError, KeyError):
                raise InputError(f'{path}:{number}: expected a JSON object with a "question"') from None
        else:
            questions.append(line)
    return questions


def answered_examples(questions: Iterable[str], retriever: Retriever, chat: ChatModel, k: int) -> Iterator[Example]:
    for question in questions:
        hits = retriever.search(question, k)
        answer = "".join(chat.stream(rag_messages(question, hits))).strip()
        if answer:
            yield Example(question, answer, "questions", tuple(dict.fromkeys(h.source for h in hits)))


def generated_examples(passages: Iterable[Hit], n: int, chat: ChatModel) -> Iterator[Example]:
    for passage in passages:
        prompt = template("generate_questions").format(n=n, passage=passage.text)
        reply = "".join(chat.stream([Message("user", prompt)]))
        questions = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", q).strip() for q in reply.splitlines()]
        for question in [q for q in questions if q.endswith("?")][:n]:
            answer = "".join(chat.stream(rag_messages(question, [passage]))).strip()
            if answer:
                yield Example(question, answer, "generated", (passage.source,))


def log_examples(entries: Iterable, grounded_only: bool = True) -> Iterator[Example]:
    """Logged answers as training examples. Only answers grounded in the documents (mode `rag`, with sources)
    unless `grounded_only` is off: a plain-mode answer is the model's own belief, and a rating cannot tell."""
    for entry in entries:
        if entry.abstained or entry.model == "extractive" or not entry.answer.strip():
            continue
        if grounded_only and (entry.mode != "rag" or not entry.sources):
            continue
        yield Example(entry.question, entry.answer.strip(), "log", entry.sources)


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def dedupe(examples: Iterable[Example], threshold: float = 0.85) -> list[Example]:
    """Drop near-duplicate questions (word-set Jaccard >= threshold); the first one wins."""
    kept: list[Example] = []
    kept_words: list[frozenset[str]] = []
    by_word: dict[str, list[int]] = {}
    for example in examples:
        words = _words(example.question)
        candidates = {i for w in words for i in by_word.get(w, [])}
        if any(len(words & kept_words[i]) / max(len(words | kept_words[i]), 1) >= threshold for i in candidates):
            continue
        if not words and any(not w for w in kept_words):
            continue
        for w in words:
            by_word.setdefault(w, []).append(len(kept))
        kept.append(example)
        kept_words.append(words)
    return kept


def to_line(example: Example, fmt: str, context: list[Hit] | None) -> dict:
    messages = rag_messages(example.question, context) if context is not None else plain_messages(example.question)
    if fmt == "prompt-completion":
        return {"prompt": messages[-1].content + PC_SEPARATOR, "completion": " " + example.answer}
    return {"messages": [m.as_dict() for m in messages] + [{"role": "assistant", "content": example.answer}]}


@dataclass(frozen=True)
class ExportResult:
    files: dict[str, int]  # path -> lines
    provenance: str
    dropped_duplicates: int
    by_origin: dict[str, int]
    note: str = ""


def write_export(
    examples: list[Example],
    out: Path,
    fmt: str = "chat",
    context_for: Callable[[str], list[Hit]] | None = None,
    val_split: float = 0.0,
    seed: int = 7,
) -> ExportResult:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use chat or prompt-completion")
    if not 0 <= val_split < 1:
        raise InputError("--val-split must be at least 0 and below 1")
    if out.is_dir():
        raise InputError(f"{out} is a folder; give the file to write, e.g. {out / 'train.jsonl'}")
    if not out.parent.is_dir():
        raise InputError(f"the folder {out.parent} does not exist; create it or write elsewhere")
    unique = dedupe(examples)
    if not unique:
        raise InputError(
            "no training examples: ingest documents with Q&A pairs or FAQ sections, or pass "
            "--questions / --generate / --from-log"
        )
    order = list(range(len(unique)))
    random.Random(seed).shuffle(order)
    n_val = round(len(unique) * val_split)
    note = ""
    if val_split and n_val == 0:
        # A split that rounds to nothing writes no validation file (never one holding a blank line).
        note = f"--val-split {val_split} of {len(unique)} examples rounds to 0: no validation file written"
    if n_val:
        splits = {out.with_suffix(".val.jsonl"): order[:n_val], out.with_suffix(".train.jsonl"): order[n_val:]}
    else:
        splits = {out: list(range(len(unique)))}
    provenance = out.with_suffix(".provenance.jsonl")
    contents: dict[Path, str] = {}
    prov_lines = []
    for path, indices in splits.items():
        lines = []
        for line_no, i in enumerate(indices, 1):
            example = unique[i]
            context = context_for(example.question) if context_for else None
            lines.append(json.dumps(to_line(example, fmt, context), ensure_ascii=False))
            prov_lines.append(
                json.dumps(
                    {
                        "file": path.name,
                        "line": line_no,
                        "origin": example.origin,
                        "question": example.question,
                        "sources": list(example.sources),
                    },
                    ensure_ascii=False,
                )
            )
        contents[path] = "\n".join(lines) + "\n"
    contents[provenance] = "\n".join(prov_lines) + "\n"
    write_atomically(contents)
    by_origin: dict[str, int] = {}
    for example in unique:
        by_origin[example.origin] = by_origin.get(example.origin, 0) + 1
    return ExportResult(
        {str(p): len(i) for p, i in splits.items()}, str(provenance), len(examples) - len(unique), by_origin, note
    )
