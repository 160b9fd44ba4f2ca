"""The 原文 tab: a whole report, with a cited passage highlighted and scrolled into view.

In: the assistant's store (report texts), readable names, a citation entry from the chat's picker or a report
chosen by name. Out: the viewer's HTML. Touches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .render import passage_view_html, report_text
from .texts import ui_text

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


@dataclass
class Viewer:
    doc_pick: gr.Dropdown
    html: gr.HTML


def build_viewer_tab(assistant, report_names, choices) -> Viewer:
    """The tab's components; choosing a report by name shows it from the top."""

    def view_report(source):
        doc = next((d for d in assistant.store.docs if d.source == source), None)
        if doc is None:
            return ""
        return passage_view_html(report_names().get(doc.source, doc.title), doc.source, "", doc.text, 0, 0)

    doc_pick = gr.Dropdown(choices=choices, value=None, label=ui_text("zh", "doc_pick"), elem_id="rag-doc-pick")
    html = gr.HTML(elem_id="rag-viewer")
    # .input, not .change: when opening a citation sets the picker, the view must keep its highlight
    doc_pick.input(view_report, inputs=doc_pick, outputs=html, api_visibility="private")
    return Viewer(doc_pick, html)


def open_citation(assistant, report_names, key, cited, lang="zh"):
    """The viewer's HTML for the chat picker's citation ``key``, the tab switch, and the report picker set to it."""
    citation = next((c for c in cited or [] if c["key"] == key), None)
    if citation is None:
        return gr.update(), gr.update(), gr.update()
    doc = assistant.store.doc_by_id.get(citation["doc_id"])
    if doc is None:
        return f"<em>{report_text(ui_text(lang, 'report_gone'))}</em>", gr.Tabs(selected="viewer"), gr.update()
    name = report_names().get(doc.source, doc.title)
    view = passage_view_html(name, doc.source, citation["section"], doc.text, citation["start"], citation["end"])
    return view, gr.Tabs(selected="viewer"), gr.update(value=doc.source)
