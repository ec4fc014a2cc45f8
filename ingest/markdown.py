"""Markdown as MkDocs and Docusaurus sites write it, brought back to plain Markdown before unstructured reads it.

Docs sites extend Markdown: front matter holds the page title and description; admonitions (`!!! note`,
`??? tip`, `:::warning`), tabs (`=== "TOML"`, `<Tabs><TabItem label=…>`), attribute lists (`{: #anchor }`),
MDX imports and JSX components. A plain Markdown reader shows their markers as text, and MkDocs' indented
admonition and tab bodies become code blocks. Here every marker is removed, every body kept (dedented), and
a title or label is kept as a line of its own, so every word the author wrote reaches the index.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
# MkDocs admonitions / collapsible blocks and pymdownx tabs: a marker line, then a body indented 4 spaces.
_MKDOCS_BLOCK = re.compile(
    r'^(?P<indent>\s*)(?:(?:!!!|\?\?\?\+?)\s+[\w-]+(?:\s+[\w-]+)*|===\+?)\s*(?:"(?P<title>[^"]*)")?\s*$'
)
# Docusaurus admonitions: `:::note`, `:::tip Title`, `:::info[Title]`, closed by `:::` (3 or more colons).
_COLON_OPEN = re.compile(
    r"^\s*:{3,}\s*[A-Za-z][\w-]*(?:\[(?P<bracket>[^\]]*)\]|\s+(?P<title>.+?))?\s*(?:\{[^}]*\})?\s*$"
)
_COLON_CLOSE = re.compile(r"^\s*:{3,}\s*$")
# pymdownx "blocks" syntax: `/// note | Title` ... `///`.
_SLASH_OPEN = re.compile(r"^\s*/{3,}\s*[\w-]+(?:\s*\|\s*(?P<title>.*?))?\s*$")
_SLASH_CLOSE = re.compile(r"^\s*/{3,}\s*$")
_ATTR_LIST = re.compile(r"\s*\{:?\s*(?:[#.][\w:-]+|[\w-]+=\S+)(?:\s+(?:[#.][\w:-]+|[\w-]+=\S+))*\s*\}\s*$")
_MDX_STATEMENT = re.compile(r"^(import\s.+\sfrom\s|import\s+['\"]|export\s+(default\s+|const\s+|function\s+))")
_JSX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.S)
# A JSX component (capitalised name): `<Tabs>`, `</TabItem>`, `<NavPath path="A > B" />`.
_JSX_TAG = re.compile(r"</?([A-Z][\w.]*)((?:\s+[\w-]+(?:=(?:\"[^\"]*\"|'[^']*'|\{[^{}]*\}))?)*)\s*/?>")
_JSX_ATTR = re.compile(r"([\w-]+)=(?:\"([^\"]*)\"|'([^']*)')")
_SHOWN_ATTRS = ("label", "title", "question", "path")  # attributes a component shows to the reader
# Hugo shortcodes: `{{< provider name="AWS S3" >}}`, `{{% version %}}`, `{{< /tab >}}`. The markers go; what a
# paired shortcode wraps stays, and a self-closing one shows its name/title/label attribute if it has one.
_SHORTCODE = re.compile(r"\{\{[<%]\s*/?\s*([\w./-]+)((?:[^}]|\}(?!\}))*?)\s*/?\s*[>%]\}\}")
_SHORTCODE_SHOWN = ("name", "title", "label", "tier", "text", "caption", "summary")
# MDX: `import Snippet from './_snippet.md'` and `<Snippet />` where the partial's text belongs.
MDX_IMPORT = re.compile(r"^\s*import\s+(\w+)\s+from\s+['\"](\.{1,2}/[^'\"]+\.mdx?)['\"];?\s*$")
_MDX_USE = re.compile(r"^\s*<(\w+)\s*/>\s*$")
MAX_PARTIAL_DEPTH = 5
# HTML wrappers that open a raw-HTML block: Markdown inside `<details>` or `<div>` would stay unparsed text.
_HTML_WRAPPER = re.compile(r"</?(?:details|summary|div|section|article|center|figure|figcaption|p)\b[^>]*>", re.I)


@dataclass(frozen=True)
class Markdown:
    text: str  # plain Markdown, markers removed
    title: str = ""  # from front matter
    description: str = ""
    meta: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # MDX imports refused or not found


def front_matter(text: str) -> tuple[dict, str]:
    """YAML (`---`) or TOML (`+++`) front matter at the very top: (its keys, the text after it)."""
    for fence, kind in (("---", "yaml"), ("+++", "toml")):
        if not text.startswith(fence + "\n") and not text.startswith(fence + "\r\n"):
            continue
        end = re.search(rf"^{re.escape(fence)}\s*$", text[len(fence) + 1 :], re.M)
        if not end:
            return {}, text
        raw = text[len(fence) + 1 : len(fence) + 1 + end.start()]
        rest = text[len(fence) + 1 + end.end() :]
        return _load_meta(raw, kind), rest.lstrip("\r\n")
    return {}, text


def _load_meta(raw: str, kind: str) -> dict:
    try:
        if kind == "toml":
            data = tomllib.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except Exception:  # malformed front matter: fall back to `key: value` lines
        data = dict(m.groups() for m in re.finditer(r"^(\w[\w-]*)\s*[:=]\s*(.+?)\s*$", raw, re.M))
    return data if isinstance(data, dict) else {}


def _meta_text(meta: dict, key: str) -> str:
    value = meta.get(key)
    return " ".join(str(value).split()).strip("\"'") if isinstance(value, str | int | float) else ""


def _jsx(match: re.Match[str]) -> str:
    """A component tag becomes the words it shows (its label, title or path), or nothing."""
    attrs = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _JSX_ATTR.finditer(match[2])}
    if match[0].startswith("</"):
        return ""
    shown = next((attrs[a] for a in _SHOWN_ATTRS if attrs.get(a)), "")
    if not shown and match[1] == "TabItem":
        shown = attrs.get("value", "")
    return shown


def shortcode(match: re.Match[str]) -> str:
    attrs = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _JSX_ATTR.finditer(match[2])}
    return next((attrs[a] for a in _SHORTCODE_SHOWN if attrs.get(a)), "")


def partials(body: str, path: Path | None, root: Path | None, depth: int = 0) -> tuple[str, list[str]]:
    """Each `<Name />` of an MDX page whose `Name` is imported from a Markdown file inside the folder is
    replaced by that file's text (its front matter dropped); notes on what was refused."""
    if path is None or root is None or "import" not in body:
        return body, []
    notes: list[str] = []
    imported: dict[str, Path] = {}
    for line in body.split("\n"):
        if m := MDX_IMPORT.match(line):
            target = (path.parent / m[2]).resolve()
            if not target.is_relative_to(root.resolve()):
                notes.append(f"import of {m[2]} refused: it is outside the ingested folder")
            elif depth >= MAX_PARTIAL_DEPTH:
                notes.append(f"import of {m[2]} skipped: partials nested more than {MAX_PARTIAL_DEPTH} deep")
            elif target.is_file():
                imported[m[1]] = target
            else:
                notes.append(f"import of {m[2]}: file not found")
    if not imported:
        return body, notes
    from ingest.parse import read_text

    out = []
    for line in body.split("\n"):
        use = _MDX_USE.match(line)
        if use and use[1] in imported:
            _, text = front_matter(read_text(imported[use[1]]).replace("\r\n", "\n"))
            text, more = partials(text, imported[use[1]], root, depth + 1)
            notes += more
            out += ["", text, ""]
        else:
            out.append(line)
    return "\n".join(out), notes


def normalise(text: str, path: Path | None = None, root: Path | None = None) -> Markdown:
    """Front matter out, docs-site extensions resolved to plain Markdown; MDX partials inlined (with `path`
    and `root`, the file and the ingested folder)."""
    meta, body = front_matter(text.replace("\r\n", "\n"))
    title, description = _meta_text(meta, "title"), _meta_text(meta, "description")
    body, notes = partials(body, path, root)
    body = _JSX_COMMENT.sub("", body)
    lines, h1 = _resolve_blocks(body.split("\n"))
    if title and h1 is None:
        # Docusaurus and MkDocs show the front-matter title as the page's heading.
        lines[:0] = [f"# {title}", ""] + ([description, ""] if description else [])
    elif description:
        # The description is the page's lead: right under the page's title.
        lines.insert(h1 + 1 if h1 is not None else 0, f"\n{description}\n")
    return Markdown("\n".join(lines), title, description, meta, tuple(notes))


def _resolve_blocks(lines: list[str]) -> tuple[list[str], int | None]:
    """The lines as plain Markdown, and where the page's own H1 is (outside code, where `# ` is a comment)."""
    out: list[str] = []
    h1: int | None = None
    fenced = ""  # the fence that opened the code block we are in
    nested = False  # that fence is indented (inside a list item)
    levels: list[int] = []  # indent of the body of each open MkDocs block (admonition or tab), innermost last
    for raw in lines:
        if levels and raw.strip():
            indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip(" "))
            while levels and indent < levels[-1]:  # a line indented less than a block's body closes it
                levels.pop()
        line = _dedent(raw, levels[-1] if levels else 0)
        fence = _FENCE.match(line)
        if fenced:
            # Only a bare fence of the same character, at least as long, closes the block.
            closing = fence and not fence["info"].strip() and fence["fence"][0] == fenced[0]
            if closing and len(fence["fence"]) >= len(fenced):
                out.append("" if nested else line)
                fenced = ""
            else:
                out.append(f"    {line}" if nested and line.strip() else line)
            continue
        if fence:
            fenced = fence["fence"]
            # Python-Markdown reads fences only at the left margin: one inside a list item would leave its
            # `# comments` as headings. There it becomes an indented code block (4 more spaces) instead.
            nested = bool(fence["indent"])
            # Info strings it cannot parse (`{ .sh .no-copy }`, `yaml title="x.yml"`) leave a block unread
            # too: keep the language only.
            language = re.match(r"[{\s.]*([\w+#-]*)", fence["info"])
            out.append("" if nested else f"{fenced}{language[1] if language else ''}")
            continue
        block = _MKDOCS_BLOCK.match(line)
        if block:
            out += ["", block.group("title"), ""] if block.group("title") else [""]
            levels.append((levels[-1] if levels else 0) + len(block.group("indent").expandtabs(4)) + 4)
            continue
        opened = _COLON_OPEN.match(line) or _SLASH_OPEN.match(line)
        if _COLON_CLOSE.match(line) or _SLASH_CLOSE.match(line):
            out.append("")
            continue
        if opened:
            title = (opened.groupdict().get("bracket") or opened.group("title") or "").strip()
            out += ["", title, ""] if title else [""]
            continue
        if _MDX_STATEMENT.match(line):
            continue
        line = _ATTR_LIST.sub("", _SHORTCODE.sub(shortcode, line))
        if _HTML_WRAPPER.match(line.lstrip()):
            line = f"\n{_HTML_WRAPPER.sub('', line).strip()}\n"
        if _JSX_TAG.search(line):
            shown = _JSX_TAG.sub(_jsx, line)
            # A line of component tags alone stands as a paragraph of what they show (a tab's label).
            line = f"\n{shown.strip()}\n" if not _JSX_TAG.sub("", line).strip() else shown
        if h1 is None and re.match(r"#\s+\S", line):
            h1 = len(out)
        out.append(line)
    return out, h1


def _dedent(line: str, width: int) -> str:
    if not width:
        return line
    expanded = line.expandtabs(4)
    leading = len(expanded) - len(expanded.lstrip(" "))
    return expanded[min(width, leading) :]
