"""How much of what the author wrote reached the index: a file's words with markup removed, against its chunks.

The reference text is made without the parser under test (regular expressions over the source), so a
parser that drops a directive, an admonition or a tab shows up as a low ratio. The ratio counts words as a
multiset: overlap between chunks and repeated heading context never count a word twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from html.parser import HTMLParser

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in _WORD.findall(text))


def kept_ratio(reference: str, chunk_texts: Iterable[str]) -> float | None:
    """Share of the reference's words found in the chunks; None when the reference has no words."""
    want = words(reference)
    total = sum(want.values())
    if not total:
        return None
    have = Counter()
    for text in chunk_texts:
        have.update(words(text))
    return sum(min(n, have[w]) for w, n in want.items()) / total


# -- reStructuredText ---------------------------------------------------------------------------------
_RST_NAV = re.compile(r"^(\s*)\.\.\s+(toctree|index|highlight|tabularcolumns|contents|autosummary|raw)::.*$")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+[\w][\w:.+-]*::\s?(.*)$")
_RST_TARGET = re.compile(r"^\s*\.\.\s+_[^:]*:.*$")
_RST_SUBST = re.compile(r"^\s*\.\.\s+\|[^|]+\|\s+[\w-]+::\s?(.*)$")
_RST_COMMENT = re.compile(r"^(\s*)\.\.(\s.*)?$")
_RST_OPTION = re.compile(r"^\s+:[\w-]+:(\s.*)?$")
_RST_UNDERLINE = re.compile(r"^\s*([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_RST_ROLE = re.compile(r":[\w][\w:.+-]*:`([^`]*)`")
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^>]*>`_{1,2}")


def rst_plain(source: str) -> str:
    out: list[str] = []
    skip_indent: int | None = None  # inside a block whose content is not text (comment, toctree)
    in_options = False
    for line in source.splitlines():
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        if in_options and _RST_OPTION.match(line):
            continue
        in_options = False
        if _RST_NAV.match(line) or _RST_TARGET.match(line):
            skip_indent = indent
            continue
        if m := _RST_SUBST.match(line):
            out.append(m.group(1))
            continue
        if m := _RST_DIRECTIVE.match(line):
            # A code block's language or an image's file name is not text the reader sees.
            out.append(
                ""
                if re.match(r"\s*\.\.\s+(code-block|sourcecode|code|image|figure|literalinclude|include)::", line)
                else m.group(2)
            )
            in_options = True
            continue
        if _RST_COMMENT.match(line):
            skip_indent = indent
            continue
        if _RST_UNDERLINE.match(line):
            continue
        out.append(line)
    text = "\n".join(out)
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_ROLE.sub(lambda m: re.sub(r"\s*<[^>]*>$", "", m.group(1)) or m.group(1), text)
    return text


# -- Markdown -----------------------------------------------------------------------------------------
_MD_LINK_URL = re.compile(r"\]\([^)]*\)")
_MD_REFDEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_MD_TAG = re.compile(r"</?[A-Za-z][^<>]*?/?>")
_MD_COMMENT = re.compile(r"<!--.*?-->|\{/\*.*?\*/\}|<(script|style)\b.*?</\1>", re.S | re.I)
_MD_FENCE = re.compile(r"^\s*(```|~~~).*$", re.M)  # a fence line and its language are not text
_MD_MARKER = re.compile(r"^\s*(?:!!!|\?\?\?\+?|===\+?|:{3,}|/{3,})\s*[\w-]*", re.M)
_MD_ATTRS = re.compile(r"\{:?\s*[#.][^}]*\}")
_MD_SHORTCODE = re.compile(r"\{\{[<%].*?[>%]\}\}")
_MD_MDX = re.compile(r"^(?:import|export)\s.*$", re.M)


def markdown_plain(source: str) -> str:
    from ingest.markdown import front_matter

    meta, body = front_matter(source.replace("\r\n", "\n"))
    head = " ".join(str(meta.get(k, "")) for k in ("title", "description") if isinstance(meta.get(k), str))
    # Attribute values a component shows (labels, titles, paths) are words the reader sees.
    body = re.sub(r"\b(?:label|title|question|path|name|tier)=\"([^\"]*)\"", r" \1 ", body)
    body = _MD_SHORTCODE.sub(" ", body)
    for pattern in (_MD_COMMENT, _MD_FENCE, _MD_MDX, _MD_REFDEF, _MD_LINK_URL, _MD_TAG, _MD_MARKER, _MD_ATTRS):
        body = pattern.sub(" ", body)
    return f"{head}\n{body}"


# -- AsciiDoc -----------------------------------------------------------------------------------------
_ADOC_COMMENT_BLOCK = re.compile(r"^/{4,}\s*$.*?^/{4,}\s*$", re.M | re.S)
_ADOC_LINE = re.compile(
    r"^(?://.*|:!?[\w-]+!?:.*|\[.*\]|(?:include1?|ifn?def|ifeval|endif|image|toc)::.*|[-.=*_+|/~^`]{2,}|\+)\s*$", re.M
)
_ADOC_MARKER = re.compile(r"^\s*(?:=+\s|[*.-]+\s|\.(?=\S))", re.M)
_ADOC_INLINE = re.compile(r"<<[^,>]*,?([^>]*)>>|\b[a-z]+:(?://)?[^\s\[]*\[([^\]]*)\]|\{[\w-]+\}|:{2,}|;;")


def asciidoc_plain(source: str) -> str:
    text = _ADOC_COMMENT_BLOCK.sub(" ", source)
    text = _ADOC_LINE.sub(" ", text)
    text = _ADOC_MARKER.sub(" ", text)
    return _ADOC_INLINE.sub(lambda m: f" {m.group(1) or m.group(2) or ''} ", text)


# -- HTML ---------------------------------------------------------------------------------------------
_CHROME = {"script", "style", "head", "template", "noscript", "nav"}  # not page text (nav: site navigation)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _CHROME:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _CHROME and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_plain(source: str) -> str:
    parser = _Text()
    parser.feed(source)
    parser.close()
    return "\n".join(parser.parts)  # one text node per line: a page-long text node is a line of its own
