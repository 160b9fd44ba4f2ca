"""The storage seam (rag.index.protocol): the folder backend meets it, filters act inside each search, fusion is
one function, and retrieval reads an index only through the protocol (another dense backend gives the same
answers)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index import DenseIndex, Matches, PassageStore, SearchFilter, SparseIndex
from rag.index.fusion import fuse
from rag.text import tokenize


def test_the_folder_backend_implements_the_protocols(sample_assistant):
    store = sample_assistant.store
    assert isinstance(store.passages, PassageStore)
    assert isinstance(store.dense, DenseIndex)
    assert isinstance(store.sparse, SparseIndex) and isinstance(store.report_sparse, SparseIndex)
    assert store.passages.passage_count() == len(store.chunks) == store.dense.ntotal == store.sparse.size()
    assert store.report_sparse.size() == len(store.docs)


@pytest.mark.model
def test_a_filter_is_applied_inside_each_search_so_k_come_from_the_allowed_reports(sample_assistant, e5_embedder):
    store = sample_assistant.store
    one = store.docs[0].doc_id
    only = SearchFilter(frozenset({one}))
    in_one = sum(1 for c in store.chunks if c.doc_id == one)
    vector = e5_embedder.encode_queries(["2022年新增低保户多少户"])[0]
    dense = store.dense.search(vector, 10, only)
    assert len(dense) == min(10, in_one) and {store.passages.doc_of(i) for i in dense.ids} == {one}
    query = [(t, 1.0) for t in tokenize("低保 民生 保障")]
    sparse = store.sparse.search(query, 5, only)
    assert len(sparse) and {store.passages.doc_of(i) for i in sparse.ids} == {one}
    assert np.all(np.diff(sparse.scores) <= 0) and np.all(sparse.scores > 0)  # best first, positive only
    assert len(store.dense.search(vector, 10, SearchFilter(frozenset()))) == 0


def test_a_weighted_keyword_query_is_the_weighted_sum_of_its_tokens_scores(sample_assistant):
    sparse = sample_assistant.store.sparse
    content, locator = tokenize("低保户"), tokenize("永北圩")
    alone = lambda toks: sparse.scores([(t, 1.0) for t in toks])  # noqa: E731
    weighted = sparse.scores([(t, 1.0) for t in content] + [(t, 0.5) for t in locator])
    np.testing.assert_allclose(weighted, alone(content) + 0.5 * alone(locator), rtol=1e-6)
    assert sparse.doc_freq("低保") > 0 and sparse.doc_freq("不存在的词语") == 0


def _m(ids, scores):
    return Matches(np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32))


def test_score_fusion_scales_each_list_adds_them_and_breaks_ties_by_id():
    dense = _m([3, 1, 2], [0.9, 0.8, 0.7])  # min-max: 1.0, 0.5, 0.0
    sparse = _m([2, 5], [4.0, 2.0])  # / best: 1.0, 0.5
    fused = fuse(dense, sparse, "score", dense_weight=0.5, sparse_weight=1.0)
    assert fused.ids.tolist() == [2, 3, 5, 1]  # 2: 0 + 1.0; 3: 0.5; 5: 0.5 (tie: by id after 3); 1: 0.25
    np.testing.assert_allclose(fused.scores, [1.0, 0.5, 0.5, 0.25], rtol=1e-6)
    boosted = fuse(dense, sparse, "score", 0.5, 1.0, boost=lambda ids: np.where(ids == 1, 4.0, 0.0))
    assert boosted.ids[0] == 1  # 0.25 × (1 + 4) = 1.25
    assert len(fuse(None, None)) == 0 and fuse(dense, None).ids.tolist() == [3, 1]  # the weakest scales to 0


def test_rrf_fusion_adds_weight_over_rank():
    fused = fuse(_m([1, 2], [0.9, 0.1]), _m([2], [3.0]), "rrf", dense_weight=1.0, sparse_weight=1.0, rrf_k=60)
    assert fused.ids.tolist() == [2, 1]
    np.testing.assert_allclose(fused.scores, [1 / 62 + 1 / 61, 1 / 61], rtol=1e-6)


class ExactNumpyDense:
    """Another DenseIndex: brute-force inner product in numpy over a copy of the vectors."""

    def __init__(self, vectors, allowed):
        self.vectors_ = vectors
        self.dim = vectors.shape[1]
        self._allowed = allowed

    def search(self, vector, k, filters=SearchFilter()):
        scores = self.vectors_ @ vector
        ok = self._allowed(filters)
        if ok is not None:
            scores = np.where(ok, scores, -np.inf)
        k = min(k, int(np.isfinite(scores).sum()))
        return Matches.top(scores, k, positive_only=False)

    def vectors(self, ids):
        return self.vectors_[list(ids)]


@pytest.mark.model
def test_retrieval_reads_the_index_only_through_the_protocol(sample_assistant):
    """Swap the FAISS index for another DenseIndex (exact search in numpy): the same passages, the same answer."""
    import copy

    store = sample_assistant.store
    other = copy.copy(store)
    other.dense = ExactNumpyDense(store.dense.vectors(range(store.dense.ntotal)), store.passages.allowed)
    assert isinstance(other.dense, DenseIndex)
    retriever = sample_assistant.retriever
    swapped = copy.copy(retriever)
    swapped.store = other
    for question in ("永北圩所在的镇2022年一共保障了多少户城乡低保？", "辽市镇上半年引进了哪两个投资额亿元以上的项目？"):
        a, b = retriever.search(question), swapped.search(question)
        assert [h.chunk.chunk_id for h in a.hits] == [h.chunk.chunk_id for h in b.hits]
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=1e-5)


def test_the_dense_index_kind_is_chosen_by_config_or_by_size():
    from rag.index.faiss_dense import dense_kind

    assert dense_kind("flat", 10**7, 200_000) == "flat" and dense_kind("hnsw", 10, 200_000) == "hnsw"
    assert dense_kind("auto", 199_999, 200_000) == "flat" and dense_kind("auto", 200_000, 200_000) == "hnsw"


def test_bad_index_settings_are_refused():
    from rag.config import load_settings
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="index.dense must be"):
        load_settings(overrides={"index.dense": "ivf"})
    with pytest.raises(ConfigError, match="index.hnsw_ef_search must be >= 1"):
        load_settings(overrides={"index.hnsw_ef_search": 0})


@pytest.mark.model
def test_an_hnsw_index_finds_what_the_exact_one_does_also_under_a_filter(sample_assistant, e5_embedder):
    from rag.index.faiss_dense import FaissDense, build_dense

    store = sample_assistant.store
    vectors = store.dense.vectors(range(store.dense.ntotal))
    hnsw = FaissDense(build_dense(vectors, "hnsw", ef_search=128), store.passages.allowed)
    assert hnsw.approximate and not store.dense.approximate
    one = SearchFilter(frozenset({store.docs[1].doc_id}))
    for question in ("2022年新增低保户多少户", "招商引资 亿元以上项目", "森林覆盖率"):
        q = e5_embedder.encode_queries([question])[0]
        for filters in (SearchFilter(), one):
            exact, approx = store.dense.search(q, 10, filters), hnsw.search(q, 10, filters)
            assert approx.ids.tolist() == exact.ids.tolist()  # a small corpus: the graph search is exact
            np.testing.assert_allclose(approx.scores, exact.scores, rtol=1e-5)


def test_ingest_writes_the_configured_dense_index(tmp_path, fake_embedder):
    import shutil

    import faiss

    from conftest import REPORTS_DIR
    from rag.config import load_settings
    from rag.index import load_index
    from rag.ingest import ingest

    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(sorted(REPORTS_DIR.glob("*.txt"))[0], reports)
    ingest(reports, tmp_path / "index", load_settings(overrides={"index.dense": "hnsw"}), fake_embedder)
    store = load_index(tmp_path / "index")
    assert isinstance(store.dense.parts[0][1].index, faiss.IndexHNSW) and store.manifest["segments"][0]["dense_index"] == "hnsw"
    assert store.dense.parts[0][1].index.hnsw.efSearch == 128
    ingest(reports, tmp_path / "flat", load_settings(), fake_embedder)  # the default below hnsw_min_passages
    assert load_index(tmp_path / "flat").manifest["segments"][0]["dense_index"] == "flat"
