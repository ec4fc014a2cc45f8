"""Split parsed documents into chunks that fit the embedding model's input, measured in its own tokens."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.documents import ParsedDocument, QAPair, Section
from rag.settings import ChunkSettings
from rag.storage.records import Chunk, qa_text

TokenCounter = Callable[[str], int]
_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id(folder_key: str, source: str, index: int, text_hash: str) -> str:
    """Deterministic: the same folder, file, position and text always give the same id."""
    return hashlib.sha256(f"{folder_key}\x00{source}\x00{index}\x00{text_hash}".encode()).hexdigest()[:32]


def _same(a: str, b: str) -> bool:
    """The title and a heading name the same thing ("Amazon Drive" and "Amazon drive:")."""
    return re.sub(r"\W+", " ", a).strip().casefold() == re.sub(r"\W+", " ", b).strip().casefold()


class Chunker:
    def __init__(self, settings: ChunkSettings, count_tokens: TokenCounter, model_limit: int):
        self._count = count_tokens
        self._limit = min(settings.max_tokens, model_limit)
        self._target = min(settings.target_tokens, self._limit)
        self._overlap = settings.overlap_tokens

    def _splitter(self, budget: int) -> RecursiveCharacterTextSplitter:
        return RecursiveCharacterTextSplitter(
            chunk_size=max(budget, 16),
            chunk_overlap=min(self._overlap, max(budget // 4, 0)),
            length_function=self._count,
            separators=_SEPARATORS,
            keep_separator="end",
        )

    def _context(self, title: str, headings: tuple[str, ...]) -> str:
        """What says where a piece lives, kept with it: the document's title and the heading path. Both carry
        the topic the body text often omits (a page's second section of a site whose pages have no H1 says
        what page it is on only through the title)."""
        path = (title, *headings) if title and not _same(title, headings[0] if headings else "") else headings
        if not path:
            return ""
        context = " > ".join(path)
        # Never let the context eat more than a third of the budget: the headings nearest the title go first.
        while self._count(context) > self._limit // 3 and len(path) > 2:
            path = (path[0], *path[2:])
            context = " > ".join(path)
        if self._count(context) > self._limit // 3:
            context = self._splitter(self._limit // 3).split_text(context)[0]
        return context

    def _fit(self, prefix: str, body: str) -> list[str]:
        """Split body so that every prefix + piece is within the model limit (checked, not assumed)."""
        joiner = "\n\n" if prefix else ""
        budget = self._target - (self._count(prefix) if prefix else 0)
        pieces = self._splitter(budget).split_text(body)
        out = []
        for piece in pieces:
            text = f"{prefix}{joiner}{piece}"
            if self._count(text) > self._limit:
                # Token counts of joined text can exceed the sum of parts; re-split the offender smaller.
                out.extend(self._fit(prefix, piece) if len(piece) < len(body) else [text[: len(text) // 2]])
            else:
                out.append(text)
        return out

    def _section_texts(self, section: Section, title: str) -> list[str]:
        return self._fit(self._context(title, section.headings), section.text)

    def _qa_texts(self, pair: QAPair) -> tuple[str, list[str]]:
        """One chunk per pair when it fits; a long answer is cut into pieces that do not overlap and
        concatenate back to the answer exactly, each stored with the question (`qa_text`)."""
        question = pair.question
        if self._count(qa_text(question, "")) > self._limit // 3:
            question = self._splitter(self._limit // 3).split_text(question)[0]
        budget = max(self._target - self._count(qa_text(question, "")), 16)
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=budget,
            chunk_overlap=0,
            length_function=self._count,
            separators=_SEPARATORS,
            keep_separator="end",
            strip_whitespace=False,
        )
        pieces: list[str] = []
        for piece in splitter.split_text(pair.answer):
            if pieces and not piece.strip():
                pieces[-1] += piece  # whitespace between pieces stays with the piece before it
            else:
                pieces.append(piece)
        texts: list[str] = []
        for piece in pieces:
            while self._count(qa_text(question, piece)) > self._limit and len(piece) > 1:
                # Token counts of joined text can exceed the sum of parts: move the tail to the next piece.
                cut = len(piece) * 3 // 4
                texts.append(qa_text(question, piece[:cut]))
                piece = piece[cut:]
            texts.append(qa_text(question, piece))
        return question, texts

    def chunk(self, doc: ParsedDocument, folder_key: str) -> list[Chunk]:
        chunks: list[Chunk] = []

        def add(text: str, kind: str, headings: tuple[str, ...], page: int | None, question: str = "", part: int = 0):
            digest = content_hash(text)
            index = len(chunks)
            chunks.append(
                Chunk(
                    id=chunk_id(folder_key, doc.source, index, digest),
                    source=doc.source,
                    text=text,
                    kind=kind,
                    index=index,
                    headings=headings,
                    page=page,
                    content_hash=digest,
                    question=question,
                    part=part,
                )
            )

        for section in doc.sections:
            for text in self._section_texts(section, doc.title):
                add(text, "passage", section.headings, section.page)
        for pair in doc.qa:
            question, texts = self._qa_texts(pair)
            for part, text in enumerate(texts):
                add(text, "qa", pair.headings, pair.page, question, part)
        return chunks
