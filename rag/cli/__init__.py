"""The `rag` command: parses flags, builds settings once, calls the library, prints results.

One module per command group (`index`, `query`, `serve`, `training`); each command parses, calls one library
function and prints. Every library error becomes one line on stderr and a non-zero exit code; no tracebacks
unless RAG_DEBUG=1.
"""

from __future__ import annotations

import argparse
import os
import sys

from rag.cli import index, query, serve, training
from rag.cli.common import EXIT_PARTIAL, Help, common_flags, settings_from
from rag.errors import RagError, mask_secrets

__all__ = ["EXIT_PARTIAL", "build_parser", "main"]
COMMANDS = {**index.COMMANDS, **query.COMMANDS, **serve.COMMANDS, **training.COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    common = common_flags()
    parser = argparse.ArgumentParser(prog="rag", description="Answer questions from your own support documentation.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, description: str = "", parents=()) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, parents=[common, *parents], help=help, description=description or help, formatter_class=Help
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

    for group in (index, query, serve, training):
        group.add_parsers(command, remote, retriever, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        return COMMANDS[args.command](args, settings)
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


if __name__ == "__main__":
    sys.exit(main())
