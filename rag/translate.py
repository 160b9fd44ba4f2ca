"""An English question written in Chinese by a language model, to search and read beside the dictionary.

The dictionary (``crosslingual``) translates word by word and keeps the words the passages use; a model
translates the question whole, into the phrases Chinese reports use for it (“off-farm employment” →
转移就业, “ten livelihood projects” → 十件民生实事). Its translation is added to the English question's keyword
search and focus (``QueryPlan.translation``), never used instead of the question: a 1.5B model misspells
places (a wrong report) and words a measure its own way (a refusal), and on the train split the question read
as its translation alone was answered less often than with the dictionary alone (EVALUATION.md, session 15).

In: an English question. Out: its Chinese translation, or "" — no model, the model busy or failing, or a reply
that fails ``checked`` (no Chinese, or a number the question does not hold: a model that answers instead of
translating). What the model gave is kept beside the index (``translation_memory``): it is asked once a
question, across restarts. Backends: the local GGUF model (``LocalTranslator``, sharing
``local_model.LocalModel`` with the verifier) or any OpenAI-compatible server (``ChatTranslator``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
from typing import Protocol

from . import lexicon
from .config import LLMSettings
from .local_model import LocalModel, crowded, installed_model, local_model
from .translation_memory import TranslationMemory

log = logging.getLogger(__name__)

SYSTEM = (
    "You translate questions about Chinese government work reports into Chinese. Keep every year, number and "
    "name; write place names in Chinese characters; use the wording such reports use. Reply with the Chinese "
    "question only; never answer it."
)
# worked examples, written for the prompt (not taken from any question set); they name no place and no year,
# which a small model would otherwise copy into the questions it translates
EXAMPLES = (
    ("How many new jobs did the city create last year, according to its work report?", "该市政府工作报告中，去年新增就业岗位多少个？"),
    ("Which three projects does the province's report say it will carry out next year?", "该省政府工作报告提出明年实施哪三项工程？"),
    ("Who is responsible for the maintenance of rural roads in the county?", "该县农村公路养护由谁负责？"),
)
MAX_TOKENS = 100
QUESTION_CHARS = 400  # a longer English question is cut: the model's cost grows with it
TIMEOUT_S = 10.0  # a server slower than this for one short reply is not worth the question's wait
CACHED = 1024  # translations kept per translator (the same question asked again costs nothing)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MONTHS = 12  # a number a translation may add: a month's (“September” is 9月)


class Translator(Protocol):
    identity: str

    def translate(self, question: str) -> str: ...


def messages(question: str) -> list[dict[str, str]]:
    shots = []
    for english, chinese in EXAMPLES:
        shots += [{"role": "user", "content": "Translate: " + english}, {"role": "assistant", "content": chinese}]
    return [{"role": "system", "content": SYSTEM}, *shots, {"role": "user", "content": "Translate: " + question[:QUESTION_CHARS]}]


def checked(question: str, reply: str) -> str:
    """The reply's first line as a translation of ``question``, or "" when it is none: no Chinese in it, a
    statement instead of a question, or a number the question does not hold beyond a month's (“January to
    September” is 1-9月) — the model answered, and made the answer up (“…已建成5G基站10000个。”)."""
    text = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    if not _CJK.search(text) or not lexicon.CHINESE_QUESTION.search(text):
        return ""
    held = set(_NUMBER.findall(question.replace(",", "")))
    if any(n not in held and float(n) > MONTHS for n in _NUMBER.findall(text.replace(",", ""))):
        return ""
    return text


class LocalTranslator:
    """The local GGUF model (greedy, one line): ~1 s a question on 2 cores."""

    def __init__(self, model: LocalModel):
        self.model = model
        self.identity = model.identity

    def warm(self) -> None:
        """Load the model and evaluate the instructions and worked examples now (``LocalModel.warm``)."""
        self.model.warm([messages("")])

    @functools.lru_cache(maxsize=CACHED)
    def translate(self, question: str) -> str:
        return checked(question, self.model.reply(messages(question), MAX_TOKENS, stop=("\n",)))


class ChatTranslator:
    """An OpenAI-compatible server (the [llm] settings), asked with the answerer's client for one short reply
    within ``TIMEOUT_S``. A server that fails is not asked again for a while (``llm_models.ServerPause``)."""

    def __init__(self, settings: LLMSettings, clock=time.monotonic):
        from .llm_models import ServerPause, make_chat_model

        self.identity = f"openai:{settings.model}"
        self._pause = ServerPause(clock=clock)
        short = dataclasses.replace(settings, backend="openai", max_tokens=MAX_TOKENS, temperature=0.0, timeout=min(settings.timeout, TIMEOUT_S))
        self._model = make_chat_model(short)

    @functools.lru_cache(maxsize=CACHED)
    def translate(self, question: str) -> str:
        reply = self._pause.call(lambda: self._model.invoke([(m["role"], m["content"]) for m in messages(question)]))
        return checked(question, str(reply.content))


def translation(translator: Translator | None, question: str, notes: list[str] | None = None, memory: TranslationMemory | None = None) -> str:
    """``translator``'s translation of ``question``, or "" — no translator, questions waiting for a slot (the
    model's second would lengthen every wait), or the model busy or failing (noted in ``notes``). With a
    ``memory``, a question the model already translated is not asked again, and a new translation is kept."""
    if translator is None:
        return ""
    key = memory.key(translator.identity, messages(question)) if memory is not None else None
    if key is not None:
        remembered = memory.recall(key)
        if remembered is not None:
            return remembered
    if crowded():
        if notes is not None:
            notes.append("translation skipped: questions are waiting")
        return ""
    try:
        out = translator.translate(question)
    except Exception as exc:  # a server down, a model busy (LocalModelError): the dictionary still translates
        log.info("no translation: %s", exc)
        if notes is not None:
            notes.append(f"translation failed: {type(exc).__name__}")
        return ""
    if key is not None:
        memory.keep(key, out)
    return out


@functools.lru_cache(maxsize=None)
def local_translator(model: LocalModel) -> LocalTranslator:
    """The one translator over a process's copy of a local model: every library's assistant shares it (and the
    translations it keeps)."""
    return LocalTranslator(model)


def make_translator(settings: LLMSettings) -> Translator:
    """The [llm] model as a translator: a local GGUF file (``backend = "llamacpp"``) or a server."""
    if settings.backend == "llamacpp":
        return local_translator(local_model(settings.model_path, settings.n_threads))
    return ChatTranslator(settings)


def installed_translator(settings: LLMSettings) -> Translator | None:
    """``retrieval.translator = "auto"``: the local model when it is installed (``local_model.installed_model``),
    else None (the dictionary translates alone). Nothing is loaded until the first English question."""
    model = installed_model(settings.model_path, settings.n_threads)
    return local_translator(model) if model is not None else None
