"""Prompts: templates kept as package data (rag/prompts/*.txt), filled with typed inputs."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib import resources

from rag.hits import Hit
from rag.messages import Message


@cache
def template(name: str) -> str:
    return resources.files("rag.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8").strip()


_DELIMITER = re.compile(r"<(/?\s*passage)", re.IGNORECASE)


def passage_text(text: str) -> str:
    """A passage's text as it goes between the delimiters: a `<passage>` or `</passage>` written in a document
    is shown as text (`&lt;/passage>`), so it can never close the passage or open a fake one."""
    return _DELIMITER.sub(r"&lt;\1", text)


def format_passages(hits: list[Hit]) -> str:
    return "\n\n".join(
        template("passage").format(n=n, source=html.escape(hit.label, quote=True), text=passage_text(hit.text))
        for n, hit in enumerate(hits, 1)
    )


def rag_messages(question: str, hits: list[Hit]) -> list[Message]:
    """The grounded prompt; `rag export-finetune --with-context` builds training lines with this same function."""
    user = template("rag_user").format(passages=format_passages(hits), question=question)
    return [Message("system", template("rag_system")), Message("user", user)]


def few_shot_messages(question: str, examples: list[Hit]) -> list[Message]:
    messages = [Message("system", template("few_shot_system"))]
    for hit in examples:
        messages += [Message("user", hit.question), Message("assistant", hit.answer)]
    return messages + [Message("user", question)]


def plain_messages(question: str) -> list[Message]:
    return [Message("system", template("plain_system")), Message("user", question)]
