from __future__ import annotations

import tomllib

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, as_dict, load_settings
from tests.conftest import ROOT


def test_default_toml_spells_out_the_built_in_defaults():
    data = tomllib.loads((ROOT / "configs" / "default.toml").read_text())
    assert data == as_dict(Settings())


@pytest.mark.parametrize("name", ["default", "openai", "ollama", "chroma-server"])
def test_example_configs_load(name):
    load_settings(ROOT / "configs" / f"{name}.toml", environ={})


def test_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "rag.toml"
    config.write_text('data_dir = "from-file"\n[chat]\nbase = "file-model"\ntemperature = 0.5\n[retrieve]\nk = 7\n')
    env = {"RAG_CHAT_BASE": "env-model", "RAG_DATA_DIR": "from-env"}
    s = load_settings(config, environ=env, overrides={"data_dir": "from-flag"})
    assert (s.chat.base, s.chat.temperature, s.retrieve.k, s.data_dir) == ("env-model", 0.5, 7, "from-flag")
    assert load_settings(environ={"RAG_CONFIG": str(config)}).chat.base == "file-model"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RAG_STORE_PORT": "eighty"}, "store.port: expected int"),
        ({"RAG_STORE_SSL": "maybe"}, "expected true or false"),
        ({"RAG_STORE_MODE": "cloud"}, "store.mode"),
    ],
)
def test_bad_values_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_keys_and_missing_files_are_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[chat]\nmodle = 'x'\n")
    with pytest.raises(ConfigError, match="unknown setting chat.modle"):
        load_settings(bad, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_rag_config_masks_secrets(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    code, out, err = cli("config", "--data-dir", tmp_path)
    assert code == 0
    assert "sk-very-secret-value" not in out + err
    assert 'OPENAI_API_KEY = "set (hidden)"' in out


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RAG_STORE_EF_SEARCH": "-1"}, "store.ef_search must be at least 1, not -1"),
        ({"RAG_EMBEDDER_VARIANT": "fp64"}, "embedder.variant must be one of fp32, int8, not 'fp64'"),
        ({"RAG_RETRIEVE_BM25_WEIGHT": "inf"}, "retrieve.bm25_weight must be a finite number"),
        ({"RAG_RETRIEVE_LEAD_WEIGHT": "-0.5"}, "retrieve.lead_weight must be at least 0"),
        ({"RAG_EMBEDDER_BATCH_SIZE": "-8"}, "embedder.batch_size must be at least 1"),
        ({"RAG_RETRIEVE_K": "0"}, "retrieve.k must be at least 1"),
        ({"RAG_EMBEDDER_PROVIDER": "cohere"}, "embedder.provider must be one of local, openai"),
        ({"RAG_RETRIEVE_FUSION": "max"}, "retrieve.fusion must be one of adaptive, score, rrf"),
        ({"RAG_RETRIEVE_KK": "3"}, "unknown environment variable RAG_RETRIEVE_KK; did you mean RAG_RETRIEVE_K"),
    ],
)
def test_ranges_and_names_are_checked_at_load(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_settings(environ=env)


def test_bad_config_files_are_one_line_exit_2(cli, tmp_path):
    cases = {
        "latin1.toml": "[chat]\nbase = 'caf\xe9'\n".encode("latin-1"),
        "section.toml": b"[retreive]\nk = 3\n",
        "typo.toml": b"[retrieve]\nbm25_wieght = 0.2\n",
        "enum.toml": b"[retrieve]\nretriever = 'semantic'\n",
        "broken.toml": b"[retrieve\n",
    }
    expected = {
        "latin1.toml": "is not UTF-8",
        "section.toml": "unknown section [retreive]; did you mean retrieve?",
        "typo.toml": "unknown setting retrieve.bm25_wieght; did you mean retrieve.bm25_weight?",
        "enum.toml": "retrieve.retriever must be one of hybrid, dense, bm25",
        "broken.toml": "is not valid TOML",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        code, _, err = cli("status", "--config", tmp_path / name, "--data-dir", tmp_path)
        assert code == 2 and expected[name] in err and len(err.strip().splitlines()) == 1, (name, err)
    (tmp_path / "folder.toml").mkdir()
    code, _, err = cli("status", "--config", tmp_path / "folder.toml")
    assert code == 2 and "is a folder" in err
