"""The page in a real browser: Debian's headless Chromium, driven by selenium 4, against a real
uvicorn server on 127.0.0.1 with the shipped default model.

CI installs Chromium (see the README's test block); on a machine without it these tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver")

SCRIPTS = Path(__file__).parents[1] / "scripts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)

SPUN = (
    "The minister enumerated newspapermen that the rumbles would continue next week, and the "
    "celebration ejects journalists outside the depository. Zoë’s café — “naïve” 😀 — stays."
)


def chromium_options():
    """The screenshot script's Chromium settings (one place for the flags that keep it
    offline)."""
    spec = importlib.util.spec_from_file_location("screenshot", SCRIPTS / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.chromium_options("1200,900")


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(options=chromium_options(), service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def default_restorer():
    from restore import Restorer

    return Restorer.from_pretrained("default", threads=1)


@pytest.fixture
def page(live_server, default_restorer, browser):
    from restore.serve import build_app

    server = live_server(build_app(default_restorer, model_name="default"))
    browser.get(server.url + "/")
    return server, browser


def api_restore(server, text, *, html=False):
    request = urllib.request.Request(
        server.url + "/v1/restore",
        data=json.dumps({"text": text, "html": html}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["results"][0]


def submit(driver, text, *, keyboard=False):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "input")
    box.clear()
    box.send_keys(text)
    if keyboard:
        box.send_keys(Keys.CONTROL, Keys.ENTER)
    else:
        driver.find_element(By.ID, "restore").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "Could not"))
    )
    assert driver.find_element(By.ID, "status").text.startswith("Done")


def shown_text(driver) -> str:
    """The output's text as restored (without the diff's struck-out spun words)."""
    return driver.execute_script(
        "const c = document.getElementById('output').cloneNode(true);"
        "c.querySelectorAll('del').forEach((d) => d.remove());"
        "return c.textContent;"
    )


def test_page_highlights_the_same_edits_as_the_api(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    server, driver = page
    want = api_restore(server, SPUN)
    assert want["edits"], "the default model should restore something in this paragraph"
    submit(driver, SPUN)

    marks = driver.find_elements(By.CSS_SELECTOR, "#output mark.edit")
    got = [
        (m.text, m.get_attribute("data-spun"), float(m.get_attribute("data-confidence")))
        for m in marks
    ]
    assert got == [(e["restored"], e["spun"], e["confidence"]) for e in want["edits"]]
    assert shown_text(driver) == want["text"]  # offsets held across é, “ ” and 😀
    score = driver.find_element(By.ID, "spin-score").text
    assert score == f"{100 * want['detection']['spin_score']:.0f}%"
    assert driver.find_element(By.ID, "edit-count").text == str(len(want["edits"]))

    # The diff toggle shows the spun words next to their restorations.
    spun = driver.find_elements(By.CSS_SELECTOR, "#output del.spun")
    assert [d.is_displayed() for d in spun] == [False] * len(want["edits"])
    driver.find_element(By.ID, "diff").click()
    assert [d.text for d in spun] == [e["spun"] for e in want["edits"]]
    assert all(d.is_displayed() for d in spun)

    # Keyboard: Tab from the diff toggle reaches the first edit, which shows its tooltip.
    for _ in range(6):
        active = driver.switch_to.active_element
        if active.tag_name == "mark":
            break
        active.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.tag_name == "mark"
    tooltip = driver.find_element(By.ID, "tooltip")
    assert tooltip.is_displayed()
    first = want["edits"][0]
    assert f'spun: "{first["spun"]}"' in tooltip.text
    assert f'restored: "{first["restored"]}"' in tooltip.text
    assert "confidence" in tooltip.text


def test_a_suggestion_is_shown_and_applied_only_when_clicked(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    server, driver = page
    text = "Notwithstanding the rain, the match went ahead."
    want = api_restore(server, text)
    assert want["text"] == text and want["edits"] == []
    [suggestion] = want["suggestions"]
    submit(driver, text)
    assert driver.find_element(By.ID, "suggestion-count").text == "1"
    [button] = driver.find_elements(By.CSS_SELECTOR, "#output button.suggestion")
    assert button.text == suggestion["spun"]
    assert button.get_attribute("aria-pressed") == "false"
    assert shown_text(driver) == text

    # What copy gives is what the page shows: the suggestion applied, then undone.
    driver.execute_script(
        "navigator.clipboard.writeText = (t) => { window.copied = t; return Promise.resolve(); };"
    )
    button.click()
    applied = suggestion["restored"] + text[suggestion["end"] :]
    assert button.text == suggestion["restored"]
    assert button.get_attribute("aria-pressed") == "true"
    assert shown_text(driver) == applied
    # (the word changes length under the pointer, which may hide the tooltip: read it anyway)
    assert "click to undo" in driver.find_element(By.ID, "tooltip").get_attribute("textContent")
    driver.find_element(By.ID, "copy").click()
    assert driver.execute_script("return window.copied;") == applied
    driver.find_element(By.ID, "diff").click()  # the diff view shows what it replaced
    [spun] = driver.find_elements(By.CSS_SELECTOR, "#output del.spun")
    assert spun.text == suggestion["spun"] and spun.is_displayed()
    button.send_keys(Keys.ENTER)  # a button: the keyboard toggles it too
    assert shown_text(driver) == text
    assert driver.find_elements(By.CSS_SELECTOR, "#output del.spun") == []
    driver.find_element(By.ID, "copy").click()
    assert driver.execute_script("return window.copied;") == text


def test_clicking_an_edit_steps_through_its_alternatives_and_back(page):
    from selenium.webdriver.common.by import By

    server, driver = page
    text = "The president ejects the visiting delegation at the airport with a handshake."
    want = api_restore(server, text)
    [edit] = want["edits"]
    assert edit["alternatives"], "the default model weighs more than one original here"
    submit(driver, text)
    [mark] = driver.find_elements(By.CSS_SELECTOR, "#output mark.edit")
    tooltip = driver.find_element(By.ID, "tooltip")
    mark.click()  # the first alternative in place; the tooltip names them all
    first = edit["alternatives"][0]
    assert f'also likely: "{first["restored"]}"' in tooltip.get_attribute("textContent")
    head, tail = text[: edit["start"]], text[edit["end"] :]
    assert mark.text == first["restored"]
    assert shown_text(driver) == head + first["restored"] + tail
    for alternative in edit["alternatives"][1:]:
        mark.click()
        assert mark.text == alternative["restored"]
    assert "click to undo" in tooltip.get_attribute("textContent")
    mark.click()  # after the last alternative: the spun word, and no struck-out copy of it
    assert mark.text == edit["spun"] and "kept" in mark.get_attribute("class")
    assert mark.get_attribute("aria-label") == f'"{edit["spun"]}" now reads "{edit["spun"]}"'
    assert shown_text(driver) == head + edit["spun"] + tail
    driver.find_element(By.ID, "diff").click()
    assert [d.text for d in driver.find_elements(By.CSS_SELECTOR, "#output del.spun")] == []
    mark.click()  # and round to the model's restoration
    assert mark.text == edit["restored"] and shown_text(driver) == want["text"]
    assert "kept" not in mark.get_attribute("class")
    assert [d.text for d in driver.find_elements(By.CSS_SELECTOR, "#output del.spun")] == [
        edit["spun"]
    ]


def test_script_in_the_input_shows_as_text_and_runs_nothing(page):
    from selenium.webdriver.common.by import By

    server, driver = page
    hostile = (
        "<script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'> "
        "The celebration ejects journalists."
    )
    submit(driver, hostile, keyboard=True)  # Ctrl+Enter
    assert driver.execute_script("return window.pwned") is None
    assert driver.find_elements(By.CSS_SELECTOR, "#output script, #output img") == []
    assert shown_text(driver) == api_restore(server, hostile)["text"]
    assert "<script>window.pwned = 1</script>" in shown_text(driver)


def test_empty_input_asks_for_text(page):
    from selenium.webdriver.common.by import By

    _, driver = page
    driver.find_element(By.ID, "restore").click()
    assert "Paste or open some text first" in driver.find_element(By.ID, "status").text


def test_opening_a_file_fills_the_text(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, driver = page
    path = tmp_path / "spun.txt"
    path.write_text(SPUN, encoding="utf-8")
    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "input").get_attribute("value") == SPUN
    )
    assert driver.find_element(By.ID, "status").text == "Opened spun.txt."


def restore_opened_page(server, driver, html: str) -> dict:
    """Click Restore on the page opened from a file; the API's restoration of the same page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, "restore").click()
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.ID, "status").text.startswith(("Done", "Could not"))
    )
    return api_restore(server, html, html=True)


def test_a_page_opened_from_a_file_keeps_its_markup(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, driver = page
    html = (
        '<p class="lead">The minister enumerated <a href="/x">newspapermen</a> that the rumbles '
        "would continue.</p><script>enumerated()</script>"
    )
    path = tmp_path / "spun.html"
    path.write_text(html, encoding="utf-8")
    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "input").get_attribute("value") == html
    )
    assert driver.find_element(By.ID, "html").is_selected()
    assert driver.find_element(By.ID, "status").text == "Opened spun.html as an HTML page."
    want = restore_opened_page(server, driver, html)
    assert shown_text(driver) == want["text"]
    assert "<script>enumerated()</script>" in want["text"]  # the script is not read
    marks = driver.find_elements(By.CSS_SELECTOR, "#output mark.edit")
    assert [m.get_attribute("data-spun") for m in marks] == [e["spun"] for e in want["edits"]]
    assert [e["spun"] for e in want["edits"]] == ["enumerated", "newspapermen", "rumbles"]


def downloaded(driver) -> tuple[bytes, str]:
    """Click Download and return the file's bytes and type, caught as its blob is made."""
    from selenium.webdriver.common.by import By

    driver.execute_script(
        "window.caught = [];"
        "const made = URL.createObjectURL;"
        "URL.createObjectURL = (blob) => { window.caught.push(blob); return made(blob); };"
    )
    driver.find_element(By.ID, "download").click()
    data, kind = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const blob = window.caught[0];"
        "blob.arrayBuffer().then((b) => done([Array.from(new Uint8Array(b)), blob.type]));"
    )
    return bytes(data), kind


def test_a_page_in_its_own_encoding_is_read_and_written_back_in_it(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from restore.markup import encode_page

    server, driver = page
    html = (
        '<html><head><meta charset="windows-1252"></head><body><p>The minister enumerated '
        "newspapermen at the café that the “rumbles” would continue.</p></body></html>"
    )
    path = tmp_path / "spun.html"
    path.write_bytes(html.encode("cp1252"))
    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "input").get_attribute("value") == html
    )
    assert driver.find_element(By.ID, "status").text == (
        "Opened spun.html as an HTML page (windows-1252)."
    )
    want = restore_opened_page(server, driver, html)
    assert want["edits"]
    data, kind = downloaded(driver)
    assert kind == "text/html;charset=windows-1252"
    assert data == encode_page(want["text"], "cp1252")


def test_a_text_file_that_is_not_utf8_is_read_without_losing_a_character(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, driver = page
    text = "The café’s “celebration” ejects journalists."
    path = tmp_path / "spun.txt"
    path.write_bytes(text.encode("cp1252"))
    driver.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "input").get_attribute("value") == text
    )
    assert driver.find_element(By.ID, "status").text == "Opened spun.txt (windows-1252)."
    submit(driver, text)
    data, kind = downloaded(driver)
    assert kind == "text/plain;charset=windows-1252"
    assert data.decode("cp1252") == shown_text(driver)


def test_api_docs_page_lists_the_endpoints(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server, driver = page
    driver.get(server.url + "/docs")
    WebDriverWait(driver, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "h2")) > 2)
    titles = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h2")]
    assert {"POST /v1/restore", "POST /v1/detect", "GET /healthz"} <= set(titles)


def test_no_external_requests_in_the_page():
    from importlib import resources

    from restore.serve import STATIC_FILES

    static = resources.files("restore").joinpath("static")
    assert sorted(STATIC_FILES) == sorted(p.name for p in static.iterdir())
    for name in STATIC_FILES:
        text = static.joinpath(name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
