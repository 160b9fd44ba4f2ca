"""End to end on the real parts: real reports, real default model, real index, the public ``ask()``.

The dev-set targets from the issue: gold evidence in the top 5 for >= 95% of answerable questions, every
gold string in the answer for >= 90%, every masked-figure question `redacted`, every unanswerable one
`not_found`, and no answerable question `not_found`. ``tests/data/extra_questions.jsonl`` and
``tests/data/heldout_questions.jsonl`` (45 questions written by a separate author from the reports alone)
add more questions of the same kinds; ``../shared/eval/dev.jsonl`` is used when it is there.
"""

from __future__ import annotations

import json
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.errors import EmptyQuestionError

from conftest import SHARED, TESTS_DIR

pytestmark = pytest.mark.model

EXTRA = TESTS_DIR / "data" / "extra_questions.jsonl"
HELDOUT = TESTS_DIR / "data" / "heldout_questions.jsonl"
DEV = SHARED / "eval" / "dev.jsonl"


def read_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "")


def question_sets():
    sets = [pytest.param(EXTRA, id="extra"), pytest.param(HELDOUT, id="heldout")]
    sets.append(pytest.param(DEV, id="shared-dev", marks=pytest.mark.skipif(not DEV.exists(), reason=f"{DEV} not present (../shared is not beside this checkout)")))
    return sets


@pytest.mark.parametrize("path", question_sets())
def test_question_set_meets_the_targets(sample_assistant, path):
    questions = read_questions(path)
    evidence_hits = answer_hits = answerable = 0
    failures = []
    for q in questions:
        a = sample_assistant.ask(q["question"])
        for c in a.citations:
            assert c.quote in c.chunk.text  # every quote is verbatim from its passage
        kind = q["kind"]
        if kind == "redacted":
            if a.status != "redacted":
                failures.append((q["id"], "expected redacted", a.status, a.text[:80]))
            continue
        if kind == "unanswerable":
            if a.status != "not_found" or a.citations:
                failures.append((q["id"], "expected not_found", a.status, a.text[:80]))
            continue
        answerable += 1
        if a.status == "not_found":
            failures.append((q["id"], "false refusal", a.status, ""))
        if kind == "multi":
            cited = {c.chunk.source for c in a.citations}
            evidence_hits += set(q["docs"]) <= {h.chunk.source for h in a.hits}
            answer_hits += set(q["docs"]) <= cited
            continue
        top5 = [h.chunk.text for h in a.hits[:5]]
        evidence_hits += all(any(ev in t for t in top5) for ev in q["evidence"])
        answer_hits += all(norm(x) in norm(a.text) for x in q["answers"])
    assert not failures, failures
    assert evidence_hits >= 0.95 * answerable, f"evidence in top 5 for {evidence_hits}/{answerable}"
    assert answer_hits >= 0.90 * answerable, f"answer contains gold for {answer_hits}/{answerable}"


def test_public_ask_answers_with_numbered_citations(sample_assistant):
    a = sample_assistant.ask("永北圩所在的镇2022年保障了多少户低保？")
    assert a.status == "answered" and "1120户" in a.text and "[1]" in a.text
    c = a.citations[0]
    assert c.n == 1 and c.chunk.source == "000_4b3cc5d7d519229c.txt"
    assert "社会保障" in c.chunk.section and c.chunk.title
    assert a.hits[0].rank == 1 and all(h.rank == i + 1 for i, h in enumerate(a.hits))
    for key in ("embed_query", "answer", "total"):
        assert key in a.timings


def test_numbers_come_from_the_cited_passage(sample_assistant):
    for q in ("华海药业所在镇1-9月规上工业产值是多少，同比增长多少？", "华海药业所在镇2022年拆除违章建筑多少平方米？完成率多少？"):
        a = sample_assistant.ask(q)
        import re

        figures = re.findall(r"\d+(?:\.\d+)?", a.text.replace("[1]", "").replace("[2]", ""))
        cited = " ".join(c.chunk.text for c in a.citations)
        assert figures and all(f in cited for f in figures)


def test_empty_question_is_an_error(sample_assistant):
    with pytest.raises(EmptyQuestionError):
        sample_assistant.ask("  \n ")


def test_ask_is_thread_safe(sample_assistant):
    questions = ["辽市镇下半年要打造哪两个新农村样板点？", "团螺山所在镇古镇中秋推广的传统民俗叫什么？",
                 "华海药业所在镇建成了多少个垃圾四分类固定投放点？", "这些报告里哪个镇建成了地铁站？"] * 3
    serial = [sample_assistant.ask(q) for q in questions]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(sample_assistant.ask, questions))
    assert [(a.text, a.status) for a in parallel] == [(a.text, a.status) for a in serial]


def test_retrieval_modes_and_langchain_retriever(sample_assistant):
    from langchain_core.retrievers import BaseRetriever

    from rag.lc import ReportRetriever

    for mode in ("dense", "bm25", "hybrid"):
        r = sample_assistant.retriever.search("辽市镇作为特色高效农业重点发展的是哪几种水果？", top_k=5, mode=mode)
        assert len(r.hits) == 5
        assert any("肯塘杨梅" in h.chunk.text for h in r.hits), mode
    retriever = ReportRetriever(assistant=sample_assistant, top_k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("团螺山所在镇哪个村被创建为省级高质量就业村？")
    assert len(docs) == 3 and any("团螺村" in d.page_content for d in docs)
    assert {"source", "section", "start", "end", "score"} <= set(docs[0].metadata)


def test_module_level_ask_uses_the_bundled_reports(tmp_path, monkeypatch, e5_embedder):
    """``rag.ask`` builds the default index on first use, then answers; the next assistant just loads it."""
    import rag
    from rag import pipeline

    cfg = tmp_path / "config.toml"
    reports = Path(__file__).resolve().parent.parent / "data" / "reports"
    cfg.write_text(f'[corpus]\nreports_dir = "{reports}"\nindex_dir = "{tmp_path / "idx"}"\n', encoding="utf-8")
    monkeypatch.setenv("RAG_CONFIG", str(cfg))
    monkeypatch.setattr(pipeline, "_default", None)
    import embeddings

    monkeypatch.setattr(embeddings, "make_embedder", lambda settings: e5_embedder)
    a = rag.ask("城关镇（永北圩）2022年开展志愿服务活动大约多少次？")
    assert a.status == "answered" and "150余次" in a.text
    assert (tmp_path / "idx" / "CURRENT").exists()


@pytest.mark.parametrize("question", ["？？？", "😀😀", "请问", "的", "How?", "*"])
def test_questions_with_nothing_to_look_for_are_not_found(sample_assistant, question):
    a = sample_assistant.ask(question)
    assert a.status == "not_found" and a.citations == []
