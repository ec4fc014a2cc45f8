"""One writer per data directory: `rag ingest`, `rag repair`, `rag forget` and the server's ingest take this lock;
a second writer fails fast with a clear message."""

from __future__ import annotations

import fcntl
from pathlib import Path

from rag.errors import BusyError, InputError


class IngestLock:
    """One writer per data directory: a second ingest fails fast with a clear message."""

    def __init__(self, data_dir: Path):
        self._path = data_dir / "ingest.lock"
        self._handle = None

    def __enter__(self) -> IngestLock:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._path.open("a+")
        except (FileExistsError, NotADirectoryError):
            raise InputError(
                f"the data directory {self._path.parent} is a file; pass a folder with --data-dir"
            ) from None
        except OSError as exc:
            raise InputError(f"cannot write to the data directory {self._path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise BusyError(
                f"another `rag ingest` is writing to {self._path.parent}; wait for it to finish and run again"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
