"""``tracer serve`` in a browser: Debian's chromium driven through chromedriver (selenium).

A student opens their link and, with the keyboard alone (Tab to a field, type, Enter), enters a
right answer, a carried one and a wrong one; the page's script marks each at once and shows the
three verdicts with their reasons. The instructor's page shows them, and its marks.csv — fetched
by the browser from the page's link — equals ``tracer grade`` on the answers.csv the page
exports. axe-core (scripts/install-axe.sh) finds no serious or critical violation on the pages.
Screenshots go to artifacts/serve/ (not committed), for a person to look at.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import serve_support
from serve_support import ServerProcess, free_port
from tracer.cli import cli
from tracer.serve.storage import sqlite_url

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "serve"
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = os.environ.get("AXE_CORE_JS") or next(iter(sorted(glob.glob(str(ROOT / ".cache" / "axe-core" / "*" / "axe.min.js")), reverse=True)), None)

# under CI (scripts/setup.sh installs chromium, chromedriver and axe-core) a missing one is red, never skipped
MISSING = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER), ("axe-core", AXE)) if not found]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bool(MISSING) and not os.environ.get("CI"),
                                 reason=f"{', '.join(MISSING)} not installed (scripts/install-browser.sh, scripts/install-axe.sh)")]

ROSTER = "id,name\nana,Ana Lima\nben,Ben Okafor\n"


@pytest.fixture(scope="module")
def server(serve_quiz, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-browser")
    roster = folder / "class.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    process = ServerProcess(serve_quiz, sqlite_url(folder / "serve.sqlite3"), roster, folder / "links.csv", free_port()).start()
    links = {row["id"]: row["link"] for row in csv.DictReader((folder / "links.csv").open(encoding="utf-8"))}
    instructor = (folder / "instructor-link.txt").read_text().strip()
    yield process, links, instructor
    process.stop()


@pytest.fixture(scope="module")
def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1600",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # the given driver: nothing downloaded
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def tab_to(driver, element_id: str, limit: int = 80) -> list[str]:
    """Press Tab until ``element_id`` has the focus; the ids (or tags) passed on the way."""
    passed = []
    for _ in range(limit):
        active = driver.switch_to.active_element
        name = active.get_attribute("id") or active.tag_name
        if name == element_id:
            return passed
        passed.append(name)
        active.send_keys(Keys.TAB)
    raise AssertionError(f"{element_id} not reached by the keyboard; passed {passed}")


def verdict(driver, question: int, kind: str) -> str:
    WebDriverWait(driver, 30).until(lambda d: f"verdict-{kind}" in d.find_element(By.ID, f"v{question}").get_attribute("class"))
    return driver.find_element(By.ID, f"v{question}").text


def axe_violations(driver) -> list[str]:
    driver.execute_script(Path(AXE).read_text(encoding="utf-8"))
    result = driver.execute_async_script("const done = arguments[arguments.length - 1]; axe.run(document).then(r => done(r.violations));")
    return [f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['html'][:120]}"
            for v in result if v["impact"] in ("serious", "critical")]


def screenshot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(max(height, 800), 6000))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    driver.set_window_size(1200, 1600)


def test_a_student_enters_right_carried_and_wrong_answers_with_the_keyboard(server, browser, serve_marking):
    _, links, _ = server
    given = serve_support.answers(serve_marking, 1)  # ana: variant 1
    browser.get(links["ana"])
    assert "variant 1" in browser.find_element(By.CSS_SELECTOR, "header").text
    browser.find_element(By.TAG_NAME, "body").click()
    tab_to(browser, "a1")
    browser.switch_to.active_element.send_keys(given.doubled, Keys.ENTER)
    wrong = verdict(browser, 1, "wrong")
    assert wrong.startswith("✗ wrong The ½ of the squared error is left out (twice the value); its inputs give")
    assert browser.switch_to.active_element.get_attribute("id") == "a1"  # the focus stays where the student is
    tab_to(browser, "a2")
    browser.switch_to.active_element.send_keys(given.right[1], Keys.ENTER)
    assert verdict(browser, 2, "right").startswith("✓ right")
    tab_to(browser, "a3")
    browser.switch_to.active_element.send_keys(given.carried, Keys.ENTER)
    carried = verdict(browser, 3, "carried")
    assert carried == (f"→ carried Wrong only because of your answer to question 1 ({given.doubled}), which is wrong: worked from "
                       "your own numbers, this step is right (the error is carried forward).")
    assert browser.find_element(By.CSS_SELECTOR, "#total .total-value").text == "1.5"
    button = browser.find_element(By.CSS_SELECTOR, "#q1 form.hint button")  # "show the next step", by the keyboard too
    tab_to(browser, "a1")
    browser.switch_to.active_element.send_keys(Keys.TAB, Keys.TAB)
    assert browser.switch_to.active_element == button
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#q1 .hints .eq"))
    tab_to(browser, "a2")
    outline = browser.execute_script("const e = document.activeElement; return [e.matches(':focus-visible'), getComputedStyle(e).outlineStyle];")
    assert outline == [True, "solid"]  # where the keyboard's focus is, is seen
    screenshot(browser, "student")
    assert axe_violations(browser) == []


def test_the_instructor_sees_them_and_the_exported_csv_is_tracer_grades(server, browser, serve_quiz, tmp_path):
    _, links, instructor = server
    browser.get(instructor)
    table = browser.find_element(By.CSS_SELECTOR, "table.class").text
    row = next(line for line in table.splitlines() if line.startswith("ana"))
    assert "✗ wrong" in row and "✓ right" in row and "→ carried" in row and "1.5 / 4" in row
    assert "the ½ of the squared error is left out (twice the value)" in browser.find_element(By.CSS_SELECTOR, "table.tally").text
    fetch = "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);"
    marks = browser.execute_async_script(fetch, browser.find_element(By.LINK_TEXT, "marks.csv").get_attribute("href"))
    answers = browser.execute_async_script(fetch, browser.find_element(By.LINK_TEXT, "answers.csv").get_attribute("href"))
    (tmp_path / "answers.csv").write_text(answers, encoding="utf-8")
    result = CliRunner().invoke(cli, ["grade", str(serve_quiz), str(tmp_path / "answers.csv"), "-o", str(tmp_path / "graded")])
    assert result.exit_code == 0, result.output
    assert marks == (tmp_path / "graded" / "marks.csv").read_text(encoding="utf-8")
    assert list(csv.DictReader(io.StringIO(marks)))[0]["q3 verdict"] == "carried"
    screenshot(browser, "instructor")
    assert axe_violations(browser) == []
    browser.find_element(By.LINK_TEXT, "variant 1").click()
    assert "Worked solution" in browser.title or "variant 1" in browser.title
    screenshot(browser, "variant")
    assert axe_violations(browser) == []


def test_the_pages_pass_axe_core(server, browser):
    """The untouched student page (no answer yet) and the front page."""
    process, links, _ = server
    browser.get(links["ben"])
    screenshot(browser, "student-new")
    assert axe_violations(browser) == []
    browser.get(process.base + "/")
    assert axe_violations(browser) == []


def test_an_exam_is_not_submitted_by_enter_and_asks_before_its_one_submission(serve_quiz, serve_marking, browser, tmp_path):
    roster = tmp_path / "class.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    process = ServerProcess(serve_quiz, sqlite_url(tmp_path / "exam.sqlite3"), roster, tmp_path / "links.csv", free_port(),
                            "--mode", "exam").start()
    try:
        links = {row["id"]: row["link"] for row in csv.DictReader((tmp_path / "links.csv").open(encoding="utf-8"))}
        instructor = (tmp_path / "instructor-link.txt").read_text().strip()
        browser.get(instructor)
        browser.find_element(By.ID, "minutes").send_keys("30")
        browser.find_element(By.CSS_SELECTOR, "button[value=open]").click()
        WebDriverWait(browser, 30).until(lambda d: "The exam is open." in d.page_source)
        given = serve_support.answers(serve_marking, 1)
        browser.get(links["ana"])
        field = browser.find_element(By.ID, "a1")
        field.send_keys(given.doubled, Keys.ENTER)  # Enter in a field: no submission of the whole exam
        assert browser.find_elements(By.CSS_SELECTOR, "form.exam") and "Submitted at" not in browser.page_source
        for question, text in ((2, given.right[1]), (3, given.carried)):
            browser.find_element(By.ID, f"a{question}").send_keys(text)
        assert axe_violations(browser) == []
        browser.find_element(By.XPATH, "//button[text()='Submit my answers']").click()
        alert = WebDriverWait(browser, 10).until(lambda d: d.switch_to.alert)
        assert alert.text == "Submit your answers? An exam takes one submission. 1 question(s) have no answer."
        alert.accept()
        WebDriverWait(browser, 30).until(lambda d: "Submitted at" in d.page_source)
        assert "✗ wrong" not in browser.page_source and given.carried in browser.page_source
        screenshot(browser, "exam-submitted")
    finally:
        process.stop()
