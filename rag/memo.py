"""Retrieval parts that remember their answers, for trying many ranking settings on the same questions.

`rag tune` and the sweep benchmarks score dozens of settings on one question set: the question's embedding,
the dense and BM25 candidates and the catalog look-ups do not depend on the fusion settings, so each is
computed once. Only reading calls are remembered; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from rag.retrieve import Retriever
from rag.settings import RetrieveSettings


class _Remember:
    """Wraps an object; the named methods answer from a cache keyed by their arguments."""

    def __init__(self, inner: Any, methods: dict[str, Callable[..., Any]]):
        self._inner = inner
        self._cache: dict[tuple, Any] = {}
        self._keys = methods

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._keys:
            return attr
        key_of = self._keys[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            key = (name, key_of(*args, **kwargs))
            if key not in self._cache:
                result = attr(*args, **kwargs)
                self._cache[key] = list(result) if hasattr(result, "__next__") else result  # generators: once
            return self._cache[key]

        return call


def _texts(texts, *_: Any, **__: Any) -> tuple:
    return tuple(texts)


def _vector(vector: np.ndarray, k: int, where: dict | None = None) -> tuple:
    return (np.asarray(vector, dtype=np.float32).tobytes(), k, repr(where))


def _args(*args: Any, **kwargs: Any) -> tuple:
    def key(a: Any) -> Any:
        if isinstance(a, set | frozenset):
            return tuple(sorted(a))
        return tuple(a) if isinstance(a, list) else a

    return tuple(key(a) for a in args) + tuple(sorted(kwargs.items()))


class MemoRetriever:
    """One set of remembered parts; `with_settings` makes a retriever for any ranking settings."""

    def __init__(self, retriever: Retriever):
        embedder = _Remember(retriever.embedder, {"embed": _texts})
        embedder.info = retriever.embedder.info  # type: ignore[attr-defined]
        self.embedder = embedder
        self.store = _Remember(retriever.store, {"query": _vector})
        self.lexical = (
            _Remember(retriever.lexical, {"search": _args, "scores": _args, "terms": _texts, "idf": _args})
            if retriever.lexical
            else None
        )
        self.catalog = (
            _Remember(
                retriever.catalog,
                {
                    "chunks": lambda ids=None: None if ids is None else tuple(ids),
                    "cached_vectors": _args,
                    "lead_vectors": _args,
                },
            )
            if retriever.catalog
            else None
        )
        self.settings = retriever.settings

    def with_settings(self, **changes: Any) -> Retriever:
        settings: RetrieveSettings = replace(self.settings, **changes)
        return Retriever(self.embedder, self.store, settings, self.lexical, self.catalog)  # type: ignore[arg-type]
