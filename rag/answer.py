"""`rag ask`: retrieve, then answer in one of three modes, or extractively when no chat model is set."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.abstain import judge
from rag.errors import ConfigError
from rag.extract import LABEL, extractive_answer
from rag.generate import ChatModel, OpenAIChat
from rag.hits import Hit
from rag.prompt import few_shot_messages, plain_messages, rag_messages
from rag.retrieve import Retriever
from rag.settings import Settings

MODES = ("rag", "few-shot", "plain")
NO_ANSWER = "The knowledge base has nothing on this question."
EXTRACTIVE_LABEL = LABEL


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    mode: str
    model: str  # the chat model's name, or "extractive", or "none" when abstaining
    sources: tuple[Hit, ...]
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    reason: str = ""  # why the question was declined
    notice: str = ""  # what the user should know about how it was answered (a fallback)

    def as_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "mode": self.mode,
            "model": self.model,
            "abstained": self.abstained,
            "reason": self.reason,
            "notice": self.notice,
            "sources": [h.as_json(n) for n, h in enumerate(self.sources, 1)],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def registered_finetuned(settings: Settings) -> str:
    from rag.finetune import read_registry

    return str(read_registry(settings.data_path).get("finetuned", ""))


def resolve_model(settings: Settings, choice: str) -> str:
    """`base`, `finetuned`, or a model id given as is. Empty string: no chat model configured."""
    if choice == "base":
        return settings.chat.base
    if choice == "finetuned":
        model = settings.chat.finetuned or registered_finetuned(settings)
        if not model:
            raise ConfigError(
                "no fine-tuned model is registered; make one with `rag export-finetune train.jsonl` then "
                "`rag finetune start train.jsonl`, or set chat.finetuned (RAG_CHAT_FINETUNED) to a model id"
            )
        return model
    return choice


def ask(
    question: str,
    settings: Settings,
    retriever: Retriever | None,
    *,
    mode: str = "rag",
    model_choice: str = "base",
    k: int | None = None,
    on_token: Callable[[str], None] | None = None,
    chat_factory: Callable[[str], ChatModel] | None = None,
) -> Answer:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    question = question.strip()
    if not question:
        raise ConfigError("the question is empty")
    k = k or settings.retrieve.k
    model_name = resolve_model(settings, model_choice)
    make_chat = chat_factory or (lambda name: OpenAIChat(settings.chat, name))
    timings: dict[str, float] = {}
    started = time.perf_counter()

    cut: list[str] = []

    def generate(messages) -> str:
        chat = make_chat(model_name)
        t0 = time.perf_counter()
        parts = []
        for token in chat.stream(messages):
            parts.append(token)
            if on_token:
                on_token(token)
        timings["generate_s"] = time.perf_counter() - t0
        if getattr(chat, "finish_reason", "") == "length":
            cut.append(
                f"the answer is cut off: the model stopped at chat.max_tokens ({settings.chat.max_tokens} tokens); "
                "raise it (RAG_CHAT_MAX_TOKENS) for a complete answer"
            )
        return "".join(parts)

    notices: list[str] = []

    def done(text: str, model: str, sources: list[Hit] | tuple = (), **extra) -> Answer:
        """The one place an Answer is made: timings closed, every notice said."""
        return Answer(
            question,
            text,
            mode,
            model,
            tuple(sources),
            timings={**timings, "total_s": time.perf_counter() - started},
            notice="; ".join(n for n in (*notices, *cut) if n),
            **extra,
        )

    if mode == "plain":
        if not model_name:
            raise ConfigError(_needs_model(mode))
        return done(generate(plain_messages(question)), model_name)

    assert retriever is not None
    t0 = time.perf_counter()
    notices.append(retriever.notice)  # a keyword index that is missing: said in every answer, not hidden
    if mode == "few-shot":
        if not model_name:
            raise ConfigError(_needs_model(mode))
        examples = retriever.search(question, settings.retrieve.few_shot_examples, kind="qa")
        timings["retrieve_s"] = time.perf_counter() - t0
        if examples:
            # Most similar example last: nearest to the question, where it helps the model most.
            return done(generate(few_shot_messages(question, list(reversed(examples)))), model_name, examples)
        # Zero examples would make few-shot the bare model: answer from passages instead, and say so.
        notices.append("the knowledge base has no Q&A records to use as examples; answered in rag mode instead")
        mode = "rag"

    hits = retriever.search(question, k)
    timings["retrieve_s"] = time.perf_counter() - t0
    decision = judge(question, hits, retriever.lexical, settings)
    if not decision.answer:
        if on_token:
            on_token(NO_ANSWER)
        return done(NO_ANSWER, "none", abstained=True, reason=decision.reason)
    if not model_name:
        lexical = retriever.lexical
        text = extractive_answer(
            question,
            hits,
            *((lexical.terms, lexical.idf) if lexical else (None, None)),
            max_words=settings.retrieve.extractive_words,
        )
        if on_token:
            on_token(text)
        return done(text, "extractive", hits)
    return done(generate(rag_messages(question, hits)), model_name, hits)


def _needs_model(mode: str) -> str:
    return (
        f"{mode} mode needs a chat model; set chat.base (RAG_CHAT_BASE), e.g. with --config configs/openai.toml "
        "or configs/ollama.toml"
    )
