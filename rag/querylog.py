"""The query log: every `rag ask` (question, mode, model, sources, answer, timings) in SQLite, rateable."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.answer import Answer
from rag.errors import DamagedError, InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asks(
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, question TEXT NOT NULL, mode TEXT NOT NULL,
    model TEXT NOT NULL, sources TEXT NOT NULL, answer TEXT NOT NULL, timings TEXT NOT NULL,
    abstained INTEGER NOT NULL, rating TEXT);
"""
RATINGS = ("good", "bad")


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: float
    question: str
    mode: str
    model: str
    sources: tuple[str, ...]
    answer: str
    timings: dict
    abstained: bool
    rating: str | None
    comment: str | None = None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "at": self.at,
            "question": self.question,
            "mode": self.mode,
            "model": self.model,
            "sources": list(self.sources),
            "answer": self.answer,
            "timings": self.timings,
            "abstained": self.abstained,
            "rating": self.rating,
            "comment": self.comment,
        }


class QueryLog:
    def __init__(self, path: Path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The server shares one log across its threads, behind a lock.
            self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(asks)")}
            if "comment" not in columns:
                self._db.execute("ALTER TABLE asks ADD COLUMN comment TEXT")  # logs from before feedback comments
            if "token" not in columns:  # logs from before rating by token: their answers are rated by id only
                self._db.execute("ALTER TABLE asks ADD COLUMN token TEXT")
                self._db.execute("ALTER TABLE asks ADD COLUMN asker TEXT")
                self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS asks_token ON asks(token)")
        except sqlite3.DatabaseError as exc:
            raise DamagedError(
                f"the query log {path} is damaged ({exc}); move it aside (a new one is started), or answer "
                "with --no-log"
            ) from None
        except OSError as exc:
            raise InputError(f"cannot write the query log {path}: {exc.strerror}; answer with --no-log") from None

    def close(self) -> None:
        self._db.close()

    def record(self, answer: Answer, asker: str = "") -> tuple[int, str]:
        """The entry's id (for the operator: `rag log rate ID`) and its token: what a server hands to the one
        who asked, to rate that answer and no other (unguessable, and tied to `asker`, the key's id)."""
        token = secrets.token_urlsafe(18)
        cursor = self._db.execute(
            "INSERT INTO asks(at, question, mode, model, sources, answer, timings, abstained, token, asker) "
            "VALUES(?,?,?,?,?,?,?,?,?,?)",
            (
                time.time(),
                answer.question,
                answer.mode,
                answer.model,
                json.dumps([h.source for h in answer.sources]),
                answer.answer,
                json.dumps(answer.timings),
                int(answer.abstained),
                token,
                asker,
            ),
        )
        return int(cursor.lastrowid), token

    def rate_answer(self, token: str, asker: str, rating: str, comment: str = "") -> None:
        """Rate an answer by its token, for the key that asked it only."""
        if rating not in RATINGS:
            raise InputError(f"rating must be good or bad, not {rating!r}")
        update = "UPDATE asks SET rating=?, comment=? WHERE token=? AND asker=?"
        if self._db.execute(update, (rating, comment or None, token, asker)).rowcount == 0:
            raise InputError("no answer with that id was given to this key")

    def rate(self, entry_id: int, rating: str, comment: str = "") -> None:
        if rating not in RATINGS:
            raise InputError(f"rating must be good or bad, not {rating!r}")
        update = "UPDATE asks SET rating=?, comment=? WHERE id=?"
        if self._db.execute(update, (rating, comment or None, entry_id)).rowcount == 0:
            raise InputError(f"no logged question with id {entry_id}; see `rag log list`")

    def entries(self, limit: int | None = None, only_good: bool = False) -> Iterator[LogEntry]:
        columns = "id, at, question, mode, model, sources, answer, timings, abstained, rating, comment"
        where = " WHERE rating='good'" if only_good else ""
        sql = f"SELECT {columns} FROM asks{where} ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        for row in self._db.execute(sql):
            yield LogEntry(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                tuple(json.loads(row[5])),
                row[6],
                json.loads(row[7]),
                bool(row[8]),
                row[9],
                row[10],
            )


def log_path(data_dir: Path) -> Path:
    return data_dir / "log.sqlite3"
