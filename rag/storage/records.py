"""The chunk record every index holds, and the Q&A chunk codec: one function writes a Q&A chunk's text, one
reads its answer piece back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str
    text: str  # what is embedded and shown: heading context + body, or question + answer
    kind: str  # passage | qa
    index: int
    headings: tuple[str, ...]
    page: int | None
    content_hash: str  # sha256 of `text`: the embedding cache key
    question: str = ""  # qa chunks only
    part: int = 0  # qa chunks: which piece of the answer (a long answer spans several chunks)

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


# -- the Q&A chunk codec: one function writes a Q&A chunk's text, one reads its answer piece back ---------
def qa_text(question: str, piece: str) -> str:
    """Every piece of an answer is stored with its question, so each chunk matches on both."""
    return f"Q: {question}\n\nA: {piece}"


def qa_piece(text: str, question: str) -> str:
    """The answer piece of a Q&A chunk's text (exactly what `qa_text` was given)."""
    prefix = qa_text(question, "")
    return text[len(prefix) :] if text.startswith(prefix) else text


def join_answer(pieces: list[tuple[int, str]]) -> str:
    """A long answer from its (part, piece) chunks: pieces do not overlap, so they concatenate."""
    return "".join(piece for _, piece in sorted(pieces)).strip()
