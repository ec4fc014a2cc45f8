"""The library's own error types; the CLI turns each into one line and an exit code."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)
_SECRET_SHAPES = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+|\bsk-[A-Za-z0-9_*\-]{6,}")


_USED: set[str] = set()  # credentials this process has sent, whatever the variable that held them is called


def remember_secret(value: str) -> None:
    """A credential read from the environment (a key named by `api_key_env`): hidden from now on wherever it is
    echoed, even when its variable's name does not say it is a key (`LLM_CRED`)."""
    if len(value) >= 6:
        _USED.add(value)


def mask_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every credential hidden: the values of environment variables named like a key, token,
    secret or password, keys this process has used, bearer tokens, OpenAI-style keys, and passwords in URLs.
    Servers echo them in error bodies."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if len(value) >= 8 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, f"<{name} hidden>")
    for value in sorted(_USED, key=len, reverse=True):
        text = text.replace(value, "<key hidden>")
    text = _URL_PASSWORD.sub(r"\1<hidden>@", text)
    return _SECRET_SHAPES.sub(lambda m: f"{m[1]} <hidden>" if m[1] else "<key hidden>", text)


class RagError(Exception):
    """Base class: the message says what went wrong and what to do."""

    exit_code = 1


class SetupError(RagError):
    """Installation or model files are missing or damaged."""


class ConfigError(RagError):
    """Settings are invalid."""

    exit_code = 2


class InputError(RagError):
    """The user's input (folder, file, question) cannot be used."""

    exit_code = 2


class IndexMissingError(RagError):
    """Nothing was ingested yet."""


class EmbedderMismatchError(RagError):
    """The collection was built with another embedder."""


class ModelError(RagError):
    """The chat or embedding service failed (auth, unknown model, unreachable, rate limit, timeout)."""

    exit_code = 3


class StoreError(RagError):
    """The vector store failed or is unreachable."""

    exit_code = 3


class BusyError(RagError):
    """Another ingest holds the data directory."""

    exit_code = 4


class DamagedError(RagError):
    """A file of the data directory is damaged; the message names it and the command that fixes it."""


class PermissionDeniedError(RagError):
    """A request the server's settings do not allow (a folder outside `serve.ingest_roots`)."""

    exit_code = 2
