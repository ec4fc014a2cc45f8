"""Atomic file writes: a reader (or a crash) sees the old contents or the new, never half of them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_atomically(contents: dict[Path, str | bytes]) -> None:
    """Every file is written to a temporary name first; nothing replaces a real name until all are written."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in contents.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
                handle.flush()
                os.fsync(handle.fileno())
            temps.append((tmp, path))
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


def new_directory(parent: Path, prefix: str) -> Path:
    """A fresh temporary folder beside where the real one will be (same filesystem, so the swap is a rename)."""
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=parent))


def swap_directory(built: Path, target: Path) -> None:
    """Put the fully written folder `built` in place of `target` by renames; the old one is removed after."""
    old = target.with_name(f".{target.name}-old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
