"""The optional cross-encoder reranker, with a tiny random-weight CrossEncoder built locally (no hub).

The tiny model's scores mean nothing; what is checked is the plumbing: the fused candidates are
re-ordered by exactly the cross-encoder's own ``predict`` scores, ranks are renumbered, the stage is
timed, the reranker is off unless configured, a bad model folder is a clear ``EmbeddingError`` on first
use (not at start-up), and ``enabled`` without a model is a ``ConfigError``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import RerankerSettings, load_settings
from rag.errors import ConfigError, EmbeddingError, RagError
from rag.pipeline import Assistant
from rag.retrieve import CrossEncoderReranker, HybridRetriever
from rag.schema import Chunk, Hit

from conftest import REPORTS_DIR, FakeEmbedder

QUESTIONS = [
    "辽市镇下半年要打造哪两个新农村样板点？",
    "永北圩所在的镇2022年保障了多少户低保？",
]


def build_tiny_cross_encoder(folder: Path) -> Path:
    """A 2-layer, 32-d, randomly initialised ``BertForSequenceClassification`` (num_labels=1) + tokenizer.

    Saved as a plain transformers folder: sentence-transformers' ``CrossEncoder`` loads a folder without
    ``modules.json`` as a sequence-classification ``Transformer`` (Sigmoid on the single logit).
    """
    import torch
    from transformers import BertForSequenceClassification

    from tiny_models import tiny_tokenizer_and_config

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer, config = tiny_tokenizer_and_config(num_labels=1)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        # BERT's default init (std 0.02) puts every logit near 0, so the sigmoid scores would differ only
        # in the 5th decimal; a wider head spreads them and keeps float32 ties out of the ordering.
        generator = torch.Generator().manual_seed(1)
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=generator))
    model.eval()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_ce_dir(tmp_path_factory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder"))


@pytest.fixture(scope="module")
def cross_encoder(tiny_ce_dir):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(tiny_ce_dir), device="cpu")


@pytest.fixture(scope="module")
def fake_index_dir(tmp_path_factory) -> Path:
    """An index of the sample reports with the fake embedder: enough for tests that never judge quality."""
    from rag.ingest import ingest

    index_dir = tmp_path_factory.mktemp("fake-index")
    ingest(REPORTS_DIR, index_dir, load_settings(), FakeEmbedder())
    return index_dir


def rerank_settings(model: str, top_n: int = 10):
    return load_settings(overrides={"reranker.enabled": True, "reranker.model": model, "reranker.top_n": top_n})


def order_by_scores(scores) -> list[int]:
    """Positions by descending score, ties in input order (the reranker's own rule)."""
    return sorted(range(len(scores)), key=lambda i: -float(scores[i]))


# --- the tiny model itself -------------------------------------------------------------------------


def test_tiny_cross_encoder_loads_offline_and_scores_pairs(tiny_ce_dir, cross_encoder):
    import numpy as np

    assert not (tiny_ce_dir / "modules.json").exists()  # a plain transformers folder
    assert cross_encoder.num_labels == 1
    pairs = [("全县低保户数是多少？", "全镇共有低保户312户。"), ("防汛工作做得怎么样？", "今年汛期降雨偏多。"), ("a", "b " * 500)]
    scores = cross_encoder.predict(pairs, show_progress_bar=False)
    assert scores.shape == (3,)
    assert np.all((scores > 0) & (scores < 1))  # Sigmoid on one logit
    assert len({round(float(s), 6) for s in scores}) == 3  # spread out, no ties
    np.testing.assert_array_equal(scores, cross_encoder.predict(pairs, show_progress_bar=False))


# --- CrossEncoderReranker on hand-made hits (no embedding model) -----------------------------------


def _hit(i: int, text: str) -> Hit:
    chunk = Chunk(f"d:{i}", "d", "r.txt", "报告", "", i * 100, i * 100 + len(text), text)
    return Hit(chunk, score=1.0 / (i + 1), rank=i + 1, dense_score=0.5, bm25_score=2.0)


def test_reranker_orders_the_head_by_predict_and_keeps_the_tail(tiny_ce_dir, cross_encoder):
    texts = [
        "全镇共有低保户312户，特困供养人员48人。",
        "今年汛期降雨偏多，全县组织防汛演练12次。",
        "新建农村公路45公里，改造危房320户。",
        "加强疫情防控，完善医疗卫生服务体系。",
        "全年实现地区生产总值增长6.5%。",
        "教育、医疗、养老等民生事业持续改善。",
        "防汛抗旱指挥部落实24小时值班制度。",
    ]
    hits = [_hit(i, t) for i, t in enumerate(texts)]
    question = "全县低保户数是多少？"
    reranker = CrossEncoderReranker(RerankerSettings(enabled=True, model=str(tiny_ce_dir), top_n=5))
    out = reranker.rerank(question, hits)

    scores = cross_encoder.predict([(question, h.chunk.text) for h in hits[:5]], show_progress_bar=False)
    expected = [hits[i].chunk.chunk_id for i in order_by_scores(scores)]
    assert [h.chunk.chunk_id for h in out[:5]] == expected
    assert [h.chunk.chunk_id for h in out[5:]] == [h.chunk.chunk_id for h in hits[5:]]  # tail untouched
    assert [h.rank for h in out] == list(range(1, len(hits) + 1))
    assert [h.score for h in out[:5]] == pytest.approx(sorted((float(s) for s in scores), reverse=True))
    assert [h.score for h in out[5:]] == [h.score for h in hits[5:]]
    assert all(h.dense_score == 0.5 and h.bm25_score == 2.0 for h in out)  # per-signal parts kept
    assert reranker.rerank(question, []) == []


# --- a) through the Assistant, over the real sample index ------------------------------------------


@pytest.fixture(scope="module")
def reranking_assistant(sample_index_dir, e5_embedder, tiny_ce_dir):
    return Assistant(sample_index_dir, rerank_settings(str(tiny_ce_dir), top_n=10), e5_embedder)


@pytest.mark.model
@pytest.mark.parametrize("question", QUESTIONS, ids=["sample-points", "dibao"])
def test_assistant_hits_follow_the_cross_encoder_scores(reranking_assistant, cross_encoder, e5_embedder, question):
    assistant = reranking_assistant
    assert assistant.retriever.reranker is not None
    # the fused top 10, as the retriever ranks them without a reranker
    plain = HybridRetriever(assistant.store, e5_embedder, assistant.settings.retrieval)
    fused = plain.search(question, top_k=10).hits
    assert len(fused) == 10
    scores = cross_encoder.predict([(question, h.chunk.text) for h in fused], show_progress_bar=False)
    expected = [fused[i].chunk.chunk_id for i in order_by_scores(scores)]
    expected_scores = sorted((float(s) for s in scores), reverse=True)
    # the random model must actually move something, or this test would prove nothing
    assert expected != [h.chunk.chunk_id for h in fused]

    result = assistant.retriever.search(question, top_k=10)
    assert [h.chunk.chunk_id for h in result.hits] == expected
    assert [h.rank for h in result.hits] == list(range(1, 11))
    assert [h.score for h in result.hits] == pytest.approx(expected_scores, abs=1e-6)
    assert "rerank" in result.timings and result.timings["rerank"] >= 0

    # ask(): the configured top_k (5) of the same reranked order
    answer = assistant.ask(question)
    k = assistant.settings.retrieval.top_k
    assert [h.chunk.chunk_id for h in answer.hits] == expected[:k]
    assert [h.rank for h in answer.hits] == list(range(1, k + 1))
    assert "rerank" in answer.timings


# --- b) off by default -----------------------------------------------------------------------------


def test_reranker_is_off_by_default(fake_index_dir):
    settings = load_settings()
    assert settings.reranker.enabled is False
    assistant = Assistant(fake_index_dir, settings, FakeEmbedder())
    assert assistant.retriever.reranker is None
    result = assistant.retriever.search(QUESTIONS[0])
    assert result.hits and "rerank" not in result.timings


# --- c) a missing model folder fails on first search, clearly ---------------------------------------


def test_missing_reranker_model_fails_on_first_search_not_at_construction(fake_index_dir, tmp_path):
    missing = str(tmp_path / "no-such-reranker")
    assistant = Assistant(fake_index_dir, rerank_settings(missing), FakeEmbedder())  # no load yet
    assert assistant.retriever.reranker is not None
    for _ in range(2):  # a failed load is not cached as a half-made model
        with pytest.raises(EmbeddingError, match=re.escape(missing)) as info:
            assistant.ask(QUESTIONS[0])
        assert isinstance(info.value, RagError)
        assert "reranker" in str(info.value)


# --- d) config validation ----------------------------------------------------------------------------


def test_enabled_reranker_needs_a_model():
    with pytest.raises(ConfigError, match="reranker.model is empty"):
        load_settings(overrides={"reranker.enabled": True})
    with pytest.raises(ConfigError, match="reranker.model is empty"):
        load_settings(overrides={"reranker.enabled": "true", "reranker.model": ""})
    with pytest.raises(ConfigError):
        RerankerSettings(enabled=True, model="")
    assert RerankerSettings(enabled=False, model="").enabled is False  # off needs no model
    s = load_settings(overrides={"reranker.enabled": "yes", "reranker.model": "some/model", "reranker.top_n": "7"})
    assert s.reranker == RerankerSettings(enabled=True, model="some/model", top_n=7)
