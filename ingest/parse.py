"""Parse one file into sections and question/answer pairs.

Every document format goes through `unstructured`; PDFs are read page by page with pdfminer.six (light and
page-aware; `unstructured[pdf]` pulls torch) and each page's text is partitioned by unstructured.
reStructuredText is rendered to HTML with docutils and Sphinx's directives and roles (`ingest/rest.py`;
unstructured's own path needs a 150 MB pandoc). MkDocs/Docusaurus Markdown is brought back to plain Markdown
first (`ingest/markdown.py`). Prompt/completion JSONL files become Q&A pairs directly.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import asciidoc, html, kept, markdown, rest
from ingest.documents import ParsedDocument, QAPair, Section
from ingest.nlp import use_rule_based_pipeline
from ingest.table import table_text
from rag.errors import InputError

# unstructured pings an analytics host and prints a banner unless told not to.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

# Language detection per element costs time and logs "No features in text." for short elements; the
# language tag is not used downstream.
_LANGUAGES = ["eng"]
logging.getLogger("unstructured").setLevel(logging.ERROR)
use_rule_based_pipeline()

_QA_KEYS = (("prompt", "completion"), ("question", "answer"), ("input", "output"))


class ParseError(InputError):
    """One file could not be parsed; ingestion skips it and reports the reason."""


class NoContent(ParseError):
    """A well-formed file with nothing to index (a table of contents, headings only): skipped, not failed."""


def read_text(path: Path) -> str:
    """Decode text files: UTF-8 (with or without BOM), UTF-16 with BOM, else latin-1. A UTF-8 file with a
    few bad bytes stays UTF-8 (the bad bytes become U+FFFD), so one stray byte cannot turn "Café" into
    "CafÃ©" for the whole file."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            if _looks_binary(raw):
                raise ParseError("binary content in a text file") from None
            text = raw.decode("utf-8-sig", errors="replace")
            bad = text.count("\ufffd")
            good = sum(1 for ch in text if ord(ch) > 127) - bad
            if good < 4 * bad:  # most non-ASCII bytes are not UTF-8: a latin-1 file, not UTF-8 with slips
                text = raw.decode("latin-1")
    if "\x00" in text:
        if _looks_binary(raw):
            raise ParseError("binary content in a text file")
        text = text.replace("\x00", "")
    return text


MAX_INFLATED = 50_000_000  # bytes a Word file's parts may inflate to (a zip bomb of 0.2 MB inflates to 60 MB)


def _check_inflated(data: bytes) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(item.file_size for item in archive.infolist())
    except zipfile.BadZipFile:
        raise ParseError("cannot parse docx file: not a zip archive (damaged, or another format)") from None
    if inflated > MAX_INFLATED:
        raise ParseError(
            f"its parts inflate to {inflated / 1e6:.0f} MB (over {MAX_INFLATED / 1e6:.0f} MB): a compression bomb, "
            "or a document too large to be one page of documentation"
        )


MAX_LINE = 100_000  # characters: longer lines are data or minified output, not documentation prose


def _check_lines(text: str) -> str:
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > MAX_LINE:
        raise ParseError(
            f"a line of {longest:,} characters (over {MAX_LINE:,}); this looks like data or generated output, "
            "not documentation: leave it out with .ragignore or split it into lines"
        )
    return text


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:4096]
    if not sample:
        return False
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    # Text has almost no control bytes; random binary has 9 % (23 of 256 values), so 3 % never straddles it.
    return control / len(sample) > 0.03


def _qa_from_jsonl(text: str) -> list[QAPair]:
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise ParseError(f"line {number} is not valid JSON") from None
        pair = None
        if isinstance(obj, dict):
            for q, a in _QA_KEYS:
                if isinstance(obj.get(q), str) and isinstance(obj.get(a), str):
                    pair = QAPair(obj[q].strip(), obj[a].strip())
                    break
            messages = obj.get("messages")
            if pair is None and isinstance(messages, list):
                user = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
                bot = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
                if user and bot and isinstance(user[0], str) and isinstance(bot[0], str):
                    pair = QAPair(user[0].strip(), bot[0].strip())
        if pair is None:
            raise ParseError(f"line {number} has no prompt/completion (or question/answer, messages) pair")
        if pair.question and pair.answer:
            pairs.append(pair)
    return pairs


@dataclass
class _Source:
    """What the format-specific readers hand to the element walk."""

    elements: list
    reference: str = ""  # the file's words with markup removed (for the kept ratio); "" -> element text
    title: str = ""  # from front matter
    notes: list[str] = field(default_factory=list)
    markup_only: bool = False  # nothing but front matter (a redirect stub): no content, not a failure


def _markdown(path: Path, root: Path) -> _Source:
    from unstructured.partition.md import partition_md

    raw = _check_lines(read_text(path))
    page = markdown.normalise(raw, path, root)
    elements = partition_md(text=_separate_lists(page.text), languages=_LANGUAGES)
    markup_only = bool(page.meta) and not kept.words(page.text)
    # The kept ratio counts the partials' words too: they are the page's text.
    reference = kept.markdown_plain(markdown.partials(raw, path, root)[0])
    return _Source(elements, reference, page.title, list(page.notes), markup_only)


def _html(path: Path, root: Path) -> _Source:
    from unstructured.partition.html import partition_html

    page = html.content(read_text(path))
    reference = _check_lines(kept.html_plain(page))  # minified pages are one line; their text nodes are not
    return _Source(partition_html(text=_unwrap_html(page), languages=_LANGUAGES), reference)


def _text(path: Path, root: Path) -> _Source:
    raw = _check_lines(read_text(path))
    return _Source(_text_elements(raw), raw)


def _rest(path: Path, root: Path) -> _Source:
    from unstructured.partition.html import partition_html

    raw = _check_lines(read_text(path))
    try:
        rendered, notes = rest.to_html(raw, path, root, frozenset(SUPPORTED))
    except rest.IncludeBomb as exc:
        raise ParseError(str(exc)) from None
    return _Source(partition_html(text=rendered, languages=_LANGUAGES), kept.rst_plain(raw), notes=notes)


def _asciidoc(path: Path, root: Path) -> _Source:
    from unstructured.partition.html import partition_html

    raw = _check_lines(read_text(path))
    try:
        rendered, title, notes = asciidoc.to_html(raw, path, root, frozenset(SUPPORTED))
    except asciidoc.IncludeBomb as exc:
        raise ParseError(str(exc)) from None
    elements = partition_html(text=rendered, languages=_LANGUAGES)
    return _Source(elements, kept.asciidoc_plain(raw), title, notes=notes)


def _docx(path: Path, root: Path) -> _Source:
    from unstructured.partition.docx import partition_docx

    with path.open("rb") as handle:
        data = handle.read()
    _check_inflated(data)
    return _Source(partition_docx(file=io.BytesIO(data), languages=_LANGUAGES))


# The readers, by file suffix: a new format is a function from (file, ingested folder) to elements, added here.
# PDFs (read page by page) and Q&A JSONL (pairs, not elements) have paths of their own in `parse_file`.
READERS: dict[str, Callable[[Path, Path], _Source]] = {
    **dict.fromkeys((".md", ".markdown", ".mdx"), _markdown),
    **dict.fromkeys((".html", ".htm"), _html),
    **dict.fromkeys((".txt", ".text"), _text),
    ".rst": _rest,
    **dict.fromkeys((".adoc", ".asciidoc"), _asciidoc),
    ".docx": _docx,
}
SUPPORTED = {*READERS, ".pdf", ".jsonl"}


def _partition(path: Path, suffix: str, root: Path) -> _Source:
    reader = READERS.get(suffix)
    if reader is None:
        raise ParseError(f"unsupported file type {suffix}")
    return reader(path, root)


# unstructured drops the text of <details> (collapsible admonitions of MkDocs sites) and <figcaption>.
_UNWRAP = {"details": "div", "summary": "p", "figcaption": "p"}
_UNWRAP_TAG = re.compile(r"<(/?)(details|summary|figcaption)\b[^>]*>", re.I)


def _unwrap_html(page: str) -> str:
    return _UNWRAP_TAG.sub(lambda m: f"<{m[1]}{_UNWRAP[m[2].lower()]}>", page)


_LIST_ITEM = re.compile(r"^\s{0,3}([-+*]|\d{1,9}[.)])\s+\S")


def _separate_lists(markdown: str) -> str:
    """Put a blank line before a list that starts right under a paragraph line.

    CommonMark lets a list interrupt a paragraph; the Markdown library unstructured uses does not, and turns
    "**Limits**\n+ Rules per listener: 100\n+ ..." into one run-on paragraph (common in vendor docs)."""
    out: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and _LIST_ITEM.match(line) and out and out[-1].strip() and not _LIST_ITEM.match(out[-1]):
            if not out[-1].startswith((" ", "\t")):  # not a continuation line of an earlier item
                out.append("")
        out.append(line)
    return "\n".join(out)


def _text_elements(text: str) -> list:
    """Plain text through unstructured, with the structure plain text implies made explicit: a short line
    standing alone is a heading (the first one is the document title), and a question on its own line
    starts a Q&A pair (unstructured would merge it with its answer)."""

    from unstructured.documents.elements import ElementMetadata, Title
    from unstructured.partition.text import partition_text

    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip()]
    spaced = []
    for block in blocks:
        first, _, rest = block.partition("\n")
        spaced += [first, rest] if _is_question(first) and rest.strip() else [block]
    elements = []
    for n, block in enumerate(spaced):
        line = block.strip()
        heading = "\n" not in line and len(line) < 80 and not re.search(r"[.:;,?!]$", line) and n + 1 < len(spaced)
        if heading:
            depth = 0 if not elements else 1
            elements.append(Title(line, metadata=ElementMetadata(category_depth=depth)))
        else:
            elements.extend(_demote(e) for e in partition_text(text=block, languages=_LANGUAGES))
    return elements


def _demote(element):
    """unstructured guesses titles from capitalisation; in plain text only our own rule above makes headings."""
    from unstructured.documents.elements import NarrativeText

    if element.category == "Title" and element.metadata.category_depth is None:
        return NarrativeText(element.text)
    return element


def _pdf_pages(path: Path) -> list[tuple[int, list]]:
    """Per page, unstructured elements; text set in a larger font than the body becomes a heading."""
    from collections import Counter

    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer
    from unstructured.documents.elements import ElementMetadata, NarrativeText, Title
    from unstructured.partition.text import partition_text

    pages: list[list[tuple[float, str]]] = []
    sizes: Counter[float] = Counter()
    for layout in extract_pages(str(path)):
        boxes = []
        for element in layout:
            if not isinstance(element, LTTextContainer):
                continue
            chars = [c.size for line in element for c in line if isinstance(c, LTChar)]
            text = element.get_text().strip()
            if text and chars:
                size = round(sum(chars) / len(chars), 1)
                sizes[size] += len(chars)
                boxes.append((size, text))
        pages.append(boxes)
    if not sizes:
        return []
    body = sizes.most_common(1)[0][0]
    heading_sizes = sorted({s for boxes in pages for s, t in boxes if s > body * 1.15 and len(t) < 120}, reverse=True)
    out = []
    for number, boxes in enumerate(pages, 1):
        elements: list = []
        for size, text in boxes:
            if size in heading_sizes and len(text) < 120:
                elements.append(
                    Title(" ".join(text.split()), metadata=ElementMetadata(category_depth=heading_sizes.index(size)))
                )
            else:
                # A text box is one paragraph: undo the line wrapping. Headings come from font size only,
                # so unstructured's guess that a short line is a title is overridden here.
                for element in partition_text(text=" ".join(text.split()), languages=_LANGUAGES):
                    elements.append(NarrativeText(element.text) if element.category == "Title" else element)
        if elements:
            out.append((number, elements))
    return out


def _is_question(text: str) -> bool:
    text = text.strip()
    return text.endswith("?") and len(text) < 250 and "\n" not in text


def _walk_elements(elements: list, page: int | None, state: dict) -> None:
    """Fold unstructured elements into sections under a heading stack; FAQ headings become Q&A pairs."""
    stack: list[tuple[int, str]] = state["stack"]  # (depth, heading), outermost first
    for element in elements:
        text = (element.text or "").strip()
        if not text:
            continue
        category = element.category
        if category == "Title":
            depth = element.metadata.category_depth
            depth = 0 if depth is None else int(depth)
            _flush(state, page)
            # A heading closes every open heading at its level or deeper: siblings never nest.
            while stack and stack[-1][0] >= depth:
                stack.pop()
            stack.append((depth, text))
            state["headings"].append(text)
            continue
        if category in {"Header", "Footer", "PageNumber", "PageBreak"}:
            continue
        state["text"].append(text)
        in_faq = any("faq" in h.lower() or "frequently asked" in h.lower() for _, h in stack)
        if in_faq and _is_question(text) and category != "ListItem":
            # A question written as a paragraph inside an FAQ section (plain text files, PDFs).
            _flush(state, page)
            if stack and _is_question(stack[-1][1]):
                stack.pop()
            stack.append((stack[-1][0] + 1 if stack else 0, text))
            continue
        if category == "ListItem":
            text = f"- {text}"
        elif category == "Table" and element.metadata.text_as_html:
            text = table_text(element.metadata.text_as_html) or text
        state["body"].append(text)


def _flush(state: dict, page: int | None) -> None:
    body = "\n\n".join(state["body"]).strip()
    state["body"] = []
    if not body:
        return
    headings = tuple(h for _, h in state["stack"])
    if headings and _is_question(headings[-1]):
        state["qa"].append(QAPair(headings[-1], body, headings[:-1], page))
    else:
        state["sections"].append(Section(headings, body, page))


def file_words(source: str) -> str:
    """A document's name when it has no title or heading: its folder and file name as words
    ("config/protocol.adoc" -> "config protocol")."""
    path = Path(source)
    parts = [*path.parent.parts[-1:], path.stem]
    return " ".join(re.sub(r"[-_.]+", " ", p).strip() for p in parts if p not in ("", "."))


def parse_file(path: Path, source: str, root: Path | None = None) -> ParsedDocument:
    """Parse `path`; `source` is its path relative to the ingested folder `root` (includes stay inside it)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ParseError(f"unsupported file type {suffix or '(none)'}")
    if suffix == ".jsonl":
        pairs = _qa_from_jsonl(read_text(path))
        if not pairs:
            raise ParseError("no question/answer pairs")
        reference = "\n".join(f"{p.question}\n{p.answer}" for p in pairs)
        return ParsedDocument(source, Path(source).stem, (), tuple(pairs), reference=reference)
    state: dict = {"stack": [], "body": [], "sections": [], "qa": [], "headings": [], "text": []}
    parsed = _Source([])
    try:
        if suffix == ".pdf":
            for number, elements in _pdf_pages(path):
                _walk_elements(elements, number, state)
                _flush(state, number)
        else:
            parsed = _partition(path, suffix, root or path.parent)
            _walk_elements(parsed.elements, None, state)
            _flush(state, None)
    except ParseError:
        raise
    except Exception as exc:  # a damaged file must not stop the run: report it, skip it
        if type(exc).__name__ in {"PDFPasswordIncorrect", "PDFEncryptionError", "PDFEncryptionWarning"}:
            raise ParseError("encrypted PDF: it needs a password; save an unprotected copy to ingest it") from None
        detail = str(exc).splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        detail = re.sub(r"<([\w.]+?)(?: object)? at 0x[0-9a-fA-F]+>", lambda m: m[1].rsplit(".", 1)[-1], detail)
        raise ParseError(f"cannot parse {suffix[1:]} file: {detail}") from None
    reference = parsed.reference or "\n".join(state["headings"] + state["text"])
    if not state["sections"] and not state["qa"]:
        all_words = kept.words(reference)
        body_words = all_words - kept.words(" ".join(state["headings"]))
        if suffix == ".pdf":
            raise ParseError("no text layer (a scanned PDF?); OCR is not supported")
        if not all_words:
            raise NoContent("empty file")
        if parsed.markup_only or sum(body_words.values()) < 3:
            raise NoContent("no content (only headings, a table of contents or front matter)")
        raise ParseError("no text found")
    title = parsed.title or next(iter(state["headings"]), "") or file_words(source)
    return ParsedDocument(source, title, tuple(state["sections"]), tuple(state["qa"]), tuple(parsed.notes), reference)
