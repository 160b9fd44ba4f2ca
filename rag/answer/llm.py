"""The LLM reader: the gate's status and the extractive answer stay; a chat model writes the text.

In: an ``AnswerPlan`` and hits. Out: an ``Answer`` (or, from ``stream``, text pieces then the ``Answer``).
A masked figure or "not in the reports" never reaches the model; "which reports" answers stay extractive
(one quote per report); a model answer that fails the checks, or a failing model, falls back to the
extractive answer (``rag.llm_answer``).
"""

from __future__ import annotations

from typing import Callable, Iterator

from ..schema import Answer, Hit
from .extractive import ExtractiveReader
from .gate import AnswerPlan


class LLMReader:
    def __init__(self, answerer: Callable[[], object]):
        self._answerer = answerer  # built on first use: loading a model is slow
        self._extractive = ExtractiveReader()

    def read(self, plan: AnswerPlan, hits: list[Hit]) -> Answer:
        *_, answer = self.stream(plan, hits)
        return answer

    def stream(self, plan: AnswerPlan, hits: list[Hit]) -> Iterator[str | Answer]:
        extractive = self._extractive.read(plan, hits)
        if extractive.status != "answered" or plan.decision.reports:
            yield extractive
            return
        yield from self._answerer().stream(plan.question, hits, extractive)
