"""Chat models for the LLM answerer, built from ``LLMSettings`` (LangChain ``BaseChatModel``s).

- ``openai``: ``langchain_openai.ChatOpenAI`` against any OpenAI-compatible server (vLLM, llama.cpp server,
  Ollama, DeepSeek, DashScope …); the key comes from the environment variable ``api_key_env`` (a placeholder
  when unset, for local servers that need none). The key never enters logs, manifests or the UI.
- ``llamacpp``: a local GGUF file through llama-cpp-python (imported on first use).
"""

from __future__ import annotations

import os
import time
from typing import Callable, TypeVar

from .config import LLMSettings
from .errors import RagError

T = TypeVar("T")
PAUSE_S = 60.0  # how long a server that failed is left alone


class LLMError(RagError):
    """The chat model cannot be built (missing package, missing model file)."""


class ServerPaused(RagError):
    """The server failed a moment ago and is not asked until its pause ends."""


class ServerPause:
    """Calls to a server that failed are refused for ``seconds`` (``ServerPaused``): a helper model asked on every
    question (the verifier, the translator) would otherwise make each of them wait out the server's timeout."""

    def __init__(self, seconds: float = PAUSE_S, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._until = 0.0

    def call(self, fn: Callable[[], T]) -> T:
        """``fn()``, unless the server is paused; any exception it raises starts a pause and propagates."""
        if self._clock() < self._until:
            raise ServerPaused("the server failed a moment ago; not asked")
        try:
            return fn()
        except Exception:
            self._until = self._clock() + self.seconds
            raise


def make_chat_model(settings: LLMSettings):
    if settings.backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:  # pragma: no cover - install problem
            raise LLMError("the openai backend needs langchain-openai: pip install langchain-openai") from exc
        return ChatOpenAI(
            base_url=settings.base_url,
            model=settings.model,
            api_key=os.environ.get(settings.api_key_env) or "not-needed",
            timeout=settings.timeout,
            max_retries=0,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
        )
    if settings.backend == "llamacpp":
        if not settings.model_path or not os.path.isfile(settings.model_path):
            raise LLMError(f"llm.model_path must name a .gguf file, got {settings.model_path!r} (scripts/get_llm.py makes one)")
        from .llm_llamacpp import LlamaCppChatModel

        return LlamaCppChatModel(
            model_path=settings.model_path,
            n_threads=settings.n_threads,
            n_ctx=settings.n_ctx,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
        )
    raise LLMError(f"unknown llm backend {settings.backend!r}")
