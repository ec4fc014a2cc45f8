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
