"""Named points where a test can kill an ingest (or make a folder unreadable), so fault tests act at a known
step, not at a moment.

`RAG_TEST_KILL_AT=point` (or `point:n`, the n-th time the point is reached) makes the process SIGKILL itself
there. Only tests set it; it costs one dictionary look-up per point otherwise.
"""

from __future__ import annotations

import os
import signal

ENV = "RAG_TEST_KILL_AT"
_reached: dict[str, int] = {}


def checkpoint(point: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    name, _, times = wanted.partition(":")
    if name != point:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] >= int(times or 1):
        os.kill(os.getpid(), signal.SIGKILL)


UNREADABLE_ENV = "RAG_TEST_UNREADABLE"


def listing_fails(relative_dir: str) -> bool:
    """`RAG_TEST_UNREADABLE=dir[,dir]`: the walk finds these folders (relative, `sub/dir`) unreadable, as a
    permission error or a network share that hiccups would (tests run as root, where chmod cannot show it)."""
    wanted = os.environ.get(UNREADABLE_ENV)
    return bool(wanted) and relative_dir.rstrip("/") in {d.strip().rstrip("/") for d in wanted.split(",")}
