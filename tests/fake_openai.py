"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests: the real `openai` client talks to it.

It records every request and answers chat (plain and SSE streaming), embeddings (float or base64), files and
fine-tuning jobs. `fail_with` makes the next requests answer an error status, `delay_s` makes them slow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

REPLY = "Restart the modem and router, then check the cables [1]."


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (timeouts, retries) are part of the tests, not failures


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeOpenAI:
    requests: list[Recorded] = field(default_factory=list)
    reply: str = REPLY
    fail_with: int | None = None
    delay_s: float = 0.0
    known_models: set[str] | None = None  # None: every model exists
    dimension: int = 64
    files: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chat_requests(self) -> list[dict]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Type", "").startswith("application/json") and raw:
                    return json.loads(raw)
                return raw

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str) -> None:
                self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

            def _handle(self, method: str) -> None:
                body = self._body() if method == "POST" else None
                fake.requests.append(Recorded(method, self.path, dict(self.headers), body))
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if fake.fail_with:
                    messages = {
                        401: "Incorrect API key provided: sk-test***cret",
                        404: "model not found",
                        429: "Rate limit reached",
                        500: "server error",
                    }
                    self._error(fake.fail_with, messages.get(fake.fail_with, "error"))
                    return
                path = self.path.split("?")[0]
                if path == "/v1/chat/completions":
                    self._chat(body)
                elif path == "/v1/embeddings":
                    self._embeddings(body)
                else:
                    self._error(404, f"no route {method} {path}")

            def _chat(self, body: dict) -> None:
                model = body.get("model")
                if fake.known_models is not None and model not in fake.known_models:
                    self._error(404, f"The model `{model}` does not exist")
                    return
                if not body.get("stream"):
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": model,
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": fake.reply},
                                }
                            ],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = fake.reply.split(" ")
                for n, word in enumerate(words):
                    piece = word if n == 0 else " " + word
                    event = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _embeddings(self, body: dict) -> None:
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = []
                for n, text in enumerate(inputs):
                    # Deterministic bag-of-words vector: similar texts get similar vectors.
                    vec = np.zeros(fake.dimension, dtype=np.float32)
                    for word in str(text).lower().split():
                        vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % fake.dimension] += 1.0
                    vec /= max(float(np.linalg.norm(vec)), 1e-9)
                    if body.get("encoding_format") == "base64":
                        emb: Any = base64.b64encode(vec.tobytes()).decode()
                    else:
                        emb = vec.tolist()
                    data.append({"object": "embedding", "index": n, "embedding": emb})
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body.get("model"),
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_DELETE(self) -> None:  # noqa: N802
                self._handle("DELETE")

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
