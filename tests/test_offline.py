"""Nothing downloads at run time: ingest, search and ask run with every non-loopback connection refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import KB, KB_FILES

GUARD = textwrap.dedent(
    """
    import os, socket

    _LOG = os.environ["NET_GUARD_LOG"]
    _LOCAL = ("127.", "::1", "localhost")

    def _note(what):
        with open(_LOG, "a") as f:
            f.write(what + "\\n")

    _connect = socket.socket.connect
    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOCAL):
            _note(f"connect {address}")
            raise OSError("network blocked by test")
        return _connect(self, address)
    socket.socket.connect = connect

    _getaddrinfo = socket.getaddrinfo
    def getaddrinfo(host, *args, **kwargs):
        if host and not str(host).startswith(_LOCAL):
            _note(f"resolve {host}")
            raise socket.gaierror("name resolution blocked by test")
        return _getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
    """
)


def test_ingest_search_ask_with_the_network_blocked(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "net.log"
    home = tmp_path / "home"  # an empty home: no model caches to lean on
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_", "TIKTOKEN_", "HF_"))}
    env.update(PYTHONPATH=str(guard), NET_GUARD_LOG=str(log), HOME=str(home), RAG_DATA_DIR=str(tmp_path / "data"))

    def rag(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True, timeout=300
        )

    ingest = rag("ingest", str(KB), "--json")
    assert ingest.returncode == 0, ingest.stderr
    summary = json.loads(ingest.stdout)
    assert summary["files"] == KB_FILES and summary["failed"] == [] and summary["chunks"] > 100

    search = rag("search", "reset my password", "--json")
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)[0]["source"]

    ask = rag("ask", "How do I reset my account password?", "--json")
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["model"] == "extractive"

    # The guard really is active in the child: a connection out is refused and logged.
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), 1)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0
    attempts = log.read_text().splitlines()
    assert attempts == ["resolve 192.0.2.1"] or attempts == ["connect ('192.0.2.1', 80)"], attempts


def test_a_users_own_en_core_web_sm_is_left_alone(tmp_path):
    """rag installs nothing under spaCy's model name and never loads it: a model the user has installed
    keeps working for their own code, and parsing does not touch it."""
    from importlib import metadata

    assert "en_core_web_sm" not in {d.metadata["Name"].replace("-", "_").lower() for d in metadata.distributions()}
    site = tmp_path / "site"
    (site / "en_core_web_sm").mkdir(parents=True)
    (site / "en_core_web_sm-3.8.0.dist-info").mkdir()  # what pip leaves: spaCy looks for the distribution
    (site / "en_core_web_sm-3.8.0.dist-info" / "METADATA").write_text("Name: en_core_web_sm\nVersion: 3.8.0\n")
    (site / "en_core_web_sm" / "__init__.py").write_text(
        "import os\n"
        "def load(**overrides):\n"
        "    with open(os.environ['LOADS'], 'a') as f: f.write('load\\n')\n"
        "    import spacy\n"
        "    nlp = spacy.blank('en')\n"
        "    nlp.meta['name'] = 'users_own_model'\n"
        "    return nlp\n"
    )
    script = textwrap.dedent(
        f"""
        import spacy
        from pathlib import Path
        from ingest.parse import parse_file
        doc = parse_file(Path({str(KB / "devices" / "laptop-troubleshooting.txt")!r}), "laptop.txt")
        assert doc.sections
        print(spacy.load("en_core_web_sm").meta["name"])
        """
    )
    loads = tmp_path / "loads.txt"
    env = {**os.environ, "PYTHONPATH": str(site), "LOADS": str(loads)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "users_own_model"
    assert loads.read_text() == "load\n"  # once: the user's own call; parsing never loaded it
