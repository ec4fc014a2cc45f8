"""The cost curve: `rag` at about 10k, 100k and 1M chunks, with the embedding model taken out.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--source DIR] [--work DIR]

A corpus of the wanted size is made from a real docs folder (default: ../shared/eval/rclone_docs/corpus, else
knowledge_base/): its Markdown and text files copied again and again, every copy perturbed (one word in seven
gets the copy's number), so no two chunks are the same text. Embeddings come from a deterministic, fast
stand-in served as an OpenAI-compatible endpoint on 127.0.0.1 (tests/fake_openai.py, 384 dimensions), so the
model's speed is out and everything else is measured. Per size it prints: ingest chunks/s, peak RSS of the
ingest, disk per chunk, a no-op re-ingest, a re-ingest after one file changed, a keyword-index build alone,
`rag serve` start-up time and memory, and search p50/p95 over HTTP (distinct questions, so no cache helps).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_openai import FakeOpenAI  # noqa: E402

RAG = ROOT / ".venv" / "bin" / "rag"
PY = ROOT / ".venv" / "bin" / "python"
_WORD = re.compile(r"\b([a-z]{5,})\b")


def make_corpus(source: Path, folder: Path, chunks_wanted: int, chunks_per_copy: int) -> int:
    files = sorted(p for p in source.rglob("*") if p.suffix in {".md", ".txt"} and p.is_file())
    copies = max(1, -(-chunks_wanted // chunks_per_copy))
    if folder.exists() and (folder / ".copies").is_file() and (folder / ".copies").read_text() == str(copies):
        return copies
    shutil.rmtree(folder, ignore_errors=True)
    texts = {f: f.read_text(encoding="utf-8", errors="replace") for f in files}
    for copy in range(copies):
        for f, text in texts.items():
            counter = [0]

            def perturb(m: re.Match[str], copy: int = copy, counter: list[int] = counter) -> str:
                counter[0] += 1
                return f"{m[1]}{copy}" if counter[0] % 7 == 0 else m[1]

            target = folder / f"copy{copy:04d}" / f.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_WORD.sub(perturb, text))
    (folder / ".copies").write_text(str(copies))
    return copies


def timed(cmd: list, env: dict) -> tuple[float, int, str]:
    """Seconds, peak RSS in MB (GNU time), stdout."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 5):
        raise SystemExit(f"{cmd[1]} failed ({done.returncode}): {done.stderr[-600:]}")
    rss = int(done.stderr.strip().splitlines()[-1]) // 1024
    return seconds, rss, done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_figures(data: Path, env: dict, questions: list[str]) -> dict:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(RAG), "serve", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit(f"rag serve failed: {proc.stderr.read().decode()[-600:]}") from None
                time.sleep(0.1)
        startup = time.perf_counter() - t0
        times = []
        for q in questions:
            body = json.dumps({"query": q, "k": 5}).encode()
            request = urllib.request.Request(f"{url}/v1/search", body, {"Content-Type": "application/json"})
            t1 = time.perf_counter()
            urllib.request.urlopen(request, timeout=60).read()
            times.append((time.perf_counter() - t1) * 1000)
        rss = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024
        times.sort()
        return {
            "startup_s": startup,
            "rss_mb": rss,
            "p50_ms": statistics.median(times[10:]),
            "p95_ms": times[10:][int(len(times[10:]) * 0.95) - 1],
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    default_source = ROOT.parent / "shared" / "eval" / "rclone_docs" / "corpus"
    parser.add_argument(
        "--source", type=Path, default=default_source if default_source.is_dir() else ROOT / "knowledge_base"
    )
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / ".data" / "scale")
    parser.add_argument("--questions", type=int, default=110)
    args = parser.parse_args()
    fake = FakeOpenAI(dimension=384).start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAG_")},
        "OPENAI_API_KEY": "sk-scale",
        "RAG_EMBEDDER_PROVIDER": "openai",
        "RAG_EMBEDDER_BASE_URL": fake.url,
        "RAG_EMBEDDER_MODEL": "stand-in",
        "RAG_EMBEDDER_DIMENSION": "384",
        "RAG_LOG_ENABLED": "false",
    }
    # Chunks one copy of the source makes: measured once on a copy of its own.
    probe = args.work / "probe"
    make_corpus(args.source, probe / "docs", 1, 10**9)
    _, _, out = timed([RAG, "ingest", probe / "docs", "--data-dir", probe / "data", "--json"], env)
    per_copy = json.loads(out)["total_chunks"]
    sample = next(p for p in sorted(args.source.rglob("*")) if p.suffix in {".md", ".txt"} and p.is_file())
    words = _WORD.findall(sample.read_text(errors="replace"))
    questions = [
        f"how do I configure {a} with {b} and {c}?" for a, b, c in zip(words, words[3:], words[7:], strict=False)
    ]
    questions = (questions * (args.questions // max(len(questions), 1) + 1))[: args.questions]
    questions = [f"{q} ({n})" for n, q in enumerate(questions)]  # distinct: the question cache never answers
    from rag.embed import make_embedder
    from rag.settings import load_settings

    stand_in = make_embedder(load_settings(environ=env).embedder)
    t0 = time.perf_counter()
    for q in questions[:20]:
        stand_in.embed([q])
    model_ms = (time.perf_counter() - t0) * 1000 / 20
    print(
        f"source {args.source} ({per_copy} chunks a copy); embeddings from a stand-in at {fake.url} "
        f"({model_ms:.1f} ms a question: part of every search below)"
    )
    head = (
        f"{'chunks':>9}{'files':>8}{'ingest/s':>9}{'peak MB':>8}{'KB/chunk':>9}{'no-op s':>8}{'1 file s':>9}"
        f"{'bm25 s':>7}{'bm25 MB':>8}{'serve s':>8}{'serve MB':>9}{'p50 ms':>7}{'p95 ms':>7}"
    )
    print(head, flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        folder, data = args.work / f"docs-{size}", args.work / f"data-{size}"
        copies = make_corpus(args.source, folder, size, per_copy)
        shutil.rmtree(data, ignore_errors=True)
        seconds, rss, out = timed([RAG, "ingest", folder, "--data-dir", data, "--json", "--quiet"], env)
        report = json.loads(out)
        chunks = report["total_chunks"]
        disk = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        noop, _, _ = timed([RAG, "ingest", folder, "--data-dir", data, "--quiet"], env)
        changed = next(folder.rglob("*.md"))
        changed.write_text(changed.read_text() + "\n\nOne more sentence about the router, for the changed-file run.\n")
        one, _, _ = timed([RAG, "ingest", folder, "--data-dir", data, "--quiet"], env)
        bm25, bm25_rss, _ = timed(
            [
                PY,
                "-c",
                "import sys; from pathlib import Path; from rag.storage.catalog import Catalog; "
                "from rag.storage.lexical import BM25Index; d = Path(sys.argv[1]); "
                "c = Catalog.open(d / 'catalog.sqlite3'); "
                "BM25Index.build(((x.id, x.text) for x in c.chunks()), d)",
                data,
            ],
            env,
        )
        served = serve_figures(data, env, questions)
        print(
            f"{chunks:>9}{report['files']:>8}{chunks / seconds:>9.0f}{rss:>8}{disk / chunks / 1024:>9.1f}"
            f"{noop:>8.1f}{one:>9.1f}{bm25:>7.1f}{bm25_rss:>8}{served['startup_s']:>8.1f}{served['rss_mb']:>9}"
            f"{served['p50_ms']:>7.1f}{served['p95_ms']:>7.1f}  ({copies} copies)",
            flush=True,
        )
    fake.stop()


if __name__ == "__main__":
    main()
