"""CLI commands of the fine-tuning leg: export-finetune, validate-data, finetune, log, compare."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rag.cli.common import add_json
from rag.errors import ConfigError, InputError


def add_parsers(command, remote, retriever, common) -> None:
    """`command(name, help, description="")` makes a sub-command parser; `common` holds --config and
    --data-dir, which every sub-sub-command takes too."""
    p = command("export-finetune", "write fine-tuning JSONL from the knowledge base")
    p.add_argument("out", help="output file, e.g. train.jsonl (with --val-split: OUT.train.jsonl and OUT.val.jsonl)")
    p.add_argument("--questions", help="questions (text lines or JSONL) to answer with --model from retrieved context")
    p.add_argument("--generate", type=int, default=0, metavar="N", help="N synthetic questions per passage")
    p.add_argument("--from-log", action="store_true", help="add answers recorded by `rag ask`")
    p.add_argument("--only-good", action="store_true", help="with --from-log: only answers rated good")
    p.add_argument(
        "--include-ungrounded",
        action="store_true",
        help="with --from-log: also answers not drawn from the documents (few-shot and plain modes)",
    )
    p.add_argument("--no-kb-qa", action="store_true", help="leave out the index's own Q&A records")
    p.add_argument("--with-context", action="store_true", help="user turns carry retrieved passages, as `rag ask`")
    p.add_argument("--format", default="chat", choices=["chat", "prompt-completion"], help="line format")
    p.add_argument("--val-split", type=float, default=0.0, help="share of examples held out for validation")
    p.add_argument("--seed", type=int, default=7, help="how examples are dealt into the split")
    p.add_argument("--model", default="base", help="model that answers --questions / --generate")
    p.add_argument("-k", type=int, default=None, help="passages per question; default: retrieve.k")
    add_json(p)

    p = command("validate-data", "check a fine-tuning JSONL file: format, tokens, epochs, cost")
    p.add_argument("file", help="the JSONL file")
    p.add_argument("--base", help="base model; default: finetune.base")
    p.add_argument("--epochs", type=int, help="epochs to estimate for; default: OpenAI's heuristic")
    add_json(p)

    p = command("finetune", "run and follow OpenAI fine-tuning jobs")
    nested = {"parents": [common], "formatter_class": p.formatter_class}
    fsub = p.add_subparsers(dest="action", required=True)
    s = fsub.add_parser("start", help="validate, upload, create the job, follow it", **nested)
    s.add_argument("train", help="training JSONL")
    s.add_argument("--validation", help="validation JSONL (one example or more)")
    s.add_argument("--base", help="base model; default: finetune.base")
    s.add_argument("--suffix", help="name suffix of the fine-tuned model; default: finetune.suffix")
    s.add_argument("--epochs", type=int, help="training epochs; default: OpenAI's choice")
    s.add_argument("--no-follow", action="store_true", help="start the job and return")
    s = fsub.add_parser("status", help="a job's state (default: the last one started)", **nested)
    s.add_argument("job", nargs="?", help="job id; default: the last one started")
    s.add_argument("--follow", action="store_true", help="follow its events until it ends")
    add_json(s)
    s = fsub.add_parser("list", help="recent jobs", **nested)
    add_json(s)
    s = fsub.add_parser("events", help="a job's events", **nested)
    s.add_argument("job", help="job id")
    s = fsub.add_parser("cancel", help="cancel a job", **nested)
    s.add_argument("job", help="job id")

    p = command("log", "the query log of `rag ask`")
    nested = {"parents": [common], "formatter_class": p.formatter_class}
    lsub = p.add_subparsers(dest="action", required=True)
    s = lsub.add_parser("list", help="recent questions and answers", **nested)
    s.add_argument("-n", type=int, default=20, help="how many (default 20)")
    add_json(s)
    s = lsub.add_parser(
        "rate", help="rate an answer (rated answers feed export-finetune --from-log --only-good)", **nested
    )
    s.add_argument("id", type=int, help="the answer's id in `rag log list`")
    s.add_argument("rating", choices=["good", "bad"], help="good or bad")

    p = command("compare", "answer questions under several models and modes, side by side")
    p.add_argument("questions", help='JSONL with "question" (and optionally "answer", "relevant_docs")')
    p.add_argument("--models", default="base", help="comma-separated: base, finetuned, model ids")
    p.add_argument("--modes", default="rag", help="comma-separated: rag, plain, few-shot")
    p.add_argument("--out", help="write the report here (.md, or .json)")
    add_json(p)


def _client(settings):
    from rag.client import make_client

    c = settings.chat
    return make_client(c.base_url, c.api_key_env, c.timeout_s, c.max_retries)


def _chat(settings, choice: str):
    from rag.answer import resolve_model
    from rag.generate import OpenAIChat

    name = resolve_model(settings, choice)
    if not name:
        raise ConfigError("this needs a chat model; set chat.base (RAG_CHAT_BASE), e.g. --config configs/openai.toml")
    return OpenAIChat(settings.chat, name)


def cmd_export(args, settings) -> int:
    from rag.export import (
        answered_examples,
        generated_examples,
        kb_examples,
        log_examples,
        read_questions,
        write_export,
    )
    from rag.wiring import open_catalog, open_retriever

    catalog = open_catalog(settings)
    k = args.k or settings.retrieve.k
    needs_retriever = args.questions or args.generate or args.with_context
    retriever = open_retriever(settings) if needs_retriever else None
    chat = _chat(settings, args.model) if (args.questions or args.generate) else None
    examples = []
    if not args.no_kb_qa:
        examples += list(kb_examples(c for c in catalog.chunks() if c.metadata.get("kind") == "qa"))
    if args.questions:
        examples += list(answered_examples(read_questions(Path(args.questions)), retriever, chat, k))
    if args.generate:
        from rag.retrieve import StoredChunk, to_hit

        passages = [
            to_hit(StoredChunk(c.id, c.text, c.metadata, 1.0))
            for c in catalog.chunks()
            if c.metadata.get("kind") == "passage"
        ]
        examples += list(generated_examples(passages, args.generate, chat))
    if args.from_log:
        from rag.querylog import QueryLog, log_path

        log = QueryLog(log_path(settings.data_path))
        entries = log.entries(only_good=args.only_good)
        examples += list(log_examples(entries, grounded_only=not args.include_ungrounded))
        log.close()
    context_for = (lambda q: retriever.search(q, k)) if args.with_context else None
    result = write_export(examples, Path(args.out), args.format, context_for, args.val_split, args.seed)
    if args.json:
        print(json.dumps(result.__dict__, indent=2))
    else:
        for path, n in result.files.items():
            print(f"wrote {n} examples to {path}")
        if result.note:
            print(result.note)
        print(
            f"provenance in {result.provenance}; by origin: "
            + ", ".join(f"{k} {v}" for k, v in result.by_origin.items())
            + f"; near-duplicates dropped: {result.dropped_duplicates}"
        )
    return 0


def cmd_validate(args, settings) -> int:
    from rag.validate import validate_file

    report = validate_file(Path(args.file), args.base or settings.finetune.base, settings.finetune, args.epochs)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print_report(report)
    return 2 if report.errors else 0


def print_report(report) -> None:
    rows = [
        ("file", report.path),
        ("format", report.format),
        ("base model", report.base),
        ("examples", report.examples),
        ("tokens total", report.tokens_total),
        ("tokens per example", f"max {report.tokens_max}, mean {report.tokens_mean:.0f}, limit {report.token_limit}"),
        ("epochs", report.epochs),
        ("billed tokens", report.billed_tokens),
        (
            "estimated cost",
            "unknown (no price for this model in settings)" if report.cost_usd is None else f"${report.cost_usd:.2f}",
        ),
    ]
    for name, value in rows:
        print(f"{name:<20}{value}")
    for issue in report.issues:
        where = f"line {issue.line}" if issue.line else "file"
        print(f"{issue.severity:<8}{where}: {issue.message}")
    print("OK: ready to fine-tune" if not report.errors else f"{len(report.errors)} error(s): fix them first")


def _print_event(event: Any) -> None:
    print(f"  [{event.level}] {event.message}", flush=True)


def cmd_finetune(args, settings) -> int:
    from rag.finetune import FineTuner, read_registry

    tuner = FineTuner(_client(settings), settings.data_path)
    if args.action == "start":
        return _start(args, settings, tuner)
    if args.action == "list":
        jobs = tuner.list()
        if args.json:
            print(json.dumps([j.as_json() for j in jobs], indent=2))
        for job in [] if args.json else jobs:
            print(f"{job.id}  {job.status:<16}{job.model}  {job.fine_tuned_model}")
        return 0
    job_id = getattr(args, "job", None) or read_registry(settings.data_path).get("last_job")
    if not job_id:
        raise InputError("no job given and none started from here; see `rag finetune list`")
    if args.action == "events":
        for event in tuner.events(job_id):
            _print_event(event)
        return 0
    if args.action == "cancel":
        print(f"{job_id}: {tuner.cancel(job_id).status}")
        return 0
    job = tuner.follow(job_id, _print_event, settings.finetune.poll_s) if args.follow else tuner.retrieve(job_id)
    if args.json:
        print(json.dumps(job.as_json(), indent=2))
    else:
        _print_job(job)
        if args.follow and job.status == "succeeded":
            print(f"registered {job.fine_tuned_model} as the finetuned model")
    return 3 if job.status in {"failed", "cancelled"} else 0


def _print_job(job) -> None:
    print(f"job {job.id}: {job.status} (base {job.model})")
    if job.fine_tuned_model:
        print(f"model {job.fine_tuned_model}")
    if job.error:
        print(f"error: {job.error}")


def _start(args, settings, tuner) -> int:
    from rag.finetune import read_registry
    from rag.validate import validate_file

    read_registry(settings.data_path)  # a damaged registry is reported before any remote work starts
    base = args.base or settings.finetune.base
    paths = [Path(args.train)] + ([Path(args.validation)] if args.validation else [])
    for path, role in zip(paths, ("training", "validation"), strict=False):
        report = validate_file(path, base, settings.finetune, args.epochs, role)
        if report.errors:
            print_report(report)
            raise InputError(f"{path} has {len(report.errors)} error(s); fix them, then run this again")
    train_id = tuner.upload(paths[0])
    val_id = tuner.upload(paths[1]) if args.validation else None
    job = tuner.create(base, train_id, val_id, args.suffix or settings.finetune.suffix, args.epochs)
    try:  # from here on, Ctrl-C leaves the job running and says how to follow it again
        print(f"started job {job.id} on {base} (training file {train_id})", flush=True)
        if args.no_follow:
            print(f"follow it with `rag finetune status {job.id} --follow`")
            return 0
        job = tuner.follow(job.id, _print_event, settings.finetune.poll_s)
    except KeyboardInterrupt:
        print(
            f"\ndetached; the job goes on. Follow it again with `rag finetune status {job.id} --follow`",
            file=sys.stderr,
        )
        return 130
    _print_job(job)
    if job.status == "succeeded":
        print(f'registered {job.fine_tuned_model} as the finetuned model: `rag ask --model finetuned "..."`')
        return 0
    return 3  # failed or cancelled


def cmd_log(args, settings) -> int:
    from rag.querylog import QueryLog, log_path

    log = QueryLog(log_path(settings.data_path))
    try:
        if args.action == "rate":
            log.rate(args.id, args.rating)
            print(f"rated {args.id} {args.rating}")
            return 0
        entries = list(log.entries(limit=args.n))
    finally:
        log.close()
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2, ensure_ascii=False))
        return 0
    for e in entries:
        rating = f" [{e.rating}]" if e.rating else ""
        print(f"{e.id:>5}  {e.mode:<8} {e.model:<24} {e.question[:70]}{rating}")
    return 0


def cmd_compare(args, settings) -> int:
    from rag.answer import MODES, ask, resolve_model
    from rag.compare import run_compare, to_json, to_markdown
    from rag.evaluate import load_queries
    from rag.wiring import open_retriever

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    for model in models:
        resolve_model(settings, model)  # fail before any question is asked
    queries = load_queries(Path(args.questions))
    retriever = open_retriever(settings) if any(m != "plain" for m in modes) else None
    rows = run_compare(
        queries,
        [(m, mode) for m in models for mode in modes],
        lambda q, model, mode: ask(q, settings, retriever, mode=mode, model_choice=model),
    )
    report_json = to_json(rows)
    text = (
        json.dumps(report_json, indent=2, ensure_ascii=False)
        if args.json or (args.out and args.out.endswith(".json"))
        else to_markdown(rows)
    )
    if args.out:
        from rag.files import write_atomically

        write_atomically({Path(args.out): text})
        print(f"wrote {args.out}")
        for config, s in report_json["summary"].items():
            print(f"  {config}: token F1 {s['token_f1']}, cited a relevant doc {s['source_hit_rate']}")
    else:
        print(text)
    return 0


COMMANDS = {
    "export-finetune": cmd_export,
    "validate-data": cmd_validate,
    "finetune": cmd_finetune,
    "log": cmd_log,
    "compare": cmd_compare,
}
