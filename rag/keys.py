"""API keys for `rag serve`: created once and shown once; only their SHA-256 is kept, in the data directory.

A key is 32 random bytes (URL-safe), so a plain hash is enough: there is nothing to guess by brute force.
Roles: `reader` may ask, search and rate; `admin` may also start an ingest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.errors import DamagedError, InputError
from rag.files import write_atomically

ROLES = ("reader", "admin")
PREFIX = "rag_"


@dataclass(frozen=True)
class KeyRecord:
    id: str  # the first characters of the hash: how a key is named in lists and logs
    name: str
    role: str
    created_at: float
    hash: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, data_dir: Path):
        self._path = data_dir / "keys.json"

    def records(self) -> list[KeyRecord]:
        if not self._path.exists():
            return []
        try:
            rows = json.loads(self._path.read_text())
            return [KeyRecord(**row) for row in rows]
        except (OSError, ValueError, TypeError) as exc:
            raise DamagedError(
                f"the key file {self._path} is damaged ({exc}); move it aside and create keys again"
            ) from None

    def create(self, role: str, name: str = "") -> tuple[str, KeyRecord]:
        """A new key (returned once, never stored) and its record."""
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        key = PREFIX + secrets.token_urlsafe(32)
        digest = _hash(key)
        record = KeyRecord(digest[:12], name or f"{role}-{digest[:6]}", role, time.time(), digest)
        self._write([*self.records(), record])
        return key, record

    def revoke(self, key_id: str) -> KeyRecord:
        records = self.records()
        kept = [r for r in records if r.id != key_id and r.name != key_id]
        if len(kept) == len(records):
            raise InputError(f"no key {key_id!r}; see `rag keys list`")
        self._write(kept)
        return next(r for r in records if r not in kept)

    def check(self, key: str) -> KeyRecord | None:
        """The record of `key`, or None. Compared in constant time."""
        digest = _hash(key)
        for record in self.records():
            if hmac.compare_digest(record.hash, digest):
                return record
        return None

    def _write(self, records: list[KeyRecord]) -> None:
        write_atomically({self._path: json.dumps([asdict(r) for r in records], indent=2)})
        self._path.chmod(0o600)
