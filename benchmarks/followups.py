"""Follow-up questions: retrieval hit@5 of the second turn alone, and made standalone (no chat model).

    python benchmarks/followups.py [CONVERSATIONS.jsonl] [--data-dir DIR]

Conversations (default tests/fixtures/followups.jsonl: 20 two-turn conversations over knowledge_base/):
{"first", "followup", "relevant_docs"}. The knowledge base is ingested into --data-dir first (incremental).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.embed import make_embedder  # noqa: E402
from rag.followup import standalone  # noqa: E402
from rag.messages import Message  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import ingest, open_retriever  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("conversations", type=Path, nargs="?", default=ROOT / "tests" / "fixtures" / "followups.jsonl")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / ".data" / "kb-fp32")
    args = parser.parse_args()
    settings = load_settings(environ={}, overrides={"data_dir": str(args.data_dir)})
    embedder = make_embedder(settings.embedder)
    ingest(settings, ROOT / "knowledge_base", embedder)
    retriever = open_retriever(settings, embedder)
    rows = [json.loads(line) for line in args.conversations.read_text().splitlines() if line.strip()]
    hits = {("alone", 1): 0, ("alone", 5): 0, ("standalone", 1): 0, ("standalone", 5): 0}
    for row in rows:
        relevant = set(row["relevant_docs"])
        messages = [Message("user", row["first"]), Message("assistant", "..."), Message("user", row["followup"])]
        question = standalone(messages).question
        for label, text in (("alone", row["followup"]), ("standalone", question)):
            ranked = retriever.documents(text, 5)
            for k in (1, 5):
                hits[(label, k)] += bool(relevant & set(ranked[:k]))
        print(f"{row['id']}: {question!r}")
    n = len(rows)
    for k in (1, 5):
        print(
            f"hit@{k} of the follow-up: alone {hits[('alone', k)]}/{n}, made standalone {hits[('standalone', k)]}/{n}"
        )


if __name__ == "__main__":
    main()
