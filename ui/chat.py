"""The 问答 tab: questions in, streamed answers out, each answer with its own sources.

In: the assistant, a function giving the reports' readable names, the page's language state. Out: the tab's
components (``ChatTab``) for the app to wire across tabs. Touches nothing but the assistant's ``ask_stream``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import gradio as gr

from .errors import user_error
from .render import chat_message, collapse_sources
from .texts import EXAMPLES, ui_text

HISTORY_TURNS = 4  # earlier answers a follow-up is read against
STREAM_STEP = 6  # characters per streamed update
MAX_CITED_TURNS = 20  # answers whose citations the viewer's picker still offers


@dataclass
class ChatTab:
    chatbot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    clear: gr.Button
    cite_pick: gr.Dropdown
    open_btn: gr.Button
    examples: gr.Examples
    settings: gr.Accordion
    mode: gr.Radio
    top_k: gr.Slider
    cited: gr.State

    def translatable(self):
        """(component, property, text key) of everything whose words depend on the page's language."""
        return [(self.chatbot, "label", "chat"), (self.box, "placeholder", "placeholder"), (self.send, "value", "send"),
                (self.clear, "value", "new_chat"), (self.cite_pick, "label", "cite_pick"), (self.open_btn, "value", "open"),
                (self.examples.dataset, "label", "examples"), (self.settings, "label", "settings"),
                (self.mode, "label", "mode"), (self.top_k, "label", "top_k")]


def cited_entries(answer, turn: int, names: dict[str, str], lang: str) -> list[dict]:
    """The viewer picker's entries for the citations of the answer in chat turn ``turn``."""
    return [
        {"key": f"{turn}:{c.n}", "label": f"{ui_text(lang, 'turn', turn=turn)} [{c.n}] {names.get(c.chunk.source, c.chunk.title)}",
         "doc_id": c.chunk.doc_id, "section": c.chunk.section, "start": c.quote_start, "end": c.quote_end}
        for c in {c.n: c for c in answer.citations}.values()
    ]


def build_chat_tab(assistant, report_names: Callable[[], dict[str, str]], lang_state: gr.State) -> ChatTab:
    """The tab's components and its own events (asking, a new conversation)."""
    settings = assistant.settings

    def respond(message, chat, answers, cited, mode, top_k, lang="zh"):
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
        cited = [c for c in cited + cited_entries(answer, turn, names, lang) if int(c["key"].split(":")[0]) > turn - MAX_CITED_TURNS]
        newest = next((c["key"] for c in cited if c["key"].startswith(f"{turn}:")), None)
        choices = [(c["label"], c["key"]) for c in reversed(cited)]
        yield chat, answers[-HISTORY_TURNS:], cited, gr.update(choices=choices, value=newest), ""

    answers_state = gr.State([])
    cited = gr.State([])  # the citations of this conversation's answers, for the viewer's picker
    chatbot = gr.Chatbot(label=ui_text("zh", "chat"), height=430, elem_id="rag-chat")
    with gr.Row():
        box = gr.Textbox(placeholder=ui_text("zh", "placeholder"), show_label=False, scale=8, elem_id="rag-question")
        send = gr.Button(ui_text("zh", "send"), variant="primary", scale=1, elem_id="rag-send")
        clear = gr.Button(ui_text("zh", "new_chat"), scale=1)
    with gr.Row():
        cite_pick = gr.Dropdown(label=ui_text("zh", "cite_pick"), choices=[], value=None, scale=4, elem_id="rag-cite-pick")
        open_btn = gr.Button(ui_text("zh", "open"), scale=1, elem_id="rag-open")
    examples = gr.Examples(EXAMPLES, inputs=box, label=ui_text("zh", "examples"), elem_id="rag-examples")
    with gr.Accordion(ui_text("zh", "settings"), open=False) as settings_box:
        mode = gr.Radio(["hybrid", "dense", "bm25"], value=settings.retrieval.mode, label=ui_text("zh", "mode"))
        top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label=ui_text("zh", "top_k"))

    # answering is the heavy work (embedding, reading): the chat and /ask share one limited group, so a
    # burst of long questions waits in line instead of starving uploads and page loads
    chat_io = dict(
        fn=respond,
        inputs=[box, chatbot, answers_state, cited, mode, top_k, lang_state],
        outputs=[chatbot, answers_state, cited, cite_pick, box],
        concurrency_limit=settings.server.answer_concurrency_limit,
        concurrency_id="answer",
    )
    send.click(api_name="chat", **chat_io)
    box.submit(api_visibility="private", **chat_io)
    clear.click(lambda: ([], [], [], gr.update(choices=[], value=None)), outputs=[chatbot, answers_state, cited, cite_pick],
                api_visibility="private")
    return ChatTab(chatbot, box, send, clear, cite_pick, open_btn, examples, settings_box, mode, top_k, cited)
