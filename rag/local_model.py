"""The local language model: one GGUF file, loaded once per process, used by one question at a time.

Two parts of the engine ask it short things: the verifier (``answer/verify.py``) reads the logits of the next
token after a yes/no question; the translator (``translate.py``) has it write an English question in Chinese.
They share one ``LocalModel`` (``local_model``): one copy of the ~1 GB weights, one llama.cpp context (it is not
re-entrant), one lock. A question that would wait more than ``BUSY_S`` for the lock goes without the model, and
while the server has questions waiting for an answering slot (``watch_crowd``) nobody asks it: each call costs
about a second of both cores, which every waiting question would pay again.

In: chat messages (``[{"role": …, "content": …}]``). Out: logits or a reply. Errors: ``LocalModelError``.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable

from .errors import RagError

LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # the file scripts/get_llm.py assembles
BUSY_S = 3.0  # a question waits at most this long for the model another question is using, then goes without
HEADS_KEPT = 4  # prompt heads (instructions and examples) whose evaluated state is kept, one per use

_crowded: Callable[[], bool] = lambda: False


class LocalModelError(RagError):
    """The local model cannot be loaded, is busy, or failed on this input."""


def watch_crowd(crowded: Callable[[], bool]) -> None:
    """Tell the model's users in this process how to see that questions are waiting for an answering slot (the
    server's fair gate). While they are, the model is not asked: the engine answers without it, at its own speed."""
    global _crowded
    _crowded = crowded


def crowded() -> bool:
    try:
        return bool(_crowded())
    except Exception:  # a broken watcher must not cost the question
        return False


class LocalModel:
    """A GGUF model through llama-cpp-python, loaded on first use. ``identity`` is the file name: weights
    fitted on one model's outputs do not carry to another."""

    def __init__(self, model_path: str, n_threads: int = 2, n_ctx: int = 2048):
        if not model_path or not os.path.isfile(model_path):
            raise LocalModelError(f"llm.model_path must name a .gguf file, got {model_path!r} (scripts/get_llm.py makes one)")
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
                raise LocalModelError("the local model needs llama-cpp-python: bash scripts/install_llm.sh") from exc
            try:
                llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
            except Exception as exc:  # a file that is no model: llama.cpp says ValueError, with no detail
                raise LocalModelError(f"{self.identity} cannot be loaded: {type(exc).__name__}: {exc}") from exc
            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LocalModelError(f"{self.identity} carries no chat template")
            text = llama._model.token_get_text
            bos = text(llama.token_bos()) if llama.token_bos() >= 0 else ""
            self._format = Jinja2ChatFormatter(template=template, eos_token=text(llama.token_eos()), bos_token=bos)
            self._format_head = Jinja2ChatFormatter(template=template, eos_token=text(llama.token_eos()), bos_token=bos, add_generation_prompt=False)
            self._heads: dict[tuple[int, ...], object] = {}
            # freed before the interpreter tears its modules down (llama.cpp's own finaliser then finds them gone)
            atexit.register(llama.close)
            self._llama = llama
        return self._llama

    def _call(self, work: Callable):
        if not self._lock.acquire(timeout=BUSY_S):
            raise LocalModelError(f"{self.identity} is busy with other questions")
        try:
            llama = self._load()
            try:
                return work(llama)
            except Exception as exc:  # a decode failure must cost this call, not the question
                raise LocalModelError(f"{self.identity} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            self._lock.release()

    def _prompt(self, llama, messages: list[dict[str, str]]) -> list[int]:
        prompt = self._format(messages=messages).prompt
        return llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def first_token(self, word: str) -> int:
        """The id of the first token of ``word`` (loads the model)."""
        return self._call(lambda llama: llama.tokenize(word.encode("utf-8"), add_bos=False, special=False)[0])

    def next_logits(self, messages: list[dict[str, str]]):
        """The logits of the token the model would write first in reply. As ``reply``, the evaluation starts
        from the saved state of the prompt's head (a verifier's instructions and worked examples); a prompt too
        long for the context is a LocalModelError."""

        def work(llama):
            prompt = self._prompt(llama, messages)
            if len(prompt) >= self.n_ctx:  # cut, it would lose its instructions
                raise LocalModelError(f"the prompt ({len(prompt)} tokens) does not fit the model's context")
            self._start_from_head(llama, messages[:-1], prompt)
            llama.eval(prompt[llama.n_tokens :])
            # without logits_all, llama-cpp-python keeps no scores: the context holds the last token's logits
            return llama._ctx.get_logits_ith(-1)

        return self._call(work)

    def reply(self, messages: list[dict[str, str]], max_tokens: int, stop: tuple[str, ...] = ()) -> str:
        """The model's greedy reply, at most ``max_tokens`` tokens, cut before the first of ``stop``.

        The prompt's head — every message but the last (a translator's instructions and examples) — is evaluated
        once and its state kept; each reply starts from that state and evaluates only the last message: ~2 s ->
        ~0.9 s a translation. Always from the same state, so a question gets the same reply whatever the model
        did before (reusing whatever prefix the last call left gives a 1.5B model other greedy replies)."""

        def work(llama):
            prompt = self._prompt(llama, messages)
            if len(prompt) + max_tokens > self.n_ctx:
                raise LocalModelError(f"the prompt ({len(prompt)} tokens) leaves no room for a reply")
            self._start_from_head(llama, messages[:-1], prompt)
            out = llama.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stop=list(stop) or None)
            return out["choices"][0]["text"]

        return self._call(work)

    def warm(self, prompts: list[list[dict[str, str]]]) -> None:
        """Load the model and evaluate the head of each prompt (every message but the last, as ``reply`` and
        ``next_logits`` take it) now, so that the first question does not pay for them (~4 s to load, ~5 s for
        the verifier's examples on 2 cores). A question that comes meanwhile waits at most ``BUSY_S``, as for
        any other use."""

        def work(llama):
            for prompt in prompts:
                self._head_state(llama, self._head_tokens(llama, prompt[:-1]))

        self._call(work)

    def _head_tokens(self, llama, head_messages: list[dict[str, str]]) -> tuple[int, ...]:
        return tuple(llama.tokenize(self._format_head(messages=head_messages).prompt.encode("utf-8"), add_bos=False, special=True))

    def _head_state(self, llama, head: tuple[int, ...]):
        """The saved state after ``head`` (evaluated the first time, then kept)."""
        state = self._heads.get(head)
        if state is None:
            llama.reset()
            llama.eval(list(head))
            state = llama.save_state()
            if len(self._heads) >= HEADS_KEPT:
                self._heads.pop(next(iter(self._heads)))
            self._heads[head] = state  # a few MB each: the translator's and the verifier's
        return state

    def _start_from_head(self, llama, head_messages: list[dict[str, str]], prompt: list[int]) -> None:
        """Put the context at the end of ``head_messages``' tokens (evaluated once, then restored), or empty it
        when the rendered head is not a prefix of ``prompt``."""
        llama.reset()
        if not head_messages:
            return
        head = self._head_tokens(llama, head_messages)
        if tuple(prompt[: len(head)]) != head or len(head) >= len(prompt):
            return
        llama.load_state(self._head_state(llama, head))


@functools.lru_cache(maxsize=2)
def local_model(model_path: str, n_threads: int) -> LocalModel:
    """One model per file in a process: every assistant (one per library) and every use shares it."""
    return LocalModel(model_path, n_threads)


def default_model_path() -> Path:
    """Where scripts/get_llm.py puts the local model: $RAG_MODEL_CACHE, else ~/.cache/report-rag/models."""
    cache = os.environ.get("RAG_MODEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "report-rag", "models")
    return Path(cache) / LOCAL_MODEL


def installed_model(model_path: str, n_threads: int) -> LocalModel | None:
    """The local model when it is installed — a GGUF file at ``model_path`` (or, when that is empty, where
    scripts/get_llm.py puts it) and llama-cpp-python importable — else None. Nothing is loaded here."""
    path = model_path or str(default_model_path())
    if not os.path.isfile(path) or importlib.util.find_spec("llama_cpp") is None:
        return None
    return local_model(path, n_threads)
