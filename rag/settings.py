"""One settings object: built-in defaults, then a TOML file, then RAG_* environment variables, then flags.

Secrets are never settings: settings name the environment variable that holds a key (`api_key_env`), and
the key is read only where a client is made.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError


@dataclass(frozen=True)
class EmbedderSettings:
    provider: str = "local"  # local | openai
    variant: str = "fp32"  # local model: fp32 | int8 (per-channel quantised, faster)
    model: str = "text-embedding-3-small"  # openai provider only
    dimension: int = 1536  # openai provider only
    max_tokens: int = 8191  # openai provider only
    base_url: str = ""  # empty: OPENAI_BASE_URL, else api.openai.com
    api_key_env: str = "OPENAI_API_KEY"
    batch_size: int = 8  # local: 8 embeds as fast as 32 here with a third of the peak memory
    api_batch_size: int = 256  # openai: texts per embeddings request
    api_batch_tokens: int = 16_384  # openai: tokens per embeddings request at most (estimated; TEI's default budget)
    concurrency: int = 4  # openai: embeddings requests in flight (a GPU service answers several at once)
    threads: int = 0  # 0: one per core
    model_dir: str = ""  # empty: <venv>/share/rag/models
    timeout_s: float = 60.0  # openai provider: seconds per embeddings request
    max_retries: int = 4  # openai provider: retries of a 429/5xx/timeout, waiting as Retry-After says


@dataclass(frozen=True)
class StoreSettings:
    mode: str = "persistent"  # persistent (in data_dir) | http (a `chroma run` server)
    collection: str = "rag"
    host: str = "127.0.0.1"
    port: int = 8000
    ssl: bool = False
    auth_header: str = "Authorization"
    auth_token_env: str = "CHROMA_AUTH_TOKEN"  # sent as "Bearer <token>" when set
    ef_search: int = 400  # HNSW search breadth; Chroma's 100 missed 7 % of the true top 100 on 70k chunks


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = 256  # hard ceiling incl. heading context; never above the embedder's limit
    target_tokens: int = 200
    overlap_tokens: int = 32


@dataclass(frozen=True)
class IngestSettings:
    max_file_mb: float = 50.0
    batch_chunks: int = 256  # chunks per embed + commit round: large enough to batch well, small to lose little
    follow_symlinks: bool = False  # ingest symlinked files whose target is outside the folder (--follow-symlinks)
    max_file_chunks: int = 20_000  # a file that would make more chunks is listed as failed, not flooded in
    # A keyword index this large takes a small change as a delta beside it instead of a rebuild. Below it a rebuild
    # takes seconds and gives exactly what a fresh ingest gives (a delta's scores differ a little from a rebuild's).
    keyword_delta_from: int = 50_000


@dataclass(frozen=True)
class RetrieveSettings:
    retriever: str = "hybrid"  # hybrid | dense | bm25
    k: int = 5
    candidates: int = 50  # chunks taken from each retriever before fusion (100 ranked the same on 6 corpora, slower)
    # adaptive: as score, with the BM25 weight scaled per question by how clearly meaning alone separates
    # the best page from the fifth | score: cosine + bm25_weight * BM25 / best BM25 | rrf: reciprocal rank fusion
    fusion: str = "adaptive"
    bm25_weight: float = 0.2  # score fusion: weight of the normalised BM25 score; rrf: weight of its rank
    # adaptive fusion: the cosine margin (best page minus fifth page) at which BM25 gets bm25_weight; a question
    # whose margin is half as wide gives BM25 twice the weight (within 0.25x..2.5x of bm25_weight)
    margin_reference: float = 0.15
    rrf_k: int = 60  # rrf fusion constant
    lead_weight: float = 0.3  # hybrid: weight of the question's cosine with each document's lead chunk
    title_weight: float = 0.1  # hybrid: lift for documents whose title's terms all appear in the question
    intent_weight: float = 0.15  # hybrid: lift for documents of the kind a question asks for (0: off)
    intents_file: str = ""  # question intents (TOML); empty: the built-in rag/intents.toml
    min_score: float = 0.35  # best hit below this: the knowledge base has nothing on the question
    # A question naming something no chunk mentions (and no everyday English word) is declined when its best
    # hit is under this (rag/abstain.py).
    abstain_similarity: float = 0.55
    extractive_words: int = 80  # length of the extractive answer (no chat model), in words
    few_shot_examples: int = 3


@dataclass(frozen=True)
class ChatSettings:
    base: str = ""  # empty: no chat model, answers are extractive
    finetuned: str = ""  # set by `rag finetune`, or by hand
    base_url: str = ""  # empty: OPENAI_BASE_URL, else api.openai.com
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.2
    max_tokens: int = 700
    timeout_s: float = 60.0
    max_retries: int = 2


@dataclass(frozen=True)
class LogSettings:
    enabled: bool = True  # every `rag ask` is recorded in <data_dir>/log.sqlite3 (off: --no-log or false)


@dataclass(frozen=True)
class ServeSettings:
    # Folders an admin request may ingest (a folder under one of them, after symlinks); empty: only the folders
    # already in the index. Environment: RAG_SERVE_INGEST_ROOTS, separated by the platform's path separator.
    ingest_roots: tuple[str, ...] = ()


@dataclass(frozen=True)
class FinetuneSettings:
    base: str = "gpt-4o-mini-2024-07-18"
    suffix: str = "rag"
    poll_s: float = 10.0  # how often `rag finetune start` asks for new events
    # USD per 1M training tokens, for the estimate `rag validate-data` prints (check current prices).
    prices: dict[str, float] = field(
        default_factory=lambda: {
            "gpt-4o-mini-2024-07-18": 3.0,
            "gpt-4o-2024-08-06": 25.0,
            "gpt-4.1-mini-2025-04-14": 5.0,
            "gpt-4.1-2025-04-14": 25.0,
            "gpt-3.5-turbo-0125": 8.0,
        }
    )
    # Tokens one training example may hold, per base model; others: default_max_tokens.
    context_limits: dict[str, int] = field(
        default_factory=lambda: {
            "gpt-4o-mini-2024-07-18": 65536,
            "gpt-4o-2024-08-06": 65536,
            "gpt-4.1-mini-2025-04-14": 65536,
            "gpt-4.1-2025-04-14": 65536,
            "gpt-3.5-turbo-0125": 16385,
        }
    )
    default_max_tokens: int = 16385


@dataclass(frozen=True)
class Settings:
    data_dir: str = ".rag"
    embedder: EmbedderSettings = field(default_factory=EmbedderSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    retrieve: RetrieveSettings = field(default_factory=RetrieveSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    log: LogSettings = field(default_factory=LogSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()


_SECTIONS = {f.name: f.type for f in fields(Settings) if f.name != "data_dir"}


def _coerce(value: Any, kind: Any, where: str) -> Any:
    if typing.get_origin(kind) is tuple:
        if isinstance(value, str):  # from the environment: "DIR:DIR" (os.pathsep, as PATH)
            value = [v for v in value.split(os.pathsep) if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list")
        item = typing.get_args(kind)[0]
        return tuple(_coerce(v, item, f"{where}[{n}]") for n, v in enumerate(value))
    if typing.get_origin(kind) is dict:
        _, value_kind = typing.get_args(kind)
        if isinstance(value, str):  # from the environment: "name=1.5,other=2"
            pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ConfigError(f"{where}: expected name=value pairs separated by commas, got {value!r}")
            value = {k.strip(): v.strip() for k, v in pairs}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table of name = value")
        return {str(k): _coerce(v, value_kind, f"{where}.{k}") for k, v in value.items()}
    kind = {"str": str, "int": int, "float": float, "bool": bool}.get(kind, kind) if isinstance(kind, str) else kind
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    try:
        if (kind is int and isinstance(value, float)) or (kind in (int, float) and isinstance(value, bool)):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None


def _section_class(name: str) -> type:
    hints = typing.get_type_hints(Settings)
    return hints[name]


def _apply(settings: Settings, data: Mapping[str, Any], where: str) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "data_dir":
            changes["data_dir"] = _coerce(value, str, f"{where}: data_dir")
            continue
        if key not in _SECTIONS:
            raise ConfigError(f"{where}: unknown section [{key}]{_nearest(key, ['data_dir', *_SECTIONS])}")
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {key} must be a section ([{key}]) of settings, not a single value")
        section = getattr(settings, key)
        cls = _section_class(key)
        hints = typing.get_type_hints(cls)
        sub: dict[str, Any] = {}
        for name, raw in value.items():
            if name not in hints:
                raise ConfigError(f"{where}: unknown setting {key}.{name}{_nearest(name, list(hints), key + '.')}")
            sub[name] = _coerce(raw, hints[name], f"{where}: {key}.{name}")
        changes[key] = replace(section, **sub)
    return replace(settings, **changes)


# RAG_* variables that are not settings.
OTHER_VARIABLES = (
    "RAG_CONFIG",
    "RAG_DEBUG",
    "RAG_DATA_DIR",
    "RAG_TEST_KILL_AT",
    "RAG_TEST_UNREADABLE",
    "RAG_SERVER",
    "RAG_API_KEY",
)


def _nearest(name: str, known: list[str], prefix: str = "") -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean {prefix}{close[0]}?" if close else f"; known: {', '.join(known)}"


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """RAG_DATA_DIR, RAG_<SECTION>_<NAME> (e.g. RAG_CHAT_BASE, RAG_STORE_PORT). An unknown RAG_* variable is
    an error that names the nearest known one: a typo must not be ignored silently."""
    out: dict[str, Any] = {}
    if "RAG_DATA_DIR" in environ:
        out["data_dir"] = environ["RAG_DATA_DIR"]
    known = list(OTHER_VARIABLES)
    for section in _SECTIONS:
        for f in fields(_section_class(section)):
            name = f"RAG_{section}_{f.name}".upper()
            known.append(name)
            if name in environ:
                out.setdefault(section, {})[f.name] = environ[name]
    for name in environ:
        if name.startswith("RAG_") and name not in known:
            raise ConfigError(f"unknown environment variable {name}{_nearest(name, known)}")
    return out


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < config file (flag, else RAG_CONFIG) < RAG_* environment < flag overrides."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    path = config_file or environ.get("RAG_CONFIG")
    if path:
        file = Path(path)
        try:
            if file.exists() and not file.is_dir() and not file.is_file():
                # A FIFO or a device would block the read forever (or never end).
                raise ConfigError(f"config file {file} is not a regular file; pass a TOML file")
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {file} not found") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {file} is a folder; pass a TOML file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {file} is not UTF-8 text; save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        settings = _apply(settings, data, str(file))
    settings = _apply(settings, env_overrides(environ), "environment")
    if overrides:
        settings = _apply(settings, overrides, "command line")
    _validate(settings)
    return settings


def _choice(*allowed: str) -> Callable[[Any], str]:
    return lambda v: "" if v in allowed else f"must be one of {', '.join(allowed)}"


def _range(low: float | None = None, high: float | None = None) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if isinstance(v, float) and not math.isfinite(v):
            return "must be a finite number"
        if low is not None and v < low:
            return f"must be at least {low}"
        if high is not None and v > high:
            return f"must be at most {high}"
        return ""

    return check


_RULES: dict[tuple[str, str], Callable[[Any], str]] = {
    ("embedder", "provider"): _choice("local", "openai"),
    ("embedder", "variant"): _choice("fp32", "int8"),
    ("embedder", "dimension"): _range(1),
    ("embedder", "max_tokens"): _range(16),
    ("embedder", "batch_size"): _range(1),
    ("embedder", "api_batch_size"): _range(1, 2048),
    ("embedder", "api_batch_tokens"): _range(16),
    ("embedder", "concurrency"): _range(1, 64),
    ("embedder", "threads"): _range(0),
    ("embedder", "timeout_s"): _range(0.1),
    ("embedder", "max_retries"): _range(0, 10),
    ("store", "mode"): _choice("persistent", "http"),
    ("store", "port"): _range(1, 65535),
    ("store", "ef_search"): _range(1),
    ("chunk", "max_tokens"): _range(32),
    ("chunk", "target_tokens"): _range(16),
    ("chunk", "overlap_tokens"): _range(0),
    ("ingest", "max_file_mb"): _range(0.001),
    ("ingest", "batch_chunks"): _range(1),
    ("ingest", "max_file_chunks"): _range(1),
    ("ingest", "keyword_delta_from"): _range(0),
    ("retrieve", "retriever"): _choice("hybrid", "dense", "bm25"),
    ("retrieve", "k"): _range(1, 1000),
    ("retrieve", "candidates"): _range(1, 1000),
    ("retrieve", "fusion"): _choice("adaptive", "score", "rrf"),
    ("retrieve", "margin_reference"): _range(0.001, 1),
    ("retrieve", "bm25_weight"): _range(0),
    ("retrieve", "rrf_k"): _range(1),
    ("retrieve", "lead_weight"): _range(0),
    ("retrieve", "title_weight"): _range(0),
    ("retrieve", "intent_weight"): _range(0),
    ("retrieve", "min_score"): _range(-1, 1),
    ("retrieve", "abstain_similarity"): _range(-1, 1),
    ("retrieve", "extractive_words"): _range(10, 1000),
    ("retrieve", "few_shot_examples"): _range(0, 20),
    ("chat", "temperature"): _range(0, 2),
    ("chat", "max_tokens"): _range(1),
    ("chat", "timeout_s"): _range(0.1),
    ("chat", "max_retries"): _range(0, 10),
    ("finetune", "poll_s"): _range(0),
    ("finetune", "default_max_tokens"): _range(1),
}


def _validate(settings: Settings) -> None:
    for (section, name), rule in _RULES.items():
        value = getattr(getattr(settings, section), name)
        problem = rule(value)
        if problem:
            raise ConfigError(f"{section}.{name} {problem}, not {value!r}")
    for section in _SECTIONS:
        for f in fields(_section_class(section)):
            value = getattr(getattr(settings, section), f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{section}.{f.name} must be a finite number, not {value!r}")
    for name, table in (
        ("finetune.prices", settings.finetune.prices),
        ("finetune.context_limits", settings.finetune.context_limits),
    ):
        for model, value in table.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}.{model} must be a finite number of at least 0, not {value!r}")
    if settings.chunk.overlap_tokens >= settings.chunk.target_tokens:
        raise ConfigError("chunk.overlap_tokens must be smaller than chunk.target_tokens")
    if settings.chunk.target_tokens > settings.chunk.max_tokens:
        raise ConfigError("chunk.target_tokens must not be larger than chunk.max_tokens")


def as_dict(settings: Settings) -> dict[str, Any]:
    """Plain data (tuples as lists), as TOML and JSON write it."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, tuple | list) else value

    return plain(dataclasses.asdict(settings))
