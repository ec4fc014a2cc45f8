"""Find the files of a documentation folder: sorted, hidden files and `.ragignore` matches left out.

Only regular files inside the folder are ingested: a symlink whose target lies outside the folder is
skipped unless asked for (`--follow-symlinks`), and FIFOs, devices and sockets are never opened (reading
one blocks or never ends).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pathspec

from ingest.parse import SUPPORTED
from rag.errors import InputError


@dataclass(frozen=True)
class FoundFile:
    path: Path
    source: str  # relative to the folder, forward slashes


@dataclass(frozen=True)
class Walk:
    files: tuple[FoundFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (source, reason): unsupported types and unreadable entries


def _ignore_spec(folder: Path) -> pathspec.PathSpec | None:
    ignore = folder / ".ragignore"
    if not ignore.is_file():
        return None
    return pathspec.GitIgnoreSpec.from_lines(ignore.read_text(encoding="utf-8", errors="replace").splitlines())


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _check(path: Path, root: Path, follow_symlinks: bool) -> str:
    """Why `path` must not be opened, or "" when it is a regular file we may read."""
    try:
        if path.is_symlink():
            target = path.resolve()
            if not follow_symlinks and not target.is_relative_to(root):
                return "symlink to a file outside the folder (pass --follow-symlinks to ingest it)"
        mode = path.stat().st_mode  # follows the link; a dangling one fails to open later, as any unreadable file
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return "" if stat.S_ISREG(mode) else f"{_kind(mode)}, not a regular file"


def walk_folder(folder: Path, follow_symlinks: bool = False) -> Walk:
    if not folder.exists():
        raise InputError(f"folder {folder} does not exist; pass the documentation folder to ingest")
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; pass the documentation folder to ingest")
    spec = _ignore_spec(folder)
    top = folder.resolve()
    files: list[FoundFile] = []
    skipped: list[tuple[str, str]] = []

    def on_error(err: OSError) -> None:
        skipped.append((os.path.relpath(err.filename or str(folder), folder), f"cannot read folder: {err.strerror}"))

    # followlinks=False: a symlinked folder is never descended into, so a symlink loop cannot trap the walk.
    for root, dirs, names in os.walk(folder, onerror=on_error, followlinks=False):
        rel_root = os.path.relpath(root, folder)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (spec and spec.match_file(f"{rel_root}{d}/")))
        for name in sorted(names):
            if name.startswith("."):
                continue
            source = f"{rel_root}{name}"
            if spec and spec.match_file(source):
                continue
            path = Path(root) / name
            if Path(name).suffix.lower() not in SUPPORTED:
                skipped.append((source, f"unsupported file type {Path(name).suffix or '(none)'}"))
                continue
            reason = _check(path, top, follow_symlinks)
            if reason:
                skipped.append((source, reason))
                continue
            files.append(FoundFile(path, source))
    return Walk(tuple(files), tuple(skipped))
