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


class UploadError(RagError):
    """An upload was refused (type, size or name); nothing was written."""


class IngestJob:
    """One queued library update, readable from any thread: ``state`` (queued / running / done / failed),
    ``progress`` (done, total, message), then ``report`` or ``error``. ``refused``: uploads not accepted."""

    def __init__(self, refused: dict[str, str]):
        self.refused = refused
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
        raise UploadError(f"not a usable file name: {name!r}")
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
        counts: dict[str, int] = {}
        for c in store.chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
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
            raise UploadError(f"{target}: file type not allowed (allowed: {', '.join(self.extensions)})")
        if not path.is_file():
            raise UploadError(f"{target}: upload not found")
        size = path.stat().st_size
        if size > self.max_bytes:
            raise UploadError(f"{target}: {size / 1e6:.1f} MB is over the {self.max_bytes // (1024 * 1024)} MB limit")
        if size == 0:
            raise UploadError(f"{target}: the file is empty")
        # decode it now: a file we cannot read is refused with the reason, before it enters the library
        read_document(path, path.parent)
        return target

    def add(self, uploads: list[tuple[str | Path, str | None]], progress: Progress | None = None) -> tuple[IngestReport, dict[str, str]]:
        """Check, copy in and index uploads ``[(path, original name)]``. Returns the ingest report and the
        refused uploads (name -> reason); refused files are not written."""
        with self._lock:
            refused = self._copy_in(uploads)
            report = self.assistant.ingest(self.folder, progress=progress)
        return report, refused

    def submit(self, uploads: list[tuple[str | Path, str | None]]) -> IngestJob:
        """Check and copy in uploads now; index them on the library's worker thread (one job at a time, in
        order). Returns the job at once; until it is done, questions are answered from the current index."""
        job = IngestJob(self._copy_in(uploads))
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

    def _copy_in(self, uploads: list[tuple[str | Path, str | None]]) -> dict[str, str]:
        """Copy the uploads that pass ``check_upload`` into the folder (atomically: a .part file renamed);
        returns the refused ones, name -> reason."""
        refused: dict[str, str] = {}
        with self._copy_lock:
            for path, name in uploads:
                try:
                    target = self.check_upload(path, name)
                except RagError as exc:
                    refused[str(name or Path(path).name)] = str(exc)
                    continue
                destination = (self.folder / target).resolve()
                if destination.parent != self.folder.resolve():  # belt and braces: never outside the folder
                    refused[target] = "name escapes the library folder"
                    continue
                tmp = destination.with_name(f".{destination.name}.part")
                shutil.copyfile(path, tmp)
                tmp.replace(destination)
        return refused

    def delete(self, source: str) -> IngestReport:
        """Remove a report from the library folder and the index."""
        with self._lock:
            target = (self.folder / source).resolve()
            if self.folder.resolve() not in target.parents or not target.is_file():
                raise UploadError(f"no report named {source!r} in the library")
            target.unlink()
            return self.assistant.ingest(self.folder)
