"""The extractive answer (no chat model): the retrieved text that answers the question, quoted and cited.

Every retrieved passage is cut into units a reader can use alone: sentences, whole list items and numbered
steps, code and commands verbatim, table rows under their header. Units are scored by how much of the
question they cover, each question term weighted by its rarity in the knowledge base (so "deny" and "allow"
count, "backup" in a backup manual barely does), with a gentle preference for better-ranked passages. The
best units across all passages are taken until about `max_words`, each quoted with its passage number; a
line that introduces a command or a list ("run:") brings what it introduces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.hits import Hit

LABEL = "Extractive answer (no chat model is configured; quoted from the knowledge base):"
Terms = Callable[[list[str]], list[frozenset[str]]]  # stemmed content terms of each text (the BM25 analyser)
Weights = Callable[[frozenset[str]], dict[str, float]]  # rarity (IDF) of each term in the knowledge base

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i if in is it my of on or the to what when where which who "
    "why with you your me this that there".split()
)
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
# A full stop that does not end a sentence: abbreviations ("e.g.", "approx."), initials ("A. U. Thor"),
# numbered labels ("No. 5", "Fig. 3"). Version numbers and file names have no space after their dots.
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|incl|excl|esp|resp|min|max|avg|no|nos|fig|figs|sec|ch|vol|pp|p|ed|"
    r"mr|mrs|ms|dr|prof|st|jr|sr|inc|ltd|co|corp|dept|est|al|viz|ca|op|cit|ref|refs|eq|approx|apt|ave|jan|feb|"
    r"mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)|\b[A-Za-z]|(?:[A-Z]\.){2,}[A-Z]?)\.$",
    re.I,
)
_ENDS_SENTENCE = re.compile(r"[.!?:;…][\"')\]]*$|[)\]]$")
_CODE_LINE = re.compile(
    r"^(?:\s*(?:[$>#] |[\w.-]+:\s*$|[\w.-]+:\s+\S|[{}\[\]<]|\w+\s*=|sudo |-{1,2}\w|[a-z][\w-]* -{1,2}\w)|\s{2,}\S)"
)


@dataclass(frozen=True)
class Unit:
    hit: int  # index of the passage (0-based)
    order: int  # position inside the passage
    text: str
    kind: str  # sentence | item | code | row
    header: str = ""  # table rows: the header row they are read under
    block: int = 0  # the paragraph, list or table it belongs to

    @property
    def words(self) -> int:
        return len(self.text.split())


def _simple_terms(texts: list[str]) -> list[frozenset[str]]:
    return [frozenset(w for w in _WORD.findall(t.lower()) if w not in _STOP) for t in texts]


def _body(hit: Hit) -> str:
    return hit.answer if hit.kind == "qa" else hit.body


def _is_code(lines: list[str]) -> bool:
    """Commands, config and program text: most lines look like code, or it starts at a shell prompt."""
    if _ITEM.match(lines[0]):
        return False
    return lines[0].lstrip().startswith("$ ") or sum(1 for line in lines if _CODE_LINE.match(line)) * 2 >= len(lines)


def units_of(hit_index: int, body: str) -> list[Unit]:
    """A passage as units, in reading order."""
    out: list[Unit] = []
    for number, block in enumerate(body.split("\n\n")):

        def add(text: str, kind: str, header: str = "", number: int = number) -> None:
            if len(text.strip()) > 2:
                out.append(Unit(hit_index, len(out), text.strip(), kind, header, number))

        lines = [line.rstrip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        # A table block: "cell | cell" rows under a header row (rows with empty last cells lose their " | ").
        if len(lines) > 1 and " | " in lines[0] and 2 * sum(" | " in line for line in lines) >= len(lines):
            for row in lines[1:]:
                add(row, "row", lines[0].strip())
            continue
        if _ITEM.match(lines[0]):
            item: list[str] = []
            for line in lines:
                if _ITEM.match(line) and item:
                    add(" ".join(item), "item")
                    item = []
                item.append(line.strip())
            add(" ".join(item), "item")
            continue
        if _is_code(lines) or (len(lines) > 1 and block.startswith((" ", "\t"))):
            add("\n".join(lines), "code")
            continue
        for sentence in sentences(" ".join(line.strip() for line in lines)):
            add(sentence, "sentence")
    return out


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph; a full stop after an abbreviation or an initial does not end one."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _cut(units: list[Unit]) -> set[int]:
    """Sentences a passage boundary cut: the last one of a passage that does not end a sentence, the first
    one when it starts inside a sentence (the overlap with the passage before). Quoted, they would end or
    start mid-sentence."""
    cut: set[int] = set()
    for i, unit in enumerate(units):
        if unit.kind != "sentence":
            continue
        first = i == 0 or units[i - 1].hit != unit.hit
        last = i + 1 == len(units) or units[i + 1].hit != unit.hit
        if last and not _ENDS_SENTENCE.search(unit.text):
            cut.add(i)
        if first and unit.text[:1].islower():
            cut.add(i)
    return cut


def extractive_answer(
    question: str,
    hits: list[Hit],
    terms: Terms | None = None,
    weights: Weights | None = None,
    max_words: int = 80,
    min_share: float = 0.2,
    passage_share: float = 0.3,
) -> str:
    terms = terms or _simple_terms
    asked = terms([question])[0]
    weight = weights(asked) if weights else {}
    total = sum(weight.get(t, 1.0) for t in asked) or 1.0
    units = [u for n, hit in enumerate(hits) for u in units_of(n, _body(hit))]
    if not units:
        return LABEL
    unit_terms = terms([u.text for u in units])
    # A table row is read under its header, but the header is shared by every row: it counts a quarter.
    headers = sorted({u.header for u in units if u.header})
    header_terms = dict(zip(headers, terms(headers), strict=True)) if headers else {}
    # A Q&A answer is about its own question: its units also match on the question they answer.
    qa_terms = {n: terms([h.question])[0] for n, h in enumerate(hits) if h.kind == "qa"}

    def score(i: int) -> float:
        unit = units[i]
        have = unit_terms[i] | qa_terms.get(unit.hit, frozenset())
        covered = sum(weight.get(t, 1.0) for t in asked & have) / total
        if unit.header:
            shared = (asked & header_terms[unit.header]) - have
            covered += 0.25 * sum(weight.get(t, 1.0) for t in shared) / total
        return covered * 0.5**unit.hit  # a better-ranked passage is likelier to hold the answer

    cut = _cut(units)
    # A cut sentence is quoted only when nothing whole answers at all.
    scores = [score(i) * (0.01 if i in cut else 1.0) for i in range(len(units))]
    chosen: set[int] = set()
    used = 0
    seen: set[str] = set()
    floor = max(scores) * min_share
    # Within one passage, a unit far weaker than the passage's best is a different topic ("deny" beside
    # "allow"): it stays out.
    best_in: dict[int, float] = {}
    for unit, value in zip(units, scores, strict=True):
        best_in[unit.hit] = max(best_in.get(unit.hit, 0.0), value)
    for i in sorted(range(len(units)), key=lambda i: (-scores[i], units[i].hit, units[i].order)):
        if chosen and (scores[i] <= 0 or scores[i] < floor):
            break
        if chosen and scores[i] < passage_share * best_in[units[i].hit]:
            continue
        key = " ".join(units[i].text.lower().split())
        if key in seen:
            continue
        group = _with_neighbours(units, i, max_words)
        words = sum(units[j].words for j in group if j not in chosen)
        if chosen and used + words > max_words:
            continue
        seen.add(key)
        for j in group:
            if j not in chosen:
                chosen.add(j)
                used += units[j].words
        if used >= max_words:
            break
    return "\n\n".join([LABEL, *_render(units, chosen)])


def _with_neighbours(units: list[Unit], i: int, max_words: int) -> list[int]:
    """A unit, the line that introduces it ("To list snapshots, run:"), what it introduces, and the rest of
    its list when the list is short (three ports are one answer, not two)."""
    unit = units[i]
    group = [i]
    if unit.kind == "item":
        items = [j for j, u in enumerate(units) if u.hit == unit.hit and u.block == unit.block]
        if sum(units[j].words for j in items) <= max_words // 2:
            group = items
    prev, nxt = group[0] - 1, group[-1] + 1
    if unit.kind in {"code", "item"} and prev >= 0 and units[prev].hit == unit.hit and units[prev].text.endswith(":"):
        group.insert(0, prev)
    if unit.text.endswith(":") and nxt < len(units) and units[nxt].hit == unit.hit:
        group.append(nxt)
    return group


def _render(units: list[Unit], chosen: set[int]) -> list[str]:
    """Quotes grouped by passage, in passage order, each unit in its reading order: consecutive sentences
    as one paragraph, list items, code and table rows (under their header) on lines of their own."""
    quotes = []
    for n in sorted({units[i].hit for i in chosen}):
        lines: list[str] = []
        previous: Unit | None = None
        for unit in sorted((units[i] for i in chosen if units[i].hit == n), key=lambda u: u.order):
            if unit.kind == "row" and (previous is None or previous.header != unit.header):
                lines.append(unit.header)
            if unit.kind == "sentence" and previous is not None and previous.kind == "sentence":
                lines[-1] = f"{lines[-1]} {unit.text}"
            else:
                lines.append(unit.text)
            previous = unit
        quotes.append(f"[{n + 1}] " + "\n".join(lines))
    return quotes
