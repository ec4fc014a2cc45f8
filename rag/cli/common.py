"""What every command shares: the common flags, settings from flags, printing, the remote server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

EXIT_PARTIAL = 5  # ingest finished, but some files failed (listed)


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="settings file (TOML); default: $RAG_CONFIG, else the built-in defaults")
    common.add_argument("--data-dir", help="data directory; default: $RAG_DATA_DIR, else ./.rag")
    return common


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def settings_from(args: argparse.Namespace):
    from rag.settings import load_settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    retrieve: dict[str, Any] = {}
    if getattr(args, "k", None) is not None and args.command != "eval":
        retrieve["k"] = args.k
    if getattr(args, "retriever", None):
        retrieve["retriever"] = args.retriever
    if getattr(args, "follow_symlinks", False):
        overrides["ingest"] = {"follow_symlinks": True}
    if retrieve:
        overrides["retrieve"] = retrieve
    return load_settings(args.config, overrides=overrides)


def shown(path: str) -> str:
    """A file name as one printable line: a name holding a newline or another control character is escaped."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def notice(text: str) -> None:
    if text:
        print(f"note: {text}", file=sys.stderr)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def remote_from(args):
    url = getattr(args, "server", None) or os.environ.get("RAG_SERVER", "")
    if not url:
        return None
    from rag.remote import Remote

    return Remote(url)
