"""Docs sites as their authors write them: Sphinx reST, MkDocs, Docusaurus and Hugo Markdown, AsciiDoc keep
every word.

Small fixtures (tests/fixtures/sites) use the constructs a plain reader loses: Sphinx directives and roles,
includes, admonitions, tabs, front matter, attribute lists, MDX components. Each test asks for a sentence
from inside one of them, through real ingestion and retrieval.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest

from ingest.pipeline import IngestReport, ingest_folder
from rag.settings import load_settings
from rag.wiring import open_retriever
from tests.conftest import ROOT

SITES = ROOT / "tests" / "fixtures" / "sites"
SECRET = "TOPSECRET-7d1f passphrase of the build machine"


class Site:
    def __init__(self, folder: Path, data: Path, report: IngestReport, embedder):
        self.folder = folder
        self.settings = load_settings(environ={}, overrides={"data_dir": str(data)})
        self.report = report
        self.retriever = open_retriever(self.settings, embedder)
        from rag.storage.catalog import Catalog

        catalog = Catalog(data / "catalog.sqlite3", readonly=True)
        self.chunks = list(catalog.chunks())
        self.status = catalog.status()
        catalog.close()

    def top(self, question: str):
        return self.retriever.search(question, 3)[0]

    def all_text(self) -> str:
        return "\n".join(c.text for c in self.chunks)


@pytest.fixture(scope="module")
def sites(tmp_path_factory, embedder):
    """Each site copied to <tmp>/<name>/docs beside a secret file the docs must not reach, then ingested
    from an unrelated working directory (includes must not depend on it)."""
    out = {}
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for name in ("sphinx", "mkdocs", "docusaurus", "built", "asciidoc", "hugo"):
        base = tmp_path_factory.mktemp(name)
        shutil.copytree(SITES / name, base / "docs" / "site")
        (base / "docs" / "outside-secret.txt").write_text(SECRET)
        folder = base / "docs" / "site"
        settings = load_settings(environ={}, overrides={"data_dir": str(base / "data")})
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(elsewhere)
            report = ingest_folder(settings, folder, embedder)
        out[name] = Site(folder, base / "data", report, embedder)
    return out


def test_sphinx_directive_bodies_are_retrievable(sites):
    site = sites["sphinx"]
    hit = site.top("how can I cap the upload rate so backups during the day leave bandwidth for others?")
    assert "Caps the upload rate at the given number of kibibytes per second" in hit.text
    assert "--limit-upload KIBPS" in hit.text
    assert hit.headings == "Configuration reference > Options"
    text = site.all_text()
    assert "New in version 0.9: Throttling applies to every storage backend since this release." in text
    assert "Deprecated since version 1.2: The --bwlimit alias is deprecated; use --limit-upload instead." in text
    assert "See also: The keep-last policy decides which snapshots prune removes." in text
    assert "Where chunk indexes are cached between runs" in text
    assert "$ vaultsync backup --limit-upload 500 /home" in text  # code-block with Sphinx-only options


def test_sphinx_roles_become_their_text(sites):
    text = sites["sphinx"].all_text()
    assert "see exit codes for what vaultsync returns" in text
    for markup in (":ref:", ":option:", ":doc:", ":program:", ":stconf:", ":command:", ".. ", "::"):
        assert markup not in text


def test_sphinx_include_is_relative_to_the_including_file(sites):
    site = sites["sphinx"]
    hits = site.retriever.search("does it work through our corporate proxy server?", 3)
    assert "guide/faq.rst" in {h.source for h in hits}
    faq = next(h for h in hits if h.source == "guide/faq.rst")
    assert faq.question == "Does vaultsync work behind a company proxy?"
    assert "HTTPS_PROXY" in faq.text
    # An included file that is a document of its own is indexed once, under its own name.
    sources = [c.metadata["source"] for c in site.chunks if "Caps the upload rate" in c.text]
    assert sources == ["guide/config.rst"]


def test_sphinx_include_outside_the_folder_is_refused_and_reported(sites):
    site = sites["sphinx"]
    assert SECRET.split()[0] not in site.all_text()
    assert "root:x:0:0" not in site.all_text()  # `.. include:: /etc/passwd` is the docs root's /etc/passwd
    assert (
        "guide/faq.rst",
        "include of ../../outside-secret.txt refused: it is outside the ingested folder",
    ) in site.report.notes
    status_notes = [n["note"] for f in site.status["folders"] for n in f["notes"]]
    assert any("outside-secret.txt refused" in n for n in status_notes)


def test_sphinx_csv_table_url_is_refused_without_a_request(tmp_path, embedder):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    connections = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mirrors.rst").write_text(
        "Mirrors\n=======\n\nThe mirror list follows.\n\n"
        f".. csv-table:: Mirrors\n   :url: http://127.0.0.1:{port}/mirrors.csv\n\n"
        f".. raw:: html\n   :url: http://127.0.0.1:{port}/banner.html\n"
    )
    report = ingest_folder(load_settings(environ={}, overrides={"data_dir": str(tmp_path / "d")}), docs, embedder)
    stop.set()
    thread.join()
    listener.close()
    assert connections == []
    assert [n for _, n in report.notes] == [
        f"csv-table :url: http://127.0.0.1:{port}/mirrors.csv refused: no file or URL reads",
        f"raw :url: http://127.0.0.1:{port}/banner.html refused: no file or URL reads",
    ]


def test_sphinx_toctree_page_is_skipped_not_failed(sites):
    report = sites["sphinx"].report
    assert report.failed == ()
    assert ("index.rst", "no content (only headings, a table of contents or front matter)") in report.skipped


def test_mkdocs_admonitions_and_tabs_keep_their_bodies(sites):
    site = sites["mkdocs"]
    hit = site.top("should I export my vault before I upgrade the client?")
    assert "Always export your vault to an encrypted archive before upgrading the sync client." in hit.text
    hit = site.top("how do I install it on Debian Linux?")
    assert "sudo dpkg -i vaultsync.deb" in hit.text
    assert hit.headings == "Sync Client Guide > Installing"
    text = site.all_text()
    assert "The first synchronisation hashes every file" in text  # collapsible ??? block
    assert "A palette chosen on one device is not synchronised" in text  # untitled admonition
    for marker in ("!!!", "???", "===", "{ #proxy }", "{ .annotate }", "    Always"):
        assert marker not in text


def test_mkdocs_front_matter_is_metadata_and_headings_follow_levels(sites):
    site = sites["mkdocs"]
    text = site.all_text()
    for key in ("title:", "description:", "tags:", "---"):
        assert key not in text
    index = [c for c in site.chunks if c.metadata["source"] == "index.md"]
    assert {c.metadata["title"] for c in index} == {"Sync Client Guide"}
    # The description is the page's lead: the first chunk says what the page is about.
    assert "Installing, configuring and upgrading the desktop sync client." in index[0].text
    paths = {c.metadata["headings"] for c in index}
    assert paths == {
        "Sync Client Guide",
        "Sync Client Guide > Installing",
        "Sync Client Guide > Proxy settings",
        "Sync Client Guide > Uninstalling",
        "Sync Client Guide > Configuring",
    }


def test_mkdocs_code_comments_are_code_not_headings(sites):
    """A fence inside a list item, or with an info string Markdown cannot read, still holds code: its
    `# comment` lines must not become headings."""
    text = sites["mkdocs"].all_text()
    assert "# Upload limit in KiB/s\nlimit_upload: 500" in text
    assert "# Shows the effective settings\nvaultsync config --show" in text
    assert "```" not in text


def test_docusaurus_admonitions_tabs_and_details_are_retrievable(sites):
    site = sites["docusaurus"]
    hit = site.top("how do I keep every clip of a person for a whole month?")
    assert "Raise the alert retention to thirty days" in hit.text
    hit = site.top("why are my oldest recordings deleted early when the disk fills up?")
    assert "the oldest hour of recordings is deleted first" in hit.text
    text = site.all_text()
    assert "Open Settings > Recording > Retention and set the number of days per review type." in text
    assert "Network shares mounted over SMB must allow file locking" in text
    for marker in (":::", "<TabItem", "<Tabs>", "import Tabs", "{/*", "{#retention}", "sidebar_position"):
        assert marker not in text
    recording = [c for c in site.chunks if c.metadata["source"] == "docs/recording.md"]
    assert {c.metadata["title"] for c in recording} == {"Recording"}
    assert "Recording > Retention" in {c.metadata["headings"] for c in recording}


def test_built_sites_keep_the_page_and_drop_the_site_around_it(sites):
    """A built site (Sphinx with the Read the Docs theme, Docusaurus): navigation, breadcrumbs, heading anchors,
    "View page source" / "Edit this page", buttons and footers are not page text."""
    site = sites["built"]
    text = site.all_text()
    for chrome in (
        "View page source",
        "Edit this page",
        "On this page",
        "Previous",
        "Copyright",
        "Built with",
        "Skip to main content",
        "Motion masks",
        "\uf0c1",
        "\u200b",
        "\u00b6",
    ):
        assert chrome not in text, chrome
    # The first chunk of a page (its lead, used in ranking) is the page's own opening.
    first = {c.metadata["source"]: c.text for c in site.chunks if c.metadata["chunk_index"] == 0}
    assert first["tuning.html"].startswith("Tuning parameters\n\nRestic offers a few parameters")
    assert first["camera/zones.html"].startswith("Zones\n\nZones are polygons drawn over a camera's image.")
    hit = site.top("how many frames must an object stay in a zone before it counts?")
    assert hit.source == "camera/zones.html" and "the quailfeather default is three frames" in hit.text
    assert hit.headings == "Zones > Required frames"
    assert "Draw zones a little larger" in text  # an admonition inside the article
    hit = site.top("can I skip counting files before a backup to save I/O on a network file system?")
    assert hit.source == "tuning.html" and "--no-scan" in hit.text


def test_built_sites_skip_generated_pages_with_a_reason(sites):
    site = sites["built"]
    skipped = dict(site.report.skipped)
    assert skipped["_sources/"] == "Sphinx's copies of the page sources (the built pages are ingested)"
    assert skipped["genindex.html"] == "generated by Sphinx: an index or search page, not content"
    assert skipped["404.html"] == "the site's page-not-found page"
    assert {c.metadata["source"] for c in site.chunks} == {"tuning.html", "camera/zones.html"}


def test_every_fixture_file_keeps_its_words(sites):
    for site in sites.values():
        assert [f["low_kept"] for f in site.status["folders"]] == [[]]
        assert site.report.low_kept == ()


def test_a_file_that_loses_its_words_is_listed(tmp_path, embedder, cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Modem lights\n\nA blinking orange light means the modem is updating.\n")
    # Text inside form controls is not page text for unstructured: the page keeps a fraction of its words.
    (docs / "form.html").write_text(
        "<html><body><h1>Reset form</h1><p>Fill in the form.</p><textarea>Describe the fault in your own "
        "words, which router model you have, when it started and what you already tried</textarea></body></html>"
    )
    code, out, _ = cli("ingest", docs, "--data-dir", tmp_path / "d")
    assert code == 0
    assert "of its words: form.html" in out
    assert "good.md" not in out.split("seconds")[1]
    code, out, _ = cli("status", "--data-dir", tmp_path / "d")
    assert code == 0
    low = [line for line in out.splitlines() if "of its words" in line]
    assert len(low) == 1 and "form.html" in low[0]


def test_asciidoc_man_page_keeps_options_notes_listings_and_tables(sites):
    site = sites["asciidoc"]
    hit = site.top("are pinned snapshots ever removed when I keep only the last few?")
    assert hit.source == "vaultsync-prune.adoc"
    assert "Pinned snapshots are never counted against the limit and are never pruned." in hit.text
    assert hit.headings == "vaultsync-prune(1) > OPTIONS"
    text = site.all_text()
    assert "Remove snapshots that the keep policy no longer needs" in text  # an attribute, substituted
    assert "without removing anything--nothing is written" in text.replace("\u2014", "--")  # {litdd}
    assert "Note:\n\nPruning a repository on a network share holds the exclusive lock" in text  # admonition
    assert "$ vaultsync prune --keep-last=7 --dry-run\nwould remove 12 snapshots" in text  # listing block
    assert "prune.window | thirty days of recoverable chunks" in text  # table row
    assert "vaultsync-backup(1)" in text and "linkgit:" not in text  # a site's own macro, as its text
    for markup in ("::", "----", "|===", "[verse]", "include::", "{policy-name}"):
        assert markup not in text, markup


def test_asciidoc_includes_stay_in_the_folder(sites):
    site = sites["asciidoc"]
    text = site.all_text()
    # A fragment that is not a document of its own is part of the page that includes it.
    hit = site.top("how long can deleted chunks be recovered before prune frees the space?")
    assert "Deleted chunks stay recoverable for the prune window" in text
    # A fragment (no title of its own) is part of each page that includes it, as the published page shows it,
    # and a document of its own too; a page included by another is indexed once, under its own name.
    sources = {c.metadata["source"] for c in site.chunks if "How long deleted chunks stay recoverable" in c.text}
    assert sources == {"config/prune.adoc", "vaultsync-prune.adoc"}
    sources = {c.metadata["source"] for c in site.chunks if "Pinned snapshots are never counted" in c.text}
    assert sources == {"vaultsync-prune.adoc"}
    assert hit.source in {"config/prune.adoc", "vaultsync-prune.adoc"}
    assert SECRET.split()[0] not in text and "root:x:0:0" not in text
    notes = {n for _, n in site.report.notes}
    assert "include of ../outside-secret.txt refused: it is outside the ingested folder" in notes
    assert "include of /etc/passwd refused: it is outside the ingested folder" in notes


def test_asciidoc_block_filters_never_run_a_command(tmp_path):
    """asciidoc-py runs a block's filter as a shell command built from the document's attributes, even in its
    safe mode: `[source,LANG]` runs `source-highlight -s LANG`. A document must not run anything."""
    from ingest.parse import parse_file

    marker = tmp_path / "ran"
    page = tmp_path / "docs" / "page.adoc"
    page.parent.mkdir()
    page.write_text(
        f'= Page\n\nIntro text.\n\n[source,"sh; touch {marker}"]\n----\necho shown\n----\n\n'
        f'[graphviz, "x; touch {marker}"]\n----\ndigraph {{ a -> b }}\n----\n\n'
        f"{{sys:touch {marker}}}\n"
    )
    doc = parse_file(page, "page.adoc", page.parent)
    assert not marker.exists()
    assert "echo shown" in "\n".join(s.text for s in doc.sections)


def test_hugo_shortcodes_keep_their_content_without_markers(sites):
    site = sites["hugo"]
    hit = site.top("which endpoint do I enter for wasabi in another region?")
    assert hit.source == "content/backends/wasabi.md"
    assert "the endpoint prompt accepts s3.wasabisys.com for every region" in hit.text
    text = site.all_text()
    assert "Host key checking is on by default" in text  # a paired {{% note %}} shortcode's body
    assert "Wasabi Hot Storage" in text  # a provider shortcode shows its name
    for marker in ("{{", "}}", "+++", "title =", "title:"):
        assert marker not in text, marker
    assert {c.metadata["title"] for c in site.chunks} == {"Wasabi", "SFTP"}


def test_docusaurus_partial_is_part_of_the_page_that_imports_it(sites):
    site = sites["docusaurus"]
    hit = site.top("how many hours of clips fit on the sd card before old ones are overwritten?")
    assert hit.source == "docs/storage.mdx"
    assert "keeps at most forty-eight hours of motion clips" in hit.text
    assert "import" not in hit.text and "<Limits" not in hit.text
    assert dict(site.report.skipped)["docs/_limits.md"] == "a partial that pages import: indexed as part of each page"
    assert "docs/_limits.md" not in {c.metadata["source"] for c in site.chunks}


def test_every_chunk_says_which_page_it_is_on(sites):
    """A page without an H1 (its title lives in the site's navigation) is named by its first heading; a
    fragment without any heading by its folder and file name."""
    chunks = {c.metadata["source"]: c for c in sites["mkdocs"].chunks if "answers on both address" in c.text}
    assert chunks["setup/network.md"].text.startswith(
        "Making your network take advantage of quailfeather > Making your quailfeather host use IPv6\n\n"
    )
    fragment = next(c for c in sites["asciidoc"].chunks if c.metadata["source"] == "config/prune.adoc")
    assert fragment.text.startswith("config prune\n\n")
