"""Bad input and failing services: one line that says what to do, a non-zero exit, no traceback."""

from __future__ import annotations

import re
import socket

import pytest

from rag.cli import EXIT_PARTIAL
from tests.conftest import KB

QUESTION = "My internet is not working. What should I do?"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_missing_folder(cli, tmp_path):
    code, _, err = cli("ingest", tmp_path / "nope", "--data-dir", tmp_path / "d")
    assert code == 2 and "does not exist" in one_line(err)


def test_empty_folder(cli, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "picture.png").write_bytes(b"\x89PNG")
    code, _, err = cli("ingest", tmp_path / "docs", "--data-dir", tmp_path / "d")
    assert code == 2 and "no supported documents" in one_line(err), err
    assert not (tmp_path / "d" / "chroma").exists()


def test_bad_files_are_skipped_and_listed_while_the_rest_is_ingested(cli, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Router\n\nRestart the router by unplugging it for 30 seconds.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (docs / "empty.txt").write_text("")
    (docs / "image.png").write_bytes(b"\x89PNG")
    code, out, err = cli("ingest", docs, "--data-dir", tmp_path / "d")
    assert code == EXIT_PARTIAL, err
    assert re.search(r"added +1\n", out) and re.search(r"failed +1\n", out)
    assert "failed: broken.pdf: cannot parse pdf" in out
    assert "skipped: empty.txt: empty file" in out
    assert "skipped: image.png: unsupported file type .png" in out
    code, out, _ = cli("search", "restart router", "--data-dir", tmp_path / "d", "--json")
    assert code == 0 and '"good.md"' in out


def test_ask_before_ingest(cli, tmp_path):
    code, _, err = cli("ask", QUESTION, "--data-dir", tmp_path / "empty")
    assert code != 0 and "rag ingest" in one_line(err)
    code, _, err = cli("search", "anything", "--data-dir", tmp_path / "empty")
    assert code != 0 and "rag ingest" in one_line(err)


def test_ingest_refuses_another_embedder_and_says_how_to_rebuild(cli, kb_copy, monkeypatch):
    monkeypatch.setenv("RAG_EMBEDDER_VARIANT", "int8")
    code, _, err = cli("ingest", KB, "--data-dir", kb_copy)
    assert code != 0 and "--rebuild" in one_line(err)
    code, _, err = cli("search", "router", "--data-dir", kb_copy)
    assert code != 0 and "--rebuild" in one_line(err)


@pytest.fixture
def chat(monkeypatch, openai_env, kb_data):
    monkeypatch.setenv("RAG_CHAT_MAX_RETRIES", "1")
    monkeypatch.setenv("RAG_DATA_DIR", str(kb_data))
    return openai_env


@pytest.mark.parametrize(
    "status, expected",
    [
        (401, "rejected the API key (401)"),
        (404, "not found (404)"),
        (429, "rate limited (429)"),
        (500, "the server answered 500"),
    ],
)
def test_api_failures(cli, chat, status, expected):
    chat.fail_with = status
    code, out, err = cli("ask", QUESTION)
    line = one_line(err)
    assert code == 3 and expected in line
    assert "sk-test" not in out + err  # the key, or the server's echo of part of it, never appears


def test_rate_limit_is_reported_after_the_sdk_retries(cli, chat):
    chat.fail_with = 429
    cli("ask", QUESTION)
    assert len(chat.chat_requests()) == 2  # the first try and max_retries=1 retry


def test_unknown_model(cli, chat):
    chat.known_models = {"base-model-1"}
    code, _, err = cli("ask", QUESTION, "--model", "no-such-model")
    assert code == 3 and "no-such-model" in one_line(err) and "404" in err


def test_server_unreachable(cli, chat, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    code, _, err = cli("ask", QUESTION)
    assert code == 3 and "cannot reach the server" in one_line(err)


def test_timeout(cli, chat, monkeypatch):
    chat.delay_s = 2.0
    monkeypatch.setenv("RAG_CHAT_TIMEOUT_S", "0.5")
    monkeypatch.setenv("RAG_CHAT_MAX_RETRIES", "0")
    code, _, err = cli("ask", QUESTION)
    assert code == 3 and "timed out" in one_line(err)


def test_missing_api_key_for_openai(cli, kb_data, monkeypatch):
    monkeypatch.setenv("RAG_CHAT_BASE", "gpt-4o-mini")
    code, _, err = cli("ask", QUESTION, "--data-dir", kb_data)
    assert code == 2 and "OPENAI_API_KEY" in one_line(err)


@pytest.mark.parametrize("fault", ["no-finish", "bad-json", "json-200"])
def test_an_invalid_response_is_exit_3_and_never_logged_as_an_answer(cli, chat, kb_copy, monkeypatch, fault):
    monkeypatch.setenv("RAG_LOG_ENABLED", "true")
    chat.stream_fault = fault
    code, out, err = cli("ask", QUESTION, "--data-dir", kb_copy)
    assert code == 3, (fault, out, err)
    assert "the server sent an invalid response" in one_line(err)
    from rag.querylog import QueryLog, log_path

    log_file = log_path(kb_copy)
    if log_file.exists():
        log = QueryLog(log_file)
        assert list(log.entries(10)) == []
        log.close()


def test_every_argument_of_every_command_is_described_with_its_default():
    import argparse

    from rag.cli import build_parser

    def parsers(parser, path=()):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from parsers(child, (*path, name))

    checked = 0
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            where = f"rag {' '.join(path)} {action.dest}"
            assert action.help, f"{where} has no description"
            shown = parser.formatter_class("rag")._get_help_string(action)
            if action.default not in (None, False, argparse.SUPPRESS):
                assert "default" in shown, f"{where} does not show its default"
            checked += 1
    assert checked > 60
    ask = dict(parsers(build_parser()))[("ask",)].format_help()
    assert "extractive" in ask and "declined" in ask


def test_bad_state_in_the_data_directory_is_one_line_before_any_work(cli, kb_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_LOG_ENABLED", "true")
    (kb_copy / "log.sqlite3").write_bytes(b"not a database" * 200)
    code, out, err = cli("ask", QUESTION, "--data-dir", kb_copy)
    assert code == 1 and out == "" and "query log" in one_line(err) and "damaged" in err  # no answer printed
    (kb_copy / "log.sqlite3").unlink()

    (kb_copy / "models.json").write_text('["ft:model"]')
    code, _, err = cli("ask", QUESTION, "--model", "finetuned", "--data-dir", kb_copy)
    assert code == 1 and "models.json holds list" in one_line(err)
    (kb_copy / "models.json").unlink()
    (kb_copy / "models.json").mkdir()
    code, _, err = cli("config", "--data-dir", kb_copy)
    assert code == 1 and "is a folder" in one_line(err)

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for args in (("search", "router"), ("ingest", KB / "billing")):
        code, _, err = cli(*args, "--data-dir", not_a_dir)
        assert code in (1, 2) and str(not_a_dir) in one_line(err) and "Traceback" not in err, (args, err)


def test_a_set_key_without_a_chat_model_gets_a_hint(cli, kb_data, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-set-but-unused-1234")
    code, out, err = cli("ask", QUESTION, "--data-dir", kb_data)
    assert code == 0 and out.startswith("Extractive answer")
    assert "OPENAI_API_KEY is set but no chat model is configured" in err and "configs/openai.toml" in err
    assert "sk-set-but-unused-1234" not in out + err
