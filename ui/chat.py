"""The 问答 tab: questions in, streamed answers out, each answer with its own sources.

In: the assistant, the library (for the report scope), a function giving the reports' readable names, the
page's language state and ``admit`` (the fair gate: ``admit(request, question)`` is the context an answer is
worked out in). Out: the tab's components (``ChatTab``) for the app to wire across tabs. Besides the
assistant's ``ask_stream`` it touches the feedback file (👍/👎), the export folder (Markdown / Word downloads)
and the browser's list of past conversations (``gr.BrowserState``).
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr

from rag.feedback import FeedbackStore, feedback_record

from .conversations import (
    EXPORT_SCOPES, answer_for_message, answers_to_export, chat_messages, conversation_choices, open_conversation,
    save_conversation, track_turns,
)
from .errors import user_error
from .export import write_exports
from .render import chat_message, collapse_sources
from .report_filter import matching_reports, scope_choices, selected_reports
from .texts import EXAMPLES, language, ui_text

log = logging.getLogger("ui.app")

HISTORY_TURNS = 4  # earlier answers a follow-up is read against
STREAM_STEP = 6  # characters per streamed update
MAX_CITED_TURNS = 20  # answers whose citations the viewer's picker still offers


def asker(request: gr.Request | None) -> str:
    """Who is asking, for fair admission: the login name, else the browser or API client session."""
    if request is None:
        return "local"
    return getattr(request, "username", None) or getattr(request, "session_hash", None) or "anonymous"


@dataclass
class ChatTab:
    chatbot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    clear: gr.Button
    stop: gr.Button
    cite_pick: gr.Dropdown
    open_btn: gr.Button
    examples: gr.Examples
    conversations_box: gr.Accordion
    conversation_list: gr.Radio
    export_scope: gr.Radio
    export_md: gr.DownloadButton
    export_docx: gr.DownloadButton
    feedback_comment: gr.Textbox
    feedback_status: gr.Markdown
    settings: gr.Accordion
    mode: gr.Radio
    top_k: gr.Slider
    report_query: gr.Textbox
    report_all: gr.Button
    report_scope: gr.Dropdown
    cited: gr.State
    saved: gr.BrowserState
    filter_scope: Callable
    list_conversations: Callable

    def translatable(self):
        """(component, property, text key) of everything whose words depend on the page's language."""
        return [(self.chatbot, "label", "chat"), (self.box, "placeholder", "placeholder"), (self.send, "value", "send"),
                (self.clear, "value", "new_chat"), (self.stop, "value", "stop"), (self.cite_pick, "label", "cite_pick"),
                (self.open_btn, "value", "open"), (self.examples.dataset, "label", "examples"),
                (self.conversations_box, "label", "conversations"), (self.export_scope, "label", "export_scope"),
                (self.export_scope, "choices", "export_scopes"), (self.export_md, "label", "export_md"),
                (self.export_docx, "label", "export_docx"), (self.feedback_comment, "placeholder", "feedback_comment"),
                (self.settings, "label", "settings"), (self.mode, "label", "mode"), (self.top_k, "label", "top_k"),
                (self.report_query, "label", "report_query"), (self.report_all, "value", "report_all"),
                (self.report_scope, "label", "report_scope")]


def cited_entries(answer, turn: int, names: dict[str, str], lang: str) -> list[dict]:
    """The viewer picker's entries for the citations of the answer in chat turn ``turn``."""
    return [
        {"key": f"{turn}:{c.n}", "label": f"{ui_text(lang, 'turn', turn=turn)} [{c.n}] {names.get(c.chunk.source, c.chunk.title)}",
         "doc_id": c.chunk.doc_id, "section": c.chunk.section, "start": c.quote_start, "end": c.quote_end}
        for c in {c.n: c for c in answer.citations}.values()
    ]


def picker_update(cited: list[dict], turn: int):
    """The viewer picker showing ``cited`` (newest first), the newest answer's first citation chosen."""
    newest = next((c["key"] for c in cited if c["key"].startswith(f"{turn}:")), None)
    return gr.update(choices=[(c["label"], c["key"]) for c in reversed(cited)], value=newest)


def reopened_chat(answers, names: dict[str, str], lang: str) -> tuple[list[dict], list[dict]]:
    """The Chatbot's messages of reopened ``answers`` (each with its own sources, all but the last folded) and
    the viewer picker's entries for their citations."""
    turn_of = {id(a): turn for turn, a in enumerate(answers, start=1)}
    last = len(answers)

    def render(a):
        message = chat_message(a, turn_of[id(a)], names, lang)
        return message if turn_of[id(a)] == last else collapse_sources(message)

    cited = [e for a in answers if turn_of[id(a)] > last - MAX_CITED_TURNS for e in cited_entries(a, turn_of[id(a)], names, lang)]
    return chat_messages(answers, render), cited


def build_chat_tab(assistant, library, report_names: Callable[[], dict[str, str]], lang_state: gr.State, admit,
                   secret: str | None = None) -> ChatTab:
    """The tab's components and its own events (asking, stopping, a new conversation, export, feedback,
    past conversations, the report scope)."""
    settings = assistant.settings

    def respond(message, chat, answers, cited, mode, top_k, lang="zh", reports=None, request: gr.Request = None):
        chat = list(chat or [])
        answers = list(answers or [])
        cited = list(cited or [])
        message = (message or "").strip()
        if not message:
            gr.Warning(ui_text(lang, "type_question"))
            yield chat, answers, cited, gr.update(), message
            return
        # earlier answers keep their sources, folded away so the newest answer's are the ones in view
        chat = [dict(m, content=collapse_sources(m["content"])) if m.get("role") == "assistant" else m for m in chat]
        chat.append({"role": "user", "content": message})
        chat.append({"role": "assistant", "content": ""})
        turn = sum(1 for m in chat if m.get("role") == "assistant")
        try:
            answer = None
            streamed = ""
            # the slot is held while a language model streams (that is its work), not while text is replayed below
            with admit(request, message):
                for piece in assistant.ask_stream(message, top_k=int(top_k), mode=mode, history=answers[-HISTORY_TURNS:],
                                                  reports=selected_reports(reports)):
                    if isinstance(piece, str):  # tokens of a language model, as they come
                        streamed += piece
                        chat[-1] = {"role": "assistant", "content": streamed}
                        yield chat, answers, cited, gr.update(), ""
                    else:
                        answer = piece
        except Exception as exc:  # noqa: BLE001 -- any failure is one sentence here and logged in full
            chat[-1] = {"role": "assistant", "content": f"⚠️ {user_error(exc, lang)}"}
            yield chat, answers, cited, gr.update(), ""
            return
        if not streamed:
            # the extractive answer is ready at once: show it arriving, then the rendered message
            plain = answer.text
            for i in range(STREAM_STEP, len(plain) + STREAM_STEP, STREAM_STEP):
                chat[-1] = {"role": "assistant", "content": plain[:i]}
                yield chat, answers, cited, gr.update(), ""
                time.sleep(0.01)
        # the final message replaces the stream (checked text, markers, status, the answer's own sources)
        names = report_names()
        chat[-1] = {"role": "assistant", "content": chat_message(answer, turn, names, lang)}
        answers.append(answer)
        cited = [c for c in cited + cited_entries(answer, turn, names, lang) if int(c["key"].split(":")[0]) > turn - MAX_CITED_TURNS]
        yield chat, answers[-HISTORY_TURNS:], cited, picker_update(cited, turn), ""

    def respond_tracked(message, chat, answers, cited, mode, top_k, lang="zh", turns=None, reports=None,
                        request: gr.Request = None):
        """``respond``, plus the conversation's turns (one entry per question shown; see ui.conversations)."""
        turns, before = list(turns or []), len(chat or [])
        prior = answers[-1] if answers else None
        for out in respond(message, chat, answers, cited, mode, top_k, lang, reports, request):
            yield (*out, track_turns(turns, before, prior, len(out[0]), out[1]))

    export_dir = Path(tempfile.gettempdir()) / "rag-exports"

    def export_files(turns, scope, lang="zh"):
        """The conversation (or its last answer) as .md and .docx, for the two download buttons."""
        answers = answers_to_export(turns or [], scope)
        if not answers:
            return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        md, docx = write_exports(answers, export_dir, lang)
        return gr.update(value=str(md), interactive=True), gr.update(value=str(docx), interactive=True)

    feedback_store = FeedbackStore(settings.feedback.path)

    def on_like(turns, comment, lang, data: gr.LikeData):
        """A 👍/👎 (or its withdrawal) on an answer, with the comment typed beside the chat, as one record."""
        answer = answer_for_message(turns or [], data.index)
        if answer is None:
            return gr.update(), ui_text(lang, "nothing_to_rate")
        rating = "up" if data.liked is True else "down" if data.liked is False else "withdrawn"
        record = feedback_record(answer, rating, comment or "", max_comment_chars=settings.feedback.max_comment_chars)
        try:
            feedback_store.append(record)
        except OSError as exc:  # disk full, read-only folder: the user is told; the log keeps the path
            log.error("cannot write feedback to %s: %s", settings.feedback.path, exc)
            return gr.update(), ui_text(lang, "feedback_failed")
        return "", ui_text(lang, f"thanks_{rating}")

    def remember(conversation_id, turns, saved, lang="zh"):
        """Store the conversation in the browser (a new one gets its id here) and refresh the list."""
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        saved = save_conversation(saved, conversation_id, turns or [], time.time())
        choices = conversation_choices(saved, lang)
        listed = any(c[1] == conversation_id for c in choices)
        return saved, conversation_id, gr.update(choices=choices, value=conversation_id if listed else None)

    def list_conversations(saved, request: gr.Request = None):
        page_lang = language(request.query_params.get("lang") if request else None)
        return gr.update(choices=conversation_choices(saved, page_lang), value=None)

    def reopen(conversation_id, saved, lang="zh"):
        """A stored conversation back in the chat: its messages with their sources, its answers as history."""
        answers = open_conversation(saved, conversation_id)
        if not answers:
            gr.Warning(ui_text(lang, "cannot_open"))
            return (gr.update(),) * 6
        messages, cited = reopened_chat(answers, report_names(), lang)
        return (messages, answers[-HISTORY_TURNS:], list(answers), conversation_id, cited, picker_update(cited, len(answers)))

    def filter_scope(query, selected):
        """The report multi-select narrowed to what the filter matches (choices already made stay)."""
        return gr.update(choices=scope_choices(library.reports(), query, selected))

    def select_matching(query, selected):
        reports = library.reports()
        chosen = sorted(set(selected or ()) | set(matching_reports(reports, query)))
        return gr.update(choices=scope_choices(reports, query, chosen), value=chosen)

    def new_conversation():
        return [], [], [], gr.update(choices=[], value=None)

    answers_state = gr.State([])
    cited = gr.State([])  # the citations of this conversation's answers, for the viewer's picker
    turns_state = gr.State([])  # every turn of the conversation shown (answers_state keeps the last few)
    conversation_id = gr.State("")  # the id of the shown conversation in the browser's list ("" until answered)
    # past conversations live in this browser's localStorage, encrypted with ``secret`` (the server's kept key)
    saved = gr.BrowserState([], storage_key="rag-conversations", secret=secret)
    chatbot = gr.Chatbot(label=ui_text("zh", "chat"), height=430, elem_id="rag-chat")
    with gr.Row():
        box = gr.Textbox(placeholder=ui_text("zh", "placeholder"), show_label=False, scale=8, elem_id="rag-question")
        send = gr.Button(ui_text("zh", "send"), variant="primary", scale=1, elem_id="rag-send")
        clear = gr.Button(ui_text("zh", "new_chat"), scale=1)
        stop = gr.Button(ui_text("zh", "stop"), variant="stop", scale=1, elem_id="rag-stop")
    with gr.Row():
        cite_pick = gr.Dropdown(label=ui_text("zh", "cite_pick"), choices=[], value=None, scale=4, elem_id="rag-cite-pick")
        open_btn = gr.Button(ui_text("zh", "open"), scale=1, elem_id="rag-open")
    with gr.Accordion(ui_text("zh", "conversations"), open=True) as conversations_box:
        conversation_list = gr.Radio(choices=[], show_label=False, elem_id="rag-conversations")
    examples = gr.Examples(EXAMPLES, inputs=box, label=ui_text("zh", "examples"), elem_id="rag-examples")
    with gr.Row():
        export_scope = gr.Radio(ui_text("zh", "export_scopes"), value=EXPORT_SCOPES[0], label=ui_text("zh", "export_scope"), scale=2)
        export_md = gr.DownloadButton(ui_text("zh", "export_md"), interactive=False, scale=1, elem_id="rag-export-md")
        export_docx = gr.DownloadButton(ui_text("zh", "export_docx"), interactive=False, scale=1, elem_id="rag-export-docx")
    with gr.Row():
        feedback_comment = gr.Textbox(placeholder=ui_text("zh", "feedback_comment"), show_label=False, scale=4,
                                      elem_id="rag-feedback-comment")
        feedback_status = gr.Markdown(elem_id="rag-feedback-status")
    with gr.Accordion(ui_text("zh", "settings"), open=False) as settings_box:
        mode = gr.Radio(["hybrid", "dense", "bm25"], value=settings.retrieval.mode, label=ui_text("zh", "mode"))
        top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label=ui_text("zh", "top_k"))
        with gr.Row():
            report_query = gr.Textbox(label=ui_text("zh", "report_query"), scale=3, elem_id="rag-report-query")
            report_all = gr.Button(ui_text("zh", "report_all"), scale=1, elem_id="rag-report-all")
        report_scope = gr.Dropdown(choices=scope_choices(library.reports(), "", ()), value=[], multiselect=True,
                                   label=ui_text("zh", "report_scope"), elem_id="rag-report-scope",
                                   allow_custom_value=True)  # reports added after start stay choosable; ask() checks names

    # answering is the heavy work (embedding, reading). Every answering request goes straight to the fair
    # gate (no Gradio limit: a first-come queue in front of it would let one user's burst fill it); the
    # gate lets answer_concurrency_limit work at once and decides who goes next
    chat_io = dict(
        fn=respond_tracked,
        inputs=[box, chatbot, answers_state, cited, mode, top_k, lang_state, turns_state, report_scope],
        outputs=[chatbot, answers_state, cited, cite_pick, box, turns_state],
        concurrency_limit=None,
        concurrency_id="answer",
    )
    export_io = dict(fn=export_files, inputs=[turns_state, export_scope, lang_state], outputs=[export_md, export_docx])
    remember_io = dict(fn=remember, inputs=[conversation_id, turns_state, saved, lang_state],
                       outputs=[saved, conversation_id, conversation_list], api_visibility="private")
    asked = [send.click(api_name="chat", **chat_io), box.submit(api_visibility="private", **chat_io)]
    for event in asked:
        event.then(api_visibility="private", **export_io)
        event.then(**remember_io)
    stop.click(None, cancels=asked)
    conversation_list.input(
        reopen, inputs=[conversation_list, saved, lang_state],
        outputs=[chatbot, answers_state, turns_state, conversation_id, cited, cite_pick], api_visibility="private",
    ).then(api_visibility="private", **export_io)
    # the Chatbot's own 🗑 button starts a new conversation too (it used to empty the chat but keep its history)
    for trigger in (clear.click, chatbot.clear):
        trigger(new_conversation, outputs=[chatbot, answers_state, cited, cite_pick], api_visibility="private")
        trigger(lambda: ([], "", gr.update(value=None)), outputs=[turns_state, conversation_id, conversation_list],
                api_visibility="private").then(api_visibility="private", **export_io)
    chatbot.like(on_like, inputs=[turns_state, feedback_comment, lang_state], outputs=[feedback_comment, feedback_status],
                 api_visibility="private")
    # named, so an API caller can fetch its session's conversation as files
    export_scope.change(api_name="export", **export_io)
    report_query.change(filter_scope, inputs=[report_query, report_scope], outputs=report_scope, api_visibility="private")
    report_all.click(select_matching, inputs=[report_query, report_scope], outputs=report_scope, api_visibility="private")
    return ChatTab(chatbot, box, send, clear, stop, cite_pick, open_btn, examples, conversations_box, conversation_list,
                   export_scope, export_md, export_docx, feedback_comment, feedback_status, settings_box, mode, top_k,
                   report_query, report_all, report_scope, cited, saved, filter_scope, list_conversations)
