"""The verifier: a language model reads the best span against the question before the gate decides.

The first tests are of the code around the model (when the gate asks it, how its judgement combines, what a
failing one changes), with a stand-in verifier. The last ones run the real local model (the GGUF from
``scripts/get_llm.py``, skipped, saying why, without it): it must read an answering passage as answering and a
passage that names the thing but not what is asked as not.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.answer import Gate
from rag.answer.model import Linear, ReaderModel, VerifierWeights, load_model
from rag.answer.verify import VerifierError, judgement_from_top, messages
from rag.local_model import LOCAL_MODEL
from rag.config import load_settings
from rag.errors import ConfigError
from rag.query import plan_query
from rag.schema import Chunk, Hit

from test_llm_real import GGUF, HAVE_LLAMA

TEXT = "一年来全镇共保障城乡低保1120户1774人，累计发放各项民生资金1092万余元。"
QUESTION = "全镇共保障城乡低保多少户？"


def hits(text=TEXT):
    chunk = Chunk("d1:0", "d1", "d1.txt", "2022年工作总结", "一、民生", 0, len(text), text)
    return [Hit(chunk, 1.0, 1, dense_score=0.85)]


class StandIn:
    """A verifier that answers with a fixed judgement and counts how often it was asked."""

    def __init__(self, judgement=0.0, identity="stand-in", fails=False):
        self.identity, self.judgement, self.fails, self.asked = identity, judgement, fails, 0

    def judge(self, question, passage):
        self.asked += 1
        self.question, self.passage = question, passage
        if self.fails:
            raise VerifierError("server down")
        return self.judgement


def model(gate_bias: float, judge_weight: float = 1.0, identity: str = "stand-in") -> ReaderModel:
    """Gate probability sigmoid(gate_bias) for every question; combined log-odds = logit(gate) + judgement."""
    return ReaderModel(
        Linear(0.0, {"cov": 5.0}), Linear(gate_bias, {}), 0.5,
        verifier=VerifierWeights(identity, gate_weight=1.0, judge_weight=judge_weight, bias=0.0, threshold=0.5, low=-4.0, high=4.0),
    )


def decide(reader_model, verifier):
    g = Gate(reader_model, idf=lambda tok: 2.0, context_of=lambda doc: "", verifier=verifier)
    return g.plan(plan_query(QUESTION), hits()).decision


def test_the_verifier_is_asked_only_when_its_judgement_can_change_the_outcome():
    sure = StandIn(judgement=-4.0)
    assert decide(model(gate_bias=6.0), sure).status == "answered" and sure.asked == 0  # 6 - 4 > 0 whatever it says
    hopeless = StandIn(judgement=4.0)
    assert decide(model(gate_bias=-6.0), hopeless).status == "not_found" and hopeless.asked == 0
    torn = StandIn(judgement=-3.0)
    d = decide(model(gate_bias=1.0), torn)
    assert torn.asked == 1 and d.status == "not_found"  # the gate alone would answer (p = 0.73)
    assert any(n.startswith("verifier=") for n in d.notes)


def test_a_judgement_can_lift_a_doubtful_question_over_the_threshold():
    yes = StandIn(judgement=3.0)
    d = decide(model(gate_bias=-1.0), yes)
    assert yes.asked == 1 and d.status == "answered" and d.probability > 0.5


def test_a_failing_verifier_leaves_the_gates_decision():
    down = StandIn(judgement=-4.0, fails=True)
    d = decide(model(gate_bias=1.0), down)
    assert down.asked == 1 and d.status == "answered" and any("verifier failed" in n for n in d.notes)


def test_an_english_question_is_read_in_its_chinese_translation():
    """The model judges a Chinese passage against the question in Chinese when the question was translated
    (a 1.5B model tells answering passages apart better so: EVALUATION.md, session 16); without a
    translation, the question as asked."""
    g = Gate(model(gate_bias=1.0), idf=lambda tok: 2.0, context_of=lambda doc: "", verifier=(asked := StandIn()))
    translated = plan_query("How many households received subsistence allowances in the town?", translation=QUESTION)
    g.plan(translated, hits())
    assert asked.question == QUESTION
    g.plan(plan_query("How many households received subsistence allowances in the town?"), hits())
    assert asked.question.startswith("How many households")


def test_the_verifier_reads_a_clause_with_what_comes_before_it_in_its_sentence():
    """Spans are cut at ；: the clause that holds the figure leaves its period and place earlier in the sentence,
    and the model, read the clause alone, rightly says it does not state them."""
    text = "1-9月，全镇实现工业总产值56.2亿元；自营出口28.01亿元，同比增长12.3%。新建道路3公里。"
    clause = text.index("自营出口")
    one_sentence = dataclasses.replace(model(gate_bias=1.0), span=Linear(0.0, {"cov": 5.0, "extra_sents": -1.0}))
    g = Gate(one_sentence, idf=lambda tok: 2.0, context_of=lambda doc: "", verifier=(asked := StandIn()))
    chunk = Chunk("d1:0", "d1", "d1.txt", "2022年工作总结", "一、经济", 0, len(text), text)
    decision = g.plan(plan_query("全镇1-9月自营出口多少亿元？"), [Hit(chunk, 1.0, 1, dense_score=0.85)]).decision
    assert decision.best.span.start == clause  # the gate's best span is the clause …
    assert asked.passage == text[: text.index("。") + 1]  # … the model reads it in its sentence


def test_a_span_is_read_with_its_sentence_never_past_a_full_stop_or_a_paragraph():
    from rag.answer.candidates import Span, with_its_sentence

    def span_at(text, phrase):
        chunk = Chunk("d1:0", "d1", "d1.txt", "t", "s", 0, len(text), text)
        a = text.index(phrase)
        return Span(Hit(chunk, 1.0, 1), a, a + len(phrase), 1, "sentence")

    assert with_its_sentence(span_at("上年完成。今年全镇新增就业；其中返乡300人。", "其中返乡300人。")) == "今年全镇新增就业；其中返乡300人。"
    assert with_its_sentence(span_at("二、民生\n其中返乡300人。", "其中返乡300人。")) == "其中返乡300人。"
    assert with_its_sentence(span_at("全镇新增就业1200人。", "全镇新增就业1200人。")) == "全镇新增就业1200人。"
    long_clauses = "，".join(["各村完成道路硬化工程"] * 30) + "；其中返乡300人。"
    read = with_its_sentence(span_at(long_clauses, "其中返乡300人。"))
    assert read.endswith("；其中返乡300人。") and len(read) <= 150 + 8 and read.startswith("各村")


def test_weights_fitted_for_another_model_are_not_used():
    other = StandIn(judgement=-4.0, identity="another-model.gguf")
    d = decide(model(gate_bias=1.0), other)
    assert other.asked == 0 and d.status == "answered"


def test_verifier_weights_survive_the_model_file(tmp_path):
    m = model(gate_bias=0.3, judge_weight=0.7)
    m.save(tmp_path / "m.json")
    assert load_model(tmp_path / "m.json") == m


def test_a_servers_top_log_probabilities_become_a_judgement():
    assert judgement_from_top([{"token": "是", "logprob": -0.1}, {"token": "否", "logprob": -2.5}]) == pytest.approx(2.4)
    assert judgement_from_top([{"token": " No", "logprob": -0.2}, {"token": "Yes", "logprob": -1.2}]) == pytest.approx(-1.0)
    assert judgement_from_top([{"token": "是", "logprob": -0.5}]) > 20  # “否” not among the top: far less likely


def test_the_prompt_cuts_long_passages_and_questions():
    asked = messages("问" * 1000, "文" * 5000)[-1]["content"]
    bare = messages("", "")[-1]["content"]
    assert asked.count("文") - bare.count("文") == 300 and asked.count("问") - bare.count("问") == 300


def test_an_unknown_verifier_setting_is_refused():
    with pytest.raises(ConfigError, match="answer.verifier"):
        load_settings(overrides={"answer.verifier": "gpt"})


def fit_verifier_script():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import fit_reader
    import fit_verifier

    return fit_reader, fit_verifier


def separable_rows():
    """200 out-of-fold rows the gate cannot tell apart (probabilities around its threshold 0.5) and judgements
    that can."""
    fit_reader, _ = fit_verifier_script()
    rows, judgements = [], []
    for i in range(200):
        answerable = i % 2 == 0
        p = 0.3 + 0.4 * ((i * 37) % 100) / 100
        rows.append(fit_reader.HeldOut(i % 5, p, 0.5, True, SimpleNamespace(answerable=answerable, corpus="bank"), "span"))
        judgements.append((2.0 if answerable else -2.0) + ((i * 13) % 7 - 3) / 3)
    return rows, judgements


def test_fitting_learns_from_judgements_that_tell_answered_from_not():
    _, fit_verifier = fit_verifier_script()
    rows, judgements = separable_rows()
    weights, width = fit_verifier.fit_combination(rows, judgements, "m", max_false_refusal=0.1)
    assert weights.judge_weight > 0 and width is None
    right = sum((weights.probability(r.probability, j) >= weights.threshold) == r.example.answerable for r, j in zip(rows, judgements))
    assert right >= 190


def test_a_share_asks_the_model_only_about_the_questions_nearest_the_gates_threshold():
    _, fit_verifier = fit_verifier_script()
    rows, judgements = separable_rows()
    weights, width = fit_verifier.fit_combination(rows, judgements, "m", max_false_refusal=0.1, share=0.3)
    asked = [r for r in rows if fit_verifier.asked(width, r)]
    assert 0.25 <= len(asked) / len(rows) <= 0.35
    assert max(abs(r.probability - 0.5) for r in asked) < min(abs(r.probability - 0.5) for r in rows if r not in asked)
    cv = fit_verifier.cross_validate(rows, judgements, "m", 0.1, share=0.3)
    assert 0.25 <= cv["asked"] <= 0.35 and cv["combined_right"] > cv["gate_right"]
    low, high = fit_verifier.band(width, 0.5)
    assert low < 0.5 < high
    assert all(low <= r.probability <= high for r in asked)


def test_the_smallest_share_as_good_as_the_best_within_noise_is_chosen():
    _, fit_verifier = fit_verifier_script()
    curve = {
        0.1: {"combined_right": 0.60, "combined_false_refusals": 0.10, "gate_false_refusals": 0.15},
        0.3: {"combined_right": 0.685, "combined_false_refusals": 0.15, "gate_false_refusals": 0.15},
        0.4: {"combined_right": 0.69, "combined_false_refusals": 0.20, "gate_false_refusals": 0.15},
        0.5: {"combined_right": 0.69, "combined_false_refusals": 0.15, "gate_false_refusals": 0.15},
        1.0: {"combined_right": 0.75, "combined_false_refusals": 0.14, "gate_false_refusals": 0.15},
    }
    # 1.0 is over the latency budget, 0.4 refuses more than the gate alone; 0.3 is within noise of 0.5
    assert fit_verifier.choose_share(curve, n=1800, n_answerable=1300, max_share=0.5) == 0.3
    assert fit_verifier.choose_share(curve, n=1800, n_answerable=1300, max_share=1.0) == 1.0


def band_model_with(gate_bias, band):
    m = model(gate_bias=gate_bias)
    return ReaderModel(m.span, m.gate, m.threshold, verifier=dataclasses.replace(m.verifier, band=band))


def test_outside_its_band_the_model_is_not_asked_and_the_gate_decides():
    for gate_bias, status in ((-1.0, "not_found"), (1.0, "answered")):  # gate p 0.27, 0.73: outside (0.4, 0.6)
        verifier = StandIn(judgement=-4.0 if status == "answered" else 4.0)
        assert decide(band_model_with(gate_bias, (0.4, 0.6)), verifier).status == status
        assert verifier.asked == 0
    inside = StandIn(judgement=3.0)
    assert decide(band_model_with(-0.2, (0.4, 0.6)), inside).status == "answered" and inside.asked == 1


def test_a_band_survives_the_model_file_and_a_file_without_one_still_loads(tmp_path):
    m = band_model_with(0.3, (0.2, 0.45))
    m.save(tmp_path / "m.json")
    assert load_model(tmp_path / "m.json") == m
    raw = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    del raw["verifier"]["band"]
    (tmp_path / "old.json").write_text(json.dumps(raw), encoding="utf-8")
    assert load_model(tmp_path / "old.json").verifier.band is None


def test_a_question_is_not_held_up_behind_others_using_the_local_model(tmp_path, monkeypatch):
    from rag import local_model
    from rag.answer import verify

    monkeypatch.setattr(local_model, "BUSY_S", 0.05)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    busy = verify.LlamaCppVerifier(str(gguf))
    busy.model._lock.acquire()  # another question is being judged
    with pytest.raises(VerifierError, match="busy"):
        busy.judge("问题", "文段")


def test_auto_uses_the_local_model_only_when_it_is_installed_and_the_weights_are_for_it(tmp_path, monkeypatch):
    from rag.answer import verify
    from rag.config import LLMSettings

    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    assert verify.installed_verifier(LLMSettings(), LOCAL_MODEL) is None  # no model file
    (tmp_path / LOCAL_MODEL).write_bytes(b"GGUF")  # never loaded here: loading waits for the first judgement
    assert verify.installed_verifier(LLMSettings(), "another-model.gguf") is None  # weights for another model
    assert verify.installed_verifier(LLMSettings(), None) is None  # no weights
    if HAVE_LLAMA:
        found = verify.installed_verifier(LLMSettings(), LOCAL_MODEL)
        assert found is not None and found.identity == LOCAL_MODEL
    else:
        assert verify.installed_verifier(LLMSettings(), LOCAL_MODEL) is None  # llama-cpp-python missing


@pytest.fixture(scope="module")
def local_verifier():
    from rag.answer.verify import LlamaCppVerifier

    return LlamaCppVerifier(GGUF, n_threads=2)


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_the_local_model_reads_an_answering_passage_as_answering(local_verifier):
    answering = local_verifier.judge("华海药业所在镇1-9月自营出口额是多少？", "1-9月，全镇实现自营出口额28.01亿元，同比增长12.3%。")
    names_only = local_verifier.judge("华海药业2022年的营业收入是多少？", "华海药业新厂区项目完成投资5亿元，预计明年投产。")
    assert answering > names_only


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_a_judgement_is_the_same_whatever_the_model_did_before_and_the_longest_prompt_fits(local_verifier):
    """The worked examples are evaluated once and their state reused: a judgement must not depend on what the
    shared model last did (a translation, another judgement); and the longest question and passage the prompt
    takes still fit the model's context (cut, it would lose its instructions)."""
    from rag.translate import local_translator

    question, passage = "全镇1-9月自营出口额是多少？", "1-9月，全镇实现自营出口额28.01亿元，同比增长12.3%。"
    first = local_verifier.judge(question, passage)
    local_translator(local_verifier.model).translate("How many roads were built in the town?")
    local_verifier.judge("华海药业2022年的营业收入是多少？", "华海药业新厂区项目完成投资5亿元，预计明年投产。")
    assert local_verifier.judge(question, passage) == first
    assert isinstance(local_verifier.judge("问题很长，" * 100, "文段很长，数字123。" * 60), float)


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_the_assistant_consults_the_local_model_before_it_decides(sample_index_dir, e5_embedder):
    from rag.pipeline import Assistant

    settings = load_settings(overrides={"answer.verifier": "llm", "llm.backend": "llamacpp", "llm.model_path": GGUF})
    assistant = Assistant(sample_index_dir, settings, e5_embedder)
    assert assistant.gate.verifier_weights is not None  # the shipped weights are for this model
    answers = [assistant.ask(q) for q in ("永北圩所在的镇2022年一共保障了多少户城乡低保？", "华海药业2022年的营业收入是多少？")]
    assert all(any(n.startswith("verifier") for n in a.notes) for a in answers)
    assert answers[0].status == "answered" and "1120" in answers[0].text
    assert all(a.citations == [] for a in answers if a.status == "not_found")


def test_the_shipped_model_holds_weights_for_the_local_verifier():
    shipped = load_model(Path(__file__).resolve().parent.parent / "rag" / "answer" / "reader_model.json")
    assert shipped.verifier is not None and shipped.verifier.identity == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    assert shipped.verifier.judge_weight > 0  # the model saying “yes” makes an answer more likely, never less


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_a_local_model_that_fails_to_decode_is_a_verifier_error(local_verifier, monkeypatch):
    llama = local_verifier.model._load()

    def broken(tokens):
        raise RuntimeError("llama_decode returned -1")

    monkeypatch.setattr(llama, "eval", broken)
    with pytest.raises(VerifierError, match="no judgement"):
        local_verifier.judge("问题", "文段")


def test_weights_for_another_model_are_named_in_the_log_with_how_to_fit_them(sample_index_dir, fake_embedder, caplog, tmp_path):
    from rag.pipeline import Assistant

    gguf = tmp_path / "another-model.gguf"
    gguf.write_bytes(b"GGUF")  # never loaded: the verifier loads its model on the first judgement
    settings = load_settings(overrides={"answer.verifier": "llm", "llm.backend": "llamacpp", "llm.model_path": str(gguf)})
    with caplog.at_level("WARNING"):
        assistant = Assistant(sample_index_dir, settings, fake_embedder)
    assert assistant.gate.verifier_weights is None
    assert "another-model.gguf" in caplog.text and "scripts/fit_verifier.py" in caplog.text


@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
def test_a_model_file_that_is_no_model_is_a_verifier_error_not_a_crash(tmp_path):
    from rag.answer.verify import LlamaCppVerifier

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(VerifierError, match="cannot be loaded"):
        LlamaCppVerifier(str(broken)).judge("问题", "文段")


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_by_default_the_installed_local_model_reads_the_doubtful_questions(sample_index_dir, e5_embedder, tmp_path):
    from rag.evaluate.run import evaluate
    from rag.pipeline import Assistant

    settings = load_settings(overrides={"llm.model_path": GGUF})  # where get_llm.py put it (RAG_MODEL_CACHE if set)
    assert settings.answer.verifier == "auto"
    assistant = Assistant(sample_index_dir, settings, e5_embedder)
    assert assistant.gate.verifier_weights is not None
    notes = [n for q in ("全镇共保障城乡低保多少户？", "华海药业2022年的营业收入是多少？", "2022年全镇新增市场主体多少家？") for n in assistant.ask(q).notes]
    assert any(n.startswith("verifier") for n in notes)
    corpus = tmp_path / "reports"
    corpus.mkdir()
    (corpus / "town.txt").write_text("2022年工作总结\n一、民生\n" + TEXT + "\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": QUESTION, "answers": ["1120户"], "answerable": True}, ensure_ascii=False) + "\n", encoding="utf-8")
    report = evaluate(questions, corpus, settings=settings, index_root=tmp_path / "idx", progress=False, embedder=e5_embedder)
    assert report.results[0].verifier == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def test_an_evaluation_names_no_verifier_when_the_one_configured_has_no_weights(fake_embedder, tmp_path):
    from rag.evaluate.run import evaluate

    gguf = tmp_path / "another-model.gguf"
    gguf.write_bytes(b"GGUF")
    corpus = tmp_path / "reports"
    corpus.mkdir()
    (corpus / "town.txt").write_text("2022年工作总结\n一、民生\n" + TEXT + "\n", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": QUESTION, "answers": ["1120户"], "answerable": True}, ensure_ascii=False) + "\n", encoding="utf-8")
    settings = load_settings(overrides={"answer.verifier": "llm", "llm.backend": "llamacpp", "llm.model_path": str(gguf)})
    report = evaluate(questions, corpus, settings=settings, index_root=tmp_path / "idx", progress=False, embedder=fake_embedder)
    assert report.results[0].verifier == ""  # it was never asked: its judgements are on a scale nothing was fitted to


def test_while_questions_wait_for_a_slot_the_gate_decides_without_the_model(monkeypatch):
    import threading
    import time as _time

    from rag import local_model
    from rag.admission import FairGate

    slots = FairGate(slots=1, wait_budget_s=10)
    monkeypatch.setattr(local_model, "_crowded", local_model._crowded)  # restored after the test
    local_model.watch_crowd(lambda: slots.waiting > 0)
    quiet = StandIn(judgement=-3.0)
    assert decide(model(gate_bias=1.0), quiet).status == "not_found" and quiet.asked == 1  # nobody waits: asked
    release = threading.Event()

    def hold(user):
        with slots.admit(user):
            release.wait(10)

    holders = [threading.Thread(target=hold, args=(u,), daemon=True) for u in ("a", "b")]
    for t in holders:
        t.start()
    while slots.waiting < 1:  # "b" waits behind "a"
        _time.sleep(0.01)
    crowd = StandIn(judgement=-3.0)
    d = decide(model(gate_bias=1.0), crowd)
    assert crowd.asked == 0 and d.status == "answered" and "verifier skipped: questions are waiting" in d.notes
    release.set()
    for t in holders:
        t.join(5)
    assert slots.waiting == 0


def test_a_broken_crowd_watcher_does_not_cost_the_question(monkeypatch):
    from rag import local_model

    monkeypatch.setattr(local_model, "_crowded", local_model._crowded)

    def broken():
        raise RuntimeError("watcher gone")

    local_model.watch_crowd(broken)
    asked = StandIn(judgement=3.0)
    assert decide(model(gate_bias=-1.0), asked).status == "answered" and asked.asked == 1


def test_warming_loads_the_helpers_the_assistant_will_ask_and_a_failing_one_costs_nothing(fake_assistant, monkeypatch, caplog):
    """The chat server warms the models at start (``Assistant.warm``, in a background thread): the verifier the
    gate will ask and the translator are warmed; a verifier the gate will never ask (no weights for it) is not
    loaded; a model that fails to warm is logged, not raised."""

    class Helper:
        def __init__(self, identity, fails=False):
            self.identity, self.fails, self.warmed = identity, fails, 0

        def warm(self):
            self.warmed += 1
            if self.fails:
                raise RuntimeError("no such file")

    fitted = fake_assistant.gate.model.verifier.identity
    verifier, translator = Helper(fitted), Helper("translator", fails=True)
    monkeypatch.setattr(fake_assistant.gate, "verifier", verifier)
    monkeypatch.setattr(fake_assistant, "_translator", translator)
    fake_assistant.warm()
    assert verifier.warmed == 1 and translator.warmed == 1
    assert "could not warm translator" in caplog.text
    unfitted = Helper("another-model.gguf")
    monkeypatch.setattr(fake_assistant.gate, "verifier", unfitted)
    fake_assistant.warm()
    assert unfitted.warmed == 0


@pytest.mark.model
@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
@pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)")
def test_a_warmed_model_holds_the_state_of_the_verifiers_examples(local_verifier):
    local_verifier.warm()
    heads = local_verifier.model._heads
    assert any(len(head) > 300 for head in heads)  # the instructions and six examples, evaluated
    question, passage = "全镇1-9月自营出口额是多少？", "1-9月，全镇实现自营出口额28.01亿元，同比增长12.3%。"
    assert local_verifier.judge(question, passage) > 0


def test_held_out_rows_are_read_back_only_for_the_model_and_files_they_were_written_for(tmp_path):
    """scripts/fit_reader.py writes its out-of-fold rows; scripts/fit_verifier.py reads them instead of rerunning
    retrieval, unless the reader model (or the question files) changed since."""
    fit_reader, _ = fit_verifier_script()
    asked = fit_reader.Asked("q1", "number", "zh", "bank", True, "全镇低保多少户？")
    rows = [fit_reader.HeldOut(2, 0.61, 0.4, True, asked, "1-9月，全镇低保120户。")]
    banks = [Path("bank_train.jsonl")]
    key = fit_reader.model_key(model(gate_bias=0.3), banks)
    fit_reader.write_held_out(rows, key, tmp_path / "held.jsonl")
    assert fit_reader.read_held_out(key, tmp_path / "held.jsonl") == rows
    assert fit_reader.read_held_out(fit_reader.model_key(model(gate_bias=0.4), banks), tmp_path / "held.jsonl") is None
    assert fit_reader.read_held_out(fit_reader.model_key(model(gate_bias=0.3), [Path("other.jsonl")]), tmp_path / "held.jsonl") is None
    assert fit_reader.read_held_out(key, tmp_path / "missing.jsonl") is None
