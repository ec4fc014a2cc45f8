"""Load on `rag serve`: requests/s and latency percentiles for /v1/search and extractive chat completions at
1, 4 and 16 concurrent clients, and the server's memory over a long run. 127.0.0.1 only, bounded.

    python benchmarks/serve_load.py [--data-dir benchmarks/.data/aws_docs_qa-fp32]
        [--queries ../shared/eval/aws_docs_qa/queries.dev.jsonl] [--requests 400] [--long 10000]

The data directory must hold an ingested index (benchmarks/retrieval.py makes it). The server runs as its
own process (`rag serve`), with the query log off so the run leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


_RUN = [0]  # which run this is: distinct questions never repeat across runs either


def _numbered(body: dict, n: int) -> dict:
    tag = f" (#{_RUN[0]}-{n})"
    if "query" in body:
        return {**body, "query": body["query"] + tag}
    return {**body, "messages": [{**body["messages"][0], "content": body["messages"][0]["content"] + tag}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(url: str, path: str, bodies: list[dict], clients: int, total: int, distinct: bool = False) -> dict:
    """`distinct`: every request's question differs (a counter is appended), so the server's cache of
    question embeddings never answers: the cost of a question never seen before."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=120) as http:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t0 = time.perf_counter()
                body = bodies[n % len(bodies)]
                if distinct:
                    body = _numbered(body, n)
                response = http.post(path, json=body)
                elapsed = (time.perf_counter() - t0) * 1000
                ok = response.status_code == 200
                with lock:
                    latencies.append(elapsed)
                    errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(pct(0.95), 1),
        "p99_ms": round(pct(0.99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / ".data" / "aws_docs_qa-fp32")
    parser.add_argument(
        "--queries", type=Path, default=ROOT.parent / "shared" / "eval" / "aws_docs_qa" / "queries.dev.jsonl"
    )
    parser.add_argument("--requests", type=int, default=400, help="requests per (endpoint, clients) cell")
    parser.add_argument("--long", type=int, default=10_000, help="search requests of the memory run (4 clients)")
    parser.add_argument("--threads", type=int, default=0, help="embedder.threads of the server (0: one per core)")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="every question different (its embedding never cached); default: the questions in turn, as a team asks",
    )
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in args.queries.read_text().splitlines() if line.strip()]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(args.data_dir), RAG_LOG_ENABLED="false", RAG_EMBEDDER_THREADS=str(args.threads))
    server = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        status = httpx.get(f"{url}/v1/status").json()
        print(f"rag serve on {status['documents']} documents, {status['chunks']} chunks; {len(questions)} questions")
        searches = [{"query": q, "k": 5} for q in questions]
        chats = [{"model": "rag", "messages": [{"role": "user", "content": q}]} for q in questions]
        run(url, "/v1/search", searches, 2, 40)  # warm-up
        head = ("endpoint", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms")
        print(f"{head[0]:<22}" + "".join(f"{h:>9}" for h in head[1:]))
        for path, bodies in (("/v1/search", searches), ("/v1/chat/completions", chats)):
            for clients in (1, 4, 16):
                _RUN[0] += 1
                r = run(url, path, bodies, clients, args.requests, args.distinct)
                cells = (r["clients"], r["requests"], r["errors"], r["rps"], r["p50_ms"], r["p95_ms"], r["p99_ms"])
                print(f"{path:<22}" + "".join(f"{c:>9}" for c in cells), flush=True)
        if args.long:
            samples = [rss_mb(server.pid)]
            step = max(args.long // 10, 1)
            for _ in range(10):
                r = run(url, "/v1/search", searches, 4, step)
                samples.append(rss_mb(server.pid))
                if r["errors"]:
                    print(f"errors in the long run: {r['errors']}")
            print(
                f"memory over {args.long} searches at 4 clients (MB, every {step}): "
                + " ".join(f"{m:.0f}" for m in samples)
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
