"""The docs folder must not reach outside itself, and no entry in it may hang the run."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "router.md").write_text("# Router\n\nHold the reset button for ten seconds to restore defaults.\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("root:x:0:0:secret-machine-account\n")
    os.symlink(outside, folder / "passwd.txt")  # a link out of the folder
    (folder / "notes").mkdir()
    (folder / "notes" / "inside.md").write_text("# Inside\n\nA linked page about modem lights blinking amber.\n")
    os.symlink(folder / "notes" / "inside.md", folder / "alias.md")  # a link that stays inside
    return folder


def ingest(cli, folder, data, *extra):
    code, out, err = cli("ingest", folder, "--json", "--data-dir", data, *extra)
    return code, json.loads(out) if out.strip() else None, err


def test_symlink_out_of_the_folder_is_skipped_with_a_reason(cli, docs, tmp_path):
    data = tmp_path / "d"
    code, report, _ = ingest(cli, docs, data)
    assert code == 0
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["passwd.txt"] == "symlink to a file outside the folder (pass --follow-symlinks to ingest it)"
    code, out, _ = cli("search", "secret machine account", "--retriever", "bm25", "--json", "--data-dir", data)
    assert "passwd.txt" not in {r["source"] for r in json.loads(out)}
    # A link that stays inside the folder is an ordinary document.
    assert report["added"] == 3  # router.md, notes/inside.md, alias.md


def test_follow_symlinks_ingests_it(cli, docs, tmp_path):
    data = tmp_path / "d"
    code, report, _ = ingest(cli, docs, data, "--follow-symlinks")
    assert code == 0 and "passwd.txt" not in {s["path"] for s in report["skipped"]}
    code, out, _ = cli("search", "secret machine account", "--retriever", "bm25", "--json", "--data-dir", data)
    assert "passwd.txt" in {r["source"] for r in json.loads(out)}


@pytest.mark.parametrize("dry_run", [False, True])
def test_fifos_and_devices_are_never_opened(cli, docs, tmp_path, dry_run):
    os.mkfifo(docs / "pipe.md")  # opening it for reading would block until a writer comes
    os.symlink("/dev/zero", docs / "zero.md")  # reading it never ends
    (docs / "notes" / "null.md").symlink_to(docs / "pipe.md")  # a link to the FIFO, inside the folder
    code, report, err = ingest(cli, docs, tmp_path / "d", *(["--dry-run"] if dry_run else []))
    assert code == 0, err
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped["pipe.md"] == "a FIFO, not a regular file"
    assert skipped["notes/null.md"] == "a FIFO, not a regular file"
    assert skipped["zero.md"] == "symlink to a file outside the folder (pass --follow-symlinks to ingest it)"
    if not dry_run:
        code, report, _ = ingest(cli, docs, tmp_path / "d2", "--follow-symlinks")
        assert {s["path"]: s["reason"] for s in report["skipped"]}["zero.md"] == "a device, not a regular file"
