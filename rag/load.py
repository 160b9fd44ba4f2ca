"""Load reports from a folder: bytes in, ``Document`` out.

Reads .txt and .md files (configurable), decoding UTF-8 (with or without BOM), UTF-16 (with BOM, or
without when the bytes show it), GB18030 (a superset of GBK/GB2312), and falling back to
charset-normalizer's best guess. A file that cannot be decoded is reported by name and skipped.
Touches: the files it reads, nothing else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .errors import UnreadableReportError
from .lexicon import strip_zero_width
from .schema import Document, content_id

_TITLE_MAX = 60
_NUMBERING = re.compile(r"^\s*(?:第[一二三四五六七八九十百零]+[章节部分篇]|[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\d+[.、．])\s*")
_TITLE_WORDS = re.compile(r"总结|报告|打算|思路|计划|要点|规划|决议|公报")
_SENTENCE_END = re.compile(r"[。！？；;!?]")
_WORD = re.compile(r"\w")  # a line of quotes or dashes alone is no title


@dataclass
class LoadResult:
    """Documents read, files skipped with the reason (file name -> message), files not read because they are as
    they were (``unchanged``: name -> doc id), and what was seen of every file (``seen``: name -> (size, mtime_ns)).
    """

    documents: list[Document] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unchanged: dict[str, str] = field(default_factory=dict)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)


# what UTF-16 report text is made of: ASCII, CJK ideographs and punctuation, fullwidth forms, common symbols
_TEXT_CHAR = re.compile(
    r"[\t\n\r\u0020-\u007e\u00a0-\u00ff\u2000-\u206f\u2160-\u217f\u2460-\u24ff\u25a0-\u25ff"
    r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"
)


def _looks_like_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: the byte order under which the bytes read as report text, if any.

    Zero bytes cannot tell it alone: almost-all-Chinese text has few (only its ASCII characters and 一 give
    one). But read in the wrong order, or as UTF-16 when it is not, the characters scatter over the whole
    Unicode range, while the right order gives ASCII, CJK and punctuation."""
    if len(data) < 4 or len(data) % 2:
        return None
    best, best_share = None, 0.0
    for encoding in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        share = len(_TEXT_CHAR.findall(text)) / len(text)
        if share > best_share:
            best, best_share = encoding, share
    return best if best_share >= 0.9 else None


def _is_plausible_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\n\r\t\f") or ch == "\ufffd")
    return bad <= max(2, len(text) // 1000)


def decode_bytes(data: bytes, name: str = "<bytes>") -> tuple[str, str]:
    """Decode report bytes. Returns (text, encoding); raises UnreadableReportError naming ``name``."""
    candidates: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        candidates.append("utf-8-sig")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.append("utf-16")
    else:
        candidates.append("utf-8")
        guessed = _looks_like_utf16(data)
        if guessed:
            candidates.append(guessed)
        candidates.append("gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _is_plausible_text(text):
            return text, encoding
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency
        best = None
    if best is not None:
        text = str(best)
        if _is_plausible_text(text) and text.strip():
            return text, best.encoding
    raise UnreadableReportError(
        f"{name}: cannot decode as UTF-8, UTF-16 or GB18030 (is it a text file?)"
    )


# A web page saved as .txt: its paragraph and heading tags are the report's line breaks. Scraped pages may drop
# the space between a tag's name and its attributes (<divclass="title">), so a name may run into one.
_ATTRIBUTE_START = r"(?=[\s/>]|class|id|style|align|href|src)"
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|hr|h[1-6]|li|tr|td|th|center|section|article|table|ul|ol|blockquote)" + _ATTRIBUTE_START + r"[^<>]{0,300}>",
    re.IGNORECASE,
)
_INLINE_TAG = re.compile(r"</?(?:span|font|b|strong|i|em|u|a|sup|sub|img)" + _ATTRIBUTE_START + r"[^<>]{0,300}>", re.IGNORECASE)
_MARKUP_MIN_BLOCKS = 3  # fewer block tags than this: a report that mentions a tag, not a web page
_BLANK_RUN = re.compile(r"[ \t\u3000]*\n(?:[ \t\u3000]*\n)+")


def markup_to_text(text: str) -> str:
    """The text of a report saved from a web page: block tags (p, div, h2, br…) become line breaks, inline tags
    (span, font, a…) vanish, entities are decoded (``&nbsp;`` → space) and blank-line runs shrink to one line
    break. Text with fewer than three block tags is returned unchanged."""
    if len(_BLOCK_TAG.findall(text, 0, 200_000)) < _MARKUP_MIN_BLOCKS:
        return text
    import html

    text = _INLINE_TAG.sub("", _BLOCK_TAG.sub("\n", text))
    return _BLANK_RUN.sub("\n", html.unescape(text).replace("\xa0", " ")).strip("\n")


def normalise_text(text: str) -> str:
    """Newlines to ``\\n``; NUL and zero-width characters (BOM included) removed, so a figure such as
    “1\\u200b120户” reads 1120户 everywhere; everything else (including `*` masks) kept as is. Chunk offsets
    refer to this text."""
    return strip_zero_width(text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""))


def guess_title(text: str, fallback: str) -> str:
    """A report title: the first line if it is short, else the first short line among the next few that
    reads like a report title (…总结 / 报告 / 打算 …), numbering stripped; else ``fallback``. Lines without a
    letter or character (a stray quote, a rule of dashes) are passed over."""
    lines = [ln.strip().lstrip("#").strip() for ln in text.split("\n") if _WORD.search(ln)][:5]
    for i, line in enumerate(lines):
        short = len(line) <= _TITLE_MAX and not _SENTENCE_END.search(line.rstrip("。"))
        if short and (i == 0 or _TITLE_WORDS.search(line)):
            title = _NUMBERING.sub("", line).strip()
            if title:
                return title
    return fallback


def _docx_text(data: bytes, source: str) -> str:
    """Paragraph text of a .docx (python-docx), one paragraph a line; tables row by row."""
    import io

    try:
        import docx
    except ImportError as exc:  # pragma: no cover - install problem
        raise UnreadableReportError(f"{source}: reading .docx needs python-docx") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several kinds for a damaged file
        raise UnreadableReportError(f"{source}: not a readable .docx file ({exc.__class__.__name__})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def _pdf_text(data: bytes, source: str) -> str:
    """The text layer of a PDF (pypdf), page by page. A scanned PDF without text is unreadable here."""
    import io

    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - install problem
        raise UnreadableReportError(f"{source}: reading .pdf needs pypdf") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as exc:  # pypdf raises many kinds for a damaged file
        raise UnreadableReportError(f"{source}: not a readable PDF ({exc.__class__.__name__})") from exc
    if not text.strip():
        raise UnreadableReportError(f"{source}: the PDF has no text layer (a scan?); convert it to text first")
    return text


def display_name(relative: str) -> str:
    """A file path as text that can be printed and stored (``source``), one path part at a time.

    On Linux a file name is bytes; one that is not UTF-8 (a GBK name unpacked from a Windows zip) reaches
    Python with surrogate escapes, which no UTF-8 file or terminal accepts. Such a part is decoded as
    GB18030 (the usual origin), else with U+FFFD for the bytes that cannot be decoded."""
    parts = []
    for part in relative.split("/"):
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            raw = os.fsencode(part)
            try:
                part = raw.decode("gb18030")
            except UnicodeDecodeError:
                part = raw.decode("utf-8", "replace")
        parts.append(part)
    return "/".join(parts)


def read_document(path: Path, root: Path) -> Document:
    """Read one report file (.txt/.md in any common encoding, .docx, .pdf). ``source`` is its path relative
    to ``root`` (see ``display_name``); the id is the hash of the file's bytes."""
    source = display_name(path.relative_to(root).as_posix())
    try:
        # O_NOFOLLOW: a file swapped for a link after the folder was listed is refused, not followed
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise UnreadableReportError(f"{source}: cannot read file: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix in (".docx", ".pdf"):
        text = _docx_text(data, source) if suffix == ".docx" else _pdf_text(data, source)
        text = normalise_text(text)
        return Document(content_id(data), source, guess_title(text, path.stem), text, suffix[1:])
    if b"\x00" in data[:4096] and not _looks_like_utf16(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableReportError(f"{source}: binary file, not text")
    text, encoding = decode_bytes(data, source)
    text = markup_to_text(normalise_text(text))
    return Document(
        doc_id=content_id(data),
        source=source,
        title=guess_title(text, path.stem),
        text=text,
        encoding=encoding,
    )


def _link_reason(link: Path, real_root: Path) -> str:
    """Why a symbolic link under the reports folder is not read."""
    target = link.resolve()
    if target != real_root and real_root not in target.parents:
        return "a link to something outside the reports folder; not read"
    if target.is_dir():
        return f"a link to the folder {target.relative_to(real_root).as_posix() or '.'}; links are not followed"
    return f"a link to {display_name(target.relative_to(real_root).as_posix())}; links are not read (a file is read once, under its own name)"


def iter_report_paths(root: Path, extensions: Iterable[str], skipped: dict[str, str] | None = None) -> list[Path]:
    """Report files under ``root`` (recursive, sorted). Hidden folders (.git, .rag_index) are not searched;
    hidden report files are skipped and reported.

    Nothing outside ``root`` is ever read: symbolic links are not followed. A link to a file or folder
    outside is skipped; a link to a file inside is skipped too, as a duplicate (its target is read once,
    under its own name). Skipped links go into ``skipped`` (name -> reason)."""
    exts = {e.lower() for e in extensions}
    real_root = root.resolve()
    skipped = {} if skipped is None else skipped
    found = []
    # os.walk does not enter linked folders (followlinks=False) but lists them: they are reported below
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [d for d in dirs if (here / d).is_symlink()]:
            skipped[display_name((here / name).relative_to(root).as_posix())] = _link_reason(here / name, real_root)
            dirs.remove(name)
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() not in exts:
                continue
            if name.startswith("."):
                # a hidden file ("..报告.txt", "._报告.txt" from a Mac zip) is named, never silently left out
                skipped[display_name(path.relative_to(root).as_posix())] = (
                    "hidden file (its name starts with '.'); not read: rename it to index it"
                )
            elif path.is_symlink():
                skipped[display_name(path.relative_to(root).as_posix())] = _link_reason(path, real_root)
            elif path.is_file():
                found.append(path)
    return sorted(found)


def load_folder(root: str | Path, extensions: Iterable[str] = (".txt", ".md"), max_file_mb: float | None = None,
                known: Mapping[str, tuple[int, int, str]] | None = None) -> LoadResult:
    """Read every report in a folder; unreadable ones, links and files over ``max_file_mb`` (not read at
    all) land in ``skipped`` with the reason. ``known``: name -> (size, mtime_ns, doc id) of files read before;
    a file with the same name, size and modification time is not read again (``unchanged``), as git's index
    does: what costs an ingest of a big folder is reading every file, not seeing that it is the same."""
    root = Path(root)
    if not root.is_dir():
        raise UnreadableReportError(f"reports folder not found: {root}")
    result = LoadResult()
    known = known or {}
    for path in iter_report_paths(root, extensions, result.skipped):
        try:
            stat = path.stat()
            size = stat.st_size
            source = display_name(path.relative_to(root).as_posix())
            result.seen[source] = (size, stat.st_mtime_ns)
            before = known.get(source)
            if before is not None and before[:2] == (size, stat.st_mtime_ns):
                result.unchanged[source] = before[2]
                continue
            if max_file_mb is not None and size > max_file_mb * 1024 * 1024:
                raise UnreadableReportError(
                    f"{size / (1024 * 1024):.1f} MB, over the {max_file_mb:g} MB limit (corpus.max_file_mb); not read"
                )
            result.documents.append(read_document(path, root))
        except UnreadableReportError as exc:
            result.skipped[display_name(path.relative_to(root).as_posix())] = str(exc)
    return result
