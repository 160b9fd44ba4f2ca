"""LLM answers behind the same contract as the extractive answerer, checked against their sources.

In: the question, the ranked hits, the extractive ``Answer`` for the same hits, and any LangChain chat model
(``BaseChatModel``: ChatOpenAI for OpenAI-compatible servers, a llama.cpp model, …). Out: an ``Answer``.

Guarantees kept from the extractive answerer:
- status comes from the extractive answerer: a masked figure stays ``redacted`` and "not in the reports" stays
  ``not_found`` (the model is not asked), so a model cannot turn a ``*`` into a number;
- every ``[n]`` must point to a passage; every figure must appear in a passage its sentence cites; an answer
  that fails, cites nothing, or whose model call fails (timeout, refused connection, bad key) is replaced by the
  extractive answer, and ``Answer.notes`` says why.

Streaming: ``stream()`` yields text pieces as the model writes them, then the checked ``Answer`` (which may
replace the streamed text).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from .llm_checks import attribute_markers, build_messages, check_answer
from .schema import Answer, Citation, Hit

FALLBACK_NOTICE = "（语言模型暂不可用，以下为原文摘录回答）"
CONDENSE_PROMPT = (
    "把用户的追问改写成一个不依赖上下文、可以单独理解的问题：补全所指的地方、报告、时间和事项。"
    "只输出改写后的问题，不要回答，不要解释。"
)


def _passages(hits: list[Hit], k: int) -> tuple[dict[int, str], dict[int, str]]:
    used = hits[:k]
    return {i + 1: h.chunk.text for i, h in enumerate(used)}, {i + 1: h.chunk.title for i, h in enumerate(used)}


def _citations(hits: list[Hit], cited: tuple[int, ...], extractive: Answer) -> list[Citation]:
    """A citation per cited passage; its quote is the extractive quote when it lies in that passage,
    else the passage itself (always a substring of the chunk)."""
    out = []
    for n in cited:
        chunk = hits[n - 1].chunk
        quote = next((c for c in extractive.citations if c.chunk.chunk_id == chunk.chunk_id), None)
        if quote is not None:
            out.append(dataclasses.replace(quote, n=n))
        else:
            out.append(Citation(n, chunk, chunk.text, chunk.start, chunk.end))
    return out


class LLMAnswerer:
    """Wraps a LangChain chat model; ``passages`` is how many hits the model is shown."""

    def __init__(self, chat_model, passages: int = 5):
        if passages <= 0:
            raise ValueError(f"passages must be > 0, got {passages}")
        self.model = chat_model
        self.k = passages

    def _fallback(self, extractive: Answer, why: str, notice: bool = False) -> Answer:
        text = f"{FALLBACK_NOTICE}\n{extractive.text}" if notice else extractive.text
        return dataclasses.replace(extractive, text=text, notes=[*extractive.notes, f"llm: {why}; extractive answer used"])

    def _finish(self, question: str, hits: list[Hit], extractive: Answer, generated: str) -> Answer:
        passages, _ = _passages(hits, self.k)
        generated, attributed = attribute_markers(generated, passages)
        result = check_answer(generated, passages, question)
        if not result.cited:
            return self._fallback(extractive, "the answer cites no passage")
        if not result.figures_ok:
            return self._fallback(extractive, f"figures not in the cited passages: {', '.join(result.unsupported_figures)}")
        notes = [*extractive.notes, "llm: checked", *result.notes]
        if attributed:
            notes.append(f"llm: {attributed} sentence(s) had no marker; attributed to the passage they quote")
        if result.unsupported_sentences:
            notes.append(f"llm: sentences without a citation: {len(result.unsupported_sentences)}")
        return dataclasses.replace(
            extractive, text=result.text.strip(), citations=_citations(hits, result.cited, extractive), notes=notes
        )

    def answer(self, question: str, hits: list[Hit], extractive: Answer) -> Answer:
        if extractive.status != "answered" or not hits:
            return extractive
        passages, titles = _passages(hits, self.k)
        try:
            message = self.model.invoke(build_messages(question, passages, titles))
        except Exception as exc:  # any backend failure (timeout, connection, auth) falls back, visibly
            return self._fallback(extractive, f"model call failed ({exc.__class__.__name__}: {exc})", notice=True)
        return self._finish(question, hits, extractive, str(message.content))

    def condense(self, question: str, history: list[Answer]) -> str | None:
        """Rewrite a follow-up into a standalone question with the conversation (None: keep the rule-based one).
        The model only rewrites the question; it never sees passages here."""
        if not history:
            return None
        turns = "\n".join(f"问：{a.standalone_question or a.question}\n答：{a.text[:120]}" for a in history[-3:])
        messages = [
            ("system", CONDENSE_PROMPT),
            ("user", f"对话：\n{turns}\n\n追问：{question}\n\n独立问题："),
        ]
        try:
            text = str(self.model.invoke(messages).content).strip()
        except Exception:  # a failing model leaves the rule-based rewrite in place
            return None
        text = text.splitlines()[0].strip().strip("“”\"") if text else ""
        # a usable rewrite is one short Chinese question, not an answer or an essay
        if not text or len(text) > max(60, 3 * len(question)) or "[" in text or not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return None
        # it must still ask what the follow-up asks (a small model may just repeat the previous question)
        from .text import content_words

        asked = [w for w in content_words(question) if len(w) >= 2]
        if asked and sum(w in text for w in asked) < 0.5 * len(asked):
            return None
        return text

    def stream(self, question: str, hits: list[Hit], extractive: Answer) -> Iterator[str | Answer]:
        """Yield text pieces, then the final checked ``Answer``."""
        if extractive.status != "answered" or not hits:
            yield extractive
            return
        passages, titles = _passages(hits, self.k)
        pieces: list[str] = []
        try:
            for chunk in self.model.stream(build_messages(question, passages, titles)):
                piece = str(chunk.content)
                pieces.append(piece)
                yield piece
        except Exception as exc:
            yield self._fallback(extractive, f"model call failed ({exc.__class__.__name__}: {exc})", notice=True)
            return
        yield self._finish(question, hits, extractive, "".join(pieces))
