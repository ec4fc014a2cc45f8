"""AsciiDoc (`.adoc`, `.asciidoc`) as docs sites and man pages write it, rendered by asciidoc-py, safely.

asciidoc-py (the `asciidoc` package on PyPI) renders the document: sections, definition lists (`term::`),
listing and literal blocks, admonitions, tables, callouts, conditional text (`ifdef::`), attribute
substitution. It renders to DocBook, the one backend that runs in its safe mode (its HTML backends evaluate
Python expressions in their own configuration, which safe mode refuses), and the DocBook is mapped to plain
HTML here for `unstructured`.

File access is ours alone, as for reStructuredText (`ingest/rest.py`):
- `include::` resolves relative to the including file, stays inside the ingested folder (after symlinks),
  and is refused with a note otherwise; an include of a file that is ingested as a document of its own is not
  expanded (its text is indexed once, under its own name); nesting, cycles and the expanded size are bounded;
- every include is resolved before asciidoc-py sees the text, and asciidoc-py sees none (with text from a
  stream it would read includes relative to the working directory), nor any system attribute.

Attributes the text uses and never defines are kept as written (asciidoc-py would drop the whole line);
Asciidoctor's built-in character attributes (`{caret}`, `{tilde}`...) and Git's `{litdd}` are defined.
Inline macros of a site's own (`linkgit:git-config[1]`) show as their target: "git-config(1)".
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ingest.html import drop

MAX_DEPTH = 8  # nested includes
MAX_EXPANDED = 8_000_000  # characters of text after includes: an include bomb fails the file, not the run

# Asciidoctor's built-in character attributes that asciidoc-py lacks, and Git's `litdd` ("literal --").
BUILTIN = {
    "caret": "^",
    "tilde": "~",
    "asterisk": "*",
    "startsb": "[",
    "endsb": "]",
    "vbar": "|",
    "backtick": "`",
    "apos": "'",
    "quot": '"',
    "blank": "",
    "cpp": "C++",
    "cxx": "C++",
    "pp": "++",
    "litdd": "--",
}
# asciidoc-py's own attributes (asciidoc.conf, docbook45.conf) are defined already.
_OWN = frozenset(
    "amp lt gt brvbar nbsp zwsp wj deg backslash two-colons two-semicolons plus empty sp lsquo rsquo ldquo "
    "rdquo two_colons two_semicolons".split()
)
_INCLUDE = re.compile(r"^include1?::(?P<target>[^\[\s][^\[]*)\[(?P<attrs>[^\]]*)\]\s*$")
_ATTR_ENTRY = re.compile(r"^:(?P<name>!?\w[\w-]*!?):(?:\s+(?P<value>.*?))?\s*$")
_ATTR_REF = re.compile(r"(?<![\\$])\{(?P<name>\w[\w-]*)\}")
_SYSTEM = re.compile(r"\{(?=(?:include1?|sys[23]?|eval3?|counter2?|set2?|template):)")
_TITLE = re.compile(r"^=\s+(?P<title>\S.*?)\s*$")
_UNDERLINE = re.compile(r"^={3,}\s*$")
_TAG = re.compile(r"\b(tag|end)::([\w-]+)\[\]")
# A site's own inline macro: `linkgit:git-config[1]`. AsciiDoc's own macros are left to asciidoc-py.
_MACRO = re.compile(r"\b(?P<name>[a-z][\w-]*):(?P<target>[^\s\[\]:][^\s\[\]]*)\[(?P<text>[^\]]*)\]")
_OWN_MACROS = frozenset(
    "http https ftp irc mailto callto link image footnote footnoteref indexterm indexterm2 xref anchor pass "
    "kbd menu btn file include include1 latexmath asciimath stem".split()
)
_LOCK = threading.Lock()  # asciidoc-py keeps the document being rendered in module globals


@dataclass
class _Expansion:
    root: Path
    documents: frozenset[str]
    notes: list[str] = field(default_factory=list)
    size: int = 0
    stack: list[Path] = field(default_factory=list)  # the files being expanded, outermost first
    page: bool = True  # the document has a title: fragments it includes are part of it


class IncludeBomb(Exception):
    """The text after includes is larger than MAX_EXPANDED."""


def _selected(lines: list[str], attrs: str) -> list[str]:
    """`lines=` and `tag=`/`tags=` of an include."""
    options = dict(re.findall(r"(\w+)=\"?([^\",]*(?:,[^\",=]*)*)\"?", attrs))
    if "lines" in options:
        keep: list[str] = []
        for part in re.split(r"[;,]", options["lines"]):
            start, _, end = part.partition("..")
            try:
                first = int(start)
                last = int(end) if end and end != "-1" else len(lines)
            except ValueError:
                continue
            keep += lines[first - 1 : last if _ else first]
        lines = keep
    tags = [t for t in re.split(r"[;,]", options.get("tag", options.get("tags", ""))) if t and not t.startswith("!")]
    if tags:
        keep, inside = [], set()
        for line in lines:
            mark = _TAG.search(line)
            if mark:
                (inside.add if mark[1] == "tag" else inside.discard)(mark[2])
                continue
            if inside & set(tags):
                keep.append(line)
        lines = keep
    return [line for line in lines if not _TAG.search(line)]


def _expand(text: str, path: Path, state: _Expansion, attributes: dict[str, str], depth: int = 0) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        entry = _ATTR_ENTRY.match(line)
        if entry:
            name = entry["name"].strip("!")
            if entry["name"].startswith("!") or entry["name"].endswith("!"):
                attributes.pop(name, None)
            else:
                attributes[name] = entry["value"] or ""
        match = _INCLUDE.match(line)
        if not match:
            out.append(line)
            continue
        shown = match["target"]
        target = _ATTR_REF.sub(lambda m: attributes.get(m["name"], m[0]), shown)
        resolved = _resolve(target, path, state, shown)
        if resolved is None:
            continue
        if resolved in state.stack:
            state.notes.append(f"include of {shown} skipped: it includes itself")
            continue
        if depth >= MAX_DEPTH:
            state.notes.append(f"include of {shown} skipped: includes nested more than {MAX_DEPTH} deep")
            continue
        from ingest.parse import read_text

        included = _selected(read_text(resolved).splitlines(), match["attrs"])
        state.size += sum(len(x) + 1 for x in included)
        if state.size > MAX_EXPANDED:
            raise IncludeBomb(f"the text grows past {MAX_EXPANDED:,} characters through includes")
        offset = re.search(r"leveloffset=([+-]?\d+)", match["attrs"])
        shift = int(offset[1]) if offset else 0
        state.stack.append(resolved)
        body = _expand("\n".join(included), resolved, state, attributes, depth + 1)
        state.stack.pop()
        # Sections of the included text sit under the including section (a relative level offset).
        out += ([f":leveloffset: {shift:+d}", ""] if shift else []) + body + [""]
        out += [f":leveloffset: {-shift:+d}", ""] if shift else []
    return out


def _resolve(target: str, path: Path, state: _Expansion, shown: str) -> Path | None:
    if _ATTR_REF.search(target):
        state.notes.append(f"include of {shown} skipped: its path names an attribute this document never defines")
        return None
    if re.match(r"[a-z]+://", target):
        state.notes.append(f"include of {shown} refused: no URL reads")
        return None
    root = state.root.resolve()
    resolved = (path.parent / target).resolve()  # absolute targets stay absolute (and are refused below)
    if not resolved.is_relative_to(root):
        state.notes.append(f"include of {shown} refused: it is outside the ingested folder")
        return None
    if not resolved.is_file():
        state.notes.append(f"include of {shown}: file not found")
        return None
    if resolved.suffix.lower() in state.documents and (not state.page or _is_page(resolved)):
        # A page of its own is indexed once, under its own name. A fragment is part of each page that includes
        # it; a fragment indexed on its own (`config.adoc`) holds only its own text, or every fragment it
        # includes would count three times (in it, in the page, and on its own).
        return None
    return resolved


def _is_page(path: Path) -> bool:
    """A file with a title of its own is a page; one without (`config/http.adoc`, `diff-options.adoc`) is a
    fragment, written to be read inside the pages that include it, as the published site shows it."""
    from ingest.parse import read_text

    try:
        return bool(title_of(read_text(path)))
    except Exception:  # unreadable: the include is skipped as a page would be
        return True


def title_of(text: str) -> str:
    """The document title: a level-0 `= Title`, or a title underlined with `=`, before the first section."""
    lines = text.splitlines()
    for n, line in enumerate(lines[:60]):
        stripped = line.strip()
        if not stripped or stripped.startswith("//") or _ATTR_ENTRY.match(stripped):
            continue
        if m := _TITLE.match(stripped):
            return m["title"]
        if (
            n + 1 < len(lines)
            and _UNDERLINE.match(lines[n + 1])
            and abs(len(lines[n + 1].strip()) - len(stripped)) <= 2
        ):
            return stripped
        if not stripped.startswith(("[", ".")):
            return ""  # body text before any title: the document has none
    return ""


def _macro(match: re.Match[str]) -> str:
    if match["name"] in _OWN_MACROS:
        return match[0]
    text = match["text"].strip()
    if not text or text.isdigit():  # `linkgit:git-config[1]`: a man page and its section
        return f"{match['target']}({text})" if text else match["target"]
    return text


def prepare(text: str, path: Path, root: Path, documents: frozenset[str], page: bool = True) -> tuple[str, list[str]]:
    """The text asciidoc-py renders: includes resolved by us, system attributes escaped, a site's own
    macros as text; and the notes on what was refused or missing. `page`: the document has a title."""
    state = _Expansion(root, documents, stack=[path.resolve()], page=page)
    lines = _expand(text, path, state, {})
    expanded = "\n".join(lines)
    expanded = _SYSTEM.sub(r"\\{", expanded)
    expanded = _MACRO.sub(_macro, expanded)
    return expanded, state.notes


def _attributes(text: str) -> dict[str, str]:
    """Built-ins, and every attribute the text uses without defining, kept as written."""
    defined = {m["name"].strip("!") for line in text.splitlines() if (m := _ATTR_ENTRY.match(line))}
    attributes = dict(BUILTIN)
    for name in set(_ATTR_REF.findall(text)) - defined - _OWN - set(BUILTIN):
        attributes[name] = "{" + name + "}"
    return attributes


def _no_filter(command: str, lines: list[str], attrs: dict | None = None) -> list[str]:
    """Block filters are shell commands built from the document's own attributes (`[source,LANG]` runs
    `source-highlight -s LANG`), run even in safe mode: a document could run anything. Blocks stay verbatim."""
    return lines


def render(text: str) -> str:
    """DocBook from asciidoc-py (safe mode, no block filters), as HTML."""
    from asciidoc import asciidoc as engine
    from asciidoc.api import AsciiDocAPI

    api = AsciiDocAPI()
    api.options("--no-header-footer")
    api.options("--safe")
    # The book doctype takes a level-0 title anywhere (mail-style howtos put headers before it).
    api.options("--doctype", "book")
    api.attributes.update(_attributes(text))
    out = io.StringIO()
    with _LOCK:
        engine.filter_lines = _no_filter
        try:
            api.execute(io.StringIO(text), out, backend="docbook45")
        except (SystemExit, IndexError):
            # It exits non-zero after errors it rendered past (an unknown block style); its API then indexes an
            # empty message list. What it wrote is kept; nothing written is a failure.
            if not out.getvalue().strip():
                errors = [m for m in engine.message.messages if m.startswith("ERROR")]
                raise ValueError(errors[-1] if errors else "asciidoc could not render the document") from None
    return docbook_html(out.getvalue())


# -- DocBook -> HTML -------------------------------------------------------------------------------------
_SECTIONS = {
    "section",
    "simplesect",
    "chapter",
    "appendix",
    "preface",
    "sect1",
    "sect2",
    "sect3",
    "sect4",
    "sect5",
    "refsect1",
    "refsect2",
    "refsection",
    "glossary",
    "bibliography",
    "colophon",
    "dedication",
    "partintro",
}
_ADMONITIONS = {"note", "tip", "warning", "important", "caution"}
_BLOCKS = {
    "simpara": "p",
    "para": "p",
    "formalpara": "div",
    "literallayout": "pre",
    "programlisting": "pre",
    "screen": "pre",
    "synopsis": "pre",
    "variablelist": "dl",
    "term": "dt",
    "itemizedlist": "ul",
    "orderedlist": "ol",
    "calloutlist": "ol",
    "callout": "li",
    "blockquote": "blockquote",
    "example": "div",
    "informalexample": "div",
    "sidebar": "div",
    "table": "div",
    "informaltable": "div",
    "thead": "thead",
    "tbody": "tbody",
    "tfoot": "tfoot",
    "row": "tr",
    "qandaset": "dl",
    "question": "dt",
    "answer": "dd",
    "abstract": "div",
    "epigraph": "blockquote",
    "attribution": "p",
    "glossentry": "div",
    "glossterm": "dt",
    "glossdef": "dd",
    "figure": "div",
    "mediaobject": "div",
    "textobject": "div",
    "qandaentry": "div",
}
_DROP = {"indexterm", "co", "anchor", "colspec", "spanspec", "remark", "imageobject", "areaspec"}


_TAG_ATTRS = re.compile(r"<([A-Za-z][\w:-]*)\s[^<>]*?(/?)>")


def docbook_html(docbook: str) -> str:
    # Attributes are not text, and asciidoc-py writes some unescaped (a block's language in quotes would
    # break the XML and lose the rest of the page): every tag loses its attributes before parsing.
    docbook = _TAG_ATTRS.sub(r"<\1\2>", docbook)
    root = etree.fromstring(
        f"<root>{docbook}</root>".encode(), etree.XMLParser(recover=True, resolve_entities=False, huge_tree=True)
    )
    if root is None:
        return "<html><body></body></html>"
    _convert(root, depth=1)
    root.tag = "body"
    return "<html>" + etree.tostring(root, encoding="unicode", method="html") + "</html>"


def _convert(element, depth: int) -> None:
    for child in list(element):
        if not isinstance(child.tag, str):  # comments, processing instructions
            drop(child)
            continue
        tag = etree.QName(child).localname
        if tag in _DROP:
            drop(child)
            continue
        inner = depth + 1 if tag in _SECTIONS else depth
        _convert(child, inner)
        if tag in _SECTIONS:
            child.tag = "div"
        elif tag == "title":
            parent = etree.QName(element).localname if element.tag != "body" else ""
            child.tag = f"h{min(depth, 6)}" if parent in _SECTIONS or parent in ("root", "body") else "p"
        elif tag in _ADMONITIONS:
            child.tag = "div"
            label = etree.Element("p")
            label.text = tag.capitalize() + ":"
            child.insert(0, label)
        elif tag == "listitem":
            child.tag = "dd" if etree.QName(element).localname in ("varlistentry", "dl") else "li"
        elif tag == "varlistentry":
            child.tag = "div"
        elif tag == "tgroup":
            child.tag = "table"
        elif tag == "entry":
            child.tag = "td"
        elif tag in _BLOCKS:
            child.tag = _BLOCKS[tag]
        elif tag == "literal":
            child.tag = "code"
        elif tag in ("emphasis", "strong"):
            child.tag = "em"
        elif tag == "footnote":
            child.tag = "span"
            child.text = " (" + (child.text or "")
            child.tail = ")" + (child.tail or "")
        else:
            child.tag = "span"
        child.attrib.clear()


def to_html(source: str, path: Path, root: Path, documents: frozenset[str]) -> tuple[str, str, list[str]]:
    """HTML of an AsciiDoc file, its title, and notes on what was refused or missing."""
    title = title_of(source)
    text, notes = prepare(source, path, root, documents, page=bool(title))
    html = render(text)
    if title:
        html = html.replace("<body>", f"<body><h1>{_escape(title)}</h1>", 1)
    return html, title, notes


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
