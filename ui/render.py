"""How an answer looks: pure functions from ``Answer`` (and friends) to Markdown / HTML strings.

No Gradio here, so every rendering rule is unit-tested on its own. Chinese interface text by default,
English with ``lang="en"``. All report text goes through ``report_text`` before it is shown, so it reads exactly
as printed: a masked figure ``低保户*户`` must not turn into italics in the chat's Markdown.
"""

from __future__ import annotations

import html
import re

from rag.schema import Answer

TEXT = {
    "zh": {
        "redacted": "⚠️ 数字被遮盖",
        "not_found": "ℹ️ 报告中没有找到能回答这个问题的内容。",
        "sources": "来源",
        "rank": "第{}位",
        "relevance": "相关度",
        "open": "查看原文",
        "understood": "理解为",
        "carried": "（沿用上文的报告《{}》）",
        "chars": "字符",
    },
    "en": {
        "redacted": "⚠️ Masked figure",
        "not_found": "ℹ️ The reports do not contain an answer to this question.",
        "sources": "Sources",
        "rank": "rank {}",
        "relevance": "relevance",
        "open": "open in report",
        "understood": "understood as",
        "carried": " (keeping the report “{}” from earlier in the conversation)",
        "chars": "chars",
    },
}

# What a user reads when a question or a library change fails: one short sentence per kind of project error,
# never the exception's own text (paths, file names, sizes are for the server log).
ERRORS = {
    "zh": {
        "EmptyQuestionError": "请输入问题。",
        "IndexMissingError": "还没有可用的索引，请先在“报告库”中添加报告。",
        "IndexCorruptError": "索引文件已损坏，请联系管理员重建索引。",
        "IndexMismatchError": "索引与当前模型设置不一致，请联系管理员重建索引。",
        "IndexWriteError": "索引保存失败（可能是磁盘已满），仍在使用原来的索引。",
        "EmbeddingError": "向量模型暂时无法使用，请稍后再试。",
        "UnreadableReportError": "无法读取这份报告。",
        "UploadError": "文件未被接受：类型、大小或文件名不符合要求。",
        "LLMError": "语言模型暂时无法使用，请稍后再试。",
        "ServerBusyError": "服务器正忙（提问的人较多），请稍后再试。",
        "ConfigError": "服务器配置有误，请联系管理员。",
        "UnknownReportError": "所选的报告已不在库中，请在设置中重新选择。",
        "RagError": "处理时出错了，请稍后再试。",
        "unknown": "抱歉，系统出错了，请稍后再试。",
    },
    "en": {
        "EmptyQuestionError": "Please type a question.",
        "IndexMissingError": "There is no index yet: add reports in the library tab first.",
        "IndexCorruptError": "The index is damaged; ask the administrator to rebuild it.",
        "IndexMismatchError": "The index was built with other model settings; ask the administrator to rebuild it.",
        "IndexWriteError": "The index could not be saved (disk full?); the previous index is still in use.",
        "EmbeddingError": "The embedding model is unavailable; please try again later.",
        "UnreadableReportError": "This report cannot be read.",
        "UploadError": "File refused: its type, size or name is not allowed.",
        "LLMError": "The language model is unavailable; please try again later.",
        "ServerBusyError": "The server is busy (many questions at once); please try again shortly.",
        "ConfigError": "The server is misconfigured; please contact the administrator.",
        "UnknownReportError": "A chosen report is no longer in the library; choose again in the settings.",
        "RagError": "Something went wrong; please try again later.",
        "unknown": "Sorry, something went wrong; please try again later.",
    },
}


def error_message(exc: BaseException, lang: str = "zh") -> str:
    """The short sentence shown for ``exc``: the message of its nearest project error class (by the class
    hierarchy, so a subclass of IndexCorruptError reads as one), else one generic sentence."""
    texts = ERRORS.get(lang, ERRORS["zh"])
    for cls in type(exc).__mro__:
        if cls.__name__ in texts and cls.__module__.startswith("rag."):
            return texts[cls.__name__]
    return texts["unknown"]


_MARKER = re.compile(r"\[(\d+)\]")
# Characters that Markdown (or the chat's LaTeX and HTML) would read as syntax anywhere in a line. As numeric
# character references they display as themselves both in Markdown paragraphs and inside HTML blocks, where a
# backslash would show. ``.`` ``(`` ``!`` … need no escape: they are syntax only after an escaped ``]`` or at a
# line's start (below), so file names and figures stay readable in the Markdown an API caller receives.
_SYNTAX = str.maketrans({c: f"&#{ord(c)};" for c in "&<>`*_[]#|~$\\"})
# a list item or rule at the start of a line: “1. ”, “- ”, “+ ”
_LINE_START = re.compile(r"^(\s*)([-+]|\d+(?=[.)]))")


def report_text(text: str) -> str:
    """Report text (or any text from a user or a file) -> HTML that shows it exactly as printed, whether it
    lands in Markdown or in HTML: Markdown, LaTeX and HTML syntax escaped, newlines as <br>."""
    escaped = _LINE_START.sub(lambda m: m.group(1) + "".join(f"&#{ord(c)};" for c in m.group(2)), text.translate(_SYNTAX))
    return escaped.replace("\n", "<br>")


def _t(lang: str, key: str) -> str:
    return TEXT.get(lang, TEXT["zh"])[key]


def answer_markdown(answer: Answer, lang: str = "zh", turn: int = 0) -> str:
    """The answer's text for the chat: each ``[n]`` a superscript link to source ``n`` of chat turn ``turn``
    with the quote as its tooltip, a status label for masked / not-found answers, and the rewritten question
    of a follow-up with the report carried over from the conversation, if any."""
    quotes = {c.n: c.quote for c in answer.citations}
    # the text between markers is escaped piece by piece, so the markers' own brackets stay links
    pieces = _MARKER.split(answer.text)
    body = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            body.append(report_text(piece))
            continue
        n = int(piece)
        if n not in quotes:
            body.append(report_text(f"[{n}]"))
            continue
        title = html.escape(quotes[n].replace("\n", " ")[:200], quote=True)
        body.append(f'<sup><a href="#{source_id(turn, n)}" title="{title}">[{n}]</a></sup>')
    lines = []
    # the masked-figure answer already says why there is no number: its status is a short label, not a
    # second notice; a not-found answer is the notice alone
    if answer.status in ("redacted", "not_found"):
        lines.append(f'<span class="rag-status">{_t(lang, answer.status)}</span>')
    if answer.status != "not_found":
        lines.append("".join(body))
    rewritten = answer.standalone_question and answer.standalone_question != answer.question
    carried = getattr(answer, "carried_report", "") or ""
    if rewritten or carried:
        # a follow-up as it was understood, and the report it was read against when that came from earlier turns
        understood = report_text(answer.standalone_question or answer.question)
        kept = report_text(_t(lang, "carried").format(carried)) if carried else ""
        lines.append(f"<small>{_t(lang, 'understood')}：{understood}{kept}</small>")
    return "\n\n".join(lines)


def highlight(text: str, start: int, end: int, context: int | None = None) -> str:
    """HTML of ``text`` with ``text[start:end]`` in <mark>; ``context`` characters either side (None: all)."""
    start, end = max(0, start), min(len(text), end)
    a = 0 if context is None else max(0, start - context)
    b = len(text) if context is None else min(len(text), end + context)
    before, quote, after = text[a:start], text[start:end], text[end:b]
    lead = "…" if a > 0 else ""
    tail = "…" if b < len(text) else ""
    return f"{lead}{report_text(before)}<mark>{report_text(quote)}</mark>{report_text(after)}{tail}"


def _relevance(answer: Answer) -> dict[str, tuple[int, float]]:
    """chunk id -> (rank, relevance 0..1 relative to the best hit): what a reader can compare, unlike raw
    fused scores, whose scale depends on the retrieval mode."""
    if not answer.hits:
        return {}
    best = max(h.score for h in answer.hits)
    return {h.chunk.chunk_id: (h.rank, max(0.0, h.score / best) if best > 0 else 0.0) for h in answer.hits}


def source_id(turn: int, n: int) -> str:
    """The HTML id of source ``n`` of the answer in chat turn ``turn`` (unique in the page)."""
    return f"src-{turn}-{n}"


def sources_block(answer: Answer, turn: int, names: dict[str, str] | None = None, lang: str = "zh", expanded: bool = True) -> str:
    """The sources of one answer as a collapsible block that goes in the answer's own chat message: per
    citation its number, the report's readable name (``names``: file -> name, else the title), the rank
    with a relevance bar, the section path and the quote highlighted in its passage. One line of HTML (a
    blank line would end the HTML block in Markdown); empty when the answer cites nothing."""
    if not answer.citations:
        return ""
    names = names or {}
    relevance = _relevance(answer)
    items = []
    seen: set[int] = set()
    for c in answer.citations:
        if c.n in seen:
            continue
        seen.add(c.n)
        chunk = c.chunk
        local_a, local_b = c.quote_start - chunk.start, c.quote_end - chunk.start
        rank = ""
        if chunk.chunk_id in relevance:
            place, share = relevance[chunk.chunk_id]
            percent = round(100 * share)
            rank = (
                f"<span class='rag-rank'>{_t(lang, 'rank').format(place)}</span>"
                f"<span class='rag-bar' title='{_t(lang, 'relevance')} {percent}%'><span style='width:{percent}%'></span></span>"
            )
        section = f"<div class='rag-section'>{report_text(chunk.section)}</div>" if chunk.section else ""
        items.append(
            f"<div class='rag-source' id='{source_id(turn, c.n)}'>"
            f"<div class='rag-head'><b>[{c.n}]</b> <span class='rag-report'>{report_text(names.get(chunk.source, chunk.title))}</span>{rank}</div>"
            f"{section}<div class='rag-passage'>{highlight(chunk.text, local_a, local_b)}</div></div>"
        )
    summary = f"{_t(lang, 'sources')}（{len(items)}）" if lang == "zh" else f"{_t(lang, 'sources')} ({len(items)})"
    return f"<details class='rag-sources'{' open' if expanded else ''}><summary>{summary}</summary>{''.join(items)}</details>"


def collapse_sources(content):
    """A chat message's content (a string, or Gradio's list of parts) with its sources block folded."""
    if isinstance(content, str):
        return content.replace("<details class='rag-sources' open>", "<details class='rag-sources'>")
    if isinstance(content, list):
        return [dict(p, text=collapse_sources(p["text"])) if isinstance(p, dict) and isinstance(p.get("text"), str) else p for p in content]
    return content


def chat_message(answer: Answer, turn: int, names: dict[str, str] | None = None, lang: str = "zh") -> str:
    """The whole chat message of an answer: the answer (its markers link to its own sources), then its sources."""
    block = sources_block(answer, turn, names, lang)
    text = answer_markdown(answer, lang, turn)
    return f"{text}\n\n{block}" if block else text


def where(chunk) -> str:
    """“title › section path”, without repeating a title that is also the first heading."""
    section = chunk.section
    if section == chunk.title or section.startswith(chunk.title + " › "):
        return section
    return f"{chunk.title} › {section}" if section else chunk.title


def answer_with_sources_markdown(answer: Answer, lang: str = "zh") -> str:
    """One Markdown string for API callers: the answer, then its numbered sources with quotes."""
    lines = [answer.text]
    if answer.status != "answered":
        lines.append(f"\n_{_t(lang, answer.status)}_")
    if answer.citations:
        lines.append(f"\n**{_t(lang, 'sources')}**")
        seen: set[int] = set()
        for c in answer.citations:
            if c.n in seen:
                continue
            seen.add(c.n)
            lines.append(f"{c.n}. {where(c.chunk)} ({c.chunk.source}, {_t(lang, 'chars')} {c.quote_start}–{c.quote_end}): “{c.quote}”")
    return "\n".join(lines)


def passage_view_html(name: str, source: str, section: str, text: str, start: int, end: int) -> str:
    """The report viewer: the report's readable name, its file, the section path of the cited passage, and
    the whole report in a scroll box with the cited range highlighted (``mark#rag-cited``; the page scrolls
    it into view)."""
    start, end = max(0, start), min(len(text), end)
    where_line = f"<div class='rag-section'>{report_text(section)}</div>" if section else ""
    return (
        f"<div class='rag-viewer'><h4>{report_text(name)} <small class='rag-file'>{report_text(source)}</small></h4>{where_line}"
        f"<div class='rag-doc'>{report_text(text[:start])}<mark id='rag-cited'>{report_text(text[start:end])}</mark>"
        f"{report_text(text[end:])}</div></div>"
    )


_YEAR = re.compile(r"(?:19|20)\d{2}")
# a title whose place was masked away keeps only the kind of place in front of the year: “镇2022年工作总结”
_BARE_PLACE = re.compile(r"^(?:镇|乡|街道)(?=(?:19|20)\d{2})")


def report_name(title: str, source: str, period: str = "", place: str = "") -> str:
    """A report's readable name from what the index knows of it: “place · title”, e.g. “辽市镇 · 2022年上半年工作总结”.
    A title that is only the file's name (the report has no title line) becomes “<period>工作报告”; a title that
    starts with its place is not repeated; no place (many reports mask it as “*镇”): the title alone."""
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    title = title.strip()
    if not title or title == stem:
        title = f"{period}工作报告"
    if place and title.startswith(place):
        title = title[len(place):]
    title = _BARE_PLACE.sub("", title).strip()
    if period and not _YEAR.search(title):
        title = period + title
    return f"{place} · {title}" if place else title


def report_names(reports) -> dict[str, str]:
    """File -> readable name for ``ReportInfo``s; reports that would share a name get their file name after it."""
    names = {r.source: report_name(r.title, r.source, r.period, r.place) for r in reports}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {source: f"{name}（{source}）" if counts[name] > 1 else name for source, name in names.items()}


def library_rows(reports) -> list[list]:
    """Rows for the library table: readable name, file, period, characters, passages."""
    names = report_names(reports)
    return [[names[r.source], r.source, r.period, r.characters, r.passages] for r in reports]


# Colours come from the Gradio theme's variables, so the sources read well in the light and the dark theme;
# the highlight is the one fixed colour: dark text on amber has a contrast above 4.5 in both.
CSS = """
.rag-sources { font-size: 0.92em; margin-top: 6px; color: var(--body-text-color); }
.rag-sources > summary { cursor: pointer; font-weight: 600; }
.rag-source { border-left: 3px solid var(--color-accent); padding: 4px 10px; margin: 8px 0;
  background: var(--background-fill-secondary); color: var(--body-text-color); border-radius: 4px; }
.rag-head { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.rag-rank { font-size: 0.85em; }
.rag-bar { display: inline-block; width: 48px; height: 6px; border-radius: 3px; background: var(--border-color-primary); }
.rag-bar > span { display: block; height: 100%; border-radius: 3px; background: var(--color-accent); }
.rag-section { font-size: 0.88em; margin: 2px 0 4px; color: var(--body-text-color); }
.rag-sources mark, .rag-viewer mark { background: #ffd666; color: #1a1a1a; padding: 0 1px; border-radius: 2px; }
.rag-viewer { color: var(--body-text-color); }
.rag-viewer .rag-section { margin-bottom: 8px; }
.rag-doc { max-height: 480px; overflow-y: auto; white-space: normal; line-height: 1.7; padding-right: 6px; }
.rag-status { font-weight: 600; }
"""
