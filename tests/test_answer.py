"""The gate and the readers on hand-made passages, with the shipped fitted model (quality is in test_pipeline).

Unit tests of the parts around the model: candidate spans, the masked-figure check, trimming, citations, the
reader contract, the model file. Whether the fitted weights answer well is measured on real questions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer import NOT_FOUND_TEXT, ExtractiveReader, Gate, TopPassageReader, load_model, make_reader
from rag.answer.candidates import sentence_bounds, spans_of
from rag.answer.extractive import drop_restated
from rag.answer.focus import make_focus
from rag.answer.gate import asked_figure_is_masked
from rag.answer.model import Linear, ReaderModel
from rag.config import AnswerSettings
from rag.errors import RagError
from rag.query import plan_query
from rag.schema import Chunk, Hit


def hits(*texts, doc="d1", title="2022年工作总结", section="一、民生"):
    out = []
    pos = 0
    for i, t in enumerate(texts):
        c = Chunk(f"{doc}:{pos}", doc, f"{doc}.txt", title, section, pos, pos + len(t), t)
        out.append(Hit(c, 1.0 / (i + 1), i + 1, dense_score=0.85))
        pos += len(t) + 1
    return out


def gate(model=None):
    return Gate(model or load_model(AnswerSettings().model_file), idf=lambda tok: 2.0, context_of=lambda doc: "")


def read(question, hs, model=None):
    plan = gate(model).plan(plan_query(question), hs)
    return plan, ExtractiveReader().read(plan, hs)


ALWAYS = ReaderModel(Linear(0.0, {"cov": 5.0, "num_fit": 1.0, "list_shape": 1.0, "length": -0.1}), Linear(10.0, {}), 0.5)
NEVER = ReaderModel(Linear(0.0, {"cov": 5.0}), Linear(-10.0, {}), 0.5)


def test_quote_is_a_substring_of_the_cited_chunk_and_keeps_its_figures():
    hs = hits("全面加强社会保障工作。一年来全镇共保障城乡低保1120户1774人，累计发放各项民生资金1092万余元。")
    _, a = read("全镇共保障城乡低保多少户？", hs, ALWAYS)
    assert a.status == "answered"
    c = a.citations[0]
    assert c.quote in c.chunk.text and "1120户" in c.quote
    assert a.text.endswith("[1]。") and "1120户" in a.text
    assert c.chunk.text[c.quote_start - c.chunk.start : c.quote_end - c.chunk.start] == c.quote


def test_the_gate_decides_the_status_not_the_reader():
    hs = hits("一年来全镇共保障城乡低保1120户1774人。")
    plan, a = read("全镇共保障城乡低保多少户？", hs, NEVER)
    assert plan.decision.status == "not_found" and a.status == "not_found" and a.citations == [] and a.text == NOT_FOUND_TEXT
    # the baseline reader ignores the gate: it never refuses
    assert TopPassageReader().read(plan, hs).status == "answered"


def test_masked_figure_is_reported_not_guessed():
    hs = hits("截至目前全镇现共有低保户*户*人，今年新批低保*户*人。另有困难群众120人。")
    _, a = read("全镇目前共有多少户低保户？", hs, ALWAYS)
    assert a.status == "redacted"
    assert "*" in a.text and "遮盖" in a.text
    assert not any(ch.isdigit() for ch in a.text.split("原文")[0])


def test_the_masked_check_looks_at_the_figure_that_answers_wherever_it_sits():
    focus = make_focus(plan_query("核酸检测了多少万人次？"), lambda w: 2.0)
    long = "共开展境外和重点地区人员摸排核查56次，境外输入人员39人，重点地区入浔人员192人，共开展核酸检测***万人次，疫情防控取得阶段性成效。"
    assert asked_figure_is_masked(long, focus, focus.terms)
    focus = make_focus(plan_query("重点地区入浔人员有多少人？"), lambda w: 2.0)
    assert not asked_figure_is_masked(long, focus, focus.terms)
    # a masked place name next to an ordinal is not a masked figure
    focus = make_focus(plan_query("在综治民调中排名第几？"), lambda w: 2.0)
    assert not asked_figure_is_masked("在*市综治民调中，我镇排*市第一。", focus, focus.terms)


def test_an_ordinal_answers_a_question_asking_a_rank():
    """排第几 / 第几批 / where did … rank ask for an ordinal: 第一, 第5位, 第三十三次 answer it, a masked count
    beside it does not stand in for it, and an English answer states it in English too."""
    from rag import lexicon

    plan = plan_query("竹峰村朝阳湾在市里的验收中排第几名？")
    assert plan.kind == "number" and plan.units == (lexicon.ORDINAL_UNIT,)
    assert plan_query("Where did the city rank among 294 cities?").units == (lexicon.ORDINAL_UNIT,)
    assert lexicon.ORDINAL_UNIT not in plan_query("全市生产总值是多少？居全省第几位？").units  # a figure is asked too
    text = "2022年，我镇创建*市美丽宜居村庄*个，*村*、竹峰村朝阳湾两个美丽屋场在*市验收中分别排名*市第一和第二。"
    focus = make_focus(plan, lambda w: 2.0)
    assert not asked_figure_is_masked(text, focus, focus.terms)
    assert [text[a:b] for a, b, u in lexicon.answer_figures(text, plan.units) if lexicon.unit_fits(u, plan.units)] == ["第一", "第二"]
    assert lexicon.answer_figures("居全省第*位", plan.units, masked=True)[0][2] == lexicon.ORDINAL_UNIT
    assert asked_figure_is_masked("该镇验收排名居全市第*位，创建村庄12个。", focus, focus.terms)
    # elsewhere an ordinal is a word, not a figure
    assert lexicon.answer_figures("第一批项目开工12个", ("个",)) == lexicon.figures_with_units("第一批项目开工12个")
    assert [lexicon.english_ordinal(o) for o in ("第五", "第3位", "第十二名", "第二十一", "第*位")] == ["5th", "3rd", "12th", "21st", ""]


def test_a_year_outside_the_five_year_plan_a_text_speaks_of_conflicts_with_it():
    """2025 asked; a text giving the 十五五 (2026–2030) targets and no year speaks of another period; one giving
    the 十四五 results (2021–2025) does not."""
    from rag import lexicon

    asked = frozenset({"Y2025"})
    assert lexicon.conflicting_periods(asked, lexicon.periods("“十五五”时期地区生产总值年均增长5%左右"))
    assert not lexicon.conflicting_periods(asked, lexicon.periods("“十四五”时期地区生产总值年均增长5.9%"))
    assert not lexicon.conflicting_periods(asked, lexicon.periods("2025年和“十五五”时期"))
    assert list(lexicon.plan_years(14)) == [2021, 2022, 2023, 2024, 2025] and lexicon.plan_years(1)[0] == 1953


def test_no_hits_or_no_content_words_is_not_found():
    assert read("随便问问？", [], ALWAYS)[1].status == "not_found"
    assert read("？？？", hits("一年来全镇共保障城乡低保1120户1774人。"), ALWAYS)[1].status == "not_found"


def test_long_sentence_is_trimmed_to_the_clauses_that_answer():
    long = ("坚持以人民为中心，持续推进各项工作，取得明显成效，群众满意度不断提升，"
            "全镇拆除违章建筑1.29万平方米，完成率129%，排名居全市第三，为下一步工作打下了坚实基础。")
    _, a = read("拆除违章建筑多少平方米？", hits(long), ALWAYS)
    quote = a.citations[0].quote
    assert "1.29万平方米" in quote and len(quote) < len(long) - 20


def test_a_sentence_that_names_a_list_has_a_candidate_with_the_items_that_follow():
    text = "实施“三大工程”：一是实施强基工程，夯实基础；二是实施富民工程，增加收入；三是实施惠民工程，改善民生。"
    lists = [s.text for s in spans_of(hits(text)[0]) if s.shape == "list"]
    assert any("强基工程" in t and "惠民工程" in t for t in lists)
    _, a = read("实施的“三大工程”是哪三个？", hits(text), ALWAYS)
    assert all(x in a.text for x in ("强基工程", "富民工程", "惠民工程"))


def test_which_reports_cites_one_passage_per_report():
    hs = hits("严格落实河长制，全覆盖排查河湖问题。", doc="a") + hits("全面落实“河长制”，开展巡河。", doc="b") + hits("种植水稻。", doc="c")
    hs = [Hit(h.chunk, h.score, i + 1, dense_score=0.85) for i, h in enumerate(hs)]
    _, a = read("哪些报告提到了落实“河长制”？", hs, ALWAYS)
    assert a.status == "answered"
    assert sorted(c.chunk.doc_id for c in a.citations) == ["a", "b"]
    assert [c.n for c in a.citations] == [1, 2]


def test_a_question_that_names_one_report_is_answered_from_it_only():
    hs = hits("全镇共保障城乡低保1120户。", doc="a") + hits("全镇共保障城乡低保999户。", doc="b")
    hs = [Hit(h.chunk, h.score, i + 1, dense_score=0.85) for i, h in enumerate(hs)]
    plan = gate(ALWAYS).plan(plan_query("全镇共保障城乡低保多少户？"), hs, doc_scores={"b": 1.0, "a": 0.2}, named="b")
    assert plan.decision.best.span.hit.chunk.doc_id == "b"


def test_english_answer_states_the_figure_and_quotes_the_source():
    hs = hits("一年来全镇共保障城乡低保1120户1774人。")
    plan = gate(ALWAYS).plan(plan_query("How many households received the minimum living allowance?"), hs, similarity=lambda texts: [0.9] * len(texts))
    a = ExtractiveReader().read(plan, hs)
    assert a.status == "answered" and a.text.startswith("The report gives 1120户: “") and "[1]" in a.text


def test_make_reader_picks_by_mode_and_refuses_unknown_modes():
    assert isinstance(make_reader("extractive"), ExtractiveReader)
    assert isinstance(make_reader("top_passage"), TopPassageReader)
    with pytest.raises(ValueError):
        make_reader("foo")


def test_model_file_round_trips_and_bad_files_are_named(tmp_path):
    path = tmp_path / "m.json"
    ALWAYS.save(path)
    assert load_model(path) == ALWAYS
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(RagError, match="malformed"):
        load_model(path)
    with pytest.raises(RagError, match="not found"):
        load_model(tmp_path / "missing.json")


def test_the_shipped_model_is_fitted_on_the_train_split_only():
    meta = json.loads(AnswerSettings().model_file.read_text(encoding="utf-8"))["meta"]
    assert meta["fitted_on"] and all("train" in f and "test" not in f for f in meta["fitted_on"])


def test_flattened_text_keeps_its_paragraphs_and_a_heading_leads_to_what_it_introduces():
    # a web page flattened to one line: paragraph breaks survive only as spaces between Chinese characters
    text = "二、移风易俗过节 自觉开展“治陋习、立新风”活动。不在疫情期内举办婚宴、寿宴。 三、其他事项 做好值班值守。"
    assert [text[a:b] for a, b in sentence_bounds(text)][:3] == ["二、移风易俗过节", "自觉开展“治陋习、立新风”活动。", "不在疫情期内举办婚宴、寿宴。"]
    spans = spans_of(hits(text)[0])
    body = [s for s in spans if s.shape == "body" and s.lead == "二、移风易俗过节"]
    assert body and body[0].text == "自觉开展“治陋习、立新风”活动。不在疫情期内举办婚宴、寿宴。"
    assert any(s.shape == "section" and s.text.startswith("二、") and s.text.endswith("寿宴。") for s in spans)
    assert [s.heading for s in spans if s.text == "三、其他事项"] == [True]
    # a sentence whose words are spaced in ASCII is not cut (“G316 国道” keeps its space inside the sentence)
    assert len(sentence_bounds("改造G316 国道沿线立面。")) == 1


def test_leading_clauses_that_restate_the_question_are_dropped_from_the_quote():
    question = "北京市对于因疫情影响暂停举办的展会项目有何支持政策？"
    text = "对于因疫情影响暂停举办的展会项目，如年内继续在京举办，按照实际缴纳场租费用50%的标准给予支持。"
    assert text[drop_restated(text, question) :].startswith("如年内继续在京举办")
    # nothing is dropped when what remains would be too short to be an answer
    short = "对于暂停举办的展会项目，给予支持。"
    assert drop_restated(short, question) == 0
    # a fact question's answer can be a name made of the question's characters: nothing is dropped there
    text = "团螺村创建为省级高质量就业村，团山村，新阳社区创建为市级就业村社区。"
    _, a = read("团螺山所在镇哪个村被创建为省级高质量就业村？", hits(text), ALWAYS)
    assert "团螺村" in a.text


def _fit_reader():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "fit_reader.py"
    spec = importlib.util.spec_from_file_location("fit_reader", path)
    fit_reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_reader)
    return fit_reader


def _scorers():
    """scripts/scorers.py, the kinds of model the fitting scripts fit."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import scorers

    return scorers


def test_fitted_trees_score_as_the_library_that_fitted_them_and_survive_the_json_file(tmp_path):
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    scorers = _scorers()
    rng = np.random.default_rng(0)
    names = ("cov", "num_fit", "length")
    x = rng.random((600, 3))
    # an interaction no single weight can express: a figure counts only when the words are covered
    y = ((x[:, 0] > 0.5) & (x[:, 1] > 0.3) | (x[:, 2] < 0.1)).astype(int)
    rows = [dict(zip(names, r)) for r in x.tolist()]
    trees = scorers.fit_trees(rows, list(y), names)
    reference = HistGradientBoostingClassifier(**scorers.TREES, class_weight="balanced", random_state=0).fit(x, y)
    assert np.allclose(trees.logits(rows), reference.decision_function(x), atol=1e-9)
    assert np.mean((np.array(trees.logits(rows)) > 0) == y) > 0.95
    model = ReaderModel(trees, trees, 0.5, {"model": "trees"})
    path = tmp_path / "m.json"
    model.save(path)
    again = load_model(path)
    assert again.span.logits(rows[:50]) == trees.logits(rows[:50])
    assert again.gate.probability(rows[0]) == trees.probability(rows[0])
    # one span at a time scores as in a batch
    assert trees.logit(rows[7]) == pytest.approx(trees.logits(rows)[7], abs=1e-12)
    raw = json.loads(path.read_text(encoding="utf-8"))
    looped = json.loads(json.dumps(raw))
    raw["span"]["names"] = ["cov"]  # nodes that split on features the file no longer names
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(RagError, match="malformed"):
        load_model(path)
    looped["span"]["trees"][0][0][2] = 0  # the root's left child is the root: a walk down would never end
    path.write_text(json.dumps(looped), encoding="utf-8")
    with pytest.raises(RagError, match="malformed"):
        load_model(path)


def test_a_listwise_span_scorer_learns_what_makes_a_span_beat_its_rivals():
    """Each question's right span is the one best on ``a`` and ``b``; ``q`` is the same for every span of a
    question (it says which question, not which span). A pooled logistic regression reads ``q`` as evidence when
    questions with a high ``q`` have fewer candidates; the listwise scorer gives it no weight, picks the right
    span."""
    import numpy as np

    scorers = _scorers()
    rng = np.random.default_rng(0)
    groups = []
    for g in range(400):
        q = float(g % 5)
        rows = [{"a": float(rng.normal()), "b": float(rng.normal()), "q": q} for _ in range(10 + 10 * int(q))]
        best = int(np.argmax([r["a"] * 2 - r["b"] for r in rows]))
        groups.append((rows, [int(i == best) for i in range(len(rows))]))
    scorer = scorers.fit_listwise(groups, ("a", "b", "q"), 1.0)
    assert scorer.weights["a"] > 0 > scorer.weights["b"] and abs(scorer.weights["q"]) < 0.01 * scorer.weights["a"]
    picked = [int(np.argmax(scorer.logits(rows))) == labels.index(1) for rows, labels in groups]
    assert np.mean(picked) > 0.95
    pooled = scorers.fit_logistic([r for rows, _ in groups for r in rows], [y for _, labels in groups for y in labels], ("a", "b", "q"), 1.0)
    assert abs(pooled.weights["q"]) > 0.1  # pooled, the share of right spans per question leaks into q


def test_a_model_that_buys_right_outcomes_with_false_refusals_is_not_chosen():
    choose = _fit_reader().choose_model
    cv = {("linear/linear", 0.1): (0.630, 0.16), ("linear/linear", 3.0): (0.636, 0.15),
          ("trees/linear", 1.0): (0.662, 0.14), ("trees/trees", 0.0): (0.675, 0.19)}
    assert choose(cv, 2000) == ("trees/linear", 1.0)
    assert choose({k: v for k, v in cv.items() if k[0] != "trees/linear"}, 2000) == ("linear/linear", 3.0)


def test_a_gain_cross_validation_cannot_tell_from_noise_buys_no_complexity():
    choose = _fit_reader().choose_model
    cv = {("linear/linear", 0.1): (0.647, 0.15), ("linear/linear", 1.0): (0.650, 0.15), ("trees/linear", 3.0): (0.654, 0.14)}
    # one standard error of 0.654 over 1839 questions is 0.011
    assert choose(cv, 1839) == ("linear/linear", 0.1)
    assert choose(cv, 100_000) == ("trees/linear", 3.0)


def test_cross_validation_folds_keep_a_report_whole():
    from rag.answer.training import Example

    fit_reader = _fit_reader()
    same = [Example(f"q{i}", "number", "zh", None, [], [], 0.0, True, corpus="gov_reports", group="prov_2026_广东省.txt") for i in range(20)]
    assert len({fit_reader.fold_of(e, 5) for e in same}) == 1
    others = [Example(f"r{i}", "number", "zh", None, [], [], 0.0, True, corpus="gov_reports", group=f"report_{i}.txt") for i in range(40)]
    assert len({fit_reader.fold_of(e, 5) for e in others}) == 5


def test_the_threshold_refuses_at_most_the_allowed_share_in_every_corpus():
    fit_reader = _fit_reader()
    # an easy corpus (every answerable question scores high) and a hard one (its answerable questions score
    # like the unanswerable ones): a threshold that suits the pooled questions would refuse most of the hard
    easy = [(0.9, True, True, "easy")] * 40
    hard = [(0.3, True, True, "hard")] * 5 + [(0.35, False, False, "hard")] * 10
    t = fit_reader.choose_threshold(easy + hard, max_false_refusal=0.1)
    assert t <= 0.3


def test_english_words_are_translated_into_the_words_the_passages_use():
    from rag.crosslingual import translate

    passages = "一年来全镇共保障城乡低保1120户1774人。1-9月自营出口额28.01亿元。向部队输送新兵5名。"
    got = translate("How many new recruits did the town send to the army, and what was its self-operated export value?", passages, len)
    assert got["new recruit"] == "新兵" and got["self operated"] == "自营" and "出口" in got["export"]
    # a translation the passages never use is not offered
    assert "hospital" not in translate("How many hospitals are there?", passages, len)


def test_an_english_question_with_a_translation_is_read_in_the_translations_words():
    """With a language model's translation, the focus holds the words the translation asks in (粮食产量, 家) and
    what it asks (its asked clauses, the measure next to the question word), not the dictionary's single
    characters; without one, the dictionary's words alone, as before."""
    passages = "经济结构有新的优化，粮食产量达到6.07亿吨。今年粮食产量要稳定在5.5亿吨以上。共有81家公司上市。"
    question = "How much grain did China harvest in 2014, per the 2015 report?"
    plan = plan_query(question, "根据2015年报告，2014年中国粮食产量是多少？")
    focus = make_focus(plan, lambda w: 2.0, passages)
    assert "粮食产量" in focus.terms and "粮食产量" in focus.head and "粮食产量" in focus.asked
    assert not [t for t in focus.terms if len(t) == 1]
    assert focus.periods == frozenset({"Y2014"})
    assert plan_query("How many were listed?", "北京证券交易所共有多少家公司上市？").units == ("家",)
    alone = make_focus(plan_query(question), lambda w: 2.0, passages)
    assert alone.terms and not alone.asked and not alone.head


def test_a_word_the_english_wholly_defines_is_preferred_to_one_it_only_heads():
    """“education” is the whole definition of 教育 but only the head of “sex education” (性教育), which a passage
    holds inside 财政性教育经费; plural definitions (fixed assets) match singular question words."""
    from rag.crosslingual import translate

    passages = "国家财政性教育经费支出占国内生产总值比例达到4%。全年固定资产投资增长3.5%左右。"
    got = translate("What share did spending on education reach, and how much fixed asset investment?", passages, len)
    assert got["education"] == "教育" and got["fixed asset"] == "固定资产"


def test_english_names_of_plans_abbreviations_and_question_frames_translate_as_wholes():
    """“the 11th Five-Year Plan” is 十一五, not the words five and plan; GDP is the abbreviation CC-CEDICT spells
    out (gross domestic production); “how large” frames the question and is not translated."""
    from rag.crosslingual import english_words, translate

    passages = "“十一五”时期，全市生产总值达到317亿元。今年拟安排财政赤字9000亿元。巨大成就。"
    got = translate("In the report reviewing the 11th Five-Year Plan, what was GDP?", passages, len)
    assert got["11th five-year plan"] == "十一五" and got["gdp"] == "生产总值" and "五" not in got.values()
    assert english_words("How large was the planned deficit?") == ["planned", "deficit"]


def test_of_several_translations_the_one_the_passages_keep_using_is_taken():
    """target: 目标 and 标的 both occur; the passages use 目标 throughout, 标的 once (a rarer sense)."""
    from rag.crosslingual import translate

    passages = "主要预期目标是：增长5%左右。完成目标任务。交易标的一宗。实现目标。"
    rarity = {"标的": 5.0, "目标": 1.0}.get  # 标的 is the rarer word in the library
    assert translate("What growth target was set?", passages, lambda c: rarity(c, 0.0))["target"] == "目标"


def test_english_questions_ask_for_periods_as_chinese_ones_do():
    """Years, halves, quarters, month ranges, plan periods and relative years of an English question, in the
    normal form of ``lexicon.periods``; the year that names the report is not a period asked."""
    from rag import lexicon

    got = lexicon.english_periods
    assert got("According to the State Council's 2007 government work report, what was the unemployment rate in 2006?") == {"Y2006"}
    assert got("What was China's 2001 GDP according to the 2002 government work report?") == {"Y2001"}
    assert got("In Zhejiang's 2021 report, what was growth in the third quarter of 2020?") == {"Q3", "Y2020"}
    assert got("Grain output in the first three quarters, and in January-June last year?") == {"M1-9", "M1-6", "R-1"}
    assert got("How much was invested during the 13th Five-Year Plan, and in the first half?") == {"P13", "H1"}
    assert got("In the report that reviews 2018, what was GDP?") == frozenset()


def test_english_place_names_are_read_with_the_dictionary():
    from rag.crosslingual import places

    index = places()
    assert "金华" in index["jinhua"] and "鄂尔多斯" in index["ordos"] and "西藏" in index["tibet"]
    assert {"苏州", "宿州"} <= set(index["suzhou"]) and "china" not in index and "state" not in index


def test_an_english_question_is_searched_with_the_chinese_names_of_the_places_it_spells():
    """Heilongjiang (three syllables: no pinyin pair matches it) and Inner Mongolia are searched as 黑龙江 and
    内蒙古; capitalised words that are not places, and places the library lacks, add nothing."""
    from rag.crosslingual import query_translations

    library = {"黑龙江": 5, "内蒙古": 3, "粮食": 9, "产量": 7}
    got = query_translations("What was Heilongjiang's grain output, and Inner Mongolia's?", lambda w: library.get(w, 0))
    assert "黑龙江" in got and "内蒙古" in got
    assert query_translations("What did The State Council say about Guangdong?", lambda w: library.get(w, 0)) == []


def test_an_english_question_is_searched_with_the_translations_the_library_uses():
    from rag.crosslingual import query_translations

    library = {"新兵": 3, "兵员": 1, "出口": 9, "部队": 4, "军队": 2}
    got = query_translations("How many new recruits did the town send to the army?", lambda w: library.get(w, 0), per_key=1)
    assert "新兵" in got and "部队" in got and "军队" not in got  # one per word: the most used
    assert query_translations("How many hospitals?", lambda w: library.get(w, 0)) == []  # none the library uses


def test_training_labels_spans_that_hold_the_gold_and_are_not_much_longer_than_the_shortest():
    from rag.answer.features import SpanFacts
    from rag.answer.training import label_spans

    spans = spans_of(hits("一年来全镇共保障城乡低保1120户1774人。累计发放各项民生资金1092万余元。全镇建成垃圾投放点61个。")[0])
    facts = [SpanFacts(s, {}, {}) for s in spans]
    labels = label_spans(facts, "number", ["1120户"], [])
    right = [f.span.text for f, y in zip(facts, labels) if y]
    assert right and all("1120户" in t for t in right)
    assert label_spans(facts, "unanswerable", [], []) == [0] * len(facts)
    masked = label_spans(facts, "redacted", [], ["全镇建成垃圾投放点61个"])
    assert any(y and "61个" in f.span.text for f, y in zip(facts, masked))


@pytest.mark.parametrize(
    "phrase, places",
    [
        ("辽市镇", ["辽市镇"]),
        ("永北圩所在的镇", ["永北圩"]),
        ("江西省宜春市袁州区彬江镇", ["江西省", "宜春市", "袁州区", "彬江镇"]),
        ("以“刮骨疗毒”闻名的那个镇", []),
        ("哪几份乡镇报告", []),
        ("华海药业所在镇", []),
    ],
)
def test_places_in_a_report_naming_phrase(phrase, places):
    from rag.lexicon import name_core, places_in

    assert places_in(phrase) == places
    assert name_core("辽市镇") == "辽市" and name_core("深圳市") == "深圳" and name_core("镇") == "镇"


def test_the_english_answer_states_a_figure_never_a_name_with_digits():
    """“The report gives 2.5年” was read out of “PM2.5年均浓度36.2微克/立方米”."""
    from types import SimpleNamespace

    from rag.answer.extractive import asked_figure

    plan = SimpleNamespace(focus=SimpleNamespace(units=()))
    assert not asked_figure("PM2.5年均浓度36.2微克/立方米、同比下降5%", plan).startswith("2.5")
    assert asked_figure("G316国道改造完成12公里", plan) == "12公里"


def test_the_clause_holding_the_question_word_is_what_is_asked_not_the_scene_it_sets():
    focus = make_focus(plan_query("2026年宁夏政府工作报告提到西夏陵申遗成功，那么西夏陵2025年全年接待了多少游客？"), lambda w: 2.0)
    assert {"接待", "游客"} <= focus.asked and not {"申遗", "成功"} & focus.asked
    assert focus.head == {"接待", "游客"}  # the measure asked sits next to the question word
    assert focus.report.years == {2026}
    focus = make_focus(plan_query("黄山市2016年政府工作报告称黄山旅游集团连续7年跻身中国旅游集团20强，该集团2015年营业收入是多少？"), lambda w: 2.0)
    assert focus.head == {"营业", "收入"} and "称" not in focus.terms  # a reporting verb frames the question
    # the unit comes from what is asked: 100亿元 in the scene does not make 员工 a sum of money
    assert plan_query("报告提到大海粮油产值突破100亿元，这家企业有多少名员工？").units == ("名",)
    focus = make_focus(plan_query("报告提出的三大工程分别是什么？"), lambda w: 2.0)
    assert focus.head == {"三大", "工程"}


def test_a_relative_year_after_a_comparison_word_is_not_a_period():
    from rag import lexicon

    assert lexicon.periods("国内生产总值比上年增长9.1%", 1997) == frozenset()
    assert lexicon.periods("与去年同期相比，工业总产值下降", 1997) == frozenset()
    assert lexicon.periods("去年全市生产总值增长6%", 1997) == {"Y1996"}
    # “全年” / “当年” right after a year is that year, not the report's
    assert lexicon.periods("2021年全年关闭了多少家非法生产经营单位", 2022) == {"Y2021"}
    assert lexicon.periods("2020年当年全市生产总值增长多少", 2021) == {"Y2020"}
    assert lexicon.periods("全年共关闭非法生产经营单位12家", 2022) == {"Y2022"}


@pytest.mark.parametrize(
    "question, places",
    [
        ("2026年江西省政府工作报告提出的粮食产量目标是多少？", ("江西",)),
        ("据金华市回顾2016年工作的政府工作报告，新增多少家企业？", ("金华",)),
        ("鄂尔多斯市2004年全市生产总值是多少？", ("多斯",)),
        ("全镇低保多少户？（2022年广西壮族自治区某镇工作总结）", ("壮族",)),
        ("国务院2019年政府工作报告提出的赤字率是多少？", ()),
        ("有一份市政府工作报告写到村务监督委员会，是哪个市？", ()),
        ("永北圩所在的镇低保多少户？", ()),
        ("山东省的报告说青岛港吞吐量是多少？", ()),
    ],
)
def test_the_place_of_the_report_a_question_names(question, places):
    """Only a phrase that names the report (…工作报告, or the place and year a question opens with) says whose
    report is meant; a place elsewhere in the question is what is asked about."""
    from rag import lexicon

    assert lexicon.report_places(question) == places
    assert make_focus(plan_query(question), lambda w: 2.0).report.places == tuple((core,) for core in places)


def test_a_report_is_called_by_its_title_year_or_by_its_period_and_the_year_after():
    from rag.report_identity import report_years, year_mismatch

    assert report_years("2026年上海市政府工作报告", "prov_2026_上海市.txt") == (2026, 2026)
    assert report_years("", "cn_state_council_1997.txt") == (1997, 1997)
    # a hex file name is no year; a report reviewing 2018 is given in 2019
    assert report_years("各位代表：", "lb_a2019b.txt", "各位代表：｜2018年｜青岛、海洋") == (2018, 2019)
    assert report_years("各位代表：", "x.txt", "各位代表：｜2015–2020年｜黄山") == (2015, 2021)
    assert report_years("各位代表：", "x.txt", "各位代表：｜黄山") is None
    assert year_mismatch(frozenset({2026}), (2018, 2019)) and not year_mismatch(frozenset({2019}), (2018, 2019))
    assert not year_mismatch(frozenset(), (2018, 2019)) and not year_mismatch(frozenset({2026}), None)


@pytest.mark.parametrize(
    "question, count",
    [
        ("“坚定实施‘五大战略’”指的是哪五大战略？", 5),
        ("“三大攻坚”指的是哪三项？", 3),
        ("采取的“四个一”整治措施具体是什么？", 4),
        ("被授予称号的是哪3位同志？", 3),
        ("去年重点抓好了哪十二个方面的工作？", 12),
        ("提了哪几条？", None),
        ("全镇有多少个村？", None),  # a number question names no count of items
    ],
)
def test_a_list_question_says_how_many_items_it_expects(question, count):
    from rag import lexicon

    assert lexicon.list_count(question) == count
    assert lexicon.small_number("二十") == 20 and lexicon.small_number("两") == 2 and lexicon.small_number("百") is None


def _passages(*texts):
    """Consecutive passages of one report, each overlapping the one before by the sentence they share."""
    from rag.schema import Chunk

    chunks, start = [], 0
    for k, text in enumerate(texts):
        chunks.append(Chunk(f"c{k}", "d", "r.txt", "T", "", start, start + len(text), text))
        if k + 1 < len(texts):
            shared = next(i for i in range(len(text)) if texts[k + 1].startswith(text[i:]))
            start += shared
    return chunks


LIST_PASSAGES = (
    "一年来，我们重点抓好以下四个方面工作。一是调结构，促发展。全年新增规上企业120家。二是强“三农”，促统筹。",
    "二是强“三农”，促统筹。粮食产量稳定。（一）完善农田水利。（二）推进土地流转。三是抓协调，促融合。城乡统筹推进。",
    "三是抓协调，促融合。城乡统筹推进。四是抓生态，优环境。森林覆盖率提高。二、2011年工作安排。五是另一件事。",
)


def test_a_list_named_in_one_passage_is_read_with_its_items_from_the_next():
    """The items of a list whose each item carries a paragraph run over several passages: the heads span holds
    the sentence that names it and the first sentence of each item, of the same marker kind, up to the next
    heading (sub-items and the next section's items are not items)."""
    from rag.answer.candidates import item_heads
    from rag.schema import Hit

    chunks = _passages(*LIST_PASSAGES)
    spans = item_heads(Hit(chunks[0], 1.0, 1), chunks[1:])
    assert len(spans) == 1 and spans[0].shape == "heads"
    heads = [item.text for item in spans[0].items]
    assert heads == ["一是调结构，促发展。", "二是强“三农”，促统筹。", "三是抓协调，促融合。", "四是抓生态，优环境。"]
    assert [item.hit.chunk.chunk_id for item in spans[0].items] == ["c0", "c0", "c1", "c2"]
    assert len(item_heads(Hit(chunks[0], 1.0, 1), chunks[1:], count=2)[0].items) == 2


def test_a_list_answer_quotes_each_item_head_with_the_passage_it_is_in():
    from rag.answer.candidates import item_heads
    from rag.answer.extractive import ExtractiveReader
    from rag.answer.features import span_features
    from rag.answer.gate import AnswerPlan, Decision
    from rag.schema import Hit

    chunks = _passages(*LIST_PASSAGES)
    span = item_heads(Hit(chunks[0], 1.0, 1), chunks[1:])[0]
    focus = make_focus(plan_query("去年重点抓好了哪四个方面的工作？"), lambda w: 2.0)
    facts = span_features(focus, span, "", 1.0)
    assert facts.features["list_count_fit"] == 1.0 and facts.features["heads_shape"] == 1.0
    plan = AnswerPlan(plan_query("去年重点抓好了哪四个方面的工作？"), focus, Decision("answered", facts, [facts], 0.9, []))
    answer = ExtractiveReader().read(plan, [Hit(c, 1.0, 1) for c in chunks])
    assert answer.status == "answered"
    assert [c.n for c in answer.citations] == [1, 2, 3]
    for c in answer.citations:  # every quote is the report's own text at its offsets
        assert c.quote in c.chunk.text and c.chunk.text[c.quote_start - c.chunk.start : c.quote_end - c.chunk.start] == c.quote
    assert "一是调结构，促发展[1]" in answer.text and "三是抓协调，促融合[2]" in answer.text and "四是抓生态，优环境[3]" in answer.text


def test_the_figure_that_states_a_measure_is_the_first_after_it_in_its_clause():
    """进出口总额增长3.4%: the figure after the measure is a growth rate, so a question asking 多少亿元 finds no
    fitting figure there (-1); a fitting one scores 1; a measure followed by no figure in its clause 0."""
    from rag.answer.features import first_figure_fit

    assert first_figure_fit({"进出口总额": 1.0}, "进出口总额增长3.4%，均实现稳定增长。", ("元",)) == -1.0
    assert first_figure_fit({"进出口总额": 1.0}, "进出口总额增长3.4%，进出口总额达到560亿元。", ("元",)) == 1.0
    assert first_figure_fit({"失业率": 1.0}, "城镇调查失业率5.7%左右", ("%",)) == 1.0
    assert first_figure_fit({"收入": 1.0}, "旅游收入持续增长，游客增加12万人次。", ("元",)) == 0.0


def test_the_span_the_embedding_model_puts_first_is_marked():
    """The model's similarities crowd into a narrow band: the span it ranks first is a feature of its own;
    spans it did not score are not marked. (A stand-in similarity: this tests the gate's bookkeeping.)"""
    focus = make_focus(plan_query("How many households received subsistence allowances?"), lambda w: 2.0, "城乡低保")
    texts = ("全镇共保障城乡低保1120户。", "新建道路3公里。", "植树造林500亩。")

    def similarity(spans):
        return [0.86 if "低保" in s else 0.80 for s in spans]

    ranked = gate().score_spans(focus, hits(*texts), similarity, pool=-1)
    marked = [f.span.text for f in ranked if f.features["dense_top"] == 1.0]
    assert marked and all("低保" in t for t in marked)
    assert all(f.features["dense_top"] == 0.0 for f in gate().score_spans(focus, hits(*texts), None))


def test_figures_and_years_written_in_chinese_numerals_are_figures_and_periods():
    """Older reports write 一百九十一元, 百分之二十五点五, 一九八二年: a figure in a unit, a percentage, a year —
    as 191元, 25.5%, 1982年 would be. Words made of numerals (一些, 三大工程, 十四五规划, 第十二个, 千方百计) are not."""
    from rag import lexicon

    text = "农民纯收入由一九八○年的一百九十一元增加到一九八五年的二百五十五元，比重下降到百分之二十五点五，支出七百六十六亿四千万元。"
    found = [(text[a:b], unit) for a, b, unit in lexicon.figures_with_units(text)]
    assert found == [("一百九十一元", "元"), ("二百五十五元", "元"), ("百分之二十五点五", "%"), ("七百六十六亿四千万元", "元")]
    assert {"Y1980", "Y1985"} <= lexicon.periods(text)
    assert lexicon.figures_with_units("一些地方实施三大工程，十四五规划第十二个，千方百计。") == []

