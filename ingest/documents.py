"""Typed records that flow through ingestion."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A run of body text under one heading path (one page, for PDFs)."""

    headings: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str
    headings: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    source: str  # path relative to the ingested folder, with forward slashes
    title: str
    sections: tuple[Section, ...]
    qa: tuple[QAPair, ...]
    notes: tuple[str, ...] = ()  # what parsing refused or could not find (an include outside the folder)
    reference: str = ""  # the file's words with markup removed: what the kept ratio is measured against
