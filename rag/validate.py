"""`rag validate-data`: the checks of OpenAI's fine-tuning data preparation guidance, offline.

Format errors, token counts per example against the base model's limit (tiktoken, from local files),
duplicates, example count, suggested epochs, billed tokens and an estimated cost.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.settings import FinetuneSettings
from rag.tokens import encoding_for

CHAT_KEYS = {"messages", "tools", "functions", "parallel_tool_calls"}
MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id"}
ROLES = {"system", "user", "assistant", "tool", "function"}
MIN_EXAMPLES, RECOMMENDED_EXAMPLES = 10, 50
# OpenAI's default epoch heuristic: aim at ~100-25,000 example passes, 1-25 epochs.
TARGET_EPOCHS, MIN_PASSES, MAX_PASSES, MIN_EPOCHS, MAX_EPOCHS = 3, 100, 25000, 1, 25


@dataclass(frozen=True)
class Issue:
    line: int  # 0: the file as a whole
    severity: str  # error | warning
    message: str


@dataclass(frozen=True)
class DataReport:
    path: str
    format: str  # chat | prompt-completion | unknown
    base: str
    examples: int
    issues: tuple[Issue, ...]
    tokens_total: int
    tokens_max: int
    tokens_mean: float
    token_limit: int
    epochs: int
    billed_tokens: int
    cost_usd: float | None
    stats: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def as_json(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "base": self.base,
            "examples": self.examples,
            "ok": not self.errors,
            "errors": len(self.errors),
            "warnings": len(self.issues) - len(self.errors),
            "issues": [{"line": i.line, "severity": i.severity, "message": i.message} for i in self.issues],
            "tokens_total": self.tokens_total,
            "tokens_max": self.tokens_max,
            "tokens_mean": round(self.tokens_mean, 1),
            "token_limit": self.token_limit,
            "epochs": self.epochs,
            "billed_tokens": self.billed_tokens,
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 4),
        }


def suggested_epochs(n: int) -> int:
    if n == 0:
        return 0
    if n * TARGET_EPOCHS < MIN_PASSES:
        return min(MAX_EPOCHS, MIN_PASSES // n)
    if n * TARGET_EPOCHS > MAX_PASSES:
        return max(MIN_EPOCHS, MAX_PASSES // n)
    return TARGET_EPOCHS


def _chat_issues(obj: dict, line: int) -> list[Issue]:
    issues = []
    unknown = set(obj) - CHAT_KEYS
    if unknown:
        issues.append(Issue(line, "error", f"unknown keys {sorted(unknown)}"))
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        return issues + [Issue(line, "error", '"messages" must be a non-empty list')]
    for n, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            issues.append(Issue(line, "error", f"message {n} is not an object"))
            continue
        if "role" not in message or "content" not in message:
            issues.append(Issue(line, "error", f'message {n} needs "role" and "content"'))
        bad_keys = set(message) - MESSAGE_KEYS
        if bad_keys:
            issues.append(Issue(line, "error", f"message {n} has unknown keys {sorted(bad_keys)}"))
        role = message.get("role")
        if role is not None and role not in ROLES:
            issues.append(Issue(line, "error", f"message {n} has unknown role {role!r}"))
        content = message.get("content")
        if "content" in message and (not isinstance(content, str) or not content.strip()):
            if not (role == "assistant" and message.get("tool_calls")):
                issues.append(Issue(line, "error", f"message {n} ({role}) has empty or non-text content"))
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        issues.append(Issue(line, "error", "no assistant message: nothing to learn from"))
    return issues


def _pc_issues(obj: dict, line: int) -> list[Issue]:
    issues = []
    unknown = set(obj) - {"prompt", "completion"}
    if unknown:
        issues.append(Issue(line, "error", f"unknown keys {sorted(unknown)}"))
    for key in ("prompt", "completion"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            issues.append(Issue(line, "error", f'"{key}" must be non-empty text'))
    return issues


def _tokens(obj: dict, fmt: str, encode) -> int:
    if fmt == "prompt-completion":
        return len(encode(str(obj.get("prompt", "")))) + len(encode(str(obj.get("completion", ""))))
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in obj.get("messages") or []:
        if isinstance(message, dict):
            total += 3
            for key in ("role", "content", "name"):
                if isinstance(message.get(key), str):
                    total += len(encode(message[key])) + (1 if key == "name" else 0)
    return total


def validate_file(
    path: Path, base: str, settings: FinetuneSettings, epochs: int | None = None, role: str = "training"
) -> DataReport:
    """`role`: "training" or "validation" (a validation file needs one example, not ten)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    encoding = encoding_for(base)

    def encode(text: str) -> list[int]:
        return encoding.encode(text, disallowed_special=())

    limit = settings.context_limits.get(base, settings.default_max_tokens)
    issues: list[Issue] = []
    formats: Counter[str] = Counter()
    token_counts: list[int] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            issues.append(Issue(number, "error", "empty line (each line must hold one JSON object)"))
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            issues.append(Issue(number, "error", f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            issues.append(Issue(number, "error", "not a JSON object"))
            continue
        fmt = "chat" if "messages" in obj else "prompt-completion" if "prompt" in obj or "completion" in obj else ""
        if not fmt:
            issues.append(Issue(number, "error", 'neither "messages" (chat) nor "prompt"/"completion"'))
            continue
        formats[fmt] += 1
        line_issues = _chat_issues(obj, number) if fmt == "chat" else _pc_issues(obj, number)
        issues += line_issues
        if line_issues:
            continue
        tokens = _tokens(obj, fmt, encode)
        token_counts.append(tokens)
        if tokens > limit:
            issues.append(Issue(number, "error", f"{tokens} tokens, over the {limit}-token limit of {base}"))
        key = json.dumps(obj, sort_keys=True)
        if key in seen:
            issues.append(Issue(number, "warning", f"duplicate of line {seen[key]}"))
        else:
            seen[key] = number
    fmt = formats.most_common(1)[0][0] if formats else "unknown"
    if len(formats) > 1:
        issues.append(Issue(0, "error", "mixes chat and prompt/completion lines; use one format"))
    if fmt == "prompt-completion" and formats:
        issues.append(Issue(0, "warning", "prompt/completion is the legacy format; current models train on chat"))
    n = len(token_counts)
    if role == "validation":
        if n < 1:
            issues.append(Issue(0, "error", "no valid examples; a validation file needs at least one"))
    elif n < MIN_EXAMPLES:
        issues.append(Issue(0, "error", f"{n} valid examples; fine-tuning needs at least {MIN_EXAMPLES}"))
    elif n < RECOMMENDED_EXAMPLES:
        issues.append(Issue(0, "warning", f"{n} examples; {RECOMMENDED_EXAMPLES} or more usually work better"))
    chosen_epochs = epochs or suggested_epochs(n)
    billed = sum(min(t, limit) for t in token_counts) * chosen_epochs
    price = settings.prices.get(base)
    issues.sort(key=lambda i: (i.line == 0, i.line))
    return DataReport(
        path=str(path),
        format=fmt,
        base=base,
        examples=n,
        issues=tuple(issues),
        tokens_total=sum(token_counts),
        tokens_max=max(token_counts, default=0),
        tokens_mean=(sum(token_counts) / n) if n else 0.0,
        token_limit=limit,
        epochs=chosen_epochs,
        billed_tokens=billed,
        cost_usd=None if price is None else billed / 1e6 * price,
    )
