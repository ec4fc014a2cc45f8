"""Embedders: the local all-MiniLM-L6-v2 (default, offline) and OpenAI-compatible embeddings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ConfigError
from rag.settings import EmbedderSettings


@dataclass(frozen=True)
class EmbedderInfo:
    """What filled a collection; a collection refuses vectors from anything else."""

    name: str
    dimension: int


class Embedder(Protocol):
    info: EmbedderInfo

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Length of `text` in the model's own tokens (what its input limit is measured in)."""
        ...

    @property
    def max_tokens(self) -> int: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime from local files: mean pooling, L2 normalisation."""

    def __init__(self, variant: str = "fp32", model_root: Path | None = None, threads: int = 0, batch_size: int = 8):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from rag import minilm

        files = minilm.locate(variant, model_root)
        self._tokenizer = Tokenizer.from_file(str(files.tokenizer))
        self._tokenizer.enable_truncation(max_length=minilm.MAX_TOKENS)
        self._tokenizer.no_padding()
        self._counter = Tokenizer.from_file(str(files.tokenizer))
        self._counter.no_truncation()
        self._counter.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(files.model), options, providers=["CPUExecutionProvider"])
        self._batch_size = batch_size
        # The weights the model was built from are part of its name: vectors of the two never mix in one index.
        suffix = ("" if files.weights == "fp32" else f"-{files.weights}") + ("" if variant == "fp32" else f"-{variant}")
        self.info = EmbedderInfo(f"local:{minilm.MODEL_NAME}{suffix}", minilm.DIMENSION)
        self._max_tokens = minilm.MAX_TOKENS

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        # Untruncated, special tokens ([CLS], [SEP]) included: they count against the limit too.
        return len(self._counter.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads to a similar length: padding is wasted compute.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


class OpenAIEmbedder:
    """Embeddings from OpenAI or any OpenAI-compatible /v1/embeddings endpoint."""

    def __init__(self, settings: EmbedderSettings, client_factory):
        self._client = client_factory(settings.base_url, settings.api_key_env)
        self._model = settings.model
        self._batch_size = settings.api_batch_size
        self._batch_tokens = settings.api_batch_tokens
        self._concurrency = settings.concurrency
        self.info = EmbedderInfo(f"openai:{settings.model}", settings.dimension)
        self._max_tokens = settings.max_tokens
        self._encoding = None

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        from rag.tokens import count_openai_tokens

        return count_openai_tokens(text, self._model)

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        """Requests of at most `api_batch_size` texts and about `api_batch_tokens` tokens (estimated from
        characters: a server such as TEI refuses a batch over its token budget)."""
        batches: list[list[str]] = []
        batch: list[str] = []
        tokens = 0
        for text in texts:
            estimate = len(text) // 3 + 1
            if batch and (len(batch) >= self._batch_size or tokens + estimate > self._batch_tokens):
                batches.append(batch)
                batch, tokens = [], 0
            batch.append(text)
            tokens += estimate
        if batch:
            batches.append(batch)
        return batches

    def _request(self, batch: list[str]) -> list[list[float]]:
        from rag.client import call_api

        # The SDK retries 429 and 5xx answers (max_retries), waiting as the server's Retry-After says.
        response = call_api(
            lambda: self._client.embeddings.create(model=self._model, input=batch, encoding_format="float"),
            what=f"embedding model {self._model!r}",
            timeout_setting="embedder.timeout_s",
        )
        return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        batches = self._batches(texts)
        if self._concurrency > 1 and len(batches) > 1:
            # `concurrency` requests in flight: a GPU embedding service is faster than one request at a time.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(self._concurrency, len(batches))) as pool:
                results = list(pool.map(self._request, batches))
        else:
            results = [self._request(batch) for batch in batches]
        rows = [row for result in results for row in result]
        if len(rows) != len(texts):
            from rag.client import INVALID
            from rag.errors import ModelError

            raise ModelError(f"embedding model {self._model!r}: {INVALID} ({len(rows)} vectors for {len(texts)} texts)")
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        if vectors.shape[1] != self.info.dimension:
            raise ConfigError(
                f"embedding model {self._model!r} returned {vectors.shape[1]} dimensions but settings say "
                f"{self.info.dimension}; set embedder.dimension = {vectors.shape[1]}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-12, None)


def make_embedder(settings: EmbedderSettings) -> Embedder:
    """Choose the embedder named in settings."""
    if settings.provider == "local":
        root = Path(settings.model_dir) if settings.model_dir else None
        return MiniLMEmbedder(settings.variant, root, settings.threads, settings.batch_size)
    if settings.provider == "openai":
        from rag.client import make_client

        return OpenAIEmbedder(
            settings, lambda url, key: make_client(url, key, settings.timeout_s, settings.max_retries)
        )
    raise ConfigError(f"unknown embedder provider {settings.provider!r}; use 'local' or 'openai'")
