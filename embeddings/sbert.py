"""Any sentence-transformers model: a hub name (if the hub is reachable) or a local folder.

Prompts come from config (``query_prompt`` / ``passage_prompt``) and are prepended to the text,
so e5-style, bge-style and prompt-less models all work. torch and sentence-transformers import lazily.
"""

from __future__ import annotations

import threading

from .base import BaseEmbedder, EmbedderInfo


class SentenceTransformerEmbeddings(BaseEmbedder):
    def __init__(
        self,
        model: str,
        query_prompt: str = "",
        passage_prompt: str = "",
        batch_size: int = 16,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        super().__init__()
        self.num_threads = num_threads
        if not model:
            raise ValueError("model must name a sentence-transformers model or a local folder, got ''")
        self.model_name = model
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._load_lock = threading.Lock()

    def _load(self):
        with self._load_lock:  # describe() may race encode() to the first load
            return self._load_unlocked()

    def _load_unlocked(self):
        if self._model is None:
            from rag.errors import EmbeddingError

            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - install problem
                raise EmbeddingError("this backend needs 'sentence-transformers' (and torch) installed") from exc
            try:
                if self.num_threads:
                    import torch

                    torch.set_num_threads(self.num_threads)  # process-wide: torch has one intra-op pool
                self._model = SentenceTransformer(self.model_name, device=self.device)
            except Exception as exc:  # the library raises many kinds (OSError, HF errors, ValueError)
                raise EmbeddingError(
                    f"cannot load sentence-transformers model {self.model_name!r}: {exc}. "
                    "Without internet, point embedding.model at a local folder."
                ) from exc
        return self._model

    def _encode(self, texts, is_query):
        model = self._load()
        prompt = self.query_prompt if is_query else self.passage_prompt
        return model.encode(
            [prompt + t for t in texts],
            prompt="",  # our prompts only: never also the model's saved default_prompt_name
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def describe(self) -> EmbedderInfo:
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return EmbedderInfo(
            backend="sentence-transformers",
            model=self.model_name,
            dim=int(get_dim()),
            query_prompt=self.query_prompt,
            passage_prompt=self.passage_prompt,
        )
