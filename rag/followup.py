"""Follow-up questions: a conversation's last user turn made into a question that stands alone.

"and on Android?" retrieves nothing useful by itself. With a chat model, the model rewrites it from the
conversation (prompt: rag/prompts/rewrite.txt). Without one, the content words of the previous user turn
that the follow-up does not already use are added to it ("and on Android? set up Northwind email"), which
is what keyword and meaning search need. A turn that already stands alone is left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.generate import ChatModel
from rag.messages import Message
from rag.prompt import template

_WORD = re.compile(r"[\w'+#.-]+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be but by can could do does for from had has have how i if in into is it its me my "
    "no not of on or our so than that the their them then there these they this to too up was we what when "
    "where which who why will with would you your also about again any instead now ok okay please still "
    "should shall just really thanks thank yes".split()
)
# Words that point back at the conversation: a turn using one does not stand alone.
_REFERRING = frozenset("it its that this those these there they them same also too instead else one".split())


@dataclass(frozen=True)
class Followup:
    question: str  # what retrieval and the answer use
    rewritten: bool  # whether it differs from the user's last message


def _content(text: str) -> list[str]:
    words = (w.strip(".'-") for w in _WORD.findall(text.lower()))
    return [w for w in words if w not in _STOP and len(w) > 1]


def stands_alone(question: str) -> bool:
    words = [w.lower() for w in _WORD.findall(question)]
    referring = any(w in _REFERRING for w in words) or (words[:1] in (["and"], ["what"]) and len(words) <= 6)
    return not referring and len(_content(question)) >= 4


def standalone(messages: list[Message], chat: ChatModel | None = None) -> Followup:
    """The last user message as a standalone question; `messages` is the conversation, oldest first."""
    users = [m.content.strip() for m in messages if m.role == "user" and m.content.strip()]
    if not users:
        return Followup("", False)
    question = users[-1]
    if len(users) == 1 or stands_alone(question):
        return Followup(question, False)
    if chat is not None:
        history = "\n".join(f"{m.role}: {m.content.strip()}" for m in messages[:-1] if m.role in ("user", "assistant"))
        prompt = template("rewrite").format(history=history[-4000:], question=question)
        answer = "".join(chat.stream([Message("user", prompt)])).strip()
        rewritten = answer.splitlines()[0].strip().strip('"') if answer else ""
        return Followup(rewritten, True) if rewritten else Followup(question, False)
    have = set(_content(question))
    added = [w for w in dict.fromkeys(_content(users[-2])) if w not in have]
    if not added:
        return Followup(question, False)
    return Followup(f"{question} {' '.join(added)}", True)
