"""Chat models for the LLM answerer, built from ``LLMSettings`` (LangChain ``BaseChatModel``s).

- ``openai``: ``langchain_openai.ChatOpenAI`` against any OpenAI-compatible server (vLLM, llama.cpp server,
  Ollama, DeepSeek, DashScope …); the key comes from the environment variable ``api_key_env`` (a placeholder
  when unset, for local servers that need none). The key never enters logs, manifests or the UI.
- ``llamacpp``: a local GGUF file through llama-cpp-python (imported on first use).
"""

from __future__ import annotations

import os

from .config import LLMSettings
from .errors import RagError


class LLMError(RagError):
    """The chat model cannot be built (missing package, missing model file)."""


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
