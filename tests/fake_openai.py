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
from email.parser import BytesParser
from email.policy import default
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
    # Streaming faults: "" (a well-formed stream), "no-finish" (stops after the text: no finish chunk, no
    # [DONE]), "bad-json" (an event that is not JSON), "json-200" (a plain JSON body, not a stream).
    stream_fault: str = ""
    hold_last: threading.Event | None = None  # set: the last token waits until the client sets this event
    released: bool | None = None  # whether the client released the last token while it was held
    hold_jobs: bool = False  # fine-tuning jobs stay "running" until this is cleared
    garbage: bool = False  # every answer is a 200 whose body is not JSON
    busy_every: int = 0  # every n-th request answers 429 with Retry-After (a loaded embedding service)
    parallel: int = 0  # requests the server works on at once (0: any number); the rest wait their turn
    retry_after_s: float = 0.05
    known_models: set[str] | None = None  # None: every model exists
    dimension: int = 64
    files: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    def slots(self):
        """A context manager: one of the server's `parallel` working slots (none needed when unlimited)."""
        import contextlib

        if not self.parallel:
            return contextlib.nullcontext()
        if not hasattr(self, "_slots"):
            self._slots = threading.Semaphore(self.parallel)
        return self._slots

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def chat_requests(self) -> list[dict]:
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def public(self, job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def add_event(self, job: dict, level: str, message: str) -> None:
        n = len(job["_events"]) + 1
        job["_events"].append(
            {
                "id": f"{job['id']}-ev{n}",
                "object": "fine_tuning.job.event",
                "created_at": n,
                "level": level,
                "message": message,
                "type": "message",
            }
        )

    def advance(self, job: dict) -> None:
        """Each look at a job moves it one step: validating_files -> running -> succeeded (or failed).
        While `hold_jobs` is set, a running job stays running."""
        if job["status"] == "running" and self.hold_jobs:
            return
        if job["status"] == "validating_files":
            job["status"] = "running"
            self.add_event(job, "info", "Fine-tuning job started")
            self.add_event(job, "info", "Step 1/10: training loss=1.23")
        elif job["status"] == "running":
            if "FAIL_ME" in self.files[job["training_file"]]["content"]:
                job["status"] = "failed"
                job["error"] = {
                    "code": "invalid_training_file",
                    "param": "training_file",
                    "message": "The job failed due to an invalid training file.",
                }
                self.add_event(job, "error", "The job failed due to an invalid training file.")
            else:
                job["status"] = "succeeded"
                job["fine_tuned_model"] = f"ft:{job['model']}:org-test:{job['suffix'] or 'x'}:abc123"
                job["trained_tokens"] = 1234
                self.add_event(job, "info", "Step 10/10: training loss=0.12")
                self.add_event(job, "info", "The job has successfully completed")

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle and delayed ACKs add ~40 ms to
            # every answer on loopback (the benchmarks would measure the fake, not `rag`).
            disable_nagle_algorithm = True

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
                    with fake.slots():
                        time.sleep(fake.delay_s)
                if fake.busy_every and len(fake.requests) % fake.busy_every == 0:
                    payload = json.dumps({"error": {"message": "busy", "type": "rate_limit_error"}}).encode()
                    self.send_response(429)
                    self.send_header("Retry-After", str(fake.retry_after_s))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if fake.fail_with:
                    messages = {
                        401: "Incorrect API key provided: sk-test***cret",
                        404: "model not found",
                        429: "Rate limit reached",
                        # Some servers echo the request in an error body, credentials included.
                        500: f"server error handling request with {self.headers.get('Authorization')}",
                    }
                    self._error(fake.fail_with, messages.get(fake.fail_with, "error"))
                    return
                if fake.garbage:
                    data = b"<html>gateway says hello</html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                path = self.path.split("?")[0]
                parts = path.strip("/").split("/")
                if path == "/v1/chat/completions":
                    self._chat(body)
                elif path == "/v1/embeddings":
                    self._embeddings(body)
                elif path == "/v1/files" and method == "POST":
                    self._upload(body)
                elif parts[:2] == ["v1", "fine_tuning"]:
                    self._jobs(method, parts[2:], body)
                else:
                    self._error(404, f"no route {method} {path}")

            def _upload(self, raw: bytes) -> None:
                message = BytesParser(policy=default).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
                )
                fields = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
                file_part = fields["file"]
                content = file_part.get_payload(decode=True)
                file_id = f"file-{len(fake.files) + 1}"
                fake.files[file_id] = {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": 0,
                    "filename": file_part.get_filename(),
                    "purpose": fields["purpose"].get_content().strip(),
                    "content": content.decode("utf-8"),
                    "status": "processed",
                }
                self._send(200, {k: v for k, v in fake.files[file_id].items() if k != "content"})

            def _jobs(self, method: str, parts: list[str], body: Any) -> None:
                # parts: ["jobs"], ["jobs", id], ["jobs", id, "events"], ["jobs", id, "cancel"]
                if parts == ["jobs"] and method == "POST":
                    if body["training_file"] not in fake.files:
                        self._error(400, f"invalid training_file: {body['training_file']}")
                        return
                    job_id = f"ftjob-{len(fake.jobs) + 1}"
                    job = {
                        "id": job_id,
                        "object": "fine_tuning.job",
                        "created_at": 1700000000,
                        "model": body["model"],
                        "status": "validating_files",
                        "training_file": body["training_file"],
                        "validation_file": body.get("validation_file"),
                        "fine_tuned_model": None,
                        "hyperparameters": {"n_epochs": "auto"},
                        "organization_id": "org-test",
                        "result_files": [],
                        "seed": 0,
                        "trained_tokens": None,
                        "error": None,
                        "finished_at": None,
                        "suffix": body.get("suffix"),
                        "method": body.get("method"),
                        "_events": [],
                    }
                    fake.jobs[job_id] = job
                    fake.add_event(job, "info", "Validating training file")
                    self._send(200, fake.public(job))
                    return
                if parts == ["jobs"]:
                    data = [fake.public(j) for j in reversed(list(fake.jobs.values()))]
                    self._send(200, {"object": "list", "data": data, "has_more": False})
                    return
                job = fake.jobs.get(parts[1]) if len(parts) > 1 else None
                if job is None:
                    self._error(404, "No such fine-tuning job")
                    return
                if parts[2:] == ["events"]:
                    data = [dict(e) for e in reversed(job["_events"])]
                    self._send(200, {"object": "list", "data": data, "has_more": False})
                elif parts[2:] == ["cancel"]:
                    job["status"] = "cancelled"
                    fake.add_event(job, "info", "Fine-tuning job cancelled")
                    self._send(200, fake.public(job))
                else:
                    fake.advance(job)
                    self._send(200, fake.public(job))

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
                if fake.stream_fault == "json-200":
                    self._send(200, {"unexpected": "not a chat completion stream"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(delta: dict, finish: str | None) -> None:
                    chunk = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                words = fake.reply.split(" ")
                for n, word in enumerate(words):
                    if n == len(words) - 1 and fake.hold_last is not None:
                        fake.released = fake.hold_last.wait(timeout=10)
                    if n == 1 and fake.stream_fault == "bad-json":
                        self.wfile.write(b"data: {this is not json\n\n")
                        self.wfile.flush()
                    event({"content": word if n == 0 else " " + word}, None)
                if fake.stream_fault != "no-finish":
                    event({}, "stop")
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
