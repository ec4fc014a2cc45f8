"""The `openai` SDK client for OpenAI or any OpenAI-compatible server, and its errors as one clear message."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from rag.errors import ConfigError, ModelError, mask_secrets, remember_secret

T = TypeVar("T")
OPENAI_URL = "https://api.openai.com/v1"


def resolve_base_url(configured: str) -> str:
    return (configured or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")


def make_client(base_url: str, api_key_env: str, timeout: float = 60.0, max_retries: int = 2):
    from openai import OpenAI

    url = resolve_base_url(base_url)
    key = os.environ.get(api_key_env, "")
    remember_secret(key)
    if not key:
        if url == OPENAI_URL:
            raise ConfigError(f"no API key: set {api_key_env} in the environment (the key is never read from files)")
        key = "unused"  # local servers (Ollama, vLLM, llama.cpp) ignore it, but the SDK requires one
    return OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=max_retries)


INVALID = "the server sent an invalid response"


def call_api(fn: Callable[[], T], what: str, timeout_setting: str = "chat.timeout_s", streaming: bool = False) -> T:
    """Run one SDK call; turn SDK errors into ModelError with a message that says what to do.
    `timeout_setting` names the setting to raise on a timeout; `streaming`: the call reads the next piece
    of an answer already under way (a broken connection then is not an unreachable server)."""
    import json

    import openai
    import pydantic

    try:
        return fn()
    except (openai.APIResponseValidationError, json.JSONDecodeError, pydantic.ValidationError, TypeError) as exc:
        raise ModelError(
            f"{what}: {INVALID} ({type(exc).__name__}); check that the base URL is an OpenAI-compatible API"
        ) from None
    except openai.APIConnectionError as exc:
        if isinstance(exc, openai.APITimeoutError):
            raise ModelError(f"{what}: the request timed out; try again or raise {timeout_setting}") from None
        if streaming:
            raise ModelError(f"{what}: the connection broke in the middle of the answer; try again") from None
        raise ModelError(f"{what}: cannot reach the server; check that it is running and the base URL") from None
    except openai.AuthenticationError:
        # The server's own text can echo part of the key: never repeat it.
        raise ModelError(f"{what}: the server rejected the API key (401); check the key in the environment") from None
    except openai.PermissionDeniedError:
        raise ModelError(f"{what}: permission denied (403); the key cannot use this model") from None
    except openai.NotFoundError:
        raise ModelError(f"{what}: not found (404); check the model name and the server's base URL") from None
    except openai.RateLimitError:
        raise ModelError(f"{what}: rate limited (429) even after retries; wait a minute and try again") from None
    except openai.BadRequestError as exc:
        raise ModelError(f"{what}: the server refused the request (400): {_short(exc)}") from None
    except openai.APIStatusError as exc:
        raise ModelError(f"{what}: the server answered {exc.status_code}: {_short(exc)}") from None
    except openai.APIError as exc:  # an error event inside a stream: what came before it is not an answer
        raise ModelError(f"{what}: the server failed in the middle of the answer: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    """The server's own message, with any credential it echoes hidden."""
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, dict):
        error = body["error"] if isinstance(body.get("error"), dict) else body
        message = str(error.get("message") or "")
    return mask_secrets(message or str(getattr(exc, "message", "") or type(exc).__name__))[:200]
