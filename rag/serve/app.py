"""`rag serve`: the HTTP face of the service (FastAPI). OpenAI-compatible chat completions with citations,
search, feedback, status, admin ingest, and the web page at `/`.

Errors are JSON in OpenAI's shape, `{"error": {"message", "type", "code"}}`; the API key never appears in a
response or a log line.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rag.answer import MODES
from rag.errors import (
    BusyError,
    ConfigError,
    DamagedError,
    IndexMissingError,
    InputError,
    ModelError,
    PermissionDeniedError,
    RagError,
    StoreError,
    mask_secrets,
)
from rag.keys import KeyRecord
from rag.messages import Message
from rag.serve.gate import Gate
from rag.serve.service import Reply, Service


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code


def _error(status: int, message: str, type_: str, code: str | None) -> JSONResponse:
    return JSONResponse({"error": {"message": mask_secrets(message), "type": type_, "code": code}}, status_code=status)


_STATUS = {
    ConfigError: (400, "invalid_request_error"),
    InputError: (400, "invalid_request_error"),
    BusyError: (409, "conflict"),
    PermissionDeniedError: (403, "permission_error"),
    IndexMissingError: (503, "index_unavailable"),
    DamagedError: (503, "index_unavailable"),
    StoreError: (503, "index_unavailable"),
    ModelError: (502, "upstream_error"),
}


MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 20_000  # a question, or a turn of a conversation, is far shorter


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list | None = None

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str | list | None) -> str | list | None:
        if isinstance(value, list) and len(value) > MAX_MESSAGES:
            raise ValueError(f"at most {MAX_MESSAGES} content parts")
        text = value if isinstance(value, str) else json.dumps(value) if value else ""
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"a message may hold at most {MAX_MESSAGE_CHARS:,} characters")
        return value

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI's content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if isinstance(p, dict))
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    mode: Literal["rag", "few-shot", "plain"] | None = None  # overrides a mode given by the model's suffix
    k: int | None = Field(default=None, ge=1, le=50)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=100)
    retriever: Literal["hybrid", "dense", "bm25"] | None = None


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["good", "bad"]
    comment: str = Field(default="", max_length=4000)


class IngestRequest(BaseModel):
    folders: list[str] | None = Field(default=None, max_length=100)


class ForgetRequest(BaseModel):
    folder: str = Field(min_length=1, max_length=4096)


def parse_model(name: str, mode: str | None) -> tuple[str, str]:
    """`rag`, `rag-finetuned`, `rag[-finetuned]-few-shot|-plain`, or a model id -> (model choice, mode)."""
    for suffix in ("-few-shot", "-plain"):
        if name.endswith(suffix) and name.startswith("rag"):
            return parse_model(name[: -len(suffix)], mode or suffix[1:])
    if name == "rag":
        return "base", mode or "rag"
    if name == "rag-finetuned":
        return "finetuned", mode or "rag"
    return name, mode or "rag"


def create_app(service: Service, require_keys: bool | None = None) -> FastAPI:
    """`require_keys`: decided at start-up (keys on file, or an address beyond loopback); None: keys are
    required when any is on file now."""
    app = FastAPI(
        title="rag",
        summary="Answers from your own support documentation, cited, offline by construction.",
        version="0.1.0",
    )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.type, exc.code)

    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        status, type_ = next((v for k, v in _STATUS.items() if isinstance(exc, k)), (500, "server_error"))
        return _error(status, str(exc), type_, type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"{where or 'body'}: {first.get('msg', 'invalid request')}", "invalid_request_error", None)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _error(500, f"unexpected {type(exc).__name__}: {str(exc)[:200]}", "server_error", None)

    if require_keys is None:
        require_keys = bool(service.keys.records())
    app.add_middleware(Gate, keys=service.keys, require_keys=require_keys)

    def caller(request: Request) -> KeyRecord | None:
        """The key's record, checked by the gate before the body was read; None when the server runs without
        keys (loopback only)."""
        return getattr(request.state, "key", None)

    def admin(record: KeyRecord | None = Depends(caller)) -> KeyRecord | None:
        if record is not None and record.role != "admin":
            raise ApiError(
                403,
                f"key {record.name!r} is a reader key; ingesting and forgetting need an admin key",
                "permission_error",
            )
        return record

    @app.get("/healthz")
    async def healthz() -> dict:  # on the event loop: never queued behind slow model streams in the workers
        return {"ok": True}

    @app.get("/v1/models")
    def models(_: KeyRecord | None = Depends(caller)) -> dict:
        return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "rag"} for m in service.models()]}

    @app.get("/v1/status")
    def status(_: KeyRecord | None = Depends(caller)) -> dict:
        return service.status()

    @app.post("/v1/search")
    def search(body: SearchRequest, _: KeyRecord | None = Depends(caller)) -> dict:
        hits, notice = service.search(body.query, body.k, body.retriever)
        return {"object": "list", "data": [h.as_json(n) for n, h in enumerate(hits, 1)], "notice": notice}

    @app.post("/v1/feedback")
    def feedback(body: FeedbackRequest, key: KeyRecord | None = Depends(caller)) -> dict:
        service.feedback(body.answer_id, body.rating, body.comment, asker=key.id if key else "")
        return {"ok": True, "answer_id": body.answer_id, "rating": body.rating}

    @app.post("/v1/ingest", status_code=202)
    def ingest(body: IngestRequest | None = None, _: KeyRecord | None = Depends(admin)) -> dict:
        return service.start_ingest(body.folders if body else None).as_json()

    @app.post("/v1/forget")
    def forget(body: ForgetRequest, _: KeyRecord | None = Depends(admin)) -> dict:
        return service.forget(body.folder).as_json()

    @app.get("/v1/ingest/{job_id}")
    def ingest_job(job_id: str, _: KeyRecord | None = Depends(caller)) -> dict:
        job = service.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no ingest {job_id!r}", "not_found_error")
        return job.as_json()

    @app.post("/v1/chat/completions")
    def chat(body: ChatRequest, key: KeyRecord | None = Depends(caller)):
        choice, mode = parse_model(body.model, body.mode)
        if mode not in MODES:
            raise ApiError(400, f"unknown mode {mode!r}", code="model_not_found")
        if choice not in {"base", "finetuned"} and body.model not in _known_ids(service):
            raise ApiError(400, f"unknown model {body.model!r}; GET /v1/models lists them", code="model_not_found")
        messages = [Message(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant", "system")]
        asker = key.id if key else ""
        if body.stream:
            stream = _stream(service, messages, choice, mode, body, asker)
            return StreamingResponse(stream, media_type="text/event-stream")
        reply = service.reply(messages, choice, mode, body.k, asker=asker)
        return _completion(reply, body.model)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(resources.files("rag") / "web" / "index.html"))

    @app.get("/web/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in {"app.js", "style.css"}:
            raise ApiError(404, f"no file {name!r}", "not_found_error")
        return FileResponse(str(resources.files("rag") / "web" / name))

    return app


def _known_ids(service: Service) -> set[str]:
    from rag.answer import registered_finetuned

    ids = set(service.models())
    settings = service.settings
    ids |= {m for m in (settings.chat.base, settings.chat.finetuned, registered_finetuned(settings)) if m}
    return ids


def _extra(reply: Reply) -> dict[str, Any]:
    answer = reply.answer
    return {
        "answer_id": reply.answer_id,
        "question": reply.followup.question,
        "rewritten": reply.followup.rewritten,
        "mode": answer.mode,
        "answered_by": answer.model,
        "abstained": answer.abstained,
        "reason": answer.reason,
        "notice": answer.notice,
        "sources": [h.as_json(n) for n, h in enumerate(answer.sources, 1)],
    }


def _completion(reply: Reply, model: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": reply.answer.answer}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extra(reply),
    }


def _stream(
    service: Service, messages: list[Message], choice: str, mode: str, body: ChatRequest, asker: str
) -> Iterator[str]:
    """OpenAI's SSE chunk format: the answer as it is produced, then a last chunk with finish_reason and the
    sources, then [DONE]. The answer is produced in a worker thread; tokens cross over a queue."""
    tokens: queue.Queue = queue.Queue()
    done = object()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["reply"] = service.reply(messages, choice, mode, body.k, on_token=tokens.put, asker=asker)
        except Exception as exc:  # sent to the client as an error event
            result["error"] = exc
        tokens.put(done)

    threading.Thread(target=work, daemon=True).start()
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    while (token := tokens.get()) is not done:
        yield chunk({"content": token})
    if "error" in result:
        exc = result["error"]
        status, type_ = next((v for k, v in _STATUS.items() if isinstance(exc, k)), (500, "server_error"))
        message = str(exc) if isinstance(exc, RagError) else f"unexpected {type(exc).__name__}"
        error = {"error": {"message": mask_secrets(message), "type": type_, "code": status}}
        yield f"data: {json.dumps(error)}\n\n"
        return
    yield chunk({}, "stop", **_extra(result["reply"]))
    yield "data: [DONE]\n\n"
