"""Chat models through the `openai` SDK (OpenAI or any OpenAI-compatible server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.client import INVALID, call_api, make_client
from rag.errors import ModelError
from rag.messages import Message
from rag.settings import ChatSettings


class ChatModel(Protocol):
    name: str

    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the answer's text as it arrives."""
        ...


class OpenAIChat:
    def __init__(self, settings: ChatSettings, model: str):
        self.name = model
        self._settings = settings
        self.finish_reason = ""  # of the last answer: "length" means it was cut at chat.max_tokens
        self._client = make_client(settings.base_url, settings.api_key_env, settings.timeout_s, settings.max_retries)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        what = f"chat model {self.name!r}"
        response = call_api(
            lambda: self._client.chat.completions.create(
                model=self.name,
                messages=[m.as_dict() for m in messages],
                temperature=self._settings.temperature,
                max_tokens=self._settings.max_tokens,
                stream=True,
            ),
            what,
        )
        iterator = iter(response)
        self.finish_reason = ""
        text = False
        while True:
            chunk = call_api(lambda: next(iterator, None), what, streaming=True)
            if chunk is None:
                break
            for choice in getattr(chunk, "choices", None) or []:
                if choice.delta and choice.delta.content:
                    text = True
                    yield choice.delta.content
                self.finish_reason = self.finish_reason or (choice.finish_reason or "")
        if not self.finish_reason:
            # A stream that stops without saying why (no finish reason, no [DONE]) was cut off: the text so
            # far is not an answer and must not be taken for one.
            raise ModelError(f"{what}: {INVALID} (the answer stream ended before the server finished it)")
        if not text:
            raise ModelError(f"{what}: {INVALID} (an empty answer: the stream finished with no text)")

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))
