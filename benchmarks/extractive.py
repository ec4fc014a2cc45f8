"""Extractive answers (no chat model) against the dev sets' reference answers: token-F1 and length.

    python benchmarks/extractive.py DATASET_DIR [DATASET_DIR ...] [--k 5]

Each dataset must already be ingested in benchmarks/.data/<name>-fp32 (benchmarks/retrieval.py does that).
For every answerable question with an `answer`, retrieves as `rag ask` does and builds the extractive answer;
prints mean token-F1 (SQuAD-style, as `rag compare`), recall of the reference's words, and answer words.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.compare import normalise_tokens, token_f1  # noqa: E402
from rag.embed import make_embedder  # noqa: E402
from rag.evaluate import load_queries  # noqa: E402
from rag.extract import LABEL as EXTRACTIVE_LABEL  # noqa: E402
from rag.extract import extractive_answer  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import open_retriever  # noqa: E402

DATA = Path(__file__).parent / ".data"


def answer_words(text: str) -> list[str]:
    return normalise_tokens(text.replace(EXTRACTIVE_LABEL, ""))


def recall(answer: str, reference: str) -> float:
    got, want = set(answer_words(answer)), answer_words(reference)
    return sum(1 for w in want if w in got) / len(want) if want else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", type=Path, nargs="+")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    embedder = make_embedder(load_settings(environ={}).embedder)
    for dataset in args.datasets:
        settings = load_settings(environ={}, overrides={"data_dir": str(DATA / f"{dataset.name}-fp32")})
        retriever = open_retriever(settings, embedder)
        f1s, recalls, lengths = [], [], []
        for query in load_queries(dataset / "queries.dev.jsonl"):
            if not query.answer or not query.relevant:
                continue
            hits = retriever.search(query.question, args.k)
            text = extractive_answer(query.question, hits, retriever.lexical.terms, retriever.lexical.idf)
            f1s.append(token_f1(text.replace(EXTRACTIVE_LABEL, ""), query.answer))
            recalls.append(recall(text, query.answer))
            lengths.append(len(answer_words(text)))
        if not f1s:
            print(f"{dataset.name:<18} no reference answers to score against")
            continue
        print(
            f"{dataset.name:<18} n={len(f1s):<4} token-F1 {statistics.fmean(f1s):.3f}  "
            f"reference words recalled {statistics.fmean(recalls):.3f}  "
            f"answer words median {statistics.median(lengths):.0f}"
        )


if __name__ == "__main__":
    main()
