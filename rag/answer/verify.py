"""A language model as a second reader for the gate: does the best span state what the question asks?

The gate's features see which words of the question a span holds; they cannot read whether the span says
what is asked of those words (the revenue of the company it names, the figure of the year asked). A language
model reads the question against the span. Asked one yes/no question, its judgement is the log-odds it gives
“是” over “否” for the first word of its reply (``Verifier.judge``); the gate combines it with its own evidence
by weights fitted on the train split (``model.VerifierWeights``, ``scripts/fit_verifier.py``).

In: a question and a span's text. Out: a float, positive when the model reads the span as answering.
Backends: a local GGUF file through llama-cpp-python (``LlamaCppVerifier``), or any OpenAI-compatible server
that returns log-probabilities (``ChatVerifier``). Both are built from ``LLMSettings`` by ``make_verifier``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import threading
import time
from pathlib import Path
from typing import Callable, Protocol

from ..config import LLMSettings
from ..errors import RagError

SYSTEM = "You judge whether a passage answers a question."
ASK = "文段：{passage}\n\n问题：{question}\n\n这段文字是否明确给出了这个问题所问的内容（包括所问的时间、对象和指标）？只回答“是”或“否”。"
YES, NO = "是", "否"
PASSAGE_CHARS = 300  # a span longer than this is cut: the prompt's cost grows with it, and answers sit early
QUESTION_CHARS = 300
FLOOR = -30.0  # log-probability of an answer word the server's top list leaves out
TIMEOUT_S = 10.0  # one token of reply: a server slower than this is not worth waiting for
PAUSE_S = 60.0
BUSY_S = 3.0  # a question waits at most this long for the local model another question is using, then goes without
LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # the file scripts/get_llm.py assembles


_crowded: Callable[[], bool] = lambda: False


def watch_crowd(crowded: Callable[[], bool]) -> None:
    """Tell the verifiers of this process how to see that questions are waiting for an answering slot (the
    server's fair gate). While they are, no verifier is asked: the ~1.3 s a judgement takes would lengthen
    every waiting question's wait, so under load the gate decides alone, at its own speed."""
    global _crowded
    _crowded = crowded


def crowded() -> bool:
    try:
        return bool(_crowded())
    except Exception:  # a broken watcher must not cost the question
        return False


class VerifierError(RagError):
    """The verifier cannot be built or cannot answer (missing package or model file, server error)."""


class Verifier(Protocol):
    identity: str  # the model judging: weights fitted on one model's judgements do not carry to another

    def judge(self, question: str, passage: str) -> float: ...


def messages(question: str, passage: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": ASK.format(passage=passage[:PASSAGE_CHARS], question=question[:QUESTION_CHARS])},
    ]


class LlamaCppVerifier:
    """A local GGUF model: the prompt is rendered with the model's own chat template, evaluated once, and the
    logits of the next token read for the first token of “是” and of “否”. One judgement at a time (a llama.cpp
    context is not re-entrant); about 1.5 s for a 1.5B model on 2 cores."""

    def __init__(self, model_path: str, n_threads: int = 2, n_ctx: int = 1024):
        if not model_path or not os.path.isfile(model_path):
            raise VerifierError(f"llm.model_path must name a .gguf file, got {model_path!r} (scripts/get_llm.py makes one)")
        self.model_path = model_path
        self.identity = os.path.basename(model_path)
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self._lock = threading.Lock()
        self._llama = None

    def _load(self):
        if self._llama is None:
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as exc:
                raise VerifierError("the local verifier needs llama-cpp-python: pip install llama-cpp-python") from exc
            try:
                llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
            except Exception as exc:  # a file that is no model: llama.cpp says ValueError, with no detail
                raise VerifierError(f"{self.identity} cannot be loaded: {type(exc).__name__}: {exc}") from exc
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise VerifierError(f"{self.identity} carries no chat template")
            text = llama._model.token_get_text
            bos = text(llama.token_bos()) if llama.token_bos() >= 0 else ""
            self._format = Jinja2ChatFormatter(template=template, eos_token=text(llama.token_eos()), bos_token=bos)
            self._answers = [llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)[0] for word in (YES, NO)]
            self._llama = llama
        return self._llama

    def judge(self, question: str, passage: str) -> float:
        # one context, one judgement at a time: a question that would wait behind several others is better
        # decided by the gate alone than held up
        if not self._lock.acquire(timeout=BUSY_S):
            raise VerifierError(f"{self.identity} is busy with other questions")
        try:
            llama = self._load()
            try:
                prompt = self._format(messages=messages(question, passage)).prompt
                tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)[-self.n_ctx + 1 :]
                llama.reset()
                llama.eval(tokens)
                # without logits_all, llama-cpp-python keeps no scores: the context holds the last token's logits
                logits = llama._ctx.get_logits_ith(-1)
                yes, no = self._answers
                return float(logits[yes] - logits[no])
            except Exception as exc:  # a decode failure must cost this judgement, not the question
                raise VerifierError(f"{self.identity} gave no judgement: {type(exc).__name__}: {exc}") from exc
        finally:
            self._lock.release()


class ChatVerifier:
    """An OpenAI-compatible server: one token of reply with its top log-probabilities; the judgement is the
    best log-probability of a token starting “是” (or “yes”) minus that of one starting “否” (or “no”). A server
    that fails is not asked again for ``PAUSE_S`` seconds: every question would otherwise wait on it."""

    def __init__(self, settings: LLMSettings, clock=time.monotonic):
        self._clock = clock
        self._down_until = 0.0
        from ..llm_models import make_chat_model

        self.identity = f"openai:{settings.model}"
        # the answerer's client, asked for one token and its log-probabilities, with a short wait
        one_token = dataclasses.replace(settings, backend="openai", max_tokens=1, temperature=0.0, timeout=min(settings.timeout, TIMEOUT_S))
        self._model = make_chat_model(one_token).bind(logprobs=True, top_logprobs=10)

    def judge(self, question: str, passage: str) -> float:
        if self._clock() < self._down_until:
            raise VerifierError("the verifier's server failed a moment ago; not asked")
        try:
            reply = self._model.invoke([(m["role"], m["content"]) for m in messages(question, passage)])
            top = reply.response_metadata["logprobs"]["content"][0]["top_logprobs"]
        except Exception as exc:  # a server down or one that returns no log-probabilities
            self._down_until = self._clock() + PAUSE_S
            raise VerifierError(f"the verifier's server gave no judgement: {type(exc).__name__}: {exc}") from exc
        return judgement_from_top(top)


def judgement_from_top(top: list[dict]) -> float:
    """“是” minus “否” from a server's top log-probabilities (``[{"token": …, "logprob": …}, …]``)."""

    def best(words: tuple[str, ...]) -> float:
        return max((float(t["logprob"]) for t in top if t["token"].strip().lower().startswith(words)), default=FLOOR)

    return best((YES, "yes")) - best((NO, "no"))


@functools.lru_cache(maxsize=2)
def local_verifier(model_path: str, n_threads: int) -> LlamaCppVerifier:
    """One verifier per model file in a process: every assistant (one per library) shares its ~1 GB model."""
    return LlamaCppVerifier(model_path, n_threads)


def make_verifier(settings: LLMSettings) -> Verifier:
    if settings.backend == "llamacpp":
        return local_verifier(settings.model_path, settings.n_threads)
    if settings.backend == "openai":
        return ChatVerifier(settings)
    raise VerifierError(f"unknown llm backend {settings.backend!r}")


def default_model_path() -> Path:
    """Where scripts/get_llm.py puts the local model: $RAG_MODEL_CACHE, else ~/.cache/report-rag/models."""
    cache = os.environ.get("RAG_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "report-rag", "models")
    return Path(cache) / LOCAL_MODEL


def installed_verifier(settings: LLMSettings, fitted_for: str | None) -> Verifier | None:
    """``answer.verifier = "auto"``: the local model when it is installed — a GGUF file at ``llm.model_path`` (or
    where scripts/get_llm.py puts it), llama-cpp-python importable — and ``fitted_for`` (the identity the reader
    model's verifier weights were fitted for) is that model; else None: the gate decides alone. Nothing is
    loaded until the first judgement."""
    path = settings.model_path or str(default_model_path())
    if not fitted_for or os.path.basename(path) != fitted_for or not os.path.isfile(path):
        return None
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    return local_verifier(path, settings.n_threads)
