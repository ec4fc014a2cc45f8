"""Question intents: a kind of question that is answered by a kind of document (e.g. limits -> quotas pages).

Some questions name what they ask for in words the answering page does not use in its text: "maximum number
of security groups per load balancer" is one row of a table under "Quotas for your Application Load
Balancers". Dense and keyword scores both miss that link; an intent states it once, as data (intents.toml).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rag.errors import ConfigError


@dataclass(frozen=True)
class Intent:
    name: str
    question: re.Pattern[str]
    document: re.Pattern[str]


@functools.lru_cache(maxsize=8)
def load_intents(path: str = "") -> tuple[Intent, ...]:
    """The intents of `path`, or the built-in ones when it is empty (read once per process: the server makes a
    retriever per request)."""
    try:
        if path:
            text = Path(path).expanduser().read_text(encoding="utf-8")
        else:
            text = resources.files("rag").joinpath("intents.toml").read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read retrieve.intents_file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"retrieve.intents_file {path or 'intents.toml'} is not valid TOML: {exc}") from None
    intents = []
    for n, entry in enumerate(data.get("intent", []), 1):
        name = str(entry.get("name", f"intent {n}"))
        try:
            intents.append(
                Intent(name, re.compile(entry["question"], re.IGNORECASE), re.compile(entry["document"], re.IGNORECASE))
            )
        except KeyError as exc:
            raise ConfigError(f"intent {name!r} in {path or 'intents.toml'} needs a {exc.args[0]!r} pattern") from None
        except re.error as exc:
            raise ConfigError(f"intent {name!r} in {path or 'intents.toml'}: bad regular expression: {exc}") from None
    return tuple(intents)


def document_patterns(intents: tuple[Intent, ...], question: str) -> tuple[re.Pattern[str], ...]:
    """Document-title patterns of the intents this question shows."""
    return tuple(i.document for i in intents if i.question.search(question))
