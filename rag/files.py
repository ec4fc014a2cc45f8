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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return False  # unsupported filesystem (EINVAL) or kernel: fall back to renames


def swap_directory(built: Path, target: Path) -> None:
    """Put the fully written folder `built` in place of `target`; the old one is removed after. Where the system
    can, in one step (a reader never finds no index); else by two renames, the old folder under a fresh name
    (a leftover of a killed run never blocks the next swap)."""
    for leftover in target.parent.glob(f".{target.name}-old-*"):  # of a run killed mid-swap: only garbage
        shutil.rmtree(leftover, ignore_errors=True)
    if target.is_dir() and _exchange(built, target):
        shutil.rmtree(built, ignore_errors=True)  # `built` holds the old index now
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    if target.exists():
        os.replace(target, old / target.name)
    os.replace(built, target)
    shutil.rmtree(old, ignore_errors=True)
