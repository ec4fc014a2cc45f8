"""Every sample format parses into chunks with the metadata users see in citations."""

from __future__ import annotations

import json
import re

import pytest

from ingest.chunk import Chunker
from ingest.parse import ParseError, parse_file, read_text
from rag.settings import ChunkSettings
from tests.conftest import KB


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(ChunkSettings(), embedder.count_tokens, embedder.max_tokens)


def chunks_of(rel: str, chunker):
    return chunker.chunk(parse_file(KB / rel, rel), "kb")


def test_pdf_chunks_carry_pages_and_font_headings(chunker):
    chunks = chunks_of("internet/nw-ax3000-router-manual.pdf", chunker)
    pages = {c.page for c in chunks}
    assert pages >= {1, 2, 3, 4}
    reset = [c for c in chunks if "Factory reset" in c.heading_path]
    assert reset and all(c.page == 3 for c in reset)
    assert any("paper clip" in c.text for c in reset)


def test_docx_keeps_heading_path(chunker):
    chunks = chunks_of("support-policies.docx", chunker)
    levels = [c for c in chunks if "Priority 1" in c.text]
    assert levels and levels[0].heading_path == "Response times > Service levels by priority"
    assert all(c.page is None for c in chunks)


def test_jsonl_pairs_become_one_qa_chunk_each(chunker):
    lines = (KB / "support-qa.jsonl").read_text().splitlines()
    chunks = chunks_of("support-qa.jsonl", chunker)
    assert len(chunks) == len(lines)
    first = json.loads(lines[0])
    assert chunks[0].kind == "qa"
    assert chunks[0].question == first["prompt"]
    assert first["prompt"] in chunks[0].text and first["completion"] in chunks[0].text


def test_markdown_faq_headings_become_qa_records(chunker):
    chunks = chunks_of("billing/billing-and-invoices.md", chunker)
    qa = [c for c in chunks if c.kind == "qa"]
    assert {c.question for c in qa} >= {"Why is my first bill higher than expected?", "Can I change my billing date?"}
    first_bill = next(c for c in qa if c.question.startswith("Why is my first bill"))
    assert "two periods" in first_bill.text
    assert first_bill.heading_path == "Billing and invoices > FAQ"
    passages = [c for c in chunks if c.kind == "passage"]
    assert any(c.heading_path == "Billing and invoices > Outage compensation" for c in passages)


@pytest.mark.parametrize(
    "rel, heading, needle",
    [
        ("accounts/password-reset.html", "Resetting your account password > Password rules", "12 characters"),
        ("accounts/my-northwind-app.txt", "MY NORTHWIND APP: GETTING STARTED > BOOKING A TECHNICIAN", "65 EUR"),
        ("internet/mesh-wifi-and-extenders.rst", "Mesh Wi-Fi and extenders > Wired backhaul", "Ethernet cable"),
    ],
)
def test_html_text_and_rst_sections(chunker, rel, heading, needle):
    chunks = chunks_of(rel, chunker)
    match = [c for c in chunks if c.heading_path == heading]
    assert match and needle in match[0].text
    assert match[0].text.startswith(heading)  # the heading path travels with the chunk text


def test_faq_questions_in_plain_text_and_html(chunker):
    txt = [c for c in chunks_of("billing/payment-methods.txt", chunker) if c.kind == "qa"]
    assert any(c.question == "Why did my card payment fail?" and "expired card" in c.text for c in txt)
    html = [c for c in chunks_of("accounts/two-factor-authentication.html", chunker) if c.kind == "qa"]
    assert any(c.question == "I lost my phone. How do I sign in?" for c in html)


def test_no_chunk_exceeds_the_model_limit_in_its_own_tokens(tmp_path, chunker, embedder):
    heading = "A very long heading about routers " * 5
    body = "\n\n".join(
        f"Paragraph {n}: " + "the modem restarts and synchronises with the exchange, " * (n % 7 + 3) for n in range(60)
    )
    body += "\n\n" + "x" * 3000  # one unbreakable token run
    doc = tmp_path / "long.md"
    doc.write_text(f"# {heading}\n\n{body}\n")
    chunks = chunker.chunk(parse_file(doc, "long.md"), "kb")
    assert len(chunks) > 10
    assert max(embedder.count_tokens(c.text) for c in chunks) <= 256
    assert all(c.index == n for n, c in enumerate(chunks))


def test_chunk_ids_are_deterministic(chunker):
    a = chunks_of("internet/vpn-setup.md", chunker)
    b = chunks_of("internet/vpn-setup.md", chunker)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)


def test_text_encodings_are_decoded(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Réinitialiser le modem: débrancher.".encode("latin-1"))
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("Passwort zurücksetzen".encode("utf-16"))
    assert read_text(latin) == "Réinitialiser le modem: débrancher."
    assert read_text(utf16) == "Passwort zurücksetzen"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "cannot parse pdf"),
        ("broken.docx", b"PK\x03\x04 truncated", "cannot parse docx"),
        ("binary.txt", bytes(range(256)) * 20, "binary"),
        ("bad.jsonl", b'{"prompt": "q"}\n', "line 1"),
        ("blank.md", b"   \n\n  \n", "empty file"),  # NoContent, a ParseError the ingest lists as skipped
    ],
)
def test_bad_files_raise_a_parse_error_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        parse_file(path, name)


def test_markdown_lists_that_start_under_a_paragraph_stay_lists(tmp_path, chunker):
    doc = tmp_path / "limits.md"
    doc.write_text(
        "# Quotas\n\n**Load balancer**\n+ Listeners per load balancer: 50\n+ Security groups per load "
        "balancer: 5\n\n```\n+ not a list inside code\n```\n"
    )
    parsed = parse_file(doc, "limits.md")
    text = parsed.sections[0].text
    assert "- Listeners per load balancer: 50" in text and "- Security groups per load balancer: 5" in text
    assert "+ Listeners" not in text


def test_tables_keep_their_columns(chunker):
    chunks = chunks_of("email/mailbox-and-account-limits.md", chunker)
    table = next(c for c in chunks if "Attachment size" in c.text)
    lines = table.text.splitlines()
    assert "Item | Home Basic | Home Plus and Business" in lines
    assert "Attachment size, sending and receiving | 25 MB | 35 MB" in lines


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_a_long_table_repeats_its_header_in_every_chunk(tmp_path, chunker, suffix):
    rows = [(f"Setting number {n} of the router admin page", f"{n * 7} seconds") for n in range(120)]
    if suffix == ".md":
        body = "| Setting | Default |\n| --- | --- |\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)
        text = f"# Router defaults\n\n{body}"
    else:
        cells = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
        text = f"<html><body><h1>Router defaults</h1><table><tr><th>Setting</th><th>Default</th></tr>{cells}</table>"
        text += "</body></html>"
    path = tmp_path / f"defaults{suffix}"
    path.write_text(text, encoding="utf-8")
    chunks = chunker.chunk(parse_file(path, path.name), "t")
    with_rows = [c for c in chunks if "Setting number" in c.text]
    assert len(with_rows) > 1
    assert all("Setting | Default" in c.text.splitlines() for c in with_rows)
    found = {line for c in with_rows for line in c.text.splitlines() if line.startswith("Setting number")}
    assert found == {f"{a} | {b}" for a, b in rows}  # every row, whole, somewhere


def test_docx_tables_keep_rows_under_their_header(tmp_path, chunker):
    import docx

    document = docx.Document()
    document.add_heading("Service levels", level=1)
    document.add_paragraph("Response times by priority.")
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(
        table.rows,
        [("Priority", "Response", "Fix"), ("P1", "1 hour", "4 hours"), ("P2", "4 hours", "2 days")],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    path = tmp_path / "levels.docx"
    document.save(path)
    chunks = chunker.chunk(parse_file(path, "levels.docx"), "kb")
    text = "\n".join(c.text for c in chunks)
    assert "Priority | Response | Fix\nP1 | 1 hour | 4 hours\nP2 | 4 hours | 2 days" in text


def test_encrypted_and_scanned_pdfs_get_a_reason(tmp_path):
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    encrypted = canvas.Canvas(str(tmp_path / "locked.pdf"), encrypt=pdfencrypt.StandardEncryption("secret"))
    encrypted.drawString(100, 700, "Router manual behind a password.")
    encrypted.save()
    scanned = canvas.Canvas(str(tmp_path / "scan.pdf"))  # a page that is only an image: no text layer
    scanned.rect(50, 50, 400, 600, fill=1)
    scanned.save()
    with pytest.raises(ParseError, match="encrypted PDF: it needs a password"):
        parse_file(tmp_path / "locked.pdf", "locked.pdf")
    with pytest.raises(ParseError, match=re.escape("no text layer (a scanned PDF?); OCR is not supported")):
        parse_file(tmp_path / "scan.pdf", "scan.pdf")
