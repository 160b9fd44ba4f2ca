"""The report library behind the chat: a folder of reports kept in step with an assistant's index.

In: uploaded files (paths on disk), report names to delete. Out: ``IngestReport``s. Every upload is
checked before anything is written: allowed type, size limit, a plain file name that cannot escape the
library folder. Then the file is copied in and the index is updated incrementally (only it is embedded).
``add`` does this in the caller's thread; ``submit`` copies at once and leaves the embedding to one worker
thread (jobs queued, one at a time) so a request never embeds, and questions are answered from the current
index until the new version is live. Touches: the library folder and, through ``Assistant.ingest``, the index folder.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .context import report_place
from .errors import RagError
from .ingest import IngestReport, Progress
from .load import read_document


log = logging.getLogger(__name__)


# Why an upload (or a delete) was refused: a stable code, and the sentence a user reads in each interface language.
UPLOAD_REASONS = {
    "name": {"zh": "文件名不可用", "en": "the file name cannot be used"},
    "type": {"zh": "不支持这种文件类型（可用：{allowed}）", "en": "file type not allowed (allowed: {allowed})"},
    "missing": {"zh": "没有收到文件", "en": "upload not found"},
    "too_large": {"zh": "{size_mb:.1f} MB，超过 {limit_mb} MB 的上限", "en": "{size_mb:.1f} MB is over the {limit_mb} MB limit"},
    "empty": {"zh": "文件为空", "en": "the file is empty"},
    "unreadable": {"zh": "无法读取内容（不是文本，或编码无法识别）", "en": "its content cannot be read (not text, or an unknown encoding)"},
    "escapes": {"zh": "文件名指向报告库之外", "en": "the name escapes the library folder"},
    "not_in_library": {"zh": "库中没有这份报告", "en": "no report by that name in the library"},
}


class UploadError(RagError):
    """An upload was refused (type, size, name, content) or a delete named no report; nothing was written.
    ``code``: a key of ``UPLOAD_REASONS``; ``name``: the file; ``reason(lang)``: the sentence for a user.
    The exception's own text (English, with the name) is for logs."""

    def __init__(self, code: str, name: str = "", **details):
        self.code, self.name, self.details = code, name, details
        super().__init__(f"{name}: {self.reason('en')}" if name else self.reason("en"))

    def reason(self, lang: str = "zh") -> str:
        texts = UPLOAD_REASONS[self.code]
        return texts.get(lang, texts["zh"]).format(**self.details)


class IngestJob:
    """One queued library update, readable from any thread: ``state`` (queued / running / done / failed),
    ``progress`` (done, total, message), then ``report`` or ``error``. ``refused``: uploads not accepted (name -> UploadError); ``replaced``: files that took the place of one with
    the same name."""

    def __init__(self, refused: dict[str, UploadError], replaced: list[str]):
        self.refused = refused
        self.replaced = replaced
        self.state = "queued"
        self.progress: tuple[int, int, str] = (0, 0, "queued")
        self.report: IngestReport | None = None
        self.error: BaseException | None = None
        self._finished = threading.Event()

    def _report_progress(self, done: int, total: int, message: str) -> None:
        self.progress = (done, total, message)

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has finished (done or failed)."""
        return self._finished.wait(timeout)


@dataclass(frozen=True)
class ReportInfo:
    """A report in the library: file, title, period and place found in it, size, number of passages."""

    source: str
    title: str
    period: str
    characters: int
    passages: int
    place: str = ""


_PERIOD = re.compile(r"(?:19|20)\d{2}")
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


def safe_name(name: str) -> str:
    """A plain file name for the library: no folders, no leading dots, no control or reserved characters."""
    base = unicodedata.normalize("NFC", Path(str(name).replace("\\", "/")).name).strip()
    base = _UNSAFE.sub("_", base).lstrip(".").strip()
    if not base or base in (".", ".."):
        raise UploadError("name", str(name)[:100])
    return base[:180]


class Library:
    def __init__(self, folder: str | Path, assistant, extensions: tuple[str, ...], max_upload_mb: int = 20):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.assistant = assistant
        self.extensions = tuple(e.lower() for e in extensions)
        self.max_bytes = int(max_upload_mb) * 1024 * 1024
        self._lock = threading.Lock()  # one library change at a time
        self._copy_lock = threading.Lock()  # copying uploads in never waits for an ingest in progress
        self._jobs: queue.Queue[IngestJob] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._places: dict[str, str] = {}  # doc id -> place; a report's bytes (and so its place) never change

    @classmethod
    def seeded(cls, folder: str | Path, seed_from: str | Path, assistant, extensions, max_upload_mb: int = 20) -> "Library":
        """A library folder; on first use it starts as a copy of ``seed_from`` (e.g. the bundled reports)."""
        folder = Path(folder)
        if not folder.exists() and Path(seed_from).is_dir():
            shutil.copytree(seed_from, folder)
        return cls(folder, assistant, extensions, max_upload_mb)

    def reports(self) -> list[ReportInfo]:
        """The reports in the index: title, period, size, number of passages."""
        store = self.assistant.store
        counts = store.passages.passage_counts()
        out = []
        for d in store.docs:
            # the context line the index keeps: title｜period｜distinctive names (empty parts left out)
            rest = d.context.split("｜")[1:]
            period = rest.pop(0) if rest and _PERIOD.match(rest[0]) else ""
            if d.doc_id not in self._places:
                self._places[d.doc_id] = report_place(d.title, d.text, rest[0].split("、") if rest else [])
            out.append(ReportInfo(d.source, d.title, period, len(d.text), counts.get(d.doc_id, 0), self._places[d.doc_id]))
        return out

    def check_upload(self, path: str | Path, name: str | None = None) -> str:
        """Validate one upload; returns the library file name it would get. Raises UploadError."""
        path = Path(path)
        target = safe_name(name or path.name)
        if Path(target).suffix.lower() not in self.extensions:
            raise UploadError("type", target, allowed=" ".join(self.extensions))
        if not path.is_file():
            raise UploadError("missing", target)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise UploadError("too_large", target, size_mb=size / 1e6, limit_mb=self.max_bytes // (1024 * 1024))
        if size == 0:
            raise UploadError("empty", target)
        # decode it now: a file we cannot read is refused with the reason, before it enters the library
        try:
            read_document(path, path.parent)
        except RagError as exc:
            raise UploadError("unreadable", target) from exc
        return target

    def add(self, uploads: list[tuple[str | Path, str | None]], progress: Progress | None = None) -> tuple[IngestReport, dict[str, UploadError]]:
        """Check, copy in and index uploads ``[(path, original name)]``. Returns the ingest report and the
        refused uploads (name -> reason); refused files are not written."""
        with self._lock:
            refused, _ = self._copy_in(uploads)
            report = self.assistant.ingest(self.folder, progress=progress)
        return report, refused

    def submit(self, uploads: list[tuple[str | Path, str | None]]) -> IngestJob:
        """Check and copy in uploads now; index them on the library's worker thread (one job at a time, in
        order). Returns the job at once; until it is done, questions are answered from the current index."""
        job = IngestJob(*self._copy_in(uploads))
        self._jobs.put(job)
        with self._copy_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="library-ingest", daemon=True)
                self._worker.start()
        return job

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            job.state = "running"
            try:
                with self._lock:
                    job.report = self.assistant.ingest(self.folder, progress=job._report_progress)
                job.state = "done"
            except Exception as exc:  # noqa: BLE001 -- the job carries it to whoever waits; the worker lives on
                log.error("library ingest failed", exc_info=exc)
                job.error, job.state = exc, "failed"
            finally:
                job._finished.set()

    def _copy_in(self, uploads: list[tuple[str | Path, str | None]]) -> tuple[dict[str, UploadError], list[str]]:
        """Copy the uploads that pass ``check_upload`` into the folder (atomically: a .part file renamed);
        returns the refused ones (name -> UploadError) and the names that replaced a report of the same name."""
        refused: dict[str, UploadError] = {}
        replaced: list[str] = []
        with self._copy_lock:
            for path, name in uploads:
                try:
                    target = self.check_upload(path, name)
                except UploadError as exc:
                    refused[str(name or Path(path).name)] = exc
                    continue
                destination = (self.folder / target).resolve()
                if destination.parent != self.folder.resolve():  # belt and braces: never outside the folder
                    refused[target] = UploadError("escapes", target)
                    continue
                if destination.exists():
                    replaced.append(target)
                tmp = destination.with_name(f".{destination.name}.part")
                shutil.copyfile(path, tmp)
                tmp.replace(destination)
        return refused, replaced

    def delete(self, source: str) -> IngestReport:
        """Remove a report from the library folder and the index."""
        with self._lock:
            target = (self.folder / source).resolve()
            if self.folder.resolve() not in target.parents or not target.is_file():
                raise UploadError("not_in_library", str(source)[:100])
            target.unlink()
            return self.assistant.ingest(self.folder)
