"""The fixed sentences of an answer, in Chinese and English: refusals, the masked-figure notice, the English
lead-in. Shared by every reader and by the chat."""

from __future__ import annotations

NOT_FOUND_TEXT = "报告中没有找到能回答这个问题的内容。"
NOT_FOUND_TEXT_EN = "The reports do not contain the answer to this question."
REDACTED_LEAD = "报告中该数字以“*”遮盖，无法给出具体数值。原文："
REDACTED_LEAD_EN = "The report masks this figure with “*”, so no number can be given. The passage: "


def english_lead(figure: str) -> str:
    """The start of an English answer: the figure it states, then the quoted source."""
    return f"The report gives {figure}: " if figure else "The report says: "
