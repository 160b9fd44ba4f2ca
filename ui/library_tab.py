"""The 报告库 tab: the reports in the library, uploads (checked, then indexed on the library's worker) and
deletes (asked, then confirmed).

In: the library, the page's language. Out: status text in that language, the table and the report pickers
as they are now. Touches the library folder and the index through ``Library``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from rag.library import UploadError

from .errors import user_error
from .render import library_rows, report_names, report_text
from .texts import ui_text


@dataclass
class LibraryTab:
    table: gr.Dataframe
    upload: gr.File
    add_btn: gr.Button
    status: gr.Markdown
    del_pick: gr.Dropdown
    del_btn: gr.Button
    del_confirm: gr.Button

    def translatable(self):
        """(component, property, text key) of everything whose words depend on the page's language."""
        return [(self.upload, "label", "upload"), (self.add_btn, "value", "add"), (self.del_btn, "value", "delete"),
                (self.del_confirm, "value", "delete_confirm")]


def report_choices(reports) -> list[tuple[str, str]]:
    """A picker's choices: the readable name shown, the file name as the value."""
    names = report_names(reports)
    return [(names[r.source], r.source) for r in reports]


def library_view(library, lang: str = "zh"):
    """The library as it is now: the table, the delete picker and the viewer's picker (nothing pre-selected)."""
    reports = library.reports()
    choices = report_choices(reports)
    table = pd.DataFrame(library_rows(reports), columns=ui_text(lang, "headers"))
    return (table, gr.update(choices=choices, value=None, label=ui_text(lang, "delete_pick")),
            gr.update(choices=choices, value=None, label=ui_text(lang, "doc_pick")))


def upload_summary(report, refused: dict[str, UploadError], replaced: list[str], lang: str) -> str:
    """What an upload did, in ``lang``: reports added, replaced (same file name), refused with the reason."""
    names = {str(name) for name in replaced}
    added = [name for name in report.added if name not in names] if report else []
    lines = []
    if added:
        lines.append(ui_text(lang, "added", n=len(added)))
    lines += [ui_text(lang, "replaced", name=report_text(name)) for name in replaced]
    if report and (added or replaced):
        lines.append(ui_text(lang, "indexed", chunks=report.embedded_chunks, seconds=report.seconds))
    if not lines:
        lines.append(ui_text(lang, "nothing_added"))
    lines += [ui_text(lang, "refused", name=report_text(name), why=exc.reason(lang)) for name, exc in refused.items()]
    if report:
        lines += [ui_text(lang, "skipped", name=report_text(name), why=report_text(why)) for name, why in report.skipped.items()]
    return "\n\n".join(lines)


def build_library_tab(library, settings) -> LibraryTab:
    """The tab's components (events are wired by the app: they also refresh the viewer's picker)."""
    table = gr.Dataframe(headers=ui_text("zh", "headers"), value=library_rows(library.reports()), interactive=False,
                         label=ui_text("zh", "table"), elem_id="rag-library")
    upload = gr.File(label=ui_text("zh", "upload", types=" ".join(settings.corpus.extensions), mb=settings.corpus.max_upload_mb),
                     file_count="multiple", file_types=list(settings.corpus.extensions), type="filepath", elem_id="rag-upload")
    add_btn = gr.Button(ui_text("zh", "add"), variant="primary", elem_id="rag-add")
    status = gr.Markdown(elem_id="rag-library-status")
    with gr.Row():
        # allow_custom_value: reports uploaded after start (by any session) must be deletable by name;
        # value=None: nothing is pre-selected for deletion (nor shown as the API's default)
        del_pick = gr.Dropdown(choices=report_choices(library.reports()), value=None, label=ui_text("zh", "delete_pick"), scale=4,
                               allow_custom_value=True, elem_id="rag-delete-pick")
        del_btn = gr.Button(ui_text("zh", "delete"), variant="secondary", scale=1, elem_id="rag-delete")
        del_confirm = gr.Button(ui_text("zh", "delete_confirm"), variant="stop", scale=1, visible=False, elem_id="rag-delete-confirm")
    return LibraryTab(table, upload, add_btn, status, del_pick, del_btn, del_confirm)


def add_files(library, files, lang: str, progress) -> str:
    """Check, copy in and index ``files``; the status line. Waits for the library's worker, showing progress."""
    files = files or []
    if not files:
        return ui_text(lang, "choose_files")
    uploads = [(f, Path(f).name) for f in (files if isinstance(files, list) else [files])]
    try:
        # checked and copied now; embedded on the library's worker thread, one job at a time, while the
        # chat keeps answering from the current index. This request only waits and shows progress.
        job = library.submit(uploads)
        while not job.wait(0.5):
            done, total, _ = job.progress
            if job.state == "queued":
                progress(0.0, desc=ui_text(lang, "queued"))
            else:
                progress(done / total if total else 0.0, desc=f"{ui_text(lang, 'indexing')} {done}/{total}")
        if job.error is not None:
            raise job.error
    except Exception as exc:  # noqa: BLE001 -- e.g. disk full while indexing: one sentence, logged in full
        return f"⚠️ {user_error(exc, lang)}"
    return upload_summary(job.report, job.refused, job.replaced, lang)


def ask_to_delete(library, source, lang: str):
    """The first click only asks: deleting re-indexes the library and cannot be undone."""
    if not source:
        return ui_text(lang, "choose_report"), gr.update(visible=False)
    name = report_names(library.reports()).get(source, source)
    return ui_text(lang, "confirm_delete", name=report_text(name)), gr.update(visible=True)


def delete_report(library, source, lang: str) -> str:
    """Delete ``source``; the status line. An unknown name is an error for the caller."""
    if not source:
        return ui_text(lang, "choose_report")
    # the picker takes any name (its choices were those of page load); the library is the authority
    names = report_names(library.reports())
    if source not in names:
        raise gr.Error(ui_text(lang, "not_in_library", name=str(source)[:100]), print_exception=False)
    try:
        library.delete(source)
    except Exception as exc:  # noqa: BLE001 -- one sentence, logged in full
        return f"⚠️ {user_error(exc, lang)}"
    return ui_text(lang, "deleted", name=report_text(names[source]), n=len(library.reports()))
