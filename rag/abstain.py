"""Whether the knowledge base answers a question at all, from more than one cosine.

Near-domain questions the docs do not answer ("can restic write to an LTO tape drive?") retrieve passages
as similar as many answerable ones do, so a cosine cut-off alone declines almost none of them. What helps
is a name: the question mentions something no chunk contains, that is not a misspelling of a word that one
does, and that is not an everyday English word either (users write "laptop died halfway thru" about
answerable things; they write "LTO", "asciidoc", "jupyter" about products the docs may not cover). A
question is declined when its best passage is too far from it (`min_score`), or when it names such an
unknown thing and its best passage is weak (`abstain_similarity`). The reason names the unknown words, so
the user can rephrase. Measured on five dev corpora: rag/../README.md, "Abstention".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from rag.hits import Hit
from rag.settings import Settings
from rag.storage.lexical import BM25Index

_WORD = re.compile(r"[^\W_][\w'+#.-]*[^\W_]|[^\W_]", re.UNICODE)


@dataclass(frozen=True)
class Evidence:
    similarity: float  # best cosine similarity among the hits
    coverage: float  # share of the question's term weight (IDF) found in the best three passages
    unknown: tuple[str, ...]  # question words the knowledge base never uses (misspellings excluded)
    names: tuple[str, ...] = ()  # those of them that are not everyday English words either

    def as_json(self) -> dict:
        return {
            "similarity": round(self.similarity, 4),
            "coverage": round(self.coverage, 4),
            "unknown": list(self.unknown),
            "names": list(self.names),
        }


@dataclass(frozen=True)
class Decision:
    answer: bool
    reason: str  # why it was declined ("" when answered)
    evidence: Evidence


def evidence(
    question: str, hits: list[Hit], lexical: BM25Index | None, vocabulary: frozenset[str] = frozenset()
) -> Evidence:
    """`vocabulary`: everyday English words (the embedding model's whole-word vocabulary)."""
    similarity = max((h.score for h in hits), default=0.0)
    if lexical is None or not hits:
        return Evidence(similarity, 1.0 if hits else 0.0, ())
    asked = lexical.terms([question])[0]
    weights = lexical.idf(asked)
    found = frozenset().union(*lexical.terms([h.text for h in hits[:3]]))
    total = sum(weights.values())
    coverage = sum(w for t, w in weights.items() if t in found) / total if total else 1.0
    unknown = _unknown_words(question, lexical)
    names = tuple(w for w in unknown if vocabulary and not _everyday(w, vocabulary))
    return Evidence(similarity, coverage, unknown, names)


def _everyday(word: str, vocabulary: frozenset[str]) -> bool:
    """ "laptop", "stuff", "password-protect", "pm's" are; "LTO", "asciidoc", "flir" are not."""
    parts = [p for p in re.split(r"[-'/.]", word.lower()) if p and p != "s"]
    return bool(parts) and all(p in vocabulary for p in parts)


def _unknown_words(question: str, lexical: BM25Index) -> tuple[str, ...]:
    """Words of the question whose term no chunk contains: not numbers or codes, not misspellings."""
    words = [w for w in _WORD.findall(question) if len(w) > 2 and not any(c.isdigit() for c in w)]
    out = []
    for word, terms in zip(words, lexical.terms(words), strict=True):
        for term in terms:
            if not lexical.known(term) and not _near(term, lexical):
                out.append(word)
                break
    return tuple(dict.fromkeys(out))


def _near(term: str, lexical: BM25Index) -> bool:
    """A misspelling of an indexed term ("histroy", "recepient"): close to a term with the same start."""
    if len(term) < 4:
        return False
    return bool(difflib.get_close_matches(term, lexical.terms_starting(term[:2]), n=1, cutoff=0.8))


def everyday_words(settings: Settings) -> frozenset[str]:
    from rag import minilm

    return minilm.vocabulary(Path(settings.embedder.model_dir) if settings.embedder.model_dir else None)


def judge(
    question: str,
    hits: list[Hit],
    lexical: BM25Index | None,
    settings: Settings,
) -> Decision:
    seen = evidence(question, hits, lexical, everyday_words(settings))
    if not hits or seen.similarity < settings.retrieve.min_score:
        return Decision(False, "no passage is close to the question", seen)
    if seen.names and seen.similarity < settings.retrieve.abstain_similarity:
        return Decision(False, f"the knowledge base never mentions {', '.join(seen.names)}", seen)
    return Decision(True, "", seen)
