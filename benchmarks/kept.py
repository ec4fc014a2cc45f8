"""Kept ratio per file of a documentation folder: how many of its words (markup removed) reach its chunks.

    python benchmarks/kept.py FOLDER [--under 0.8] [--show N]

Parses and chunks every file as `rag ingest` does (nothing is embedded or written) and prints the corpus
ratio, the files under the threshold, and the lowest ones.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.chunk import Chunker  # noqa: E402
from ingest.kept import kept_ratio, words  # noqa: E402
from ingest.parse import NoContent, ParseError, parse_file  # noqa: E402
from ingest.walk import walk_folder  # noqa: E402
from rag.embed import make_embedder  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--under", type=float, default=0.8)
    parser.add_argument("--show", type=int, default=10)
    args = parser.parse_args()
    settings = load_settings(environ={})
    embedder = make_embedder(settings.embedder)
    chunker = Chunker(settings.chunk, embedder.count_tokens, embedder.max_tokens)
    rows, total_want, total_kept, notes, skipped, failed = [], 0, 0.0, [], [], []
    for found in walk_folder(args.folder).files:
        try:
            doc = parse_file(found.path, found.source, args.folder)
        except NoContent as exc:
            skipped.append((found.source, str(exc)))
            continue
        except ParseError as exc:
            failed.append((found.source, str(exc)))
            continue
        texts = [c.text for c in chunker.chunk(doc, "kept")]
        ratio = kept_ratio(doc.reference, texts)
        n = sum(words(doc.reference).values())
        if ratio is None:
            continue
        rows.append((ratio, found.source, n))
        total_want += n
        total_kept += ratio * n
        notes += [(found.source, note) for note in doc.notes]
    rows.sort()
    under = [r for r in rows if r[0] < args.under]
    print(f"{args.folder}: {len(rows)} files, {total_want} words, kept {total_kept / max(total_want, 1):.1%}")
    print(f"files under {args.under:.0%}: {len(under)}")
    for ratio, source, n in rows[: args.show]:
        print(f"  {ratio:6.1%}  {source} ({n} words)")
    for source, reason in skipped:
        print(f"  skipped: {source}: {reason}")
    for source, reason in failed:
        print(f"  failed: {source}: {reason}")
    for source, note in notes:
        print(f"  note: {source}: {note}")
    print("top words lost:", _lost(args.folder, rows[: args.show], chunker))


def _lost(folder: Path, rows, chunker) -> str:
    lost: Counter[str] = Counter()
    for _, source, _ in rows:
        doc = parse_file(folder / source, source, folder)
        have = Counter()
        for chunk in chunker.chunk(doc, "kept"):
            have.update(words(chunk.text))
        for word, n in words(doc.reference).items():
            lost[word] += max(0, n - have[word])
    return ", ".join(f"{w} {n}" for w, n in lost.most_common(25))


if __name__ == "__main__":
    main()
