"""The ranking's evidence beyond the two retrievers' scores, each a pure function of the candidates: how much
say keywords get for this question, and the document-level lifts (the page about the question, the page a
question names, the kind of page a question asks for). Each lift returns {chunk id: lift} for the chunks it
applies to; `Retriever` adds them to the fused score."""

from __future__ import annotations

import numpy as np

from rag.hits import Hit
from rag.intent import document_patterns
from rag.settings import RetrieveSettings
from rag.storage.lexical import BM25Index


def keyword_weight(dense: list[Hit], settings: RetrieveSettings) -> float:
    """The BM25 weight for this question, from how sure meaning alone is. When the best page's cosine clearly
    beats the fifth page's (a paraphrased question on a corpus of distinct pages), keywords get little say; when
    the cosines of many pages crowd together (many near-identical pages, or a question whose words are names
    and codes), keywords decide more. No labels: only this question's own scores. Measured on the quality
    table's choose half (benchmarks/quality.py): the worst corpus 0.680 -> 0.693."""
    best: dict[str, float] = {}
    for hit in dense:
        if hit.score > best.get(hit.source, -2.0):
            best[hit.source] = hit.score
    pages = sorted(best.values(), reverse=True)
    if len(pages) < 2:
        return settings.bm25_weight
    margin = pages[0] - pages[min(4, len(pages) - 1)]
    scale = settings.margin_reference / max(margin, 1e-3)
    return settings.bm25_weight * min(max(scale, 0.25), 2.5)


def lead(
    known: dict[str, Hit], vector: np.ndarray, weight: float, leads: dict[tuple[str, str], np.ndarray]
) -> dict[str, float]:
    """How well each document's lead chunk (title and introduction) matches: it lifts the page that is about
    the question over pages that merely mention it. `leads`: (folder, source) -> the lead chunk's vector."""
    out = {}
    for chunk_id, hit in known.items():
        vec = leads.get((hit.folder, hit.source))
        # A Q&A record stands alone: the first pair of a Q&A file says nothing about the others.
        if vec is not None and hit.kind != "qa":
            out[chunk_id] = weight * float(np.dot(vec, vector))
    return out


def title(
    known: dict[str, Hit], query: str, weight: float, lexical: BM25Index | None, cache: dict[str, frozenset[str]]
) -> dict[str, float]:
    """A question that contains every term of a document's title names that page ("Can I associate a Git
    repository with my SageMaker notebook instance?" -> "Associate Git Repositories with SageMaker Notebook
    Instances"). Titles of fewer than three terms ("Amazon GuardDuty") are contained in too many questions.
    `cache`: title -> its terms, kept across questions."""
    if not weight or lexical is None:
        return {}
    asked = lexical.terms([query])[0]
    titles = {h.id: h.page_title for h in known.values()}
    new = sorted(set(titles.values()) - cache.keys())
    for name, words in zip(new, lexical.terms(new), strict=True):
        cache[name] = words
    named = {t for t in set(titles.values()) if len(cache[t]) >= 3 and cache[t] <= asked}
    return {chunk_id: weight for chunk_id, name in titles.items() if name in named}


def intent(known: dict[str, Hit], query: str, weight: float, intents) -> dict[str, float]:
    """The question asks for a kind of page (a limit -> the quotas page): lift the documents of that kind."""
    patterns = document_patterns(intents, query) if weight else []
    if not patterns:
        return {}
    return {
        chunk_id: weight
        for chunk_id, hit in known.items()
        # Both names of the document: a quotas page may say so in its heading or only in its file name.
        if any(p.search(f"{hit.first_heading} {hit.file_words}") for p in patterns)
    }
