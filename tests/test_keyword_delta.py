"""A small change to a large keyword index is a delta beside it, scored like the built index; a large one, or
one the index cannot take, rebuilds it."""

from __future__ import annotations

import json
import shutil

from rag.storage.lexical import DELTA_FILE, DELTA_MIN, INDEX_DIR, BM25Index
from tests.conftest import KB


def test_one_changed_file_is_a_delta_and_scores_as_a_rebuild_would(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_INGEST_KEYWORD_DELTA_FROM", "0")  # the sample is small; deltas start at 50,000 chunks
    docs = tmp_path / "docs"
    shutil.copytree(KB, docs)
    data = tmp_path / "d"
    assert cli("ingest", docs, "--data-dir", data, "--quiet")[0] == 0
    built = (data / INDEX_DIR / "ids.json").stat().st_mtime_ns
    page = docs / "internet" / "vpn-setup.md"
    page.write_text(page.read_text().replace("VPN", "Zorblat tunnel", 3) + "\n\nThe quokkafax relay needs port 7741.\n")
    (docs / "billing" / "payment-methods.txt").unlink()
    code, out, _ = cli("ingest", docs, "--data-dir", data, "--json")
    assert code == 0 and json.loads(out)["updated"] == 1 and json.loads(out)["removed"] == 1
    assert (data / INDEX_DIR / "ids.json").stat().st_mtime_ns == built  # not rebuilt
    assert (data / INDEX_DIR / DELTA_FILE).is_file()
    delta = BM25Index.load(data)
    hits = delta.search("quokkafax relay port", 3)
    assert hits and hits[0][0] in {c[0] for c in _chunks(data, "internet/vpn-setup.md")}
    code, out, _ = cli(
        "search", "which payment methods are accepted", "--data-dir", data, "--json", "--retriever", "bm25"
    )
    assert all(h["source"] != "billing/payment-methods.txt" for h in json.loads(out))
    # The same index rebuilt from the catalog ranks the same chunks first (scores differ a little: a term new to
    # the delta has no document frequency in the built index yet).
    from rag.storage.catalog import Catalog

    catalog = Catalog.open(data / "catalog.sqlite3")
    rebuilt_dir = tmp_path / "rebuilt"
    BM25Index.build(((c.id, c.text) for c in catalog.chunks()), rebuilt_dir)
    catalog.close()
    rebuilt = BM25Index.load(rebuilt_dir)
    assert delta.size == rebuilt.size
    for question in ("quokkafax relay port", "zorblat tunnel setup on windows", "reset my router"):
        got, want = delta.search(question, 3), rebuilt.search(question, 3)
        assert got[0][0] == want[0][0], question
        assert {i for i, _ in got} == {i for i, _ in want}, question


def _chunks(data, source: str) -> list[tuple[str, str]]:
    from rag.storage.catalog import Catalog

    catalog = Catalog.open(data / "catalog.sqlite3", readonly=True)
    try:
        return [(c.id, c.text) for c in catalog.chunks() if c.metadata["source"] == source]
    finally:
        catalog.close()


def test_a_delta_too_large_or_an_index_without_statistics_means_a_rebuild(tmp_path):
    BM25Index.build([(f"c{n}", f"router {n} reset steps") for n in range(50)], tmp_path)
    many = [(f"n{n}", f"printer offline code{n}x") for n in range(DELTA_MIN + 1)]
    assert BM25Index.update(tmp_path, many, set()) is False
    assert BM25Index.update(tmp_path, many[:10], {"c1"}) is True
    index = BM25Index.load(tmp_path)
    assert index.size == 50 - 1 + 10
    assert index.search("printer offline code3x", 1)[0][0] == "n3"
    (tmp_path / INDEX_DIR / "meta.json").unlink()  # an index built before deltas existed
    assert BM25Index.update(tmp_path, many[10:20], set()) is False


def test_a_small_index_is_rebuilt_exactly_as_a_fresh_ingest_builds_it(cli, tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(KB, docs)
    data = tmp_path / "d"
    assert cli("ingest", docs, "--data-dir", data, "--quiet")[0] == 0
    (docs / "internet" / "new.md").write_text("# Quokkafax\n\nThe quokkafax relay needs port 7741.\n")
    assert cli("ingest", docs, "--data-dir", data, "--quiet")[0] == 0
    assert not (data / INDEX_DIR / DELTA_FILE).exists()
    assert cli("ingest", docs, "--data-dir", tmp_path / "fresh", "--quiet")[0] == 0
    incremental, fresh = BM25Index.load(data), BM25Index.load(tmp_path / "fresh")
    for question in ("quokkafax relay port", "reset my router"):
        assert incremental.search(question, 5) == fresh.search(question, 5)
