"""Shared state that readers see while others change it: each race is forced at a known step (no sleeps)."""

from __future__ import annotations

import os

from rag.retrieve import LookupCache, Retriever
from rag.storage.lexical import BM25Index
from rag.wiring import open_retriever


def test_an_entry_evicted_between_check_and_read_is_not_an_error(settings_for, embedder):
    """A cache smaller than one question's candidates evicts its own entries while they are read."""
    base = open_retriever(settings_for(), embedder)
    tiny = LookupCache(max_rows=2)
    retriever = Retriever(embedder, base.store, base.settings, base.lexical, base.catalog, tiny)
    hits = retriever.search("my router keeps dropping the wifi connection", 20)
    assert len(hits) == 20 and len(tiny.rows) <= 3


def test_the_prefix_map_is_published_only_when_complete(kb_data):
    """A caller that asks while the map is being filled (forced here: from inside the fill) sees the whole map
    or builds its own, never a part of it."""
    index = BM25Index.load(kb_data)
    vocab = index._retriever.vocab_dict
    full = sorted(t for t in vocab if t.startswith("ro"))
    seen = []

    class Interrupting(dict):
        def __iter__(self):
            for n, term in enumerate(dict.__iter__(self)):
                if n == len(self) // 2 and not seen:
                    seen.append(None)
                    seen[0] = sorted(index.terms_starting("ro"))  # another request, mid-fill
                yield term

    index._retriever.vocab_dict = Interrupting(vocab)
    assert sorted(index.terms_starting("ro")) == full
    assert seen and seen[0] == full


def test_a_leftover_of_a_killed_swap_never_blocks_the_next_build(kb_copy):
    leftover = kb_copy / f".bm25-old-{os.getpid()}"
    (leftover / "bm25").mkdir(parents=True)
    (leftover / "bm25" / "ids.json").write_text("[]")
    BM25Index.build([("a", "router reset"), ("b", "printer offline")], kb_copy)
    assert BM25Index.load(kb_copy).size == 2
    assert not leftover.exists()
