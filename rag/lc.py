"""LangChain adapters: our retriever as a ``BaseRetriever`` (the embedder already is an ``Embeddings``).

In: an ``Assistant`` (or a ``HybridRetriever``). Out: LangChain ``Document``s whose metadata carries the
chunk's source, title, section, offsets and score, so chains built on it can still cite exactly.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .schema import Hit


def hit_to_document(hit: Hit) -> LCDocument:
    c = hit.chunk
    return LCDocument(
        page_content=c.text,
        id=c.chunk_id,
        metadata={
            "chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source, "title": c.title,
            "section": c.section, "start": c.start, "end": c.end, "score": hit.score, "rank": hit.rank,
        },
    )


class ReportRetriever(BaseRetriever):
    """Hybrid (dense + BM25) retrieval over a report index, usable in any LangChain chain.

    >>> retriever = ReportRetriever(assistant=rag.default_assistant(), top_k=5)
    >>> retriever.invoke("永北圩所在的镇2022年保障了多少户低保？")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Any
    top_k: int = 5
    mode: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        result = self.assistant.retriever.search(query, top_k=self.top_k, mode=self.mode)
        return [hit_to_document(h) for h in result.hits[: self.top_k]]
