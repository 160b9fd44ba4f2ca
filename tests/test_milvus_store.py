"""The Milvus store (rag.index.milvus_store) against a real Milvus Lite file: it meets the storage protocols,
its dense search is the FAISS index's, keyword search and doc_freq agree with the folder backend's, add/delete
work in place, and the retriever over it answers the bundled questions from the same reports."""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest

from rag.config import load_settings
from rag.errors import ConfigError
from rag.index import DenseIndex, PassageStore, SearchFilter, SparseIndex, WritableStore
from rag.index.milvus_store import MilvusStore, folder_parts, token_word
from rag.text import tokenize

needs_milvus = pytest.mark.skipif(
    importlib.util.find_spec("pymilvus") is None or importlib.util.find_spec("milvus_lite") is None,
    reason="pymilvus / milvus-lite not installed (pip install '.[cluster]')",
)

QUESTIONS = ("永北圩所在的镇2022年一共保障了多少户城乡低保？", "辽市镇上半年引进了哪两个投资额亿元以上的项目？", "2022年新增低保户多少户")


def _folder_parts(sample_assistant, doc_ids=None):
    """docs, chunks, vectors and tokens of the folder index, as ingest computes them (``doc_ids``: only these)."""
    return folder_parts(sample_assistant.store, sample_assistant.settings.splitter.context, doc_ids)


def test_the_store_backend_is_a_checked_setting():
    assert load_settings().store.backend == "folder"
    chosen = load_settings(overrides={"store.backend": "milvus", "store.milvus_uri": "http://localhost:19530"}).store
    assert (chosen.backend, chosen.milvus_uri) == ("milvus", "http://localhost:19530")
    for bad in ({"store.backend": "faiss"}, {"store.milvus_uri": "milvus"}):
        with pytest.raises(ConfigError, match="store"):
            load_settings(overrides=bad)
    with pytest.raises(ValueError, match="collection_prefix"):
        MilvusStore("x.db", "bad-prefix")


def test_a_token_is_stored_as_one_ascii_word():
    words = {token_word(t) for t in ("低保", "~低保", "py:yongbei", "2022年", "低保")}
    assert len(words) == 4 and all(w.isalnum() and w.isascii() and len(w) == 13 for w in words)


@pytest.fixture(scope="module")
def milvus(sample_assistant, tmp_path_factory):
    store = MilvusStore(str(tmp_path_factory.mktemp("milvus") / "milvus.db"), "test", sample_assistant.store.dim,
                        manifest=sample_assistant.store.manifest)
    store.add(*_folder_parts(sample_assistant))
    yield store
    store.close()


@needs_milvus
def test_the_milvus_store_implements_the_protocols(milvus, sample_assistant):
    assert isinstance(milvus, WritableStore) and isinstance(milvus.passages, PassageStore)
    assert isinstance(milvus.dense, DenseIndex)
    assert isinstance(milvus.sparse, SparseIndex) and isinstance(milvus.report_sparse, SparseIndex)
    folder = sample_assistant.store
    assert milvus.passages.passage_count() == len(folder.chunks) == milvus.sparse.size()
    assert milvus.report_sparse.size() == len(folder.docs) and len(milvus.chunks) == len(folder.chunks)
    # ids are the order of addition: here the folder's rows
    assert [milvus.passages.chunk(i) for i in (0, 7, len(folder.chunks) - 1)] == [folder.chunks[i] for i in (0, 7, len(folder.chunks) - 1)]
    assert milvus.dim == folder.dim and milvus.manifest["embedding"] == folder.manifest["embedding"]
    assert {d.doc_id for d in milvus.docs} == set(folder.doc_by_id)


@needs_milvus
@pytest.mark.model
def test_dense_search_is_the_faiss_index_s_with_and_without_a_filter(milvus, sample_assistant, e5_embedder):
    folder = sample_assistant.store
    only = SearchFilter(frozenset({folder.docs[0].doc_id, folder.docs[2].doc_id}))
    for vector in e5_embedder.encode_queries(list(QUESTIONS)):
        for filters in (SearchFilter(), only):
            a, b = folder.dense.search(vector, 10, filters), milvus.dense.search(vector, 10, filters)
            assert a.ids.tolist() == b.ids.tolist()
            np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    np.testing.assert_allclose(milvus.dense.vectors([3, 1]), folder.dense.vectors([3, 1]), atol=1e-6)
    assert len(milvus.dense.search(vector, 10, SearchFilter(frozenset()))) == 0


@needs_milvus
def test_keyword_search_keeps_to_the_filter_and_doc_freq_is_the_folder_s(milvus, sample_assistant):
    folder = sample_assistant.store
    one = folder.docs[1].doc_id
    only = SearchFilter(frozenset({one}))
    query = [(t, 1.0) for t in tokenize("低保 民生 保障")]
    found = milvus.sparse.search(query, 5, only)
    assert len(found) == 5 and {milvus.passages.doc_of(i) for i in found.ids} == {one}
    assert np.all(np.diff(found.scores) <= 0) and np.all(found.scores > 0)  # best first, positive only
    for token in ("低保", "保障", "永北圩", "~民生", "不存在的词语") + tuple(tokenize("城乡低保")):
        assert milvus.doc_freq(token) == folder.doc_freq(token), token
    assert milvus.idf("低保") == pytest.approx(folder.idf("低保"))
    # Milvus' BM25 (k1, b as bm25s', its (k1 + 1) factor divided out) gives bm25s' passages and scores here
    for text in QUESTIONS + ("低保 民生 保障",):
        a, b = folder.sparse.search([(t, 1.0) for t in tokenize(text)], 20), milvus.sparse.search([(t, 1.0) for t in tokenize(text)], 20)
        assert a.ids.tolist() == b.ids.tolist()
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4)
    # a weighted query is the weighted sum of its groups' scores
    content, locator = tokenize("低保户"), tokenize("永北圩")
    n = milvus.sparse.size()
    weighted = milvus.sparse.search([(t, 1.0) for t in content] + [(t, 0.5) for t in locator], n)
    alone = milvus.sparse.search([(t, 1.0) for t in content], n)
    loc = milvus.sparse.search([(t, 1.0) for t in locator], n)
    expect = dict(zip(alone.ids.tolist(), alone.scores.tolist()))
    for i, s in zip(loc.ids.tolist(), loc.scores.tolist()):
        expect[i] = expect.get(i, 0.0) + 0.5 * s
    got = dict(zip(weighted.ids.tolist(), weighted.scores.tolist()))
    assert got.keys() == expect.keys()
    np.testing.assert_allclose([got[i] for i in sorted(got)], [expect[i] for i in sorted(got)], rtol=1e-5)
    # report-level BM25: ids are rows of ``docs``
    reports = milvus.report_sparse.search([(t, 1.0) for t in tokenize("永北圩")], len(milvus.docs))
    folder_reports = folder.report_sparse.search([(t, 1.0) for t in tokenize("永北圩")], len(folder.docs))
    assert milvus.docs[int(reports.ids[0])].doc_id == folder.docs[int(folder_reports.ids[0])].doc_id


@needs_milvus
@pytest.mark.model
def test_deleting_a_report_removes_it_from_every_search_and_adding_it_again_finds_it(sample_assistant, e5_embedder, tmp_path):
    folder = sample_assistant.store
    store = MilvusStore(str(tmp_path / "milvus.db"), "del", folder.dim)
    try:
        store.add(*_folder_parts(sample_assistant))
        gone = folder.docs[0].doc_id
        kept = {i: c.chunk_id for i, c in enumerate(folder.chunks) if c.doc_id != gone}
        vector = e5_embedder.encode_queries(["2022年新增低保户多少户"])[0]
        query = [(t, 1.0) for t in tokenize("低保 民生 保障 2022年")]
        assert gone in {store.passages.doc_of(i) for i in store.dense.search(vector, 200).ids}
        store.delete([gone])
        n = len(folder.chunks)
        dense, sparse = store.dense.search(vector, n), store.sparse.search(query, n)
        assert gone not in {store.passages.doc_of(i) for i in dense.ids.tolist() + sparse.ids.tolist()}
        assert set(dense.ids.tolist()) == set(kept)  # every other passage, ids unchanged
        assert all(store.passages.chunk(i).chunk_id == kept[i] for i in dense.ids.tolist())
        assert gone not in store.doc_by_id and store.passages.passage_count() == len(kept)
        assert store.report_sparse.size() == len(folder.docs) - 1
        assert store.report_sparse.search([(t, 1.0) for t in tokenize("低保")], 100).ids.max() < len(folder.docs) - 1
        _, _, _, gone_tokens, _ = _folder_parts(sample_assistant, {gone})
        assert store.doc_freq("低保") == folder.doc_freq("低保") - sum("低保" in toks for toks in gone_tokens)

        store.add(*_folder_parts(sample_assistant, {gone}))
        dense = store.dense.search(vector, n, SearchFilter(frozenset({gone})))
        assert len(dense) == sum(1 for c in folder.chunks if c.doc_id == gone)
        assert min(dense.ids.tolist()) >= n  # new ids, the others' kept
        assert {store.passages.chunk(i).doc_id for i in dense.ids} == {gone}
        assert store.sparse.search(query, 5, SearchFilter(frozenset({gone}))).ids.size > 0
        assert gone in store.doc_by_id and store.passages.passage_count() == n
        reopened = MilvusStore(str(tmp_path / "milvus.db"), "del", folder.dim)  # state read back from Milvus
        assert reopened.passages.passage_count() == n and set(reopened.doc_by_id) == set(store.doc_by_id)
    finally:
        store.close()


@needs_milvus
@pytest.mark.model
def test_the_retriever_over_the_milvus_store_finds_the_same_reports(milvus, sample_assistant):
    retriever = sample_assistant.retriever
    over_milvus = copy.copy(retriever)
    over_milvus.store = milvus
    for question in QUESTIONS:
        a, b = retriever.search(question), over_milvus.search(question)
        assert a.hits and b.hits
        assert a.hits[0].chunk.doc_id == b.hits[0].chunk.doc_id, question
        assert a.named_doc == b.named_doc
        # measured: with bm25s' k1/b and the (k1+1) factor divided out, the very same passages and scores
        assert [h.chunk.chunk_id for h in a.hits] == [h.chunk.chunk_id for h in b.hits], question
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=1e-4)
    a = retriever.search(QUESTIONS[0], allowed_docs=frozenset({milvus.docs[0].doc_id}))
    b = over_milvus.search(QUESTIONS[0], allowed_docs=frozenset({milvus.docs[0].doc_id}))
    assert {h.chunk.doc_id for h in b.hits} == {milvus.docs[0].doc_id} == {h.chunk.doc_id for h in a.hits}


def test_rag_ingest_and_the_assistant_work_on_the_milvus_store(tmp_path, e5_embedder, sample_assistant):
    """store.backend = "milvus": ingest writes reports in place (an unchanged one is not touched, a deleted one
    leaves), and the assistant answers from the store as from the folder."""
    import shutil

    from conftest import REPORTS_DIR
    from rag.config import load_settings
    from rag.ingest import ingest
    from rag.pipeline import Assistant

    settings = load_settings(overrides={"store.backend": "milvus"})
    reports = tmp_path / "reports"
    reports.mkdir()
    names = sorted(REPORTS_DIR.glob("*.txt"))[:2]
    for p in names:
        shutil.copy(p, reports)
    first = ingest(reports, tmp_path / "index", settings, e5_embedder)
    assert sorted(first.added) == [p.name for p in names] and (tmp_path / "index" / "milvus.db").exists()
    assistant = Assistant(tmp_path / "index", settings, e5_embedder)
    question = "永北圩所在的镇2022年一共保障了多少户城乡低保？"
    on_milvus, on_folder = assistant.ask(question), sample_assistant.ask(question)
    assert on_milvus.status == on_folder.status == "answered" and "1120户" in on_milvus.text
    assert [c.chunk.doc_id for c in on_milvus.citations] == [c.chunk.doc_id for c in on_folder.citations]
    (reports / names[1].name).unlink()
    second = assistant.ingest(reports)
    assert second.removed == [names[1].name] and second.unchanged == [names[0].name] and second.embedded_chunks == 0
    assert {d.source for d in assistant.store.docs} == {names[0].name}
    assert "1120户" in assistant.ask(question).text

    import contextlib
    import io

    from rag.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--set", "store.backend=milvus", "info", "--index", str(tmp_path / "index")]) == 0
    assert "1 reports" in out.getvalue() and names[0].name in out.getvalue()
