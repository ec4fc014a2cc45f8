"""Embeddings from a server, concurrently: throughput against a local OpenAI-compatible fake with latency.

    python benchmarks/embed_concurrency.py [--texts 2048] [--latency 0.05] [--busy-every 10] [--parallel 8]

The fake (tests/fake_openai.py) on 127.0.0.1 takes `--latency` seconds per request, works on at most
`--parallel` requests at once (a GPU service's batch slots), and answers every `--busy-every`-th request 429
with a Retry-After. Prints texts per second for `embedder.concurrency` 1..16: it grows with concurrency until
the server's parallelism is the limit, and every text is embedded despite the 429s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import make_embedder  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--busy-every", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32, help="embedder.api_batch_size")
    args = parser.parse_args()
    texts = [
        f"chunk {n}: restart the router, then check the modem lights and the cable {n % 97}" for n in range(args.texts)
    ]
    print(
        f"{args.texts} texts, {args.batch} per request, {args.latency * 1000:.0f} ms per request, server works on "
        f"{args.parallel} at once, 429 every {args.busy_every}th request"
    )
    print(f"{'concurrency':>12}{'texts/s':>10}{'requests':>10}{'429s':>7}{'seconds':>9}")
    for concurrency in (1, 2, 4, 8, 16):
        fake = FakeOpenAI(delay_s=args.latency, busy_every=args.busy_every, parallel=args.parallel).start()
        try:
            settings = load_settings(
                environ={"OPENAI_API_KEY": "sk-bench"},
                overrides={
                    "embedder": {
                        "provider": "openai",
                        "base_url": fake.url,
                        "dimension": fake.dimension,
                        "api_batch_size": args.batch,
                        "concurrency": concurrency,
                    }
                },
            )
            embedder = make_embedder(settings.embedder)
            t0 = time.perf_counter()
            vectors = embedder.embed(texts)
            seconds = time.perf_counter() - t0
            assert vectors.shape == (len(texts), fake.dimension)
            busy = len(fake.requests) // args.busy_every if args.busy_every else 0
            print(f"{concurrency:>12}{len(texts) / seconds:>10.0f}{len(fake.requests):>10}{busy:>7}{seconds:>9.2f}")
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
