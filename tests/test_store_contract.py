"""What every vector store must do, run against each one `rag` can use: the embedded Chroma and a `chroma run`
server. A new store (docs/architecture.md) is added to `STORES` below and must pass the same tests."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import EmbedderInfo
from rag.settings import load_settings
from rag.storage.store import ChromaStore
from tests.test_chroma_server import chroma_server  # noqa: F401 (the fixture)

STORES = ["persistent", "http"]
INFO = EmbedderInfo("test:unit-vectors", 4)


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    overrides = {"data_dir": str(tmp_path), "store": {"mode": request.param, "collection": f"contract-{tmp_path.name}"}}
    if request.param == "http":
        overrides["store"]["port"] = request.getfixturevalue("chroma_server")
    return ChromaStore(load_settings(environ={}, overrides=overrides), INFO, create=True, owner="contract")


def vec(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_upsert_then_nearest_by_cosine_with_text_and_metadata(store):
    vectors = np.stack([vec(1, 0, 0, 0), vec(1, 1, 0, 0), vec(0, 0, 1, 0)])
    store.upsert(["a", "b", "c"], vectors, ["alpha", "beta", "gamma"], [{"source": f"{n}.md"} for n in "abc"])
    assert store.count() == 3 and store.ids() == {"a", "b", "c"}
    nearest = store.nearest(vec(1, 0.1, 0, 0), 2)
    assert [i for i, _ in nearest] == ["a", "b"] and nearest[0][1] > nearest[1][1] > 0
    [hit] = store.query(vec(0, 0, 1, 0), 1)
    assert (hit.id, hit.text, hit.metadata["source"]) == ("c", "gamma", "c.md") and hit.score == pytest.approx(1.0)


def test_upsert_replaces_and_delete_removes(store):
    store.upsert(["a"], np.stack([vec(1, 0, 0, 0)]), ["old"], [{"source": "a.md"}])
    store.upsert(["a"], np.stack([vec(0, 1, 0, 0)]), ["new"], [{"source": "a.md"}])
    assert store.count() == 1 and store.query(vec(0, 1, 0, 0), 1)[0].text == "new"
    store.delete(["a"])
    assert store.count() == 0 and store.nearest(vec(0, 1, 0, 0), 3) == []


def test_a_filter_on_metadata_is_applied(store):
    vectors = np.stack([vec(1, 0, 0, 0), vec(1, 0.05, 0, 0)])
    store.upsert(["p", "q"], vectors, ["passage", "pair"], [{"kind": "passage"}, {"kind": "qa"}])
    assert [i for i, _ in store.nearest(vec(1, 0, 0, 0), 2, {"kind": "qa"})] == ["q"]
