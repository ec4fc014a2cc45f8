"""`rag search`, `eval`, `tune`, `ask`, `chat`: questions to the index, locally or through `rag serve`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rag.cli.common import add_json, notice, print_json, remote_from


def add_parsers(command, remote: argparse.ArgumentParser, retriever: argparse.ArgumentParser, common) -> None:
    p = command("search", "show the chunks that best match a query", parents=[retriever, remote])
    p.add_argument("query", help="what to look for")
    p.add_argument("-k", type=int, default=None, help="how many chunks; default: retrieve.k (5)")
    add_json(p)

    p = command("eval", "retrieval and abstention metrics on a labelled question file", parents=[retriever])
    p.add_argument(
        "queries", help="JSONL: {question, relevant_docs: [paths relative to the ingested folder]}; [] = unanswerable"
    )
    p.add_argument("-k", type=int, default=10, help="documents ranked per question")
    p.add_argument("--misses", type=int, default=5, help="how many of the worst misses to list")
    add_json(p)

    p = command("tune", "choose ranking and abstention settings for your own labelled questions (cross-validated)")
    p.add_argument("queries", help="JSONL: {question, relevant_docs: [...]}; [] marks an unanswerable question")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=7, help="how questions are dealt into folds")
    p.add_argument("--out", help="write the chosen settings as a TOML snippet to this file")
    add_json(p)

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
    add_json(p)

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


def cmd_search(args, settings) -> int:
    from rag.wiring import open_retriever

    remote = remote_from(args)
    if remote:
        rows = remote.search(args.query, settings.retrieve.k, getattr(args, "retriever", None))
    else:
        retriever = open_retriever(settings)
        notice(retriever.notice)
        rows = [h.as_json(n) for n, h in enumerate(retriever.search(args.query, settings.retrieve.k), 1)]
    if args.json:
        print_json(rows)
        return 0
    for n, row in enumerate(rows, 1):
        print(f"[{n}] {row['score']:.3f} (similarity {row['similarity']:.2f})  {row['label']}")
        snippet = " ".join(row["text"].split())
        print(f"    {snippet[:240]}{'...' if len(snippet) > 240 else ''}")
    return 0


def cmd_eval(args, settings) -> int:
    from rag.evaluate import load_queries, run_queries, score, worst_misses
    from rag.wiring import open_retriever, ranker

    queries = load_queries(Path(args.queries))
    retriever = open_retriever(settings)
    notice(retriever.notice)
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
        print_json(
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
    from rag.evaluate import load_queries
    from rag.files import write_atomically
    from rag.tune import tune
    from rag.wiring import open_retriever

    if args.folds < 2:
        from rag.errors import InputError

        raise InputError("--folds must be at least 2")
    queries = load_queries(Path(args.queries))
    report = tune(queries, open_retriever(settings), settings, folds=args.folds, seed=args.seed)
    if args.out:
        write_atomically({Path(args.out): report.toml()})
    if args.json:
        print_json(
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


def ask_remote(args, remote) -> int:
    final = remote.ask(args.question, args.model, args.mode, None if args.json else print_token)
    if args.json:
        keep = ("answer", "answer_id", "mode", "answered_by", "abstained", "reason", "notice", "sources")
        print_json({k: final.get(k) for k in keep})
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


def print_token(token: str) -> None:
    print(token, end="", flush=True)


def cmd_ask(args, settings) -> int:
    from rag.answer import ask
    from rag.wiring import open_retriever

    remote = remote_from(args)
    if remote:
        return ask_remote(args, remote)

    retriever = None if args.mode == "plain" else open_retriever(settings)
    notice(retriever.notice if retriever else "")
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
        notice(
            f"{settings.chat.api_key_env} is set but no chat model is configured, so this answer is quoted: "
            "answer with a model by --config configs/openai.toml, or set RAG_CHAT_BASE"
        )
    if args.json:
        data = answer.as_json()
        data["sources"] = [{**s, "label": h.label} for s, h in zip(data["sources"], answer.sources, strict=False)]
        print_json(data)
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
    from rag.followup import standalone
    from rag.generate import OpenAIChat
    from rag.messages import Message
    from rag.wiring import open_retriever

    retriever = open_retriever(settings)
    notice(retriever.notice)
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
            answer = ask(turn.question, settings, retriever, model_choice=args.model, on_token=print_token)
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


COMMANDS = {
    "search": cmd_search,
    "eval": cmd_eval,
    "tune": cmd_tune,
    "ask": cmd_ask,
    "chat": cmd_chat,
}
