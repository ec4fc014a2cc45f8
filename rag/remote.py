"""`rag ask/search/status --server URL`: the same commands against a running `rag serve`, so a team shares
one index. The key comes only from the environment (RAG_API_KEY), never from a flag or a file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

from rag.errors import InputError, ModelError, RagError, StoreError, mask_secrets


class Remote:
    def __init__(self, url: str, timeout: float = 120.0):
        import httpx

        if not url.startswith(("http://", "https://")):
            raise InputError(f"--server must be an http:// or https:// URL, not {url!r}")
        headers = {}
        key = os.environ.get("RAG_API_KEY", "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.url = mask_secrets(url.rstrip("/"))  # as shown in messages: a password in the URL is hidden

    def _check(self, response) -> None:
        if response.status_code < 400:
            return
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        message = mask_secrets(f"the server at {self.url} answered {response.status_code}: {message}")
        if response.status_code in (400, 404, 422):
            raise InputError(message)
        if response.status_code in (401, 403):
            raise RagError(message + " (set RAG_API_KEY to a key from `rag keys create`)")
        raise ModelError(message)

    def _request(self, method: str, path: str, **kwargs):
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach `rag serve` at {self.url} ({type(exc).__name__}); is it running?") from None
        self._check(response)
        return response.json()

    def status(self) -> dict:
        return self._request("GET", "/v1/status")

    def search(self, query: str, k: int, retriever: str | None) -> list[dict]:
        body = {"query": query, "k": k, **({"retriever": retriever} if retriever else {})}
        return self._request("POST", "/v1/search", json=body)["data"]

    def ask(self, question: str, model: str, mode: str, on_token: Callable[[str], None] | None) -> dict:
        """Stream an answer; returns the last chunk's extra fields (sources, answer_id, abstained...)."""
        import httpx

        name = {"base": "rag", "finetuned": "rag-finetuned"}.get(model, model)
        body = {"model": name, "mode": mode, "stream": True, "messages": [{"role": "user", "content": question}]}
        final: dict = {}
        text: list[str] = []
        try:
            with self._http.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response)
                for data in _events(response.iter_lines()):
                    if isinstance(data.get("error"), dict):
                        raise ModelError(mask_secrets(str(data["error"].get("message", "the server failed"))))
                    choices = data.get("choices")
                    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
                        raise ModelError(
                            f"the server at {self.url} sent an invalid response (an event without choices)"
                        )
                    choice = choices[0]
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        text.append(piece)
                        if on_token:
                            on_token(piece)
                    if choice.get("finish_reason"):
                        final = data
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach `rag serve` at {self.url} ({type(exc).__name__}); is it running?") from None
        if not final:
            raise ModelError(f"the server at {self.url} sent an invalid response (the answer stream was cut off)")
        return {**final, "answer": "".join(text)}


def _events(lines: Iterator[str]) -> Iterator[dict]:
    for line in lines:
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        try:
            data = json.loads(line[6:])
        except json.JSONDecodeError:
            raise ModelError("the server sent an invalid response (an event that is not JSON)") from None
        if not isinstance(data, dict):
            raise ModelError("the server sent an invalid response (an event that is not a JSON object)")
        yield data
