"""A retrieved chunk as every stage after retrieval sees it: the answer, the prompt, the citations."""

from __future__ import annotations

from dataclasses import dataclass

from rag.storage.records import qa_piece


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    source: str
    score: float  # cosine similarity to the question, whichever retriever found the chunk
    kind: str
    headings: str
    page: int | None
    question: str = ""
    rank_score: float = 0.0
    folder: str = ""  # the ingested folder the source belongs to
    title: str = ""  # the source file's name without extension

    @property
    def label(self) -> str:
        """`path > heading, page N`: how a source is cited."""
        label = self.source
        if self.headings:
            label += f" > {self.headings}"
        if self.page is not None:
            label += f", page {self.page}"
        return label

    @property
    def first_heading(self) -> str:
        return self.headings.split(" > ")[0]

    @property
    def file_words(self) -> str:
        """The file name as words: "load-balancer-limits" -> "load balancer limits"."""
        return self.title.replace("_", " ").replace("-", " ")

    @property
    def page_title(self) -> str:
        """The document's title: its first heading, else its file name in words."""
        return self.first_heading or self.file_words

    @property
    def body(self) -> str:
        """A passage without the line that says where it lives (title and heading path, written by the chunker
        before every passage of a document with a title or headings): context for the embedder, not text."""
        if self.kind != "qa" and (self.title or self.headings) and "\n\n" in self.text:
            return self.text.split("\n\n", 1)[1]
        return self.text

    @property
    def answer(self) -> str:
        """For Q&A chunks, the piece of the answer this chunk holds (the codec of ingest.documents)."""
        return qa_piece(self.text, self.question).strip() if self.kind == "qa" else self.text

    def as_json(self, n: int | None = None) -> dict:
        """The one JSON form of a hit: `rag search --json`, `rag ask --json` and the API all give these fields.
        `n`: its citation number, where it is cited."""
        return {
            **({"n": n} if n is not None else {}),
            "id": self.id,
            "label": self.label,
            "source": self.source,
            "headings": self.headings,
            "page": self.page,
            "score": round(self.rank_score, 4),  # what the ranking used
            "similarity": round(self.score, 4),  # cosine similarity to the question
            "kind": self.kind,
            "text": self.text,
        }
