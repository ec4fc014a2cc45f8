"""`rag serve` and `rag keys`: the team service and its API keys."""

from __future__ import annotations

import argparse
import sys

from rag.cli.common import Help, add_json, print_json

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def add_parsers(command, remote: argparse.ArgumentParser, retriever: argparse.ArgumentParser, common) -> None:
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
    nested = {"parents": [common], "formatter_class": Help}
    s = ksub.add_parser("create", help="make a key and print it once", **nested)
    s.add_argument(
        "--role", choices=["reader", "admin"], default="reader", help="reader: ask, search, rate; admin: also ingest"
    )
    s.add_argument("--name", default="", help="a name to recognise the key by; default: role and a short id")
    s = ksub.add_parser("list", help="the keys (names, roles, ids; never the keys)", **nested)
    add_json(s)
    s = ksub.add_parser("revoke", help="revoke a key by its id or name", **nested)
    s.add_argument("key", help="the key's id or name, as `rag keys list` shows it")


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
        print_json([{"id": r.id, "name": r.name, "role": r.role, "created_at": r.created_at} for r in records])
        return 0
    for r in records:
        when = dt.datetime.fromtimestamp(r.created_at).isoformat(timespec="seconds")
        print(f"{r.id}  {r.role:<7} {r.name}  (created {when})")
    if not records:
        print("no keys: `rag serve` binds loopback only")
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "keys": cmd_keys,
}
