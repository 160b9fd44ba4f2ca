"""The interface's words: one table per language (Chinese by default, English with ``?lang=en``).

In: a language code and a key. Out: the text. No Gradio here; labels, buttons, status lines and the
example questions all come from this table, so a page speaks one language.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

UI = {
    "zh": {
        "header": "## 工作报告问答\n每个回答都引用原文出处（报告 › 章节 › 原句）；数字被遮盖时直说，报告里没有时不编造。",
        "switch": "[English](?lang=en)",
        "tab_chat": "问答",
        "tab_library": "报告库",
        "tab_viewer": "原文",
        "chat": "对话",
        "placeholder": "输入问题，例如：辽市镇上半年引进了哪些亿元以上的项目？",
        "send": "发送",
        "new_chat": "新对话",
        "cite_pick": "在原文中查看引用",
        "open": "打开原文",
        "examples": "示例问题",
        "settings": "设置",
        "mode": "检索方式（混合 / 向量 / 关键词）",
        "top_k": "检索段落数 top-k",
        "table": "库中的报告",
        "headers": ["名称", "文件", "时期", "字数", "段落数"],
        "upload": "上传报告（{types}，单个不超过 {mb} MB）",
        "add": "添加到报告库并建立索引",
        "delete_pick": "删除报告",
        "delete": "删除",
        "delete_confirm": "确认删除",
        "doc_pick": "选择报告",
        "type_question": "请输入问题",
        "choose_files": "请先选择文件",
        "choose_report": "请选择要删除的报告",
        "queued": "排队中：前一批报告正在建立索引",
        "indexing": "正在建立索引",
        "added": "✅ 新增 {n} 份",
        "replaced": "🔁 已替换 {name}",
        "indexed": "本次嵌入 {chunks} 个段落（{seconds:.1f} 秒）",
        "nothing_added": "没有添加任何报告。",
        "refused": "⚠️ 未能添加 {name}：{why}",
        "skipped": "⚠️ 跳过 {name}：{why}",
        "confirm_delete": "确定删除《{name}》吗？请点“确认删除”。",
        "deleted": "🗑️ 已删除 {name}（库中还有 {n} 份报告）",
        "not_in_library": "库中没有这份报告：{name}",
        "report_gone": "该报告已不在库中。",
        "turn": "第{turn}问",
        "stop": "停止",
        "conversations": "历史对话（保存在本浏览器）",
        "untitled": "（无标题）",
        "n_questions": "（{n} 问）",
        "cannot_open": "这个对话无法打开",
        "export_scope": "导出（含引用）",
        "export_scopes": [("整个对话", "整个对话"), ("最后一个回答", "最后一个回答")],
        "export_md": "导出 Markdown",
        "export_docx": "导出 Word",
        "feedback_comment": "对回答的意见（可选），写好后点回答下方的 👍 或 👎",
        "thanks_up": "已记录 👍，谢谢！",
        "thanks_down": "已记录 👎，谢谢！您的意见会用于改进。",
        "thanks_withdrawn": "已撤回评价。",
        "nothing_to_rate": "这条消息没有可评价的回答。",
        "feedback_failed": "⚠️ 反馈未能保存，请稍后再试。",
        "report_query": "筛选报告（名称 / 地区 / 年份，空格分隔）",
        "report_all": "选中筛选出的报告",
        "report_scope": "只在这些报告中查找（不选 = 全部报告）",
    },
    "en": {
        "header": "## Work report Q&A\nEvery answer cites its source (report › section › sentence); a masked figure is "
        "called masked, and what the reports do not say is not made up. The reports are in Chinese.",
        "switch": "[中文](?lang=zh)",
        "tab_chat": "Ask",
        "tab_library": "Library",
        "tab_viewer": "Report",
        "chat": "Conversation",
        "placeholder": "Type a question, e.g. 辽市镇上半年引进了哪些亿元以上的项目？",
        "send": "Send",
        "new_chat": "New chat",
        "cite_pick": "Show a citation in its report",
        "open": "Open report",
        "examples": "Example questions",
        "settings": "Settings",
        "mode": "Retrieval (hybrid / dense / keyword)",
        "top_k": "Passages retrieved (top-k)",
        "table": "Reports in the library",
        "headers": ["Name", "File", "Period", "Characters", "Passages"],
        "upload": "Upload reports ({types}, up to {mb} MB each)",
        "add": "Add to the library and index",
        "delete_pick": "Delete a report",
        "delete": "Delete",
        "delete_confirm": "Confirm delete",
        "doc_pick": "Choose a report",
        "type_question": "Please type a question",
        "choose_files": "Choose files first",
        "choose_report": "Choose a report to delete",
        "queued": "Queued: an earlier upload is being indexed",
        "indexing": "Indexing",
        "added": "✅ Added {n}",
        "replaced": "🔁 Replaced {name}",
        "indexed": "{chunks} passages embedded ({seconds:.1f} s)",
        "nothing_added": "No report was added.",
        "refused": "⚠️ Not added: {name}: {why}",
        "skipped": "⚠️ Skipped {name}: {why}",
        "confirm_delete": "Delete “{name}”? Click “Confirm delete”.",
        "deleted": "🗑️ Deleted {name} ({n} reports left)",
        "not_in_library": "No such report in the library: {name}",
        "report_gone": "This report is no longer in the library.",
        "turn": "Q{turn}",
        "stop": "Stop",
        "conversations": "Past conversations (kept in this browser)",
        "untitled": "(untitled)",
        "n_questions": " ({n} questions)",
        "cannot_open": "This conversation cannot be opened",
        "export_scope": "Export (with citations)",
        "export_scopes": [("Whole conversation", "整个对话"), ("Last answer", "最后一个回答")],
        "export_md": "Export Markdown",
        "export_docx": "Export Word",
        "feedback_comment": "Your comment on an answer (optional); then click 👍 or 👎 under the answer",
        "thanks_up": "👍 recorded, thank you!",
        "thanks_down": "👎 recorded, thank you! Your comment helps us improve.",
        "thanks_withdrawn": "Rating withdrawn.",
        "nothing_to_rate": "This message has no answer to rate.",
        "feedback_failed": "⚠️ The feedback could not be saved; please try again later.",
        "report_query": "Filter reports (name / place / year, separated by spaces)",
        "report_all": "Select the filtered reports",
        "report_scope": "Only search these reports (none = all reports)",
    },
}

# Questions a first-time user can click: each makes sense on its own, over the bundled reports.
EXAMPLES = [
    "辽市镇上半年引进了哪些投资额亿元以上的项目？",
    "永北圩所在的镇2022年防汛期间处置了多少起险情？",
    "哪些报告提到了“河长制”？",
    "团螺山所在镇取缔了多少户非法塑料加工经营户？",
    "哪个镇的报告提到了新建地铁站？",
]


def language(value: str | None) -> str:
    """The interface language for a requested code (``?lang=``): a known one, else Chinese."""
    value = (value or "").strip().lower()
    return value if value in LANGUAGES else "zh"


def ui_text(lang: str, key: str, **values) -> str:
    """The interface text ``key`` in ``lang`` with ``values`` filled in."""
    text = UI.get(lang, UI["zh"])[key]
    return text.format(**values) if values else text  # a list (table headers, choices) is returned as it is
