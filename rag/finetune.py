"""`rag finetune`: upload training files, run an OpenAI fine-tuning job, follow it, register the model.

The current API (`files`, `fine_tuning.jobs`) replaces the old `openai api fine_tunes.create` command line.
The model a successful job produces is written to <data_dir>/models.json, where `rag ask --model finetuned`
and `rag config` find it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.client import call_api
from rag.errors import DamagedError, ModelError
from rag.files import write_atomically

FINAL = {"succeeded", "failed", "cancelled"}


@dataclass(frozen=True)
class JobView:
    id: str
    status: str
    model: str
    fine_tuned_model: str
    error: str
    created_at: int
    trained_tokens: int | None

    @classmethod
    def of(cls, job: Any) -> JobView:
        error = ""
        if getattr(job, "error", None) and getattr(job.error, "message", None):
            error = str(job.error.message)
        return cls(
            job.id,
            job.status,
            job.model,
            job.fine_tuned_model or "",
            error,
            job.created_at,
            getattr(job, "trained_tokens", None),
        )

    def as_json(self) -> dict:
        return self.__dict__.copy()


def registry_file(data_dir: Path) -> Path:
    return data_dir / "models.json"


def read_registry(data_dir: Path) -> dict:
    """The registered models. A registry that exists but is not a JSON object is an error that names the
    file: checked before any job is created, so no remote work is started that cannot be recorded."""
    path = registry_file(data_dir)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except IsADirectoryError:
        raise DamagedError(f"{path} is a folder, not the model registry; move it away") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DamagedError(f"{path} cannot be read as the model registry ({exc}); move it away") from None
    if not isinstance(data, dict):
        raise DamagedError(f"{path} holds {type(data).__name__}, not the model registry (a JSON object); move it away")
    return data


def update_registry(data_dir: Path, **values: Any) -> None:
    data = {**read_registry(data_dir), **values}
    write_atomically({registry_file(data_dir): json.dumps(data, indent=2)})


class FineTuner:
    def __init__(self, client: Any, data_dir: Path):
        self._client = client
        self._data_dir = data_dir

    def upload(self, path: Path) -> str:
        with path.open("rb") as handle:
            uploaded = call_api(
                lambda: self._client.files.create(file=handle, purpose="fine-tune"), f"upload of {path.name}"
            )
        return uploaded.id

    def create(
        self, base: str, training_file: str, validation_file: str | None, suffix: str, epochs: int | None
    ) -> JobView:
        kwargs: dict[str, Any] = {"model": base, "training_file": training_file}
        if validation_file:
            kwargs["validation_file"] = validation_file
        if suffix:
            kwargs["suffix"] = suffix
        if epochs:
            kwargs["method"] = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}}
        job = JobView.of(call_api(lambda: self._client.fine_tuning.jobs.create(**kwargs), f"fine-tune of {base}"))
        update_registry(self._data_dir, last_job=job.id)
        return job

    def retrieve(self, job_id: str) -> JobView:
        return JobView.of(call_api(lambda: self._client.fine_tuning.jobs.retrieve(job_id), f"job {job_id}"))

    def list(self, limit: int = 20) -> list[JobView]:
        page = call_api(lambda: self._client.fine_tuning.jobs.list(limit=limit), "fine-tuning jobs")
        return [JobView.of(j) for j in page.data]

    def cancel(self, job_id: str) -> JobView:
        return JobView.of(call_api(lambda: self._client.fine_tuning.jobs.cancel(job_id), f"job {job_id}"))

    def events(self, job_id: str, after: str | None = None) -> list[Any]:
        """Events oldest first (the API lists newest first)."""
        kwargs: dict[str, Any] = {"limit": 100}
        if after:
            kwargs["after"] = after
        page = call_api(lambda: self._client.fine_tuning.jobs.list_events(job_id, **kwargs), f"job {job_id}")
        return list(reversed(page.data))

    def follow(
        self, job_id: str, on_event: Callable[[Any], None], poll_s: float, sleep: Callable[[float], None] = time.sleep
    ) -> JobView:
        """Print events as they come until the job ends; register the model when it succeeds."""
        seen: set[str] = set()
        while True:
            job = self.retrieve(job_id)
            for event in self.events(job_id):
                if event.id not in seen:
                    seen.add(event.id)
                    on_event(event)
            if job.status in FINAL:
                break
            sleep(poll_s)
        if job.status == "succeeded":
            if not job.fine_tuned_model:
                raise ModelError(f"job {job_id} succeeded but named no model; see `rag finetune status {job_id}`")
            update_registry(
                self._data_dir,
                finetuned=job.fine_tuned_model,
                finetuned_job=job.id,
                finetuned_base=job.model,
                registered_at=time.time(),
            )
        return job
