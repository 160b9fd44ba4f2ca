"""The Gradio chat: a thin shell over ``Assistant.ask`` and the report library (no retrieval logic here).

Tabs: 问答 (chat with streaming answers, each with its own collapsible sources; settings), 报告库 (list / upload / delete reports),
原文 (a report with the cited passage highlighted). Named API endpoints for ``gradio_client``:
``/ask`` (question [+ conversation id] -> answer Markdown with numbered sources), ``/ingest`` (files ->
library status), ``/delete`` (report name -> library status).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

import gradio as gr

from rag.errors import RagError
from rag.library import Library
from rag.pipeline import Assistant
from rag.schema import Answer

from .render import CSS, answer_with_sources_markdown, chat_message, collapse_sources, error_message, library_rows, passage_view_html, report_text
from .render import report_names as names_of

EXAMPLES = [
    "永北圩所在的镇2022年一共保障了多少户城乡低保？",
    "那2023年计划投入多少钱对东岸圩进行清杂？",
    "华海药业所在镇1-9月规上工业产值是多少，同比增长多少？",
    "辽市镇目前全镇共有多少户低保户？",
    "哪些报告提到了落实“河长制”？",
    "这些报告里哪个镇建成了地铁站？",
]
LIBRARY_HEADERS = ["名称", "文件", "时期", "字数", "段落数"]
HISTORY_TURNS = 4  # earlier answers a follow-up is read against
STREAM_STEP = 6  # characters per streamed update
MAX_CONVERSATIONS = 500
MAX_CITED_TURNS = 20  # answers whose citations the viewer's picker still offers
# The viewer's HTML arrives after the tab switch: wait for the highlight to be laid out, then bring it into
# view inside the report's scroll box (and the page).
SCROLL_TO_QUOTE = """() => {
  let tries = 0;
  const go = () => {
    const mark = document.querySelector('#rag-viewer mark');
    if (mark && mark.offsetParent) mark.scrollIntoView({block: 'center'});
    else if (tries++ < 60) setTimeout(go, 50);
  };
  go();
}"""

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


def build_app(assistant: Assistant, library: Library, lang: str = "zh") -> gr.Blocks:
    settings = assistant.settings
    conversations = ConversationStore()

    def report_names() -> dict[str, str]:
        """File -> readable name of every report in the library now."""
        return names_of(library.reports())

    def report_choices(reports) -> list[tuple[str, str]]:
        """A picker's choices: the readable name shown, the file name as the value."""
        names = names_of(reports)
        return [(names[r.source], r.source) for r in reports]

    def library_view():
        """The library as it is now: table rows and the two report pickers (nothing pre-selected)."""
        reports = library.reports()
        choices = report_choices(reports)
        return library_rows(reports), gr.update(choices=choices, value=None), gr.update(choices=choices, value=None)

    # -- chat ---------------------------------------------------------------------------------------------
    def respond(message, chat, answers, cited, mode, top_k):
        chat = list(chat or [])
        answers = list(answers or [])
        cited = list(cited or [])
        message = (message or "").strip()
        if not message:
            gr.Warning("请输入问题 / Please type a question")
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
            for piece in assistant.ask_stream(message, top_k=int(top_k), mode=mode, history=answers[-HISTORY_TURNS:]):
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
        for c in {c.n: c for c in answer.citations}.values():
            label = f"第{turn}问 [{c.n}] {names.get(c.chunk.source, c.chunk.title)}"
            cited.append({"key": f"{turn}:{c.n}", "label": label, "doc_id": c.chunk.doc_id, "section": c.chunk.section,
                          "start": c.quote_start, "end": c.quote_end})
        cited = [c for c in cited if int(c["key"].split(":")[0]) > turn - MAX_CITED_TURNS]
        newest = next((c["key"] for c in cited if c["key"].startswith(f"{turn}:")), None)
        choices = [(c["label"], c["key"]) for c in reversed(cited)]
        yield chat, answers[-HISTORY_TURNS:], cited, gr.update(choices=choices, value=newest), ""

    def new_conversation():
        return [], [], [], gr.update(choices=[], value=None)

    def open_citation(key, cited):
        citation = next((c for c in cited or [] if c["key"] == key), None)
        if citation is None:
            return gr.update(), gr.update()
        doc = assistant.store.doc_by_id.get(citation["doc_id"])
        if doc is None:
            return "<em>该报告已不在库中 / report no longer in the library</em>", gr.Tabs(selected="viewer"), gr.update()
        name = report_names().get(doc.source, doc.title)
        view = passage_view_html(name, doc.source, citation["section"], doc.text, citation["start"], citation["end"])
        # the picker names the report shown (choosing it there re-opens it from the top: .input, not .change)
        return view, gr.Tabs(selected="viewer"), gr.update(value=doc.source)

    def view_report(source):
        doc = next((d for d in assistant.store.docs if d.source == source), None)
        if doc is None:
            return ""
        return passage_view_html(report_names().get(doc.source, doc.title), doc.source, "", doc.text, 0, 0)

    # -- API ----------------------------------------------------------------------------------------------
    def api_ask(question: str, conversation_id: str = "") -> str:
        """Answer a question; pass the same conversation_id to ask follow-ups. Returns Markdown with sources."""
        history = conversations.get(conversation_id) if conversation_id else []
        try:
            answer = assistant.ask(question, history=history)
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

    def ask_to_delete(source):
        """The first click only asks: deleting re-indexes the library and cannot be undone."""
        if not source:
            return "请选择要删除的报告 / choose a report", gr.update(visible=False)
        name = report_names().get(source, source)
        return f"确定删除《{report_text(name)}》吗？请点“确认删除”。", gr.update(visible=True)

    def delete_report(source):
        if not source:
            return ("请选择要删除的报告 / choose a report", *library_view())
        # the dropdown takes any name (its choices were those of page load); the library is the authority
        if source not in {r.source for r in library.reports()}:
            raise gr.Error(f"库中没有这份报告：{str(source)[:100]}", print_exception=False)
        name = report_names().get(source, source)
        try:
            library.delete(source)
        except Exception as exc:  # noqa: BLE001 -- one sentence, logged in full
            return (f"⚠️ {user_error(exc, lang)}", *library_view())
        return (f"🗑️ 已删除 {report_text(name)}（库中还有 {len(library.reports())} 份报告）", *library_view())

    with gr.Blocks(title="工作报告问答 · Report QA") as demo:
        answers_state = gr.State([])
        cited_state = gr.State([])  # the citations of this conversation's answers, for the viewer's picker
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
                with gr.Row():
                    cite_pick = gr.Dropdown(label="在原文中查看引用", choices=[], value=None, scale=4, elem_id="rag-cite-pick")
                    open_btn = gr.Button("打开原文", scale=1, elem_id="rag-open")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题", elem_id="rag-examples")
                with gr.Accordion("设置", open=False):
                    mode = gr.Radio(["hybrid", "dense", "bm25"], value=settings.retrieval.mode, label="检索方式（混合 / 向量 / 关键词）")
                    top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label="检索段落数 top-k")
            with gr.Tab("报告库", id="library"):
                rows, _, _ = library_view()
                table = gr.Dataframe(headers=LIBRARY_HEADERS, value=rows, interactive=False, label="库中的报告", elem_id="rag-library")
                upload = gr.File(
                    label=f"上传报告（.txt .md .docx .pdf，单个不超过 {settings.corpus.max_upload_mb} MB）",
                    file_count="multiple",
                    file_types=list(settings.corpus.extensions),
                    type="filepath",
                    elem_id="rag-upload",
                )
                add_btn = gr.Button("添加到报告库并建立索引", variant="primary", elem_id="rag-add")
                lib_status = gr.Markdown(elem_id="rag-library-status")
                with gr.Row():
                    names = report_choices(library.reports())
                    # allow_custom_value: reports uploaded after start (by any session) must be deletable by name;
                    # value=None: nothing is pre-selected for deletion (nor shown as the API's default)
                    del_pick = gr.Dropdown(choices=names, value=None, label="删除报告", scale=4, allow_custom_value=True,
                                           elem_id="rag-delete-pick")
                    del_btn = gr.Button("删除", variant="secondary", scale=1, elem_id="rag-delete")
                    del_confirm = gr.Button("确认删除", variant="stop", scale=1, visible=False, elem_id="rag-delete-confirm")
            with gr.Tab("原文", id="viewer"):
                doc_pick = gr.Dropdown(choices=report_choices(library.reports()), value=None, label="选择报告", elem_id="rag-doc-pick")
                viewer = gr.HTML(elem_id="rag-viewer")

        # answering is the heavy work (embedding, reading): the chat and /ask share one limited group, so a
        # burst of long questions waits in line instead of starving uploads and page loads
        answering = dict(concurrency_limit=settings.server.answer_concurrency_limit, concurrency_id="answer")
        chat_io = dict(
            fn=respond,
            inputs=[box, chatbot, answers_state, cited_state, mode, top_k],
            outputs=[chatbot, answers_state, cited_state, cite_pick, box],
            **answering,
        )
        send.click(api_name="chat", **chat_io)
        box.submit(api_visibility="private", **chat_io)
        clear.click(new_conversation, outputs=[chatbot, answers_state, cited_state, cite_pick], api_visibility="private")
        open_btn.click(open_citation, inputs=[cite_pick, cited_state], outputs=[viewer, tabs, doc_pick], api_visibility="private").then(
            None, js=SCROLL_TO_QUOTE)
        doc_pick.input(view_report, inputs=doc_pick, outputs=viewer, api_visibility="private")
        # waiting for the worker costs nothing, so uploads do not take answering's or anyone's slot
        add_btn.click(add_files, inputs=upload, outputs=[lib_status, table, del_pick, doc_pick], api_name="ingest",
                      concurrency_limit=None)
        del_btn.click(ask_to_delete, inputs=del_pick, outputs=[lib_status, del_confirm], api_visibility="private")
        del_pick.change(lambda: gr.update(visible=False), outputs=del_confirm, api_visibility="private")
        del_confirm.click(delete_report, inputs=del_pick, outputs=[lib_status, table, del_pick, doc_pick], api_name="delete").then(
            lambda: gr.update(visible=False), outputs=del_confirm, api_visibility="private")
        gr.api(api_ask, api_name="ask", **answering)
        # a page opened later lists the library as it is now, not as it was when the app was built
        demo.load(library_view, outputs=[table, del_pick, doc_pick], api_visibility="private")
    demo.queue(default_concurrency_limit=settings.server.default_concurrency_limit, max_size=settings.server.max_queue)
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
        quiet=not block,
    )
    return demo

