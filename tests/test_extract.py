"""The extractive answer quotes what answers the question: the right sentence, whole lists, code verbatim."""

from __future__ import annotations

import re

from rag.extract import LABEL, extractive_answer
from rag.hits import Hit


def hit(text: str, source: str = "guide.md", headings: str = "", kind: str = "passage", question: str = "") -> Hit:
    body = f"{headings}\n\n{text}" if headings else text
    return Hit(
        id=source, text=body, source=source, score=0.6, kind=kind, headings=headings, page=None, question=question
    )


FIREWALL = hit(
    "To block a device, put it on the deny list with: fw deny 00:11:22:33:44:55. Blocked devices get no address.\n\n"
    "To let a device through the firewall, add it to the allowlist with fw allow 00:11:22:33:44:55. "
    "Allowed devices keep their address after a restart.",
    headings="Firewall > Device lists",
)


def test_the_question_verb_picks_the_sentence():
    answer = extractive_answer("how do I add a device to the firewall allowlist so it is allowed through?", [FIREWALL])
    assert answer.startswith(LABEL)
    assert "fw allow 00:11:22:33:44:55" in answer
    assert "fw deny" not in answer


def test_a_short_list_is_quoted_whole():
    ports = hit(
        "The router needs these ports open for remote management:\n\n"
        "- TCP 8443 for the web console\n- UDP 3478 for the relay\n- TCP 22 for SSH maintenance\n\n"
        "Other ports stay closed by default.",
        headings="Router > Remote management",
    )
    answer = extractive_answer("which ports do I need to open for remote management of the web console?", [ports])
    for item in ("TCP 8443 for the web console", "UDP 3478 for the relay", "TCP 22 for SSH maintenance"):
        assert item in answer
    assert "The router needs these ports open for remote management:" in answer  # the line that introduces them


def test_code_is_quoted_verbatim_with_its_lead_in():
    snapshot = hit(
        "Snapshots are kept until you remove them.\n\n"
        "To list the snapshots of a repository, run:\n\n"
        "$ restic -r /srv/restic-repo snapshots --compact\n"
        "  --host laptop\n\n"
        "The list shows the time and tags of each snapshot.",
        headings="Working with repositories",
    )
    answer = extractive_answer("how do I list all snapshots in my repository?", [snapshot])
    assert (
        "To list the snapshots of a repository, run:\n$ restic -r /srv/restic-repo snapshots --compact\n  --host laptop"
        in answer
    )


def test_quotes_are_cited_and_short():
    filler = " ".join(
        f"Sentence {n} is about the modem lights and what the colours of the modem mean." for n in range(40)
    )
    hits = [hit(filler, source=f"doc{n}.md") for n in range(5)]
    answer = extractive_answer("what do the modem light colours mean?", hits)
    body = answer.removeprefix(LABEL)
    assert len(body.split()) <= 120
    quotes = re.findall(r"^\[(\d)\] ", body, re.M)
    assert quotes and all(1 <= int(n) <= 5 for n in quotes)


def test_a_qa_answer_is_quoted_without_its_question():
    qa = hit(
        "Q: Can I change my billing date?\n\nA: Yes. Billing dates can be moved once a year from the billing page.",
        source="faq.jsonl",
        kind="qa",
        question="Can I change my billing date?",
    )
    answer = extractive_answer("is it possible to change the billing date?", [qa])
    assert "[1] Yes. Billing dates can be moved once a year from the billing page." in answer
    assert "Q:" not in answer and "A:" not in answer


def test_a_quoted_sentence_never_ends_inside_a_sentence():
    """Abbreviations and initials do not end sentences; a sentence cut by a passage boundary is not quoted
    while a whole one answers."""
    cards = hit(
        "Hardware decoding needs a supported GPU. Certain low-end cards (e.g. GT 710 cards, i.e. Kepler parts) "
        "cannot decode H.265 streams and fall back to the CPU. Written by A. U. Thor, see Fig. 3 for the list.",
        headings="Hardware > GPUs",
    )
    answer = extractive_answer("which low-end cards cannot decode H.265 streams?", [cards])
    whole_sentence = "Certain low-end cards (e.g. GT 710 cards, i.e. Kepler parts) cannot decode H.265 streams and fall"
    assert whole_sentence in answer
    cut = hit("Set the decoder to vaapi in the camera section. The decoder falls back to the CPU when the GPU", "a.md")
    whole = hit("When the GPU cannot decode a stream the decoder falls back to the CPU automatically.", "b.md", "B")
    answer = extractive_answer("when does the decoder fall back to the CPU instead of the GPU?", [cut, whole])
    quoted = [line for line in answer.splitlines()[1:] if line.strip()]
    assert quoted and all(re.search(r"[.!?:]$", line) for line in quoted), quoted
    assert "falls back to the CPU automatically." in answer
