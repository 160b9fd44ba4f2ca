"""Evaluation metrics on hand-computed cases, failure explanations, and the eval door end to end."""

from __future__ import annotations

import json
import math

import pytest

from rag.evaluate import (
    BASELINE,
    EvalConfig,
    EvalQuestion,
    Gold,
    char_f1,
    contains_answer,
    evaluate,
    format_table,
    load_questions,
    parse_config_spec,
    score_question,
    summarise,
    write_report,
)
from rag.index import StoredDocument
from rag.schema import Answer, Chunk, Citation, Hit, content_id

DOC_A = "一年来全镇共保障城乡低保1120户1774人。全年开展志愿服务150余次。"
DOC_B = "今年我们已陆续取缔非法塑料加工经营户*户。全面落实河长制。"


class FakeStore:
    def __init__(self, corpus):
        self.docs = []
        self.chunks = []
        for name, text in corpus.items():
            doc_id = content_id(text.encode("utf-8"))
            self.docs.append(StoredDocument(doc_id, name, name, "utf-8", "", text))
            mid = text.index("。") + 1
            for start, end in ((0, mid), (mid, len(text))):
                self.chunks.append(Chunk(f"{doc_id}:{start}", doc_id, name, name, "", start, end, text[start:end]))
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self.passages = self

    # the two PassageStore methods scoring reads: passages by report, and a passage by id
    def passages_of(self, doc_id: str) -> list[int]:
        return [i for i, c in enumerate(self.chunks) if c.doc_id == doc_id]

    def chunk(self, passage_id: int) -> Chunk:
        return self.chunks[passage_id]


@pytest.fixture
def gold(tmp_path):
    corpus = {"a.txt": DOC_A, "b.txt": DOC_B}
    for name, text in corpus.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    store = FakeStore(corpus)
    return Gold(tmp_path, store), store


def hits_of(store, *indexes):
    return [Hit(store.chunks[i], 1.0 / (r + 1), r + 1) for r, i in enumerate(indexes)]


def cite(store, i, n=1):
    c = store.chunks[i]
    return Citation(n, c, c.text, c.start, c.end)


Q_NUM = EvalQuestion("q1", "保障了多少户低保？", ("1120户",), ("a.txt",), ("共保障城乡低保1120户1774人",), "number")
Q_VOL = EvalQuestion("q2", "志愿服务多少次？", ("150余次",), ("a.txt",), ("开展志愿服务150余次",), "number")
Q_RED = EvalQuestion("q3", "取缔了多少户？", (), ("b.txt",), ("取缔非法塑料加工经营户*户",), "redacted")
Q_UNA = EvalQuestion("q4", "地铁站有几个？", (), (), (), "unanswerable")


def test_answer_normalisation():
    assert contains_answer("共保障１１２０户", "1120户")
    assert contains_answer("拆除 1.29 万平方米", "1.29万平方米")
    assert contains_answer("拆除12900平方米", "1.29万平方米")
    assert contains_answer("出口28.01亿元", "2801000000元")
    assert contains_answer("共1,120户[1]", "1120户")
    assert not contains_answer("共1121户", "1120户")


def test_char_f1_by_hand():
    assert char_f1("低保户", "低保户") == 1.0
    assert char_f1("", "低保户") == 0.0
    # pred 4 chars, gold 4 chars, 3 shared: P = R = 3/4
    assert char_f1("城乡低保", "城乡低收") == pytest.approx(0.75)
    assert char_f1("城乡，低保。[1]", "城乡低保") == 1.0  # punctuation and markers ignored


def test_perfect_run_scores_one(gold):
    g, store = gold
    records = [
        score_question(Q_NUM, Answer("共保障城乡低保1120户[1]", "answered", [cite(store, 0)], hits_of(store, 0, 1)), g),
        score_question(Q_VOL, Answer("志愿服务150余次[1]", "answered", [cite(store, 1)], hits_of(store, 1, 0)), g),
        score_question(Q_RED, Answer("报告中该数字以*遮盖", "redacted", [cite(store, 2)], hits_of(store, 2)), g),
        score_question(Q_UNA, Answer("报告中没有找到", "not_found", [], hits_of(store, 3)), g),
    ]
    m = summarise(records)
    for key in ("report_hit@1", "report_mrr@10", "evidence_hit@1", "evidence_mrr@10", "evidence_ndcg@10",
                "answer_accuracy", "citation_precision", "report_recall", "redacted_rate", "refusal_rate_unanswerable"):
        assert m[key] == pytest.approx(1.0), key
    assert m["false_refusal_rate"] == 0.0
    assert all(not r.failures for r in records)


def test_empty_run_scores_zero(gold):
    g, store = gold
    records = [score_question(q, Answer("", "not_found", [], []), g) for q in (Q_NUM, Q_VOL, Q_RED)]
    m = summarise(records)
    for key in ("report_hit@1", "report_hit@10", "evidence_hit@10", "evidence_mrr@10", "answer_accuracy", "report_recall", "redacted_rate"):
        assert m[key] == 0.0, key
    assert m["false_refusal_rate"] == 1.0
    assert "citation_precision" not in m  # no citations at all: undefined, not zero


def test_half_right_run_matches_hand_computation(gold):
    g, store = gold
    right = score_question(Q_NUM, Answer("共保障城乡低保1120户[1]", "answered", [cite(store, 0)], hits_of(store, 0, 1)), g)
    # evidence at rank 2, answer wrong figure, cites the wrong passage
    wrong = score_question(Q_VOL, Answer("保障城乡低保1120户[1]", "answered", [cite(store, 0)], hits_of(store, 0, 1)), g)
    m = summarise([right, wrong])
    assert m["evidence_hit@1"] == pytest.approx(0.5)
    assert m["evidence_hit@5"] == pytest.approx(1.0)
    assert m["evidence_mrr@10"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["evidence_ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert m["report_hit@1"] == pytest.approx(1.0)
    assert m["answer_accuracy"] == pytest.approx(0.5)
    assert m["citation_precision"] == pytest.approx(0.5)


def test_records_explain_failures(gold):
    g, store = gold
    wrong = score_question(Q_VOL, Answer("保障城乡低保1120户[1]", "answered", [cite(store, 0)], hits_of(store, 0, 1)), g)
    assert any("150余次" in f for f in wrong.failures)
    assert any("citation [1]" in f for f in wrong.failures)
    red = score_question(Q_RED, Answer("有120户[1]", "answered", [cite(store, 2)], hits_of(store, 3)), g)
    assert any("expected status redacted" in f for f in red.failures)
    assert any("rank 2" in f or "overlaps" in f for f in red.failures) or red.evidence_rank is None
    una = score_question(Q_UNA, Answer("有3个[1]", "answered", [cite(store, 0)], hits_of(store, 0)), g)
    assert any("expected not_found" in f for f in una.failures)
    assert una.checks["citations_correct"] == 0
    refused = score_question(Q_NUM, Answer("没有找到", "not_found", [], hits_of(store, 0)), g)
    assert any("refused" in f for f in refused.failures)


def test_multi_scores_by_cited_reports(gold):
    g, store = gold
    q = EvalQuestion("m", "哪些报告提到…？", (), ("a.txt", "b.txt"), ("低保", "河长制"), "multi")
    half = score_question(q, Answer("…[1]", "answered", [cite(store, 0)], hits_of(store, 0, 3)), g)
    assert half.checks["answer_correct"] is False and half.checks["report_recall"] == 0.5
    full = score_question(q, Answer("…[1][2]", "answered", [cite(store, 0), cite(store, 3, 2)], hits_of(store, 0, 3)), g)
    assert full.checks["answer_correct"] is True and full.checks["citations_correct"] == 2


def test_question_file_errors_name_the_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "x"}\n{"id": "b"}\n', encoding="utf-8")
    from rag.errors import RagError

    with pytest.raises(RagError, match="q.jsonl:2"):
        load_questions(path)


def test_config_specs():
    assert parse_config_spec("baseline") is BASELINE
    c = parse_config_spec("rrf:retrieval.fusion=rrf,retrieval.top_k=8")
    assert c == EvalConfig("rrf", {"retrieval.fusion": "rrf", "retrieval.top_k": "8"})


def test_evaluate_runs_configs_and_writes_reports(tmp_path, fake_embedder):
    from rag.config import load_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("2022年工作总结\n一、民生\n" + DOC_A, encoding="utf-8")
    (corpus / "b.txt").write_text("2022年工作总结\n一、环境\n" + DOC_B, encoding="utf-8")
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps(q.__dict__, ensure_ascii=False) for q in (Q_NUM, Q_VOL, Q_RED, Q_UNA)), encoding="utf-8")
    report = evaluate(qfile, corpus, [EvalConfig("bm25", {"retrieval.mode": "bm25"}), BASELINE], load_settings(),
                      index_root=tmp_path / "idx", progress=False, embedder=fake_embedder)
    assert [r.name for r in report.results] == ["bm25", "baseline"]
    ours, base = report.results
    assert ours.metrics["answer_accuracy"] == 1.0
    assert base.metrics["redacted_rate"] == 0.0  # the baseline never says a figure is masked
    assert set(ours.by_kind) == {"number", "redacted", "unanswerable"}
    table = format_table(report)
    assert "evidence hit@5" in table and "baseline" in table
    paths = write_report(report, tmp_path / "out")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert len(data["results"][0]["records"]) == 4
    assert paths["plot"].stat().st_size > 1000 and paths["plot"].read_bytes()[:4] == b"\x89PNG"
    assert "## Failures" in paths["markdown"].read_text(encoding="utf-8")


def test_unsupported_figures_are_counted(gold):
    g, store = gold
    wrong = score_question(Q_NUM, Answer("共保障城乡低保1121户[1]", "answered", [cite(store, 0)], hits_of(store, 0)), g)
    assert wrong.checks["unsupported_figures"] is True and any("1121" in f for f in wrong.failures)
    right = score_question(Q_NUM, Answer("共保障城乡低保1120户[1]", "answered", [cite(store, 0)], hits_of(store, 0)), g)
    assert right.checks["unsupported_figures"] is False
    assert summarise([wrong, right])["unsupported_figure_rate"] == 0.5


def test_the_evaluation_index_is_kept_when_only_batch_size_or_threads_change(tmp_path):
    """Raising embedding.batch_size made every evaluation re-embed its corpora (9,060 passages for gov_reports)."""
    from rag.config import load_settings
    from rag.evaluate import index_dir_for

    base = load_settings()
    same = base.replace({"embedding.batch_size": 7, "embedding.threads": 1})
    other = base.replace({"embedding.passage_prompt": "doc: "})
    assert index_dir_for(tmp_path, base, tmp_path) == index_dir_for(tmp_path, same, tmp_path)
    assert index_dir_for(tmp_path, base, tmp_path) != index_dir_for(tmp_path, other, tmp_path)
