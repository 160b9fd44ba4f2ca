"""A language model as a second reader for the gate: does the best span state what the question asks?

The gate's features see which words of the question a span holds; they cannot read whether the span says
what is asked of those words (the revenue of the company it names, the figure of the year asked). A language
model reads the question against the span. Asked one yes/no question, after six worked examples (``EXAMPLES``),
its judgement is the log-odds it gives “是” over “否” for the first word of its reply (``Verifier.judge``); the
gate combines it with its own evidence by weights fitted on the train split (``model.VerifierWeights``,
``scripts/fit_verifier.py``). An English question is asked in its Chinese translation when it has one
(``Focus.read_question``).

In: a question and a span's text (the gate gives the span after what comes before it in its sentence).
Out: a float, positive when the model reads the span as answering.
Backends: a local GGUF file through llama-cpp-python (``LlamaCppVerifier``), or any OpenAI-compatible server
that returns log-probabilities (``ChatVerifier``). Both are built from ``LLMSettings`` by ``make_verifier``.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Protocol

from ..config import LLMSettings
from ..errors import RagError
from ..local_model import LocalModelError, installed_model, local_model

SYSTEM = "You judge whether a passage answers a question."
ASK = "文段：{passage}\n\n问题：{question}\n\n这段文字是否明确给出了这个问题所问的内容（包括所问的时间、对象和指标）？只回答“是”或“否”。"
YES, NO = "是", "否"
# worked examples, written for the prompt (not taken from any question set), one of each way a passage can
# seem to answer: the figure asked; a thing the passage names but an attribute it never states; another
# period's figure; a masked figure (the passage does state it, as printed); the same fact in other words; an
# English question the passage does not answer. A small model reads the question far better with them
# (scripts/fit_verifier.py, EVALUATION.md); their state is evaluated once (``LocalModel``), so they cost no time.
EXAMPLES = (
    ("全镇全年新增城镇就业1200人，城镇登记失业率控制在3%以内。", "该镇全年新增城镇就业多少人？", YES),
    ("华兴公司完成技术改造项目3个，新增智能生产线两条，带动就业300余人。", "华兴公司全年营业收入是多少？", NO),
    ("今年全市地区生产总值预期增长6%左右，一般公共预算收入增长5%。", "去年全市地区生产总值增长了多少？", NO),
    ("下半年，村里完成道路硬化*公里，新建文化广场一处。", "村里下半年硬化了多少公里道路？", YES),
    ("项目评估工作由县水利局委托第三方机构承担，评估结果向社会公开。", "项目的评估工作由谁负责？", YES),
    ("全县共有中小学45所，在校学生3.2万人，新建幼儿园6所。", "How many hospitals does the county have?", NO),
)
PASSAGE_CHARS = 300  # a span longer than this is cut: the prompt's cost grows with it, and answers sit early
QUESTION_CHARS = 300
FLOOR = -30.0  # log-probability of an answer word the server's top list leaves out
TIMEOUT_S = 10.0  # one token of reply: a server slower than this is not worth waiting for


class VerifierError(RagError):
    """The verifier cannot be built or cannot answer (missing package or model file, server error)."""


class Verifier(Protocol):
    identity: str  # the model judging: weights fitted on one model's judgements do not carry to another

    def judge(self, question: str, passage: str) -> float: ...


def messages(question: str, passage: str) -> list[dict[str, str]]:
    """The instructions, the worked examples as earlier turns, and the question asked about the passage."""
    shots = []
    for example_passage, example_question, verdict in EXAMPLES:
        shots += [
            {"role": "user", "content": ASK.format(passage=example_passage, question=example_question)},
            {"role": "assistant", "content": verdict},
        ]
    asked = {"role": "user", "content": ASK.format(passage=passage[:PASSAGE_CHARS], question=question[:QUESTION_CHARS])}
    return [{"role": "system", "content": SYSTEM}, *shots, asked]


class LlamaCppVerifier:
    """A local GGUF model (``local_model.LocalModel``, shared with the translator): the prompt is rendered with
    the model's own chat template, evaluated once, and the logits of the next token read for the first token of
    “是” and of “否”. About 1.3 s for a 1.5B model on 2 cores; a busy or broken model is a VerifierError."""

    def __init__(self, model_path: str, n_threads: int = 2):
        try:
            self.model = local_model(model_path, n_threads)
        except LocalModelError as exc:
            raise VerifierError(str(exc)) from exc
        self.identity = self.model.identity
        self._answers: list[int] | None = None

    def warm(self) -> None:
        """Load the model and evaluate the instructions and worked examples now (``LocalModel.warm``)."""
        self.model.warm([messages("", "")])

    def judge(self, question: str, passage: str) -> float:
        try:
            if self._answers is None:
                self._answers = [self.model.first_token(word) for word in (YES, NO)]
            logits = self.model.next_logits(messages(question, passage))
        except LocalModelError as exc:
            raise VerifierError(f"no judgement: {exc}") from exc
        yes, no = self._answers
        return float(logits[yes] - logits[no])


class ChatVerifier:
    """An OpenAI-compatible server: one token of reply with its top log-probabilities; the judgement is the
    best log-probability of a token starting “是” (or “yes”) minus that of one starting “否” (or “no”). A server
    that fails is not asked again for a while (``llm_models.ServerPause``)."""

    def __init__(self, settings: LLMSettings, clock=time.monotonic):
        from ..llm_models import ServerPause, make_chat_model

        self._pause = ServerPause(clock=clock)

        self.identity = f"openai:{settings.model}"
        # the answerer's client, asked for one token and its log-probabilities, with a short wait
        one_token = dataclasses.replace(settings, backend="openai", max_tokens=1, temperature=0.0, timeout=min(settings.timeout, TIMEOUT_S))
        self._model = make_chat_model(one_token).bind(logprobs=True, top_logprobs=10)

    def judge(self, question: str, passage: str) -> float:
        def top_logprobs() -> list[dict]:
            reply = self._model.invoke([(m["role"], m["content"]) for m in messages(question, passage)])
            return reply.response_metadata["logprobs"]["content"][0]["top_logprobs"]

        try:
            top = self._pause.call(top_logprobs)
        except Exception as exc:  # a server down, paused, or one that returns no log-probabilities
            raise VerifierError(f"the verifier's server gave no judgement: {type(exc).__name__}: {exc}") from exc
        return judgement_from_top(top)


def judgement_from_top(top: list[dict]) -> float:
    """“是” minus “否” from a server's top log-probabilities (``[{"token": …, "logprob": …}, …]``)."""

    def best(words: tuple[str, ...]) -> float:
        return max((float(t["logprob"]) for t in top if t["token"].strip().lower().startswith(words)), default=FLOOR)

    return best((YES, "yes")) - best((NO, "no"))


def local_verifier(model_path: str, n_threads: int) -> LlamaCppVerifier:
    """The verifier over the process's one copy of a local model (every library's assistant shares it)."""
    return LlamaCppVerifier(model_path, n_threads)


def make_verifier(settings: LLMSettings) -> Verifier:
    if settings.backend == "llamacpp":
        return local_verifier(settings.model_path, settings.n_threads)
    if settings.backend == "openai":
        return ChatVerifier(settings)
    raise VerifierError(f"unknown llm backend {settings.backend!r}")


def installed_verifier(settings: LLMSettings, fitted_for: str | None) -> Verifier | None:
    """``answer.verifier = "auto"``: the local model when it is installed — a GGUF file at ``llm.model_path`` (or
    where scripts/get_llm.py puts it), llama-cpp-python importable — and ``fitted_for`` (the identity the reader
    model's verifier weights were fitted for) is that model; else None: the gate decides alone. Nothing is
    loaded until the first judgement."""
    model = installed_model(settings.model_path, settings.n_threads)
    if model is None or model.identity != fitted_for:
        return None
    return local_verifier(model.model_path, settings.n_threads)
