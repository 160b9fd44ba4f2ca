"""The Gradio chat: a thin shell over ``Assistant.ask`` and the report library (no retrieval logic here).

Tabs: 问答 (chat with streaming answers, a sources panel, settings), 报告库 (list / upload / delete reports),
原文 (a report with the cited passage highlighted). Named API endpoints for ``gradio_client``:
``/ask`` (question [+ conversation id] -> answer Markdown with numbered sources), ``/ingest`` (files ->
library status), ``/delete`` (report name -> library status).
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from rag.admission import FairGate
from rag.errors import RagError
from rag.feedback import FeedbackStore, feedback_record
from rag.library import Library
from rag.pipeline import Assistant
from rag.schema import Answer

from .conversations import (
    EXPORT_SCOPES, answer_for_message, answers_to_export, chat_messages, conversation_choices, open_conversation,
    save_conversation, track_turns,
)
from .export import write_exports
from .report_filter import matching_reports, scope_choices, selected_reports
from .render import CSS, answer_markdown, error_message, answer_with_sources_markdown, library_rows, passage_view_html, sources_html

EXAMPLES = [
    "永北圩所在的镇2022年一共保障了多少户城乡低保？",
    "那2023年计划投入多少钱对东岸圩进行清杂？",
    "华海药业所在镇1-9月规上工业产值是多少，同比增长多少？",
    "辽市镇目前全镇共有多少户低保户？",
    "哪些报告提到了落实“河长制”？",
    "这些报告里哪个镇建成了地铁站？",
]
LIBRARY_HEADERS = ["标题", "文件", "时期", "字数", "段落数"]
HISTORY_TURNS = 4  # earlier answers a follow-up is read against
STREAM_STEP = 6  # characters per streamed update
MAX_CONVERSATIONS = 500

log = logging.getLogger(__name__)


def user_error(exc: BaseException, lang: str = "zh") -> str:
    """Log ``exc`` for the server's operator (in full, with the traceback, when it is not a project error)
    and return the short sentence the user sees instead of it."""
    if isinstance(exc, RagError):
        log.warning("%s: %s", type(exc).__name__, exc)
    else:
        log.error("unexpected error while serving a request", exc_info=exc)
    return error_message(exc, lang)


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


def asker(request: gr.Request | None) -> str:
    """Who is asking, for fair admission: the login name, else the browser or API client session."""
    if request is None:
        return "local"
    return getattr(request, "username", None) or getattr(request, "session_hash", None) or "anonymous"


def build_app(assistant: Assistant, library: Library, lang: str = "zh") -> gr.Blocks:
    settings = assistant.settings
    conversations = ConversationStore()
    server = settings.server
    gate = FairGate(server.answer_concurrency_limit, server.heavy_slots, server.per_user_slots, server.answer_wait_budget_s)

    def is_heavy(question: str) -> bool:
        return len(question or "") > server.heavy_question_chars

    def library_view():
        reports = library.reports()
        names = [r.source for r in reports]
        return library_rows(reports), gr.update(choices=names, value=None), gr.update(choices=names, value=None)

    # -- chat ---------------------------------------------------------------------------------------------
    def respond(message, chat, answers, mode, top_k, reports=None, request: gr.Request = None):
        chat = list(chat or [])
        answers = list(answers or [])
        message = (message or "").strip()
        if not message:
            gr.Warning("请输入问题 / Please type a question")
            yield chat, answers, gr.update(), gr.update(), message
            return
        chat.append({"role": "user", "content": message})
        chat.append({"role": "assistant", "content": ""})
        try:
            answer = None
            streamed = ""
            # the slot is held while a language model streams (that is its work), not while text is replayed below
            with gate.admit(asker(request), is_heavy(message)):
                for piece in assistant.ask_stream(message, top_k=int(top_k), mode=mode, history=answers[-HISTORY_TURNS:],
                                                  reports=selected_reports(reports)):
                    if isinstance(piece, str):  # tokens of a language model, as they come
                        streamed += piece
                        chat[-1] = {"role": "assistant", "content": streamed}
                        yield chat, answers, "", gr.update(choices=[], value=None), ""
                    else:
                        answer = piece
        except Exception as exc:  # noqa: BLE001 -- any failure is one sentence here and logged in full
            chat[-1] = {"role": "assistant", "content": f"⚠️ {user_error(exc, lang)}"}
            yield chat, answers, "", gr.update(choices=[], value=None), ""
            return
        if not streamed:
            # the extractive answer is ready at once: show it arriving, then the rendered message
            plain = answer.text
            for i in range(STREAM_STEP, len(plain) + STREAM_STEP, STREAM_STEP):
                chat[-1] = {"role": "assistant", "content": plain[:i]}
                # the previous answer's sources must not sit beside the new one
                yield chat, answers, "", gr.update(choices=[], value=None), ""
                time.sleep(0.01)
        # the final message replaces the stream (checked text, markers, status)
        chat[-1] = {"role": "assistant", "content": answer_markdown(answer, lang)}
        answers.append(answer)
        choices = [f"[{c.n}] {c.chunk.title} · {c.chunk.source}" for c in {c.n: c for c in answer.citations}.values()]
        yield chat, answers[-HISTORY_TURNS:], sources_html(answer, lang), gr.update(choices=choices, value=choices[0] if choices else None), ""

    def respond_tracked(message, chat, answers, mode, top_k, turns=None, reports=None, request: gr.Request = None):
        """``respond``, plus the conversation's turns (one entry per question shown; see ui.conversations)."""
        turns, before = list(turns or []), len(chat or [])
        prior = answers[-1] if answers else None
        for out in respond(message, chat, answers, mode, top_k, reports, request):
            yield (*out, track_turns(turns, before, prior, len(out[0]), out[1]))

    export_dir = Path(tempfile.gettempdir()) / "rag-exports"

    def export_files(turns, scope):
        """The conversation (or its last answer) as .md and .docx, for the two download buttons."""
        answers = answers_to_export(turns or [], scope)
        if not answers:
            return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        md, docx = write_exports(answers, export_dir, lang)
        return gr.update(value=str(md), interactive=True), gr.update(value=str(docx), interactive=True)

    feedback_store = FeedbackStore(settings.feedback.path)
    thanks = {"up": "已记录 👍，谢谢！", "down": "已记录 👎，谢谢！您的意见会用于改进。", "withdrawn": "已撤回评价。"}

    def on_like(turns, comment, data: gr.LikeData):
        """A 👍/👎 (or its withdrawal) on an answer, with the comment typed beside the chat, as one record."""
        answer = answer_for_message(turns or [], data.index)
        if answer is None:
            return gr.update(), "这条消息没有可评价的回答。"
        rating = "up" if data.liked is True else "down" if data.liked is False else "withdrawn"
        record = feedback_record(answer, rating, comment or "", max_comment_chars=settings.feedback.max_comment_chars)
        try:
            feedback_store.append(record)
        except OSError as exc:  # disk full, read-only folder: the user is told; the log keeps the path
            log.error("cannot write feedback to %s: %s", settings.feedback.path, exc)
            return gr.update(), "⚠️ 反馈未能保存，请稍后再试。"
        return "", thanks[rating]

    def remember(conversation_id, turns, saved):
        """Store the conversation in the browser (a new one gets its id here) and refresh the list."""
        conversation_id = conversation_id or uuid.uuid4().hex[:12]
        saved = save_conversation(saved, conversation_id, turns or [], time.time())
        listed = any(c[1] == conversation_id for c in conversation_choices(saved))
        return saved, conversation_id, gr.update(choices=conversation_choices(saved), value=conversation_id if listed else None)

    def list_conversations(saved):
        return gr.update(choices=conversation_choices(saved), value=None)

    def reopen(conversation_id, saved):
        """A stored conversation back in the chat: its messages, its answers as history, its sources."""
        answers = open_conversation(saved, conversation_id)
        if not answers:
            gr.Warning("这个对话无法打开 / this conversation cannot be opened")
            return gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        last = answers[-1]
        choices = [f"[{c.n}] {c.chunk.title} · {c.chunk.source}" for c in {c.n: c for c in last.citations}.values()]
        return (chat_messages(answers, lambda a: answer_markdown(a, lang)), answers[-HISTORY_TURNS:], list(answers),
                conversation_id, sources_html(last, lang), gr.update(choices=choices, value=choices[0] if choices else None))

    def filter_scope(query, selected):
        """The report multi-select narrowed to what the filter matches (choices already made stay)."""
        return gr.update(choices=scope_choices(library.reports(), query, selected))

    def select_matching(query, selected):
        reports = library.reports()
        chosen = sorted(set(selected or ()) | set(matching_reports(reports, query)))
        return gr.update(choices=scope_choices(reports, query, chosen), value=chosen)

    def new_conversation():
        return [], [], "", gr.update(choices=[], value=None)

    def open_citation(choice, answers):
        if not choice or not answers:
            return gr.update(), gr.update()
        n = int(choice.split("]")[0].lstrip("["))
        citation = next((c for c in answers[-1].citations if c.n == n), None)
        if citation is None:
            return gr.update(), gr.update()
        doc = assistant.store.doc_by_id.get(citation.chunk.doc_id)
        if doc is None:
            return "<em>该报告已不在库中 / report no longer in the library</em>", gr.Tabs(selected="viewer")
        return passage_view_html(doc.title, doc.source, doc.text, citation.quote_start, citation.quote_end), gr.Tabs(selected="viewer")

    def view_report(source):
        doc = next((d for d in assistant.store.docs if d.source == source), None)
        if doc is None:
            return ""
        return passage_view_html(doc.title, doc.source, doc.text, 0, 0)

    # -- API ----------------------------------------------------------------------------------------------
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

    # -- library ------------------------------------------------------------------------------------------
    def add_files(files, progress=gr.Progress()):
        files = files or []
        if not files:
            return ("请先选择文件 / choose files first", *library_view())
        uploads = [(f, Path(f).name) for f in (files if isinstance(files, list) else [files])]
        try:
            # checked and copied now; embedded on the library's worker thread, one job at a time, while the
            # chat keeps answering from the current index. This request only waits and shows progress.
            job = library.submit(uploads)
            while not job.wait(0.5):
                done, total, message = job.progress
                if job.state == "queued":
                    progress(0.0, desc="排队中：前一批报告正在建立索引 / queued")
                else:
                    progress(done / total if total else 0.0, desc=f"{message} {done}/{total}")
            if job.error is not None:
                raise job.error
            report, refused = job.report, job.refused
        except Exception as exc:  # noqa: BLE001 -- e.g. disk full while indexing: one sentence, logged in full
            return (f"⚠️ {user_error(exc, lang)}", *library_view())
        lines = [f"✅ 新增 {len(report.added)} 份，未变 {len(report.unchanged)} 份；本次嵌入 {report.embedded_chunks} 个段落（{report.seconds:.1f} 秒）"]
        lines += [f"⚠️ 未能添加 {name}：{why}" for name, why in refused.items()]
        lines += [f"⚠️ 跳过 {name}：{why}" for name, why in report.skipped.items()]
        return ("\n\n".join(lines), *library_view())

    def delete_report(source):
        if not source:
            return ("请选择要删除的报告 / choose a report", *library_view())
        # the dropdown takes any name (its choices were those of page load); the library is the authority
        if source not in {r.source for r in library.reports()}:
            raise gr.Error(f"库中没有这份报告：{str(source)[:100]}", print_exception=False)
        try:
            library.delete(source)
        except Exception as exc:  # noqa: BLE001 -- one sentence, logged in full
            return (f"⚠️ {user_error(exc, lang)}", *library_view())
        return (f"🗑️ 已删除 {source}（库中还有 {len(library.reports())} 份报告）", *library_view())

    with gr.Blocks(title="工作报告问答 · Report QA") as demo:
        answers_state = gr.State([])
        turns_state = gr.State([])  # every turn of the conversation shown (answers_state keeps the last few)
        conversation_id = gr.State("")  # the id of the shown conversation in the browser's list ("" until answered)
        # past conversations live in this browser's localStorage (encrypted with a key of this server process)
        saved_conversations = gr.BrowserState([], storage_key="rag-conversations")
        gr.Markdown(
            "## 工作报告问答\n每个回答都引用原文出处（报告 › 章节 › 原句）；数字被遮盖时直说，报告里没有时不编造。"
        )
        with gr.Tabs() as tabs:
            with gr.Tab("问答", id="chat"):
                chatbot = gr.Chatbot(label="对话", height=430, elem_id="rag-chat")
                with gr.Row():
                    box = gr.Textbox(placeholder="输入问题，例如：永北圩所在的镇2022年保障了多少户低保？", show_label=False, scale=8, elem_id="rag-question")
                    send = gr.Button("发送", variant="primary", scale=1, elem_id="rag-send")
                    clear = gr.Button("新对话", scale=1)
                    stop = gr.Button("停止", variant="stop", scale=1, elem_id="rag-stop")
                with gr.Accordion("历史对话（保存在本浏览器）", open=True):
                    conversation_list = gr.Radio(choices=[], show_label=False, elem_id="rag-conversations")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题")
                sources = gr.HTML(elem_id="rag-sources")
                with gr.Row():
                    export_scope = gr.Radio(list(EXPORT_SCOPES), value=EXPORT_SCOPES[0], label="导出（含引用）", scale=2)
                    export_md = gr.DownloadButton("导出 Markdown", interactive=False, scale=1, elem_id="rag-export-md")
                    export_docx = gr.DownloadButton("导出 Word", interactive=False, scale=1, elem_id="rag-export-docx")
                with gr.Row():
                    feedback_comment = gr.Textbox(placeholder="对回答的意见（可选），写好后点回答下方的 👍 或 👎", show_label=False,
                                                  scale=4, elem_id="rag-feedback-comment")
                    feedback_status = gr.Markdown(elem_id="rag-feedback-status")
                with gr.Row():
                    cite_pick = gr.Dropdown(label="在原文中查看引用", choices=[], scale=4)
                    open_btn = gr.Button("打开原文", scale=1)
                with gr.Accordion("设置", open=False):
                    mode = gr.Radio(["hybrid", "dense", "bm25"], value=settings.retrieval.mode, label="检索方式（混合 / 向量 / 关键词）")
                    top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label="检索段落数 top-k")
                    with gr.Row():
                        report_query = gr.Textbox(label="筛选报告（名称 / 地区 / 年份，空格分隔）", scale=3, elem_id="rag-report-query")
                        report_all = gr.Button("选中筛选出的报告", scale=1, elem_id="rag-report-all")
                    report_scope = gr.Dropdown(choices=scope_choices(library.reports(), "", ()), value=[], multiselect=True,
                                               label="只在这些报告中查找（不选 = 全部报告）", elem_id="rag-report-scope",
                                               allow_custom_value=True)  # reports added after start stay choosable; ask() checks names
            with gr.Tab("报告库", id="library"):
                rows, _, _ = library_view()
                table = gr.Dataframe(headers=LIBRARY_HEADERS, value=rows, interactive=False, label="库中的报告")
                upload = gr.File(
                    label=f"上传报告（.txt .md .docx .pdf，单个不超过 {settings.corpus.max_upload_mb} MB）",
                    file_count="multiple",
                    file_types=list(settings.corpus.extensions),
                    type="filepath",
                )
                add_btn = gr.Button("添加到报告库并建立索引", variant="primary")
                lib_status = gr.Markdown()
                with gr.Row():
                    names = [r.source for r in library.reports()]
                    # allow_custom_value: reports uploaded after start (by any session) must be deletable by name
                    del_pick = gr.Dropdown(choices=names, label="删除报告", scale=4, allow_custom_value=True)
                    del_btn = gr.Button("删除", variant="stop", scale=1)
            with gr.Tab("原文", id="viewer"):
                doc_pick = gr.Dropdown(choices=[r.source for r in library.reports()], label="选择报告")
                viewer = gr.HTML(elem_id="rag-viewer")

        # answering is the heavy work (embedding, reading). Every answering request goes straight to the fair
        # gate (no Gradio limit: a first-come queue in front of it would let one user's burst fill it); the
        # gate lets answer_concurrency_limit work at once and decides who goes next
        answering = dict(concurrency_limit=None, concurrency_id="answer")
        chat_io = dict(
            fn=respond_tracked,
            inputs=[box, chatbot, answers_state, mode, top_k, turns_state, report_scope],
            outputs=[chatbot, answers_state, sources, cite_pick, box, turns_state],
            **answering,
        )
        export_io = dict(fn=export_files, inputs=[turns_state, export_scope], outputs=[export_md, export_docx])
        remember_io = dict(fn=remember, inputs=[conversation_id, turns_state, saved_conversations],
                           outputs=[saved_conversations, conversation_id, conversation_list], api_visibility="private")
        asked = [send.click(api_name="chat", **chat_io), box.submit(api_visibility="private", **chat_io)]
        for event in asked:
            event.then(api_visibility="private", **export_io)
            event.then(**remember_io)
        stop.click(None, cancels=asked)
        conversation_list.input(
            reopen, inputs=[conversation_list, saved_conversations],
            outputs=[chatbot, answers_state, turns_state, conversation_id, sources, cite_pick], api_visibility="private",
        ).then(api_visibility="private", **export_io)
        clear.click(new_conversation, outputs=[chatbot, answers_state, sources, cite_pick], api_visibility="private")
        # the Chatbot's own 🗑 button starts a new conversation too (it used to empty the chat but keep its history)
        chatbot.clear(new_conversation, outputs=[chatbot, answers_state, sources, cite_pick], api_visibility="private")
        for trigger in (clear.click, chatbot.clear):
            trigger(lambda: ([], "", gr.update(value=None)), outputs=[turns_state, conversation_id, conversation_list],
                    api_visibility="private").then(api_visibility="private", **export_io)
        chatbot.like(on_like, inputs=[turns_state, feedback_comment], outputs=[feedback_comment, feedback_status],
                     api_visibility="private")
        # named, so an API caller can fetch its session's conversation as files
        export_scope.change(api_name="export", **export_io)
        open_btn.click(open_citation, inputs=[cite_pick, answers_state], outputs=[viewer, tabs], api_visibility="private")
        doc_pick.change(view_report, inputs=doc_pick, outputs=viewer, api_visibility="private")
        # waiting for the worker costs nothing, so uploads do not take answering's or anyone's slot
        add_btn.click(add_files, inputs=upload, outputs=[lib_status, table, del_pick, doc_pick], api_name="ingest",
                      concurrency_limit=None)
        del_btn.click(delete_report, inputs=del_pick, outputs=[lib_status, table, del_pick, doc_pick], api_name="delete")
        gr.api(api_ask, api_name="ask", **answering)
        # a page opened later lists the library as it is now, not as it was when the app was built
        demo.load(library_view, outputs=[table, del_pick, doc_pick], api_visibility="private")
        report_query.change(filter_scope, inputs=[report_query, report_scope], outputs=report_scope, api_visibility="private")
        report_all.click(select_matching, inputs=[report_query, report_scope], outputs=report_scope, api_visibility="private")
        demo.load(filter_scope, inputs=[report_query, report_scope], outputs=report_scope, api_visibility="private")
        demo.load(list_conversations, inputs=saved_conversations, outputs=conversation_list, api_visibility="private")
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
    assistant, library = make_assistant_and_library(settings, reports_dir, index_dir)
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

