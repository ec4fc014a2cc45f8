"""The docs tell the truth about the tool: every setting and every command is documented, and every page the
README links to exists."""

from __future__ import annotations

import argparse
import re

from rag.cli import build_parser
from rag.settings import Settings, as_dict
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}


def _commands(parser: argparse.ArgumentParser, prefix: str = "rag") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(f"{prefix} {name}")
                out += _commands(sub, f"{prefix} {name}")
    return out


def test_every_command_is_in_the_readme_table():
    commands = _commands(build_parser())
    assert "rag forget" in commands and "rag keys create" in commands
    table = "\n".join(line for line in README.splitlines() if line.startswith("| `rag "))
    missing = [c for c in commands if f"`{c}" not in table and f"{c} " not in table and f"{c}`" not in table]
    assert missing == []


def test_every_setting_is_in_the_settings_page():
    page = DOCS["settings.md"]
    names = ["data_dir"] + [f"{s}.{k}" for s, values in as_dict(Settings()).items() if s != "data_dir" for k in values]
    missing = [n for n in names if f"`{n}`" not in page]
    assert missing == []


def test_readme_links_resolve_and_stay_short():
    for target in re.findall(r"\]\(([^)#]+)", README):
        assert (ROOT / target).exists(), target
    assert len(README.encode()) < 12_000
