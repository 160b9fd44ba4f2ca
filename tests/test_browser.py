"""End-to-end test of the Gradio chat in a real headless Chromium (Debian's chromium + chromedriver).

Starts the real app (real model, real index over a copy of the bundled reports) on a free loopback port,
asks a question, a follow-up and an unanswerable question through the page, checks the answer, the
citation marker, the highlighted sources panel and the library tab, and takes a screenshot (docs/screenshot.png
with RAG_UPDATE_SCREENSHOT=1) for
the README. Install the browser with ``bash scripts/install_browser.sh``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, REPORTS_DIR, running_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# the README's screenshot is refreshed only on request (RAG_UPDATE_SCREENSHOT=1): a test run leaves the tree clean
README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshot.png"
TIMEOUT = 60
# gr.Dataframe's container: its rows live in a virtualized <table> below a separate header <table>
TABLE = ".table-wrap"

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
def app_url(tmp_path_factory, e5_embedder):
    """The real app over a copy of the bundled reports, served on a free loopback port."""
    names = sorted(p.name for p in REPORTS_DIR.glob("*.txt"))
    with running_app(tmp_path_factory.mktemp("browser-app"), names, e5_embedder) as (url, _):
        yield url


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--window-size=1280,1400",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.binary_location = str(CHROMIUM)
    # An explicit driver path: Selenium Manager never tries to download a browser or a driver.
    drv = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield drv
    finally:
        drv.quit()


def _text(drv, css: str) -> str:
    try:
        return drv.find_element(By.CSS_SELECTOR, css).text
    except StaleElementReferenceException:
        return ""


def _wait_for(drv, what: str, condition) -> None:
    try:
        WebDriverWait(drv, TIMEOUT, poll_frequency=0.25, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        chat = _text(drv, "#rag-chat")
        srcs = _text(drv, "#rag-sources")
        pytest.fail(f"timed out after {TIMEOUT}s waiting for {what}\n--- chat ---\n{chat}\n--- sources ---\n{srcs}")


def _ask(drv, question: str) -> None:
    box = drv.find_element(By.CSS_SELECTOR, "#rag-question textarea")
    WebDriverWait(drv, TIMEOUT).until(lambda d: box.is_enabled())
    box.clear()
    box.send_keys(question)
    drv.find_element(By.CSS_SELECTOR, "#rag-send").click()


def test_chat_answers_with_sources_in_a_real_browser(app_url, driver, tmp_path):
    import os

    SCREENSHOT = README_SCREENSHOT if os.environ.get("RAG_UPDATE_SCREENSHOT") else tmp_path / "screenshot.png"
    driver.get(app_url)
    WebDriverWait(driver, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))

    # 1. A question with a resolved entity: the answer, its marker, and the highlighted source.
    _ask(driver, "永北圩所在的镇2022年一共保障了多少户城乡低保？")
    _wait_for(driver, "the answer 1120户 in the chat", lambda d: "1120户" in _text(d, "#rag-chat"))
    _wait_for(
        driver,
        "the sources panel (社会保障 + a <mark>)",
        lambda d: "社会保障" in _text(d, "#rag-sources") and d.find_elements(By.CSS_SELECTOR, "#rag-sources mark"),
    )
    # the streamed plain text is replaced by the rendered message: wait for the marker link
    _wait_for(
        driver,
        "the citation marker [1] in the chat",
        lambda d: any(a.text.strip() == "[1]" for a in d.find_elements(By.CSS_SELECTOR, "#rag-chat a")),
    )
    assert "[1]" in _text(driver, "#rag-chat")
    marks = driver.find_elements(By.CSS_SELECTOR, "#rag-sources mark")
    assert any(m.text.strip() for m in marks), "the highlighted quote is empty"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0);")
    assert driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.exists() and SCREENSHOT.stat().st_size > 20_000, SCREENSHOT.stat().st_size

    # 2. A follow-up read against the first answer.
    _ask(driver, "它开展志愿服务活动多少次？")
    _wait_for(driver, "the follow-up answer 150余次", lambda d: "150余次" in _text(d, "#rag-chat"))

    # 3. A question the reports cannot answer: the not-found notice, no invented town.
    _ask(driver, "这些报告里哪个镇建成了地铁站？")
    _wait_for(driver, "the not-found notice 没有找到", lambda d: "没有找到" in _text(d, "#rag-chat"))

    # 4. The library tab lists the reports.
    tab = next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']") if "报告库" in b.text)
    tab.click()
    _wait_for(
        driver,
        "the library table listing 000_4b3cc5d7d519229c.txt",
        lambda d: any("000_4b3cc5d7d519229c.txt" in t.text for t in d.find_elements(By.CSS_SELECTOR, TABLE) if t.is_displayed()),
    )
    table = next(t.text for t in driver.find_elements(By.CSS_SELECTOR, TABLE) if "000_4b3cc5d7d519229c.txt" in t.text)
    assert all(f.name in table for f in REPORTS_DIR.glob("*.txt")), table
