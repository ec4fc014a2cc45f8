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
        self._warm: tuple[float, int] | None = None  # (seconds, chunks) when the first chunks were done

    def eta(self, event: ProgressEvent) -> float | None:
        """Seconds left: the chunks the remaining files will make (at this run's chunks per file so far),
        at the chunk rate measured since the first chunks were done. Start-up (loading the model, the
        first parse) is left out of the rate: counting it made the first estimates far too long."""
        if self._warm is None:
            if event.chunks_done:
                self._warm = (event.seconds, event.chunks_done)
            return None
        seconds, chunks = event.seconds - self._warm[0], event.chunks_done - self._warm[1]
        if seconds < 1.0 or chunks <= 0 or not event.files_done:
            return None
        left = (event.files_total - event.files_done) * event.chunks_done / event.files_done
        return left / (chunks / seconds)

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        final = event.files_done == event.files_total
        eta = self.eta(event)
        if not final and now - self._last < self._interval:
            return
        self._last = now
        rate = event.chunks_done / event.seconds if event.seconds > 0 else 0.0
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


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )
