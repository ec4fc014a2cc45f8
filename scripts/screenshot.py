"""The README's screenshot of the web page: ingest knowledge_base/, serve it, ask, open a citation.

.venv/bin/python scripts/screenshot.py [OUT.png]   (needs Debian's chromium)
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from rag.serve.app import create_app  # noqa: E402
from rag.serve.service import Service  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.wiring import ingest  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    data = Path(tempfile.mkdtemp())
    settings = load_settings(environ={}, overrides={"data_dir": str(data)})
    ingest(settings, ROOT / "knowledge_base")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(Service(settings)), host="127.0.0.1", port=port, log_level="error")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("document.getElementById('status').textContent.includes('documents')")
        page.fill("#question", "How do I factory reset the AX3000 router?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn .citations button")
        page.click(".turn .citations li:nth-child(1) button")
        page.wait_for_selector("#passage:not([hidden])")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    server.should_exit = True
    shutil.rmtree(data, ignore_errors=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
