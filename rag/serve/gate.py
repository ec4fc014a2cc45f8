"""The door of `rag serve`, in front of every route: who is asking, from where, with how much.

Plain ASGI, so it runs before FastAPI reads a body (a dependency runs after it has):
- whether keys are required is decided once, at start-up (keys on file, or an address beyond loopback), and
  never relaxed: afterwards an empty, missing or damaged key file refuses every request (503, with the
  reason) instead of opening the door. Keys created while the server runs switch an open server to keys;
- without keys the server answers only requests addressed to a loopback name (`Host`), so a web page the
  operator visits cannot reach it through DNS rebinding;
- a state-changing request sent by a browser from another site (`Origin`, `Sec-Fetch-Site`) is refused;
- the key is checked before the body is read, and a body is read at most MAX_BODY bytes, counted as it
  arrives (a chunked body has no Content-Length to trust): 400 `too_large` past it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from rag.errors import DamagedError
from rag.keys import KeyRecord, KeyStore

MAX_BODY = 1_000_000  # bytes
# Reachable without a key: the page (it asks for the key), its files, the health check and the API docs.
PUBLIC = ("/healthz", "/", "/web/app.js", "/web/style.css", "/docs", "/openapi.json", "/docs/oauth2-redirect")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Refused(Exception):
    def __init__(self, status: int, message: str, type_: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code


def host_name(value: str) -> str:
    """`[::1]:8080` -> `::1`, `LocalHost:80` -> `localhost`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Gate:
    def __init__(self, app: Any, keys: KeyStore, require_keys: bool):
        self.app = app
        self.keys = keys
        self.require_keys = require_keys

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            record = self.check(scope, headers)
            if scope["method"] not in SAFE_METHODS:
                receive = await self._bounded(receive, headers)
        except Refused as refused:
            await _send_error(send, refused)
            return
        scope.setdefault("state", {})["key"] = record
        await self.app(scope, receive, send)

    def check(self, scope: dict, headers: dict[str, str]) -> KeyRecord | None:
        """The caller's key record (None when no key is needed), or Refused."""
        records = self._records()
        if records:
            self.require_keys = True  # keys created while running: from now on they are needed
        if not self.require_keys and host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
            raise Refused(
                403,
                "this server has no API keys and answers only requests to localhost; use http://127.0.0.1:PORT/ "
                "or create a key (`rag keys create`)",
                "permission_error",
                "host_not_allowed",
            )
        if scope["method"] not in SAFE_METHODS:
            self._same_site(headers)
        path = scope["path"]
        if not self.require_keys or path in PUBLIC:
            return None
        scheme, _, key = headers.get("authorization", "").partition(" ")
        presented = scheme.lower() == "bearer" and bool(key.strip())
        if isinstance(records, DamagedError) or not records:
            reason = (
                str(records)
                if isinstance(records, DamagedError)
                else "this server was started with API keys and none is on file now; create one with "
                "`rag keys create` (no restart needed)"
            )
            # Without a key: still the authentication failure it always was. With one: it cannot be checked.
            if not presented:
                raise Refused(
                    401,
                    f"a valid API key is needed; and every request is refused now: {reason}",
                    "authentication_error",
                )
            code = "keys_damaged" if isinstance(records, DamagedError) else "no_keys"
            raise Refused(503, f"every request is refused: {reason}", "service_unavailable", code)
        record = self.keys.check(key.strip()) if presented else None
        if record is None:
            raise Refused(401, "a valid API key is needed: Authorization: Bearer KEY", "authentication_error")
        return record

    def _records(self) -> list[KeyRecord] | DamagedError:
        try:
            return self.keys.records()
        except DamagedError as exc:
            return exc

    @staticmethod
    def _same_site(headers: dict[str, str]) -> None:
        """A browser says where a request comes from; a page on another site may not change anything here."""
        fetch_site = headers.get("sec-fetch-site", "")
        if fetch_site in {"cross-site", "same-site"}:
            raise Refused(403, "cross-site requests are refused", "permission_error", "cross_site")
        origin = headers.get("origin", "")
        if origin and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc.lower() != headers.get("host", "").lower():
                raise Refused(403, "cross-site requests are refused", "permission_error", "cross_site")
        elif origin == "null":
            raise Refused(403, "cross-site requests are refused", "permission_error", "cross_site")

    @staticmethod
    async def _bounded(receive: Any, headers: dict[str, str]) -> Any:
        """The whole body, read here at most MAX_BODY bytes as it arrives, replayed to the app."""
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise _too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _too_large() -> Refused:
    # 400 with the code `too_large`, as this API has always answered it (clients key on the code).
    return Refused(400, f"request body over {MAX_BODY // 1_000_000} MB", "invalid_request_error", "too_large")


async def _send_error(send: Any, refused: Refused) -> None:
    # The gate's messages are its own (no secret in them): "Authorization: Bearer KEY" must stay readable.
    body = json.dumps({"error": {"message": refused.message, "type": refused.type, "code": refused.code}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
