"""Export answers with their citations, for a brief: pure builders from ``Answer``s to Markdown text or .docx bytes.

In: answers in the order they were given (one answer, or a whole conversation). Out: a Markdown string or the
bytes of a Word file. Each answer becomes: the question (and how a follow-up was understood), the answer text
with its ``[n]`` markers, a status line for masked / not-found answers, and the numbered sources — report
title, section path, file, character offsets in the report, and the exact quote. Report text is never altered:
figures masked with ``*`` stay ``*`` (in Markdown they are backslash-escaped, so a renderer shows them as
printed instead of reading them as emphasis). No Gradio here; ``write_exports`` is the only I/O.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from pathlib import Path
from typing import Sequence

from rag.schema import Answer, Citation

TEXT = {
    "zh": {
        "title": "工作报告问答 · 导出",
        "exported": "导出时间",
        "question": "问题",
        "understood": "理解为",
        "answer": "回答",
        "sources": "来源",
        "file": "文件",
        "chars": "字符",
        "no_sources": "（无引用）",
        "redacted": "报告中这个数字被遮盖（以“*”显示），无法给出具体数值。",
        "not_found": "报告中没有找到能回答这个问题的内容。",
    },
    "en": {
        "title": "Report QA · export",
        "exported": "Exported",
        "question": "Question",
        "understood": "Understood as",
        "answer": "Answer",
        "sources": "Sources",
        "file": "file",
        "chars": "chars",
        "no_sources": "(no citations)",
        "redacted": "The report masks this figure (printed as “*”); no number can be given.",
        "not_found": "The reports do not contain an answer to this question.",
    },
}

# characters Markdown would read as formatting; escaped so the rendered text is the report's own characters
_MD_SPECIAL = re.compile(r"([\\`*_~<>\[\]#|])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d+)\\\]")


def _t(lang: str, key: str) -> str:
    return TEXT.get(lang, TEXT["zh"])[key]


def md_escape(text: str) -> str:
    """``text`` with Markdown's formatting characters backslash-escaped (``*`` -> ``\\*``)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def unique_citations(answer: Answer) -> list[Citation]:
    """The answer's citations, one per number, in order of their number."""
    seen: dict[int, Citation] = {}
    for c in answer.citations:
        seen.setdefault(c.n, c)
    return [seen[n] for n in sorted(seen)]


def where(citation: Citation) -> str:
    """“《title》 › section path”, without repeating a title that is also the first heading."""
    chunk = citation.chunk
    section = chunk.section
    if section.startswith(chunk.title):
        section = section[len(chunk.title):].lstrip(" ›")
    return f"《{chunk.title}》" + (f" › {section}" if section else "")


def _status_line(answer: Answer, lang: str) -> str | None:
    return _t(lang, answer.status) if answer.status in ("redacted", "not_found") else None


def _understood(answer: Answer) -> str | None:
    q = answer.standalone_question
    return q if q and q != answer.question else None


def answers_markdown(answers: Sequence[Answer], lang: str = "zh", exported_at: str | None = None) -> str:
    """One Markdown document for ``answers`` (oldest first): per answer a heading with the question, the answer
    with its ``[n]`` markers, then a numbered list of sources, each with its exact quote as a block quote.
    ``exported_at``: the time line under the title (default: now, local time)."""
    exported_at = exported_at or time.strftime("%Y-%m-%d %H:%M")
    lines = [f"# {_t(lang, 'title')}", "", f"{_t(lang, 'exported')}：{exported_at}", ""]
    for i, answer in enumerate(answers, start=1):
        lines += [f"## {_t(lang, 'question')} {i}：{md_escape(answer.question)}", ""]
        if (understood := _understood(answer)) is not None:
            lines += [f"_{_t(lang, 'understood')}：{md_escape(understood)}_", ""]
        if (status := _status_line(answer, lang)) is not None:
            lines += [f"**{md_escape(status)}**", ""]
        if answer.status != "not_found":
            # the markers stay plain “[n]” (no link definitions exist, so no renderer turns them into links)
            body = _ESCAPED_MARKER.sub(r"[\1]", md_escape(answer.text))
            lines += [f"{_t(lang, 'answer')}：{body}", ""]
        citations = unique_citations(answer)
        lines += [f"**{_t(lang, 'sources')}**", ""]
        if not citations:
            lines += [_t(lang, "no_sources"), ""]
        for c in citations:
            lines.append(
                f"{c.n}. {md_escape(where(c))} — {_t(lang, 'file')} `{c.chunk.source}`，"
                f"{_t(lang, 'chars')} {c.quote_start}–{c.quote_end}"
            )
            lines += [f"   > {md_escape(line)}" if line else "   >" for line in c.quote.split("\n")]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def answers_docx(answers: Sequence[Answer], lang: str = "zh", exported_at: str | None = None) -> bytes:
    """The same document as ``answers_markdown``, as the bytes of a .docx file (python-docx). Text is written
    literally: markers are “[n]”, masked figures stay “*”."""
    from docx import Document
    from docx.shared import Pt

    exported_at = exported_at or time.strftime("%Y-%m-%d %H:%M")
    doc = Document()
    doc.core_properties.title = _t(lang, "title")
    doc.add_heading(_t(lang, "title"), level=1)
    doc.add_paragraph(f"{_t(lang, 'exported')}：{exported_at}")
    for i, answer in enumerate(answers, start=1):
        doc.add_heading(f"{_t(lang, 'question')} {i}：{answer.question}", level=2)
        if (understood := _understood(answer)) is not None:
            doc.add_paragraph().add_run(f"{_t(lang, 'understood')}：{understood}").italic = True
        if (status := _status_line(answer, lang)) is not None:
            doc.add_paragraph().add_run(status).bold = True
        if answer.status != "not_found":
            doc.add_paragraph(f"{_t(lang, 'answer')}：{answer.text}")
        doc.add_paragraph().add_run(_t(lang, "sources")).bold = True
        citations = unique_citations(answer)
        if not citations:
            doc.add_paragraph(_t(lang, "no_sources"))
        for c in citations:
            doc.add_paragraph(
                f"[{c.n}] {where(c)} — {_t(lang, 'file')} {c.chunk.source}，{_t(lang, 'chars')} {c.quote_start}–{c.quote_end}"
            )
            quote = doc.add_paragraph(f"“{c.quote}”")
            quote.paragraph_format.left_indent = Pt(18)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def export_name(answers: Sequence[Answer], stamp: str | None = None) -> str:
    """A file stem for an export: “对话-<time>” (several answers) or “回答-<time>” (one)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    return f"{'回答' if len(answers) == 1 else '对话'}-{stamp}"


EXPORT_MAX_AGE_S = 3600  # exports older than this are removed when a new one is written (the browser has them)


def write_exports(answers: Sequence[Answer], folder: Path, lang: str = "zh") -> tuple[Path, Path]:
    """Write ``answers`` as .md and .docx into a new subfolder of ``folder``; returns the two paths.
    Subfolders older than ``EXPORT_MAX_AGE_S`` are removed first, so the folder does not grow without bound."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.iterdir():
        try:
            if old.is_dir() and now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # removed by a concurrent export
            pass
    target = folder / uuid.uuid4().hex
    target.mkdir()
    stem = export_name(answers)
    md, docx = target / f"{stem}.md", target / f"{stem}.docx"
    md.write_text(answers_markdown(answers, lang), encoding="utf-8")
    docx.write_bytes(answers_docx(answers, lang))
    return md, docx
