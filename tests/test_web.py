"""The web page at `/`, driven in a real headless Chromium (Debian's, through Playwright): ask, watch the
answer stream in, open a citation, rate the answer, and find the rating in the query log."""

from __future__ import annotations

import os
import shutil

import pytest

from rag.querylog import QueryLog, log_path
from tests.test_serve import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium here (`apt-get install chromium`; CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_ask_read_the_cited_passage_and_rate_it(browser, kb_copy, embedder):
    with serving(kb_copy, embedder, {"RAG_LOG_ENABLED": "true"}) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("document.getElementById('status').textContent.includes('documents')")
        assert "20 documents" in page.text_content("#status")

        page.fill("#question", "How do I factory reset the AX3000 router?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn .citations button", timeout=30_000)  # sources come with the last chunk
        answer = page.text_content(".turn .answer")
        assert answer.startswith("Extractive answer") and "[1]" in answer

        citations = page.query_selector_all(".turn .citations button")
        pdf = next(c for c in citations if "nw-ax3000-router-manual.pdf" in c.text_content())
        pdf.click()
        page.wait_for_selector("#passage:not([hidden])")
        assert "page" in page.text_content("#passage-where")
        assert page.text_content("#passage-text").strip()
        page.click("#close")

        page.click(".turn .rating button[data-rating='good']")
        page.wait_for_function("document.querySelector('.turn .thanks').textContent.includes('Thanks')")

        page.fill("#question", "and how long does it take?")  # a follow-up in the same conversation
        page.press("#question", "Enter")
        page.wait_for_function(
            "document.querySelectorAll('.turn .citations li').length > 0 && "
            "document.querySelectorAll('.turn').length == 2 && "
            "document.querySelectorAll('.turn')[1].querySelector('.citations li')"
        )
        assert "Searched for:" in page.text_content(".turn:nth-of-type(2) .rewritten")
        page.close()
    log = QueryLog(log_path(kb_copy))
    entries = list(log.entries())
    log.close()
    rated = [e for e in entries if e.question == "How do I factory reset the AX3000 router?"]
    assert len(rated) == 1 and rated[0].rating == "good"
