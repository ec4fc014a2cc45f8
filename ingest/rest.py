"""reStructuredText as Sphinx projects write it, rendered to HTML by docutils, safely.

docutils alone knows none of Sphinx's directives and roles: it drops `.. option::`, `.. versionadded::`,
`.. code-block::` with Sphinx options and the rest, and shows `:ref:` and `:option:` as raw markup. Here:
- every directive docutils does not know keeps its content (a signature directive such as `option`,
  `confval` or `py:function` becomes a term with its description; others a label line and their body);
- every role becomes its text (`:ref:`Title <label>`` -> "Title");
- table-of-contents and index directives produce nothing;
- file access is ours alone: docutils' file insertion and raw input are off (no `:file:`/`:url:` reads, no
  network), and `include`/`literalinclude` resolve relative to the including file (a leading `/` from the
  ingested folder, as in Sphinx) and are refused, with a note, when they leave the ingested folder. An
  include of a file that is ingested as a document of its own (another .rst, .md, .txt...) is not expanded:
  its text is indexed once, under its own name, so a question finds one page, not two copies of it.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.directives.misc import Include
from docutils.utils import unescape

# Directives whose output is navigation or build machinery, not text for the reader.
DROPPED = frozenset(
    "toctree index highlight tabularcolumns sectionauthor codeauthor moduleauthor currentmodule "
    "default-domain default-role contents autosummary rst-class cssclass".split()
)
# Directives whose argument is a condition or a class name, not text: their body is kept, the argument not.
UNLABELLED = frozenset("only ifconfig tab-set grid grid-item-card-group".split())
# Directives whose argument names a thing the body describes (Sphinx object descriptions).
SIGNATURES = frozenset(
    "option cmdoption program envvar confval describe object function class method attribute data exception "
    "module decorator setting".split()
)
# Directives whose body is code or a diagram source: kept verbatim.
LITERAL = frozenset(
    "code-block sourcecode code ipython doctest testcode testoutput graphviz digraph graph mermaid "
    "plantuml uml prompt".split()
)
LABELS = {
    "versionadded": "New in version {}",
    "versionchanged": "Changed in version {}",
    "deprecated": "Deprecated since version {}",
    "versionremoved": "Removed in version {}",
    "seealso": "See also",
}
# Roles whose text is code-like (shown as literal text).
LITERAL_ROLES = frozenset(
    "option envvar file command program samp kbd makevar mailheader regexp code literal func meth class attr "
    "mod data obj exc const confval".split()
)


class _AnyOptions(dict):
    """Accept every option: Sphinx directives take options docutils does not know (`:caption:`, `:linenos:`)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        return directives.unchanged


def _notes(directive: Directive) -> list[str]:
    return directive.state.document.settings.rag_notes


class Dropped(Directive):
    optional_arguments = 99
    final_argument_whitespace = True
    has_content = True
    option_spec = _AnyOptions()

    def run(self) -> list:
        return []


class Literal(Dropped):
    def run(self) -> list:
        text = "\n".join(self.content)
        return [nodes.literal_block(text, text)] if text.strip() else []


class Kept(Dropped):
    """Any other directive: a label line (its argument), then its body parsed as reStructuredText."""

    def run(self) -> list:
        out: list = []
        text = "" if self.name in UNLABELLED else " ".join(self.arguments).strip()
        label = LABELS.get(self.name)
        if label and "{}" in label:  # `versionadded:: 2.1 What changed` -> "New in version 2.1: What changed"
            version, _, rest = text.partition(" ")
            text = label.format(version) + (f": {rest.strip()}" if rest.strip() else "")
        elif label:
            text = f"{label}: {text}" if text else label
        if text:
            inline, messages = self.state.inline_text(text, self.lineno)
            out.append(nodes.paragraph(text, "", *inline))
            out += messages
        if self.content:
            body = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, body)
            out.append(body)
        return out


class Signature(Dropped):
    """`.. option:: --repo REPO` + description -> a term and its definition, as Sphinx renders it."""

    def run(self) -> list:
        term_text = " ".join(self.arguments).strip()
        body = nodes.definition()
        if self.content:
            self.state.nested_parse(self.content, self.content_offset, body)
        item = nodes.definition_list_item("", nodes.term(term_text, term_text), body)
        return [nodes.definition_list("", item)]


MAX_INCLUDED = 8_000_000  # characters that includes may add to one page
MAX_INCLUDES = 1_000  # includes one page may perform


class IncludeBomb(Exception):
    """The included text of one page passed MAX_INCLUDED."""


class ConfinedInclude(Include):
    """`include`, relative to the including file, confined to the ingested folder."""

    option_spec = _AnyOptions()

    def _resolve(self) -> Path | None:
        settings = self.state.document.settings
        target = directives.path(self.arguments[0])
        if target.startswith("<") and target.endswith(">"):
            # docutils' own include directory (`<isonum.txt>`), outside the docs: `<../../etc/passwd>` reaches
            # anything. Refused as every path outside the folder is.
            _notes(self).append(f"{self.name} of {target} refused: it is outside the ingested folder")
            return None
        root = Path(settings.rag_root).resolve()
        base = root if target.startswith("/") else Path(self.state.document.current_source).parent
        path = (base / target.lstrip("/")).resolve()
        if not path.is_relative_to(root):
            _notes(self).append(f"{self.name} of {target} refused: it is outside the ingested folder")
            return None
        if not path.is_file():
            _notes(self).append(f"{self.name} of {target}: file not found")
            return None
        if self.name == "include" and path.suffix.lower() in settings.rag_documents:
            # Ingested as a document of its own: indexed once, under its own name, not twice.
            return None
        return path

    def run(self) -> list:
        self.settings = settings = self.state.document.settings
        self.tab_width = self.options.get("tab-width", settings.tab_width)
        self.clip_options = (
            _int(self.options.get("start-line")),
            _int(self.options.get("end-line")),
            self.options.get("start-after"),
            self.options.get("end-before"),
        )
        path = self._resolve()
        if path is None:
            return []
        self.options["source"] = str(path)
        text = self.read_file(path)
        # Includes can multiply (ten includes of a file of ten includes...): the text they add is bounded.
        settings.rag_included += len(text)
        settings.rag_includes += 1
        if settings.rag_included > MAX_INCLUDED or settings.rag_includes > MAX_INCLUDES:
            raise IncludeBomb(
                f"includes expand the page past {MAX_INCLUDED:,} characters or {MAX_INCLUDES:,} includes "
                "(an include bomb, or a file that includes itself)"
            )
        register_extensions(text)
        if self.name == "literalinclude" or "literal" in self.options or "code" in self.options:
            return [nodes.literal_block(text, text)]
        self.insert_into_input_lines(text)
        return []


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _refusing(base: type[Directive]) -> type[Directive]:
    class Refusing(base):  # type: ignore[misc, valid-type]
        def run(self) -> list:
            for option in ("file", "url"):
                if option in self.options:
                    _notes(self).append(f"{self.name} :{option}: {self.options[option]} refused: no file or URL reads")
                    return []
            return super().run()

    return Refusing


def text_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """Any Sphinx role as the text a reader sees: the title of `Title <target>`, else the target."""
    text = unescape(text)
    match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", text, re.S)
    shown = match.group(1) if match and match.group(1).strip() else (match.group(2) if match else text)
    shown = shown.strip().lstrip("!")
    if shown.startswith("~"):  # `~pkg.mod.func` shows only `func`
        shown = shown[1:].rsplit(".", 1)[-1]
    if name in {"ref", "doc", "term", "numref"} and not (match and match.group(1).strip()):
        shown = shown.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ")
    node = nodes.literal(rawtext, shown) if name.split(":")[-1] in LITERAL_ROLES else nodes.Text(shown)
    return [node], []


_DIRECTIVE = re.compile(r"^\s*\.\.\s+([\w][\w:.+-]*)::", re.M)
_ROLE = re.compile(r"(?<![\w`]):([\w][\w:.+-]*):`")


def _known_directive(name: str) -> bool:
    return name in directives._directives or name in directives._directive_registry


def _known_role(name: str) -> bool:
    return name in roles._roles or name in roles._role_registry


def _register_once() -> None:
    directives.register_directive("include", ConfinedInclude)
    directives.register_directive("literalinclude", ConfinedInclude)
    from docutils.parsers.rst.directives.misc import Raw
    from docutils.parsers.rst.directives.tables import CSVTable

    directives.register_directive("csv-table", _refusing(CSVTable))
    directives.register_directive("raw", _refusing(Raw))
    for name in DROPPED:
        directives.register_directive(name, Dropped)
    for name in LITERAL:
        directives.register_directive(name, Literal)


_register_once()


def register_extensions(source: str) -> None:
    """Give every directive and role this text uses, and docutils does not know, its Sphinx-like meaning."""
    for name in set(_DIRECTIVE.findall(source)):
        if not _known_directive(name):
            short = name.split(":")[-1]
            if short in DROPPED:
                directives.register_directive(name, Dropped)
            elif short in LITERAL:
                directives.register_directive(name, Literal)
            elif short in SIGNATURES or ":" in name:
                directives.register_directive(name, Signature)
            else:
                directives.register_directive(name, Kept)
    for name in set(_ROLE.findall(source)):
        if not _known_role(name):
            roles.register_local_role(name, text_role)


def to_html(source: str, path: Path, root: Path, documents: frozenset[str]) -> tuple[str, list[str]]:
    """HTML of a reST file, and notes on what was refused or missing (includes outside the folder...).
    `documents`: the suffixes ingested as documents of their own; includes of those are not expanded."""
    from docutils.core import publish_string

    register_extensions(source)
    notes: list[str] = []
    html = publish_string(
        source,
        source_path=str(path),
        writer="html5",
        settings_overrides={
            "report_level": 5,
            "halt_level": 5,
            "file_insertion_enabled": False,  # only our ConfinedInclude reads files
            "raw_enabled": False,
            "_disable_config": True,  # never read docutils.conf from the working directory or home
            "syntax_highlight": "none",
            "input_encoding_error_handler": "replace",
            "rag_root": str(root),
            "rag_notes": notes,
            "rag_documents": documents,
            "rag_included": 0,
            "rag_includes": 0,
        },
    ).decode("utf-8")
    return html, notes
