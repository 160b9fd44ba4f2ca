"""The Gradio chat: a thin shell over ``Assistant.ask`` and the report library (no retrieval logic here).

Tabs: 问答 (``ui/chat.py``: streamed answers, each with its own collapsible sources; settings), 报告库
(``ui/library_tab.py``: list / upload / delete reports), 原文 (``ui/viewer.py``: a report with the cited passage
highlighted). One language per page: Chinese, or English with ``?lang=en`` (``ui/texts.py``). Every answer,
in the chat or through ``/ask``, is worked out inside one fair gate (``rag.admission.FairGate``: a slot per
user, long questions kept to some slots, the least-served user first). Named API endpoints for
``gradio_client``: ``/ask`` (question [+ conversation id] [+ report file names] -> answer Markdown with numbered
sources), ``/chat`` (the chat tab's handler), ``/export`` (the session's conversation as .md and .docx),
``/ingest`` (files -> library status), ``/delete`` (report file name -> library status).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import gradio as gr

from rag.admission import FairGate
from rag.local_model import watch_crowd
from rag.library import Library
from rag.pipeline import Assistant
from rag.schema import Answer

from . import library_tab as lib
from .chat import HISTORY_TURNS, asker, build_chat_tab
from .errors import user_error
from .render import CSS, answer_with_sources_markdown, report_names as names_of
from .report_filter import selected_reports
from .texts import language, ui_text
from .viewer import SCROLL_TO_QUOTE, build_viewer_tab, open_citation

MAX_CONVERSATIONS = 500

__all__ = ["build_app", "serve", "style", "make_assistant_and_library", "asker", "user_error", "ConversationStore"]


class ConversationStore:
    """Per-conversation answer history for API callers (bounded, oldest dropped)."""

    def __init__(self, capacity: int = MAX_CONVERSATIONS):
        self.capacity = capacity
        self._items: OrderedDict[str, list[Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[Answer]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return list(self._items.get(key, []))

    def append(self, key: str, answer: Answer) -> None:
        with self._lock:
            turns = self._items.setdefault(key, [])
            turns.append(answer)
            del turns[:-HISTORY_TURNS]
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


BROWSER_SECRET_FILE = "browser_secret"


def browser_secret(index_dir: Path) -> str:
    """The key the browsers' saved conversations are encrypted with, kept in ``index_dir`` (readable by the
    owner only) so that a restarted server can still read them; made on first use. Gradio's default, a new
    random key per process, lost every saved conversation on each restart."""
    import os
    import secrets

    path = Path(index_dir) / BROWSER_SECRET_FILE
    try:
        kept = path.read_text(encoding="ascii").strip()
        if len(kept) >= 32:
            return kept
    except (OSError, UnicodeDecodeError):
        pass  # none yet, or unreadable: make one
    secret = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{BROWSER_SECRET_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secret)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only index: this process's key only (conversations last until the next restart)
    return secret


def build_app(assistant: Assistant, library: Library, lang: str = "zh") -> gr.Blocks:
    """The app's Blocks over ``assistant`` and ``library``. ``lang``: the language of API answers; a page's
    language comes from its ``?lang=`` (Chinese unless ``en``)."""
    settings = assistant.settings
    conversations = ConversationStore()
    server = settings.server
    gate = FairGate(server.answer_concurrency_limit, server.heavy_slots, server.per_user_slots, server.answer_wait_budget_s)
    # while questions wait for a slot, the answerability gate decides without the language model (~1.3 s each)
    watch_crowd(lambda: gate.waiting > 0)

    def is_heavy(question: str) -> bool:
        return len(question or "") > server.heavy_question_chars

    @contextmanager
    def admit(request, question):
        """The fair gate's slot for this asker and question, held for the block (ServerBusyError if none frees up)."""
        with gate.admit(asker(request), is_heavy(question)):
            yield

    def report_names() -> dict[str, str]:
        """File -> readable name of every report in the library now."""
        return names_of(library.reports())

    def api_ask(question: str, conversation_id: str = "", reports: list[str] | None = None, request: gr.Request = None) -> str:
        """Answer a question; pass the same conversation_id to ask follow-ups, and report file names in
        ``reports`` to answer from those reports only. Returns Markdown with sources."""
        history = conversations.get(conversation_id) if conversation_id else []
        try:
            with gate.admit(asker(request), is_heavy(question)):
                answer = assistant.ask(question, history=history, reports=selected_reports(reports))
        except Exception as exc:  # noqa: BLE001 -- the caller gets one sentence; the log keeps the details
            raise gr.Error(user_error(exc, lang), print_exception=False) from None
        if conversation_id:
            conversations.append(conversation_id, answer)
        return answer_with_sources_markdown(answer, lang)

    def add_files(files, page_lang="zh", progress=gr.Progress()):
        return (lib.add_files(library, files, page_lang, progress), *lib.library_view(library, page_lang))

    def delete_report(source, page_lang="zh"):
        return (lib.delete_report(library, source, page_lang), *lib.library_view(library, page_lang))

    with gr.Blocks(title="工作报告问答 · Report QA") as demo:
        lang_state = gr.State("zh")  # this page's language, set from ?lang= when it loads
        header = gr.Markdown(ui_text("zh", "header"))
        with gr.Tabs() as tabs:
            with gr.Tab(ui_text("zh", "tab_chat"), id="chat") as chat_tab:
                # an assistant without an index folder (a stand-in) has nowhere to keep the key: one per process
                index_dir = getattr(assistant, "index_dir", None)
                chat = build_chat_tab(assistant, library, report_names, lang_state, admit,
                                      browser_secret(index_dir) if index_dir is not None else None)
            with gr.Tab(ui_text("zh", "tab_library"), id="library") as library_page:
                shelf = lib.build_library_tab(library, settings)
            with gr.Tab(ui_text("zh", "tab_viewer"), id="viewer") as viewer_tab:
                viewer = build_viewer_tab(assistant, report_names, lib.report_choices(library.reports()))
        switch = gr.Markdown(ui_text("zh", "switch"), elem_id="rag-language")

        chat.open_btn.click(lambda key, cited, page_lang: open_citation(assistant, report_names, key, cited, page_lang),
                            inputs=[chat.cite_pick, chat.cited, lang_state], outputs=[viewer.html, tabs, viewer.doc_pick],
                            api_visibility="private").then(None, js=SCROLL_TO_QUOTE)
        library_outputs = [shelf.status, shelf.table, shelf.del_pick, viewer.doc_pick]
        # waiting for the worker costs nothing, so uploads do not take answering's or anyone's slot
        shelf.add_btn.click(add_files, inputs=[shelf.upload, lang_state], outputs=library_outputs, api_name="ingest",
                            concurrency_limit=None)
        shelf.del_btn.click(lambda source, page_lang: lib.ask_to_delete(library, source, page_lang),
                            inputs=[shelf.del_pick, lang_state], outputs=[shelf.status, shelf.del_confirm], api_visibility="private")
        shelf.del_pick.change(lambda: gr.update(visible=False), outputs=shelf.del_confirm, api_visibility="private")
        shelf.del_confirm.click(delete_report, inputs=[shelf.del_pick, lang_state], outputs=library_outputs, api_name="delete").then(
            lambda: gr.update(visible=False), outputs=shelf.del_confirm, api_visibility="private")
        # no Gradio limit in front of the fair gate (see ui/chat.py): the gate decides who answers next
        gr.api(api_ask, api_name="ask", concurrency_limit=None, concurrency_id="answer")

        translatable = [(header, "value", "header"), (switch, "value", "switch"), (chat_tab, "label", "tab_chat"),
                        (library_page, "label", "tab_library"), (viewer_tab, "label", "tab_viewer"),
                        *chat.translatable(), *shelf.translatable()]
        upload_values = {"types": " ".join(settings.corpus.extensions), "mb": settings.corpus.max_upload_mb}

        def on_load(request: gr.Request):
            """A page opened (or reloaded): its language, and the library as it is now, not at build time."""
            page_lang = language(request.query_params.get("lang") if request else None)
            words: dict = {}  # one update per component (a component may have several translated properties)
            for component, prop, key in translatable:
                words.setdefault(component, {})[prop] = ui_text(page_lang, key, **(upload_values if key == "upload" else {}))
            table, *pickers = lib.library_view(library, page_lang)
            return (page_lang, gr.update(value=table, label=ui_text(page_lang, "table")), *pickers,
                    *[gr.update(**words[c]) for c in translated])

        translated = list(dict.fromkeys(c for c, _, _ in translatable))
        demo.load(on_load, outputs=[lang_state, shelf.table, shelf.del_pick, viewer.doc_pick, *translated], api_visibility="private")
        # the report scope lists the library as it is now; the conversation list is this browser's
        demo.load(chat.filter_scope, inputs=[chat.report_query, chat.report_scope], outputs=chat.report_scope,
                  api_visibility="private")
        demo.load(chat.list_conversations, inputs=chat.saved, outputs=chat.conversation_list, api_visibility="private")
    demo.queue(default_concurrency_limit=settings.server.default_concurrency_limit, max_size=settings.server.max_queue)
    demo.fair_gate = gate  # for tests and the operator's console
    return demo


def make_assistant_and_library(settings, reports_dir: str | Path | None = None, index_dir: str | Path | None = None):
    """The served assistant: over ``reports_dir`` if given, else over the library folder (seeded once
    from the bundled reports), with its index updated incrementally at start."""
    if reports_dir is not None:
        folder = Path(reports_dir)
        index = Path(index_dir) if index_dir else folder / ".rag_index"
    else:
        folder = settings.corpus.library_dir
        index = Path(index_dir) if index_dir else settings.corpus.index_dir
        if not folder.exists():
            Library.seeded(folder, settings.corpus.reports_dir, None, settings.corpus.extensions)
    assistant = Assistant.from_dir(folder, index, settings)
    library = Library(folder, assistant, settings.corpus.extensions, settings.corpus.max_upload_mb)
    return assistant, library


def style() -> dict:
    """The look of the app, for ``launch(**style())`` (Gradio 6 takes css and theme at launch)."""
    return {"css": CSS, "theme": gr.themes.Soft()}


def serve(settings, host: str = "127.0.0.1", port: int = 7860, reports_dir=None, index_dir=None, block: bool = True):
    """Start the chat. Returns the Blocks (with ``block=False`` the server runs in a background thread).
    On anything but loopback a login is required (``settings.server``); without one, ConfigError before
    anything is loaded."""
    login = settings.server.login_for(host)  # decided first: an open door is refused before any work
    # Answering is pure Python between the engine's calls. With the default 5 ms switch interval a thread working
    # out a long question keeps the GIL 5 ms at a time, and the event loop, which needs it for each small read and
    # write of every other request, waits a slice each time. Shorter slices: a normal question beside a burst of
    # long ones went from 1.5x to 1.1x its time alone (benchmarks/load_test.py).
    sys.setswitchinterval(0.0005)
    assistant, library = make_assistant_and_library(settings, reports_dir, index_dir)
    # the local model's load and its prompts' heads (~9 s on 2 cores) are paid now, not by the first question
    threading.Thread(target=assistant.warm, name="warm-models", daemon=True).start()
    demo = build_app(assistant, library)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=login,
        prevent_thread_lock=not block,
        show_error=True,
        **style(),
        max_file_size=f"{settings.corpus.max_upload_mb}mb",
        # requests waiting at the fair gate each hold a worker thread: room for a full queue beside Gradio's 40
        max_threads=40 + settings.server.max_queue,
        quiet=not block,
    )
    return demo

