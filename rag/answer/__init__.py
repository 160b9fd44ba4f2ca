"""Answering: a gate decides the status, then a reader writes the answer.

- ``Gate.plan(query, hits, similarity, doc_scores) -> AnswerPlan``: the question's focus and the decision
  (answered / redacted / not_found, the scored spans) — the one place status is decided.
- ``Reader.read(plan, hits) -> Answer``: ``ExtractiveReader`` (quotes the chosen span), ``TopPassageReader``
  (the day-one baseline), ``LLMReader`` (a chat model writes from the passages, checked, extractive fallback).
  ``make_reader(mode)`` picks one by ``answer.mode``.
"""

from __future__ import annotations

from typing import Callable, Protocol

from ..schema import Answer, Hit
from .extractive import ExtractiveReader, TopPassageReader
from .gate import AnswerPlan, Decision, Gate
from .messages import NOT_FOUND_TEXT, NOT_FOUND_TEXT_EN, REDACTED_LEAD, REDACTED_LEAD_EN
from .model import ReaderModel, load_model


class Reader(Protocol):
    def read(self, plan: AnswerPlan, hits: list[Hit]) -> Answer: ...


def make_reader(mode: str, llm_answerer: Callable[[], object] | None = None) -> Reader:
    """The reader for ``answer.mode``; ``llm_answerer`` builds the checked LLM answerer on first use."""
    if mode == "extractive":
        return ExtractiveReader()
    if mode == "top_passage":
        return TopPassageReader()
    if mode == "llm":
        from .llm import LLMReader

        if llm_answerer is None:
            raise ValueError("answer.mode = 'llm' needs an LLM answerer factory")
        return LLMReader(llm_answerer)
    raise ValueError(f"answer.mode must be 'extractive', 'llm' or 'top_passage', got {mode!r}")


__all__ = [
    "AnswerPlan", "Decision", "ExtractiveReader", "Gate", "NOT_FOUND_TEXT", "NOT_FOUND_TEXT_EN", "REDACTED_LEAD",
    "REDACTED_LEAD_EN", "Reader", "ReaderModel", "TopPassageReader", "load_model", "make_reader",
]
