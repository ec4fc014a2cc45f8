"""Ingest progress for people: a one-line bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ingest.pipeline import ProgressEvent


class ProgressPrinter:
    def __init__(self, stream: TextIO | None = None, interval_s: float | None = None):
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        # A terminal redraws often; a log file gets a line every 10 s so it stays readable.
        self._interval = interval_s if interval_s is not None else (0.2 if self._tty else 10.0)
        self._last = 0.0
        self._drawn = False

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        final = event.files_done == event.files_total
        if not final and now - self._last < self._interval:
            return
        self._last = now
        rate = event.chunks_done / event.seconds if event.seconds > 0 else 0.0
        left = event.files_total - event.files_done
        eta = event.seconds / event.files_done * left if event.files_done else 0.0
        if self._tty:
            width = 24
            filled = int(width * event.files_done / max(event.files_total, 1))
            bar = "#" * filled + "-" * (width - filled)
            line = (
                f"\r[{bar}] {event.files_done}/{event.files_total} files  {event.chunks_done} chunks  "
                f"{rate:.1f} chunks/s  ETA {_clock(eta)} "
            )
            self._stream.write(line)
            self._drawn = True
        else:
            self._stream.write(
                f"ingest: {event.files_done}/{event.files_total} files, {event.chunks_done} chunks, "
                f"{rate:.1f} chunks/s, ETA {_clock(eta)}\n"
            )
        self._stream.flush()

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )
