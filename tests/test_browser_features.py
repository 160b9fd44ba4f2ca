"""The chat's issue-10 features in a real headless Chromium against the real app (real model, real index):
👍/👎 with a comment written to the feedback file, stopping an answer, and the conversation list kept in the
browser and restored after a reload.
"""

from __future__ import annotations

import json

import pytest

from conftest import running_app
from test_browser import TIMEOUT, _ask, _submit, _text, _wait_for, driver  # noqa: F401 -- driver is a fixture

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.model

NAMES = ("000_4b3cc5d7d519229c.txt", "001_f805fc5d83216290.txt")


@pytest.fixture(scope="module")
def app(tmp_path_factory, e5_embedder):
    import threading

    root = tmp_path_factory.mktemp("browser-features")
    hold, entered = threading.Event(), threading.Event()
    hold.set()
    with running_app(root, NAMES, e5_embedder, hold=hold, entered=entered) as (url, _):
        yield {"url": url, "feedback": root / "feedback.jsonl", "hold": hold, "entered": entered}


def _open(drv, url):
    drv.get(url)
    WebDriverWait(drv, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))


def _answered(drv, text):
    _wait_for(drv, f"the answer {text}", lambda d: text in _text(d, "#rag-chat")
              and any(a.text.strip() == "[1]" for a in d.find_elements(By.CSS_SELECTOR, "#rag-chat a")))


def _feedback_buttons(drv, label):
    return [b for b in drv.find_elements(By.CSS_SELECTOR, f"#rag-chat button[aria-label='{label}'], #rag-chat button[title='{label}']")
            if b.is_displayed()]


def test_thumbs_with_a_comment_are_written_to_the_feedback_file(app, driver):  # noqa: F811 -- the fixture
    _open(driver, app["url"])
    _ask(driver, "永北圩所在的镇2022年一共保障了多少户城乡低保？")
    _answered(driver, "1120户")
    comment = driver.find_element(By.CSS_SELECTOR, "#rag-feedback-comment textarea")
    comment.send_keys("数字准确，出处清楚")
    _wait_for(driver, "a Like button under the answer", lambda d: _feedback_buttons(d, "Like"))
    _feedback_buttons(driver, "Like")[-1].click()
    _wait_for(driver, "the thank-you line", lambda d: "已记录 👍" in _text(d, "#rag-feedback-status"))
    records = [json.loads(line) for line in app["feedback"].read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1
    r = records[0]
    assert r["rating"] == "up" and r["comment"] == "数字准确，出处清楚" and r["status"] == "answered"
    assert r["question"] == "永北圩所在的镇2022年一共保障了多少户城乡低保？" and "1120户" in r["answer"]
    assert r["citations"] and r["citations"][0]["source"] == "000_4b3cc5d7d519229c.txt"
    assert r["citations"][0]["quote"] and r["citations"][0]["end"] > r["citations"][0]["start"]
    assert comment.get_attribute("value") == ""  # the comment went with the rating

    _ask(driver, "辽市镇目前全镇共有多少户低保户？")
    _wait_for(driver, "the masked-figure answer", lambda d: "遮盖" in _text(d, "#rag-chat") and len(_feedback_buttons(d, "Dislike")) >= 2)
    _feedback_buttons(driver, "Dislike")[-1].click()
    _wait_for(driver, "the 👎 thank-you line", lambda d: "已记录 👎" in _text(d, "#rag-feedback-status"))
    records = [json.loads(line) for line in app["feedback"].read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in records] == ["up", "down"] and records[1]["status"] == "redacted"
    assert records[1]["question"] == "辽市镇目前全镇共有多少户低保户？"


def _conversation_labels(drv):
    return [label for label in drv.find_elements(By.CSS_SELECTOR, "#rag-conversations label") if label.is_displayed()]


def _click_button(drv, text):
    """Click the visible button labelled ``text``, waiting for it: the page's text box can be ready a moment
    before the side panel's buttons are drawn (a loaded machine showed it)."""

    def shown(d):
        return next((b for b in d.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == text and b.is_displayed()), None)

    WebDriverWait(drv, TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(shown).click()


def test_conversations_are_kept_in_the_browser_and_reopen_after_a_reload(app, driver):  # noqa: F811 -- the fixture
    _open(driver, app["url"])
    _click_button(driver, "新对话")
    first = "永北圩所在的镇2022年一共保障了多少户城乡低保？"
    _ask(driver, first)
    _answered(driver, "1120户")
    _wait_for(driver, "the conversation in the list", lambda d: any(first[:20] in lb.text for lb in _conversation_labels(d)))

    driver.refresh()
    WebDriverWait(driver, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))
    _wait_for(driver, "the conversation listed after the reload", lambda d: any(first[:20] in lb.text for lb in _conversation_labels(d)))
    assert "1120户" not in _text(driver, "#rag-chat")  # a fresh page starts with an empty chat
    next(lb for lb in _conversation_labels(driver) if first[:20] in lb.text).click()
    _answered(driver, "1120户")
    assert first in _text(driver, "#rag-chat")
    _wait_for(driver, "the reopened answer's sources", lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-sources mark"))

    # the reopened answers are the conversation's history: a follow-up is read against them
    _ask(driver, "它开展志愿服务活动多少次？")
    _wait_for(driver, "the follow-up answer 150余次", lambda d: "150余次" in _text(d, "#rag-chat"))
    _wait_for(driver, "two questions in the entry", lambda d: any(first[:20] in lb.text and "2 问" in lb.text for lb in _conversation_labels(d)))

    # a new conversation is a second entry; the first is still there
    _click_button(driver, "新对话")
    _wait_for(driver, "an empty chat", lambda d: "1120户" not in _text(d, "#rag-chat"))
    _ask(driver, "辽市镇上半年引进了哪两个投资额亿元以上的项目？")
    _wait_for(driver, "the second conversation in the list",
              lambda d: any("辽市镇上半年" in lb.text for lb in _conversation_labels(d)))
    labels = [lb.text for lb in _conversation_labels(driver)]
    assert any(first[:20] in t for t in labels) and labels.index(next(t for t in labels if "辽市镇上半年" in t)) == 0


def test_saved_conversations_survive_a_server_restart(tmp_path, e5_embedder, driver):  # noqa: F811 -- the fixture
    """They were encrypted with a new random key in every server process: a restart lost them all."""
    from conftest import free_port

    port, question = free_port(), "永北圩所在的镇2022年一共保障了多少户城乡低保？"
    with running_app(tmp_path, NAMES[:1], e5_embedder, port=port) as (url, _):
        _open(driver, url)
        _click_button(driver, "新对话")
        _ask(driver, question)
        _wait_for(driver, "the conversation in the list", lambda d: any(question[:20] in lb.text for lb in _conversation_labels(d)))
    with running_app(tmp_path, NAMES[:1], e5_embedder, port=port) as (url, _):  # the same app, restarted
        _open(driver, url)
        _wait_for(driver, "the conversation listed after the restart",
                  lambda d: any(question[:20] in lb.text for lb in _conversation_labels(d)))
        next(lb for lb in _conversation_labels(driver) if question[:20] in lb.text).click()
        _answered(driver, "1120户")


def test_stop_cancels_the_answer_and_the_chat_keeps_working(app, driver):  # noqa: F811 -- the fixture
    _open(driver, app["url"])
    _click_button(driver, "新对话")
    # the answer is held until the stop is clicked, so it is surely in progress then (no race with its speed)
    app["hold"].clear()
    app["entered"].clear()
    try:
        _submit(driver, "哪些报告提到了落实“河长制”？")
        assert app["entered"].wait(TIMEOUT), "the answer never started"
        driver.find_element(By.CSS_SELECTOR, "#rag-stop").click()
    finally:
        app["hold"].set()
    import time

    time.sleep(5)  # the cancelled answer must not arrive late
    assert "共有" not in _text(driver, "#rag-chat") and "全面完成" not in _text(driver, "#rag-chat")
    _ask(driver, "永北圩所在的镇2022年一共保障了多少户城乡低保？")
    _answered(driver, "1120户")
