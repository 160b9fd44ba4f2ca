"""A language model translates English questions (rag/translate.py): its translation is searched and read
beside the dictionary's words, and its absence, failure or silence under load costs nothing but itself.

Stand-in translators appear only in the tests of the code around the model (what is passed where, what happens
when it fails); the tests marked ``model`` use the real local model."""

from __future__ import annotations

import pytest

from rag.config import load_settings
from rag.errors import ConfigError
from rag.query import plan_query
from rag.translate import checked, messages, translation

from test_llm_real import GGUF, HAVE_LLAMA


class StandIn:
    def __init__(self, reply: str = "", error: Exception | None = None, identity: str = "stand-in"):
        self.reply, self.error, self.asked, self.identity = reply, error, [], identity

    def translate(self, question: str) -> str:
        self.asked.append(question)
        if self.error is not None:
            raise self.error
        return self.reply


def test_a_reply_is_a_translation_only_if_it_is_chinese_and_adds_no_number():
    q = "How many 5G base stations had Zhejiang built by the end of 2020?"
    assert checked(q, "浙江省截至2020年底累计建成5G基站多少个？\n（注）") == "浙江省截至2020年底累计建成5G基站多少个？"
    assert checked(q, "浙江省截至2020年底已建成5G基站10000个。") == ""  # it answered, with a figure of its own
    assert checked(q, "浙江省截至2020年底已建成5G基站多少个？共10000个") == ""
    assert checked(q, "2021年政府工作报告提到浙江帮助建成5G基站。") == ""  # a statement, not a question
    assert checked("What was the export value from January to September?", "1-9月出口额是多少？") == "1-9月出口额是多少？"
    assert checked(q, "How many 5G base stations?") == ""  # no Chinese
    assert checked(q, "") == ""
    assert checked("What was the GDP growth target of 6,5 percent for 2024?", "2024年GDP增长目标65%是多少？") == "2024年GDP增长目标65%是多少？"


def test_the_prompt_keeps_its_examples_and_cuts_a_long_question():
    m = messages("x" * 5000)
    assert m[0]["role"] == "system" and m[-1]["role"] == "user"
    assert len(m[-1]["content"]) < 500
    assert [x["role"] for x in m[1:-1]] == ["user", "assistant"] * ((len(m) - 2) // 2)


def test_the_translation_rides_on_the_plan_of_an_english_question_only():
    assert plan_query("How many households received subsistence allowances?", "全镇低保户有多少户？").translation == "全镇低保户有多少户？"
    assert plan_query("全镇低保户有多少户？", "全镇低保户有多少户？").translation == ""


def test_a_failing_or_crowded_translator_costs_only_the_translation(monkeypatch):
    from rag import local_model

    notes: list[str] = []
    assert translation(StandIn(error=RuntimeError("server down")), "How many?", notes) == ""
    assert notes == ["translation failed: RuntimeError"]
    assert translation(None, "How many?") == ""
    monkeypatch.setattr(local_model, "_crowded", lambda: True)
    waiting = StandIn(reply="多少？")
    notes = []
    assert translation(waiting, "How many?", notes) == "" and waiting.asked == []
    assert notes == ["translation skipped: questions are waiting"]


def test_the_translator_setting_is_checked():
    assert load_settings().retrieval.translator == "auto"
    with pytest.raises(ConfigError, match="retrieval.translator"):
        load_settings(overrides={"retrieval.translator": "always"})


def test_an_english_question_is_searched_with_its_translation_and_a_chinese_one_never_asks(fake_assistant, monkeypatch):
    stand_in = StandIn(reply="全镇共保障城乡低保多少户？")
    monkeypatch.setitem(fake_assistant.__dict__, "_translator", stand_in)
    english = fake_assistant.ask("How many households did the town cover with subsistence allowances?")
    assert stand_in.asked == ["How many households did the town cover with subsistence allowances?"]
    assert "translation: 全镇共保障城乡低保多少户？" in english.notes
    assert "translate" in english.timings
    fake_assistant.ask("全镇共保障城乡低保多少户？")
    assert len(stand_in.asked) == 1  # a Chinese question is not translated
    broken = StandIn(error=RuntimeError("model gone"), identity="another-model")
    monkeypatch.setitem(fake_assistant.__dict__, "_translator", broken)
    answer = fake_assistant.ask("How many households did the town cover with subsistence allowances?")
    assert "translation failed: RuntimeError" in answer.notes  # answered with the dictionary alone


def test_a_question_once_translated_is_not_asked_again_after_a_restart(fake_assistant, monkeypatch):
    """The translation is kept beside the index: a new assistant over the same index (a restart) reads it there,
    even with the model gone; a translation that failed is not kept."""
    from rag.pipeline import Assistant

    question = "How many rural roads did the town harden last year?"
    first = StandIn(reply="去年全镇硬化农村道路多少条？", identity="restart-model")
    monkeypatch.setitem(fake_assistant.__dict__, "_translator", first)
    fake_assistant.ask(question)
    restarted = Assistant(fake_assistant.index_dir, fake_assistant.settings, fake_assistant.embedder)
    gone = StandIn(error=RuntimeError("model gone"), identity="restart-model")
    monkeypatch.setitem(restarted.__dict__, "_translator", gone)
    answer = restarted.ask(question)
    assert first.asked == [question] and gone.asked == []
    assert "translation: 去年全镇硬化农村道路多少条？" in answer.notes
    failing = StandIn(error=RuntimeError("busy"), identity="failing-model")
    monkeypatch.setitem(restarted.__dict__, "_translator", failing)
    restarted.ask(question)
    restarted.ask(question)
    assert len(failing.asked) == 2  # a failure is not remembered: the next ask tries the model again


def test_the_translation_memory_keys_by_model_and_prompt_survives_a_damaged_file_and_stays_bounded(tmp_path, monkeypatch):
    from rag import local_model, translation_memory
    from rag.translation_memory import TranslationMemory

    memory = TranslationMemory(tmp_path / "t.sqlite")
    one = StandIn(reply="多少户？", identity="model-a")
    assert translation(one, "How many households?", memory=memory) == "多少户？"
    assert translation(one, "How many households?", memory=TranslationMemory(tmp_path / "t.sqlite")) == "多少户？"
    assert one.asked == ["How many households?"]
    other = StandIn(reply="几户？", identity="model-b")  # another model is asked for itself
    assert translation(other, "How many households?", memory=memory) == "几户？"
    answered = StandIn(reply="", identity="model-c")  # no translation (the model answered instead): kept too
    assert translation(answered, "How many?", memory=memory) == "" and translation(answered, "How many?", memory=memory) == ""
    assert answered.asked == ["How many?"]
    monkeypatch.setattr(local_model, "_crowded", lambda: True)  # a busy model: what is remembered still serves
    assert translation(StandIn(identity="model-a"), "How many households?", memory=memory) == "多少户？"
    monkeypatch.setattr(local_model, "_crowded", lambda: False)
    (tmp_path / "bad.sqlite").write_bytes(b"not a database" * 100)
    assert translation(StandIn(reply="多少？"), "How many?", memory=TranslationMemory(tmp_path / "bad.sqlite")) == "多少？"
    monkeypatch.setattr(translation_memory, "MAX_ROWS", 3)
    small = TranslationMemory(tmp_path / "small.sqlite")
    for n in range(5):
        small.keep(small.key("m", [{"q": str(n)}]), str(n))
    assert [small.recall(small.key("m", [{"q": str(n)}])) for n in range(5)] == [None, None, "2", "3", "4"]


def test_the_translation_memory_serves_the_answering_threads_from_one_connection(tmp_path, monkeypatch):
    """Many threads recall and keep at once; the file is opened once, not on every lookup."""
    from concurrent.futures import ThreadPoolExecutor

    from rag import translation_memory
    from rag.translation_memory import TranslationMemory

    opened = []
    real = translation_memory.connect_cache
    monkeypatch.setattr(translation_memory, "connect_cache", lambda *a, **k: opened.append(a) or real(*a, **k))
    memory = TranslationMemory(tmp_path / "t.sqlite")

    def work(n: int) -> str | None:
        key = memory.key("m", [{"q": str(n)}])
        memory.keep(key, f"问题{n}")
        return memory.recall(key)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(64))) == [f"问题{n}" for n in range(64)]
    assert len(opened) == 1
    memory.close()
    assert TranslationMemory(tmp_path / "t.sqlite").recall(memory.key("m", [{"q": "5"}])) == "问题5"


def test_with_the_translator_off_nothing_is_built(fake_assistant, monkeypatch):
    from rag.pipeline import Assistant

    off = Assistant(fake_assistant.index_dir, load_settings(overrides={"retrieval.translator": "none"}), fake_assistant.embedder)
    assert off._translator is None
    assert not any(n.startswith("translation") for n in off.ask("How many households received subsistence allowances?").notes)


@pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)")
def test_the_verifier_and_the_translator_share_one_copy_of_the_local_model(tmp_path, monkeypatch):
    from rag.answer.verify import installed_verifier
    from rag.config import LLMSettings
    from rag.local_model import LOCAL_MODEL
    from rag.translate import installed_translator

    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path))
    assert installed_translator(LLMSettings()) is None  # not installed: the dictionary translates alone
    (tmp_path / LOCAL_MODEL).write_bytes(b"GGUF")  # never loaded here
    translator, verifier = installed_translator(LLMSettings()), installed_verifier(LLMSettings(), LOCAL_MODEL)
    assert translator.model is verifier.model


def needs_model(test):
    """The real local model: skipped, saying why, without llama-cpp-python or the GGUF."""
    for mark in (
        pytest.mark.model,
        pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python is not installed (bash scripts/install_llm.sh)"),
        pytest.mark.skipif(GGUF is None, reason="no test GGUF: run `python scripts/get_llm.py` (or set RAG_TEST_GGUF)"),
    ):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def local_translator():
    from rag.local_model import local_model
    from rag.translate import local_translator

    return local_translator(local_model(GGUF, 2))


def test_every_library_shares_one_translator_per_local_model(tmp_path):
    """Two libraries' assistants build their translators from the same settings: one translator over the one
    copy of the model, so a question translated for one library is not translated again for the other."""
    from rag.config import LLMSettings
    from rag.translate import make_translator

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"")  # nothing is loaded until the first translation
    settings = LLMSettings(backend="llamacpp", model_path=str(gguf))
    assert make_translator(settings) is make_translator(settings)


@needs_model
@pytest.mark.parametrize("question", ["How many kilometres of roads were hardened in the town?", "What is the town's plan for the river chief system?"])
def test_the_local_model_writes_an_english_question_as_a_chinese_question(local_translator, question):
    out = local_translator.translate(question)
    assert out and checked(question, out) == out and "镇" in out


@needs_model
def test_the_translation_brings_the_passage_an_english_question_asks_about_up(sample_index_dir, e5_embedder):
    """Real model, real index: the passage holding the asked thing ranks higher with the model's translation in
    the keyword search than with the dictionary's words alone, and never lower."""
    from rag.pipeline import Assistant

    assistant = Assistant(sample_index_dir, load_settings(overrides={"llm.model_path": GGUF}), e5_embedder)
    assert assistant._translator is not None

    def rank(result, word):
        return next((i for i, h in enumerate(result.hits) if word in h.chunk.text), len(result.hits))

    gains = 0
    for question, word in (("What did the town do about garbage sorting?", "垃圾分类"), ("What is the town's plan for the river chief system?", "河长制"),
                           ("How many kilometres of roads were hardened in the town?", "硬化")):
        translation = assistant._translation(question, [])
        assert translation
        alone = rank(assistant.retriever.search(question, top_k=10), word)
        both = rank(assistant.retriever.search(question, top_k=10, translation=translation), word)
        assert both <= alone
        gains += both < alone
    assert gains >= 1


@needs_model
def test_a_question_is_translated_the_same_whatever_the_model_did_before(local_translator):
    """Each reply starts from the same saved state (the prompt's instructions and examples): reusing whatever
    the last call left in the context gave the same question another translation (河长制 → 河流首席系统)."""
    from rag.answer.verify import messages as judge_messages
    from rag.translate import MAX_TOKENS

    model = local_translator.model
    question = "What is the town's plan for the river chief system?"
    model.reply(messages("How many kilometres of roads were hardened in the town?"), MAX_TOKENS, stop=("\n",))
    first = model.reply(messages(question), MAX_TOKENS, stop=("\n",))
    model.reply(messages("What did the town do about garbage sorting?"), MAX_TOKENS, stop=("\n",))
    assert model.reply(messages(question), MAX_TOKENS, stop=("\n",)) == first
    model.next_logits(judge_messages("问题", "文段" * 50))
    assert model.reply(messages(question), MAX_TOKENS, stop=("\n",)) == first
