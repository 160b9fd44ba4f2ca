"""End-to-end tests of the Gradio chat in a real headless Chromium (Debian's chromium + chromedriver).

One real app (real model, real index over a copy of the bundled reports) on a free loopback port, and one
browser per look: desktop light, desktop dark (the OS prefers a dark theme), a 390 px phone. The tests run
in file order and share the conversation of each browser. Every test saves the screenshot it checks under
pytest's tmp dir; with RAG_UPDATE_SCREENSHOT=1 the README's screenshots in docs/ are refreshed too.
Install the browser with ``bash scripts/install_browser.sh``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, REPORTS_DIR, running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DOCS = PROJECT_ROOT / "docs"
TIMEOUT = 60
# gr.Dataframe's container: its rows live in a virtualized <table> below a separate header <table>
TABLE = ".table-wrap"
MASKED_QUESTION = "辽市镇目前全镇共有多少户低保户？"  # the report prints the figures as “*”
MASKED_TEXT = "截至目前全镇现共有低保户*户*人"
LIAOSHI = "辽市镇 · 2022年上半年工作总结"  # the readable name of 001_f805fc5d83216290.txt

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium + chromium-driver): run `bash scripts/install_browser.sh`",
        allow_module_level=True,
    )

pytest.importorskip("selenium", reason="selenium is not installed (it is in the `dev` extra)")
pytest.importorskip("gradio", reason="gradio is not installed (it is in the `ui` extra)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def app(tmp_path_factory, e5_embedder):
    """The real app over a copy of the bundled reports: (url, library folder)."""
    names = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))
    with running_app(tmp_path_factory.mktemp("browser-app"), names, e5_embedder) as served:
        yield served


@pytest.fixture(scope="module")
def app_url(app):
    return app[0]


def _browser(profile: Path, width: int, height: int, dark: bool = False):
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    # An explicit driver path: Selenium Manager never tries to download a browser or a driver.
    drv = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    if width < 500:  # a window cannot be that narrow on every platform: emulate the phone's viewport
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    if dark:  # what a user whose OS prefers a dark theme gets (Gradio follows the OS unless ?__theme= says otherwise)
        drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    return drv


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    drv = _browser(tmp_path_factory.mktemp("chromium-light"), 1280, 1400)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def dark_driver(tmp_path_factory):
    drv = _browser(tmp_path_factory.mktemp("chromium-dark"), 1280, 1400, dark=True)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    drv = _browser(tmp_path_factory.mktemp("chromium-phone"), 390, 844)
    yield drv
    drv.quit()


def _text(drv, css: str) -> str:
    try:
        return drv.find_element(By.CSS_SELECTOR, css).text
    except (StaleElementReferenceException, Exception):
        return ""


def _wait_for(drv, what: str, condition, timeout: float = TIMEOUT) -> None:
    try:
        WebDriverWait(drv, timeout, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out after {timeout}s waiting for {what}\n--- chat ---\n{_text(drv, '#rag-chat')}")


def _open(drv, url: str) -> None:
    drv.get(url)
    _wait_for(drv, "the question box", lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))


def _bot_messages(drv):
    return drv.find_elements(By.CSS_SELECTOR, "#rag-chat [data-testid='bot']")


def _submit(drv, question: str) -> None:
    """Type the question and send it; returns at once."""
    box = drv.find_element(By.CSS_SELECTOR, "#rag-question textarea")
    WebDriverWait(drv, TIMEOUT).until(lambda d: box.is_enabled())
    box.clear()
    box.send_keys(question)
    drv.find_element(By.CSS_SELECTOR, "#rag-send").click()


def _ask(drv, question: str) -> None:
    """Ask through the page and wait for the rendered final message (its sources block, or the not-found notice)."""
    before = len(_bot_messages(drv))
    _submit(drv, question)

    def final(d):
        msgs = _bot_messages(d)
        if len(msgs) <= before:
            return False
        last = msgs[-1]
        done = ".rag-sources, .rag-status, sup a"  # what only the rendered message has, not the streamed text
        return bool(last.find_elements(By.CSS_SELECTOR, done))

    _wait_for(drv, f"the answer to {question}", final)


def _screenshot(drv, tmp_path: Path, name: str, readme: bool = False) -> Path:
    """Save the page; into docs/ as well for the README when RAG_UPDATE_SCREENSHOT=1 and ``readme``."""
    path = tmp_path / name
    assert drv.save_screenshot(str(path)) and path.stat().st_size > 10_000
    if readme and os.environ.get("RAG_UPDATE_SCREENSHOT"):
        DOCS.mkdir(exist_ok=True)
        assert drv.save_screenshot(str(DOCS / name))
    return path


def _options(drv, css: str):
    """Open the dropdown ``css`` and return its options (the list appears a moment after the click)."""
    found = []

    def opened(d):
        field = d.find_element(By.CSS_SELECTOR, f"{css} input")
        if not found:
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
        field.click()
        # all options, also those scrolled out of the list's view (only an open dropdown has such a list)
        found[:] = d.find_elements(By.CSS_SELECTOR, "ul.options li, ul[role='listbox'] li")
        return bool(found)

    _wait_for(drv, f"the options of {css}", opened)
    return found


def _tab(drv, label: str) -> None:
    tab = next(b for b in drv.find_elements(By.CSS_SELECTOR, "button[role='tab']") if label in b.text)
    tab.click()


# -- 1. report text shown as printed ------------------------------------------------------------------------

def test_a_masked_figure_reads_as_printed(app_url, driver, tmp_path):
    _open(driver, app_url)
    _ask(driver, MASKED_QUESTION)
    message = _bot_messages(driver)[-1]
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", message)
    _screenshot(driver, tmp_path, "screenshot-masked.png", readme=True)
    text = message.text
    assert MASKED_TEXT in text, text  # not “低保户户人” with the stars eaten as italics
    assert not message.find_elements(By.CSS_SELECTOR, "em, strong:not(.rag-status)"), message.get_attribute("innerHTML")
    assert text.count("以“*”遮盖") == 1, text  # the masking notice once, with its star


# -- 2. each answer carries its own sources -----------------------------------------------------------------

def test_each_answer_keeps_its_own_sources(driver, tmp_path):
    _ask(driver, "永北圩所在的镇2022年一共保障了多少户城乡低保？")
    first, second = _bot_messages(driver)[-2:]
    assert "1120户" in second.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", second)
    _screenshot(driver, tmp_path, "screenshot.png", readme=True)
    for message, quote in ((first, MASKED_TEXT), (second, "1120户1774人")):
        sources = message.find_elements(By.CSS_SELECTOR, "details.rag-sources")
        assert len(sources) == 1, message.get_attribute("innerHTML")
        link = next(a for a in message.find_elements(By.CSS_SELECTOR, "a") if a.text.strip() == "[1]")
        target = link.get_attribute("href").split("#")[1]
        # the marker points into this very message, at a source whose highlighted quote is its tooltip
        cited = message.find_elements(By.ID, target)
        assert cited, (target, message.get_attribute("innerHTML"))
        marks = cited[0].find_elements(By.CSS_SELECTOR, "mark")
        assert marks and quote in marks[0].get_attribute("textContent"), cited[0].get_attribute("innerHTML")
        assert quote in link.get_attribute("title")
    html_first = first.get_attribute("innerHTML")
    assert first.find_elements(By.CSS_SELECTOR, ".rag-rank") and first.find_elements(By.CSS_SELECTOR, ".rag-bar")
    assert "检索得分" not in first.text and not re.search(r"\d\.\d{3}", first.text), html_first
    assert "（四）紧盯“重点任务”" in first.find_element(By.CSS_SELECTOR, ".rag-section").get_attribute("textContent")
    assert not driver.find_elements(By.CSS_SELECTOR, "#rag-sources .rag-source")  # no shared panel left
    # the older answer's marker still opens its own sources
    link = next(a for a in first.find_elements(By.CSS_SELECTOR, "a") if a.text.strip() == "[1]")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    link.click()
    target = first.find_element(By.ID, link.get_attribute("href").split("#")[1])
    _wait_for(driver, "the cited source shown", lambda d: target.is_displayed())
    _screenshot(driver, tmp_path, "old-answer-sources.png")


def test_on_a_phone_the_sources_follow_their_answer(app_url, phone, tmp_path):
    _open(phone, app_url)
    _ask(phone, MASKED_QUESTION)
    message = _bot_messages(phone)[-1]
    sources = message.find_element(By.CSS_SELECTOR, ".rag-sources")
    examples = phone.find_element(By.CSS_SELECTOR, "#rag-examples")
    top = lambda el: phone.execute_script("return arguments[0].getBoundingClientRect().top + window.scrollY;", el)  # noqa: E731
    assert top(message) < top(sources) < top(examples)
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 400  # nothing wider than the phone
    phone.execute_script("arguments[0].scrollIntoView({block: 'start'});", sources)
    _screenshot(phone, tmp_path, "phone-sources.png")


# -- 3. readable in light and dark --------------------------------------------------------------------------

CONTRAST_JS = """
function rgba(s) { const m = s.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; }
function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); }
function background(el) {  // the first opaque background behind el, blending translucent layers on the way
  const layers = [];
  for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
  let out = [255, 255, 255];
  for (const c of layers.reverse()) out = out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]);
  return out;
}
const el = arguments[0], fg = lum(rgba(getComputedStyle(el).color)), bg = lum(background(el));
return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
"""


def _contrasts(drv) -> dict[str, float]:
    message = _bot_messages(drv)[-1]
    out = {}
    for what, css in (("passage", ".rag-passage"), ("section", ".rag-section"), ("head", ".rag-head"), ("highlight", ".rag-passage mark")):
        el = message.find_element(By.CSS_SELECTOR, css)
        out[what] = drv.execute_script(CONTRAST_JS, el)
    return out


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_sources_are_readable_in_light_and_dark(theme, app_url, driver, dark_driver, tmp_path):
    drv = dark_driver if theme == "dark" else driver
    if theme == "dark":
        _open(drv, app_url)
        assert drv.execute_script("return document.body.classList.contains('dark')")
        _ask(drv, MASKED_QUESTION)
    message = _bot_messages(drv)[-1]
    for details in message.find_elements(By.CSS_SELECTOR, "details"):
        drv.execute_script("arguments[0].open = true;", details)
    drv.execute_script("arguments[0].scrollIntoView({block: 'start'});", message.find_element(By.CSS_SELECTOR, ".rag-sources"))
    _screenshot(drv, tmp_path, f"sources-{theme}.png")
    contrasts = _contrasts(drv)
    assert all(c >= 4.5 for c in contrasts.values()), contrasts


# -- 4. the report viewer -----------------------------------------------------------------------------------

def test_opening_a_citation_shows_and_scrolls_to_the_quote(driver, tmp_path):
    # the light browser's conversation: the masked answer (001), then the 1120户 answer (000)
    options = _options(driver, "#rag-cite-pick")
    masked = next(o for o in options if "第1问" in o.get_attribute("textContent") and "上半年" in o.get_attribute("textContent"))
    masked.click()
    driver.find_element(By.CSS_SELECTOR, "#rag-open").click()
    _wait_for(driver, "the viewer with the quote", lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-viewer mark"))
    viewer = driver.find_element(By.CSS_SELECTOR, "#rag-viewer")
    assert "2022年上半年工作总结" in viewer.text and "（四）紧盯“重点任务”" in viewer.text, viewer.text
    # the report picker names the report shown, not the one picked before
    shown = driver.find_element(By.CSS_SELECTOR, "#rag-doc-pick input").get_attribute("value")
    assert "001_f805fc5d83216290" in shown or LIAOSHI in shown, shown
    mark = viewer.find_element(By.CSS_SELECTOR, "mark")
    assert MASKED_TEXT in mark.text

    def in_view(d):
        return d.execute_script(
            "const m = arguments[0], box = m.closest('.rag-doc').getBoundingClientRect(), r = m.getBoundingClientRect();"
            "return r.top >= box.top && r.bottom <= box.bottom + 1 && r.top < window.innerHeight && r.bottom > 0;", mark)

    _wait_for(driver, "the highlighted quote scrolled into view", in_view)
    _screenshot(driver, tmp_path, "viewer.png")


# -- 5. the library: current after a reload, a delete that asks first -----------------------------------------

def test_library_is_current_after_reload_and_delete_asks_first(app_url, app, driver, tmp_path):
    from gradio_client import Client, handle_file

    report = tmp_path / "另一个客户端上传的报告.txt"
    report.write_text("城南镇2023年工作总结\n一、交通\n城南镇全年新修村道8公里。", encoding="utf-8")
    client = Client(app_url, verbose=False)
    client.predict([handle_file(str(report))], api_name="/ingest")
    params = client.view_api(return_format="dict")["named_endpoints"]["/delete"]["parameters"]
    assert params[0].get("parameter_default") in (None, ""), params  # the API shows no report as its default

    _open(driver, app_url)  # a reload
    _tab(driver, "报告库")
    _wait_for(driver, "the new report in the table", lambda d: report.name in _text(d, "#rag-library"))
    assert driver.find_element(By.CSS_SELECTOR, "#rag-delete-pick input").get_attribute("value") == ""
    _tab(driver, "原文")
    options = [o.get_attribute("textContent").strip() for o in _options(driver, "#rag-doc-pick")]
    assert any("城南镇" in o or report.name in o for o in options), options
    driver.find_element(By.TAG_NAME, "body").click()

    _tab(driver, "报告库")
    option = next(o for o in _options(driver, "#rag-delete-pick") if "城南镇" in o.get_attribute("textContent"))
    option.click()
    driver.find_element(By.CSS_SELECTOR, "#rag-delete").click()
    _wait_for(driver, "the confirmation", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#rag-delete-confirm") if b.is_displayed()])
    assert (app[1] / report.name).exists()  # one click deletes nothing
    driver.find_element(By.CSS_SELECTOR, "#rag-delete-confirm").click()
    _wait_for(driver, "the deletion", lambda d: "已删除" in _text(d, "#rag-library-status"))
    assert not (app[1] / report.name).exists()
    _wait_for(driver, "the table without it", lambda d: report.name not in _text(d, "#rag-library"))


# -- 6. readable report names -------------------------------------------------------------------------------

def test_reports_have_readable_names_everywhere(app_url, driver, tmp_path):
    _open(driver, app_url)
    _ask(driver, MASKED_QUESTION)
    assert LIAOSHI in _bot_messages(driver)[-1].find_element(By.CSS_SELECTOR, ".rag-report").text
    assert any(LIAOSHI in o.get_attribute("textContent") for o in _options(driver, "#rag-cite-pick"))
    driver.find_element(By.TAG_NAME, "body").click()

    _tab(driver, "报告库")
    _wait_for(driver, "the readable names in the table", lambda d: LIAOSHI in _text(d, "#rag-library"))
    _screenshot(driver, tmp_path, "screenshot-library.png", readme=True)
    _tab(driver, "原文")
    elements = _options(driver, "#rag-doc-pick")
    options = [o.get_attribute("textContent").strip() for o in elements]
    assert any(LIAOSHI in o for o in options), options
    assert not any(re.fullmatch(r"\d{3}_[0-9a-f]{16}(\.txt)?", o.strip()) for o in options), options
    assert len(set(options)) == len(options) == 5, options  # two reports with the same title are told apart
    next(o for o in elements if LIAOSHI in o.get_attribute("textContent")).click()
    _wait_for(driver, "the report in the viewer", lambda d: LIAOSHI in _text(d, "#rag-viewer"))


# -- 7. one language per page -------------------------------------------------------------------------------

def test_uploads_say_what_happened_in_the_page_language(app_url, app, phone, tmp_path):
    _open(phone, app_url)
    examples = _text(phone, "#rag-examples")
    assert examples and not any(line.startswith("那") for line in examples.splitlines())
    _tab(phone, "报告库")
    garbled = tmp_path / "乱码.txt"
    garbled.write_bytes(bytes(range(256)) * 20)
    phone.find_element(By.CSS_SELECTOR, "#rag-upload input[type=file]").send_keys(str(garbled))
    _wait_for(phone, "the file in the upload box", lambda d: "乱码" in _text(d, "#rag-upload"))
    phone.find_element(By.CSS_SELECTOR, "#rag-add").click()
    _wait_for(phone, "the refusal", lambda d: "乱码.txt" in _text(d, "#rag-library-status"))
    status = _text(phone, "#rag-library-status")
    assert "新增 0 份" not in status and "无法读取" in status and "read" not in status, status

    _open(phone, app_url + "?lang=en")
    # the page's language is set by its load event, a round trip to the server: on a busy machine the Chinese
    # page shows first
    _wait_for(phone, "the English page", lambda d: re.search(r"\b(Ask|Send)\b", d.find_element(By.TAG_NAME, "body").text))
    _tab(phone, "Library")
    again = tmp_path / "001_f805fc5d83216290.txt"
    again.write_bytes((REPORTS_DIR / "001_f805fc5d83216290.txt").read_bytes() + "\n补记。".encode())
    empty_box = _text(phone, "#rag-upload")
    phone.find_element(By.CSS_SELECTOR, "#rag-upload input[type=file]").send_keys(str(again))
    # a long name is shortened in a phone's upload box: wait for the box to list a file at all
    _wait_for(phone, "the file in the upload box", lambda d: _text(d, "#rag-upload") not in ("", empty_box))
    phone.find_element(By.CSS_SELECTOR, "#rag-add").click()
    # the replaced report is embedded again before the status shows
    _wait_for(phone, "the replacement", lambda d: "Replaced" in _text(d, "#rag-library-status"), timeout=3 * TIMEOUT)
    status = _text(phone, "#rag-library-status")
    assert again.name in status and not re.search(r"[\u4e00-\u9fff]", status.replace(again.name, "")), status
    _screenshot(phone, tmp_path, "phone-english-library.png")


# -- 8. the not-found answer, for the README ------------------------------------------------------------------

def test_a_question_the_reports_cannot_answer(app_url, driver, tmp_path):
    _open(driver, app_url)
    _ask(driver, "这些报告里哪个镇建成了地铁站？")
    message = _bot_messages(driver)[-1]
    assert "没有找到" in message.text and message.text.count("没有找到") == 1
    driver.execute_script("window.scrollTo(0, 0);")
    _screenshot(driver, tmp_path, "screenshot-not-found.png", readme=True)
