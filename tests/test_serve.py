"""``tracer serve``: a class's quiz as web pages, each answer marked as ``tracer grade`` marks it.

The application runs in process (Starlette's test client) on an SQLite file; the quiz is three
variants of Mazur's network with open answers (tests/serve_support.py). A student enters the
three kinds of answer a teacher tells apart — right, wrong (the ½ of the squared error left out
of ∂E/∂w5: twice the gradient), carried (w5⁺ computed right from that wrong gradient) — and
sees each verdict with its reason; the instructor's export is ``tracer grade``'s marks.csv of
the same answers. Then the guards: every route with another student's credentials and with
none, CSRF, request size, answers per minute, errors, headers, tokens in logs; the exam mode.
The browser tests are in test_serve_browser.py, the database's in test_serve_storage.py.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import socket
import stat
import warnings
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.routing import Route

with warnings.catch_warnings():  # Starlette 1.x asks for httpx2 under its test client; httpx (which every Starlette supports) works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

import serve_support
from conftest import K
from tracer.cli import cli
from tracer.serve import tokens
from tracer.serve.app import Server, Settings, create_app
from tracer.serve.roster import read_roster
from tracer.serve.storage import sqlite_url
from tracer.spec import SpecError

ROSTER = "id,name\nana,Ana Lima\nben,Ben Okafor\ncho,Cho Min\n"  # variants 1, 2, 3 in turn


def make_server(quiz: Path, marking, tmp_path: Path, roster: str | None = ROSTER, **options) -> Server:
    path = None
    if roster is not None:
        path = tmp_path / "class.csv"
        path.write_text(roster, encoding="utf-8")
    options.setdefault("base_url", "http://testserver")
    settings = Settings(quizdir=str(quiz), db=sqlite_url(tmp_path / "serve.sqlite3"), roster=str(path) if path else None,
                        links=str(tmp_path / "links" / "links.csv"), **options)
    (tmp_path / "links").mkdir(exist_ok=True)
    return Server(settings, marking=marking)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


class Student:
    """A student with their link, answering through the page's forms as its script does."""

    def __init__(self, client: TestClient, server: Server, student: str):
        self.client = client
        self.id = student
        self.token = tokens.student_token(server.quiz.secret, student)
        self.path = f"/s/{self.token}"
        page = client.get(self.path)
        assert page.status_code == 200, page.text
        self.csrf = tokens.csrf_for(server.quiz.secret, self.token)
        assert 'name="csrf"' not in page.text or csrf_of(page.text) == self.csrf  # the page's forms carry it

    def page(self) -> str:
        return self.client.get(self.path).text

    def answer(self, question: int, text: str, **extra):
        return self.client.post(f"{self.path}/answer", data={"csrf": self.csrf, "question": str(question), "answer": text, **extra},
                                headers={"Accept": "application/json"})

    def marks(self, question: int, text: str) -> dict[int, dict]:
        response = self.answer(question, text)
        assert response.status_code == 200, response.text
        return {m["question"]: m for m in response.json()["marks"]}


@pytest.fixture
def served(serve_quiz, serve_marking, tmp_path):
    server = make_server(serve_quiz, serve_marking, tmp_path)
    with TestClient(create_app(server)) as client:
        yield server, client


# ---------------------------------------------------------------------------------------------
# Marking: right, carried, wrong — with their reasons
# ---------------------------------------------------------------------------------------------


def test_a_student_sees_right_carried_and_wrong_with_their_reasons(served, serve_marking):
    server, client = served
    ana = Student(client, server, "ana")  # variant 1
    given = serve_support.answers(serve_marking, 1)
    marks = ana.marks(1, given.doubled)
    assert marks[1]["verdict"] == "wrong"
    assert marks[1]["message"].startswith("The ½ of the squared error is left out (twice the value); its inputs give 0.09045")
    assert marks[1]["badge"] == "✗ wrong"
    assert ana.marks(2, given.right[1])[2]["verdict"] == "right"
    marks = ana.marks(3, given.carried)  # w5+ = w5 − η·(2g): right from her own wrong gradient
    assert marks[3]["verdict"] == "carried"
    assert marks[3]["message"] == (f"Wrong only because of your answer to question 1 ({given.doubled}), which is wrong: worked "
                                   "from your own numbers, this step is right (the error is carried forward).")
    assert marks[1]["verdict"] == "wrong" and marks[2]["verdict"] == "right" and marks[4]["verdict"] == "blank"
    page = ana.page()  # without the script: the same verdicts on the page
    assert page.count("✗ wrong") == 1 and page.count("→ carried") == 1 and page.count("✓ right") == 1
    assert "Marks: <span class=\"total-value\">1.5</span> of 4." in page
    # the same answers through tracer grade's marking give the same verdicts (one call, not a copy)
    result = serve_marking.mark("ana", 1, {1: given.doubled, 2: given.right[1], 3: given.carried})
    assert [m.verdict for m in result.marks] == ["wrong", "right", "carried", "blank"]


def test_a_truncated_answer_is_accepted_as_a_habit_and_a_word_is_not_a_number(served, serve_marking):
    server, client = served
    ana = Student(client, server, "ana")
    entry = next(e for e in serve_marking.questions(1) if f"{e.value:.4g}" != _truncated(e.value, 4))
    marks = ana.marks(entry.question, _truncated(entry.value, 4))
    assert marks[entry.question]["verdict"] == "habit" and marks[entry.question]["badge"] == "✓ accepted"
    assert marks[entry.question]["message"] == "The true value truncated instead of rounded: round the last digit."
    marks = ana.marks(4, "abc")
    assert marks[4]["verdict"] == "invalid" and marks[4]["message"] == "A number expected, got 'abc'."


def _truncated(value: float, digits: int) -> str:
    """``value`` cut (not rounded) to ``digits`` significant digits, as a student who truncates writes it."""
    exact = Decimal(repr(value))
    return str(exact.quantize(Decimal(1).scaleb(exact.adjusted() - digits + 1), rounding=ROUND_DOWN))


def test_an_answer_changed_later_changes_what_is_carried(served, serve_marking):
    """A carried verdict follows the student's latest answers: q1 put right, q3 (from the old q1) is now wrong."""
    server, client = served
    ana = Student(client, server, "ana")
    given = serve_support.answers(serve_marking, 1)
    ana.marks(1, given.doubled)
    assert ana.marks(3, given.carried)[3]["verdict"] == "carried"
    marks = ana.marks(1, given.right[0])
    assert marks[1]["verdict"] == "right" and marks[3]["verdict"] == "wrong"


def test_the_page_shows_the_variant_as_the_question_sheet_does(served):
    server, client = served
    page = Student(client, server, "ben").page()  # variant 2
    assert "variant 2" in page and "Ben Okafor" not in page  # a name is the instructor's, the id the student's
    assert re.search(r'<svg [^>]*class="network"', page) and "<math" in page  # the network inline, the symbols as MathML
    assert page.count('class="question"') == 4 and "dloss/dW1[1,1]" in page
    assert "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched from elsewhere


# ---------------------------------------------------------------------------------------------
# The instructor's page and the exports: tracer grade's files
# ---------------------------------------------------------------------------------------------


def test_the_export_is_tracer_grades_marks_csv_of_the_same_answers(served, serve_quiz, serve_marking, tmp_path):
    server, client = served
    ana, ben, cho = (Student(client, server, s) for s in ("ana", "ben", "cho"))
    a = serve_support.answers(serve_marking, 1)
    b = serve_support.answers(serve_marking, 2)
    ana.marks(1, a.doubled), ana.marks(2, a.right[1]), ana.marks(3, a.carried)
    for q, text in enumerate(b.right, start=1):
        ben.marks(q, text)
    ben.marks(4, "abc")  # not a number: invalid
    cho.marks(2, "0.5")
    client.post(f"{ana.path}/another", data={"csrf": ana.csrf})  # ana's second variant: a row of its own
    ana.marks(1, "0.1")
    instructor = f"/i/{tokens.instructor_token(server.quiz.secret)}"
    exported = client.get(f"{instructor}/marks.csv")
    assert exported.status_code == 200 and exported.headers["content-disposition"] == 'attachment; filename="marks.csv"'
    answers = client.get(f"{instructor}/answers.csv").text
    (tmp_path / "answers.csv").write_text(answers, encoding="utf-8")
    result = CliRunner().invoke(cli, ["grade", str(serve_quiz), str(tmp_path / "answers.csv"), "-o", str(tmp_path / "graded")])
    assert result.exit_code == 0, result.output
    assert exported.text == (tmp_path / "graded" / "marks.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["variant"]) for r in rows][:3] == [("ana", "1"), ("ben", "2"), ("cho", "3")]
    assert [rows[0][f"q{k} verdict"] for k in (1, 2, 3, 4)] == ["wrong", "right", "carried", "blank"]
    assert rows[0]["total"] == "1.5" and rows[1]["q4 verdict"] == "invalid"
    assert len(rows) == 4 and rows[3]["id"] == "ana" and rows[3]["variant"] != "1"
    log = list(csv.DictReader(io.StringIO(client.get(f"{instructor}/submissions.csv").text)))
    assert len(log) == 3 + 4 + 1 + 1 + 1 and log[0]["answer"] == a.doubled and log[0]["id"] == "ana"


def test_the_instructor_sees_the_class_and_what_to_re_teach(served, serve_marking):
    server, client = served
    ana, ben = Student(client, server, "ana"), Student(client, server, "ben")
    a, b = serve_support.answers(serve_marking, 1), serve_support.answers(serve_marking, 2)
    ana.marks(1, a.doubled), ana.marks(3, a.carried)
    ben.marks(1, b.doubled)
    page = client.get(f"/i/{tokens.instructor_token(server.quiz.secret)}").text
    assert "Ana Lima" in page and "Ben Okafor" in page
    assert "1 student of the roster not started" in page  # cho
    assert "2 × the ½ of the squared error is left out (twice the value)" in page  # question 1's mistake, counted
    table = page[page.index('<table class="class">'):page.index("What to re-teach")]
    assert table.count("✗ wrong") == 2 and table.count("→ carried") == 1
    assert a.doubled in table and a.carried in table


# ---------------------------------------------------------------------------------------------
# Practice: hints, another variant, open practice
# ---------------------------------------------------------------------------------------------


def test_show_the_next_step_reveals_the_worked_solution_one_step_at_a_time(served):
    server, client = served
    ana = Student(client, server, "ana")
    total = len(server.pages.steps(1, 1))
    assert total >= 6 and 'class="eq' not in ana.page()
    client.post(f"{ana.path}/hint", data={"csrf": ana.csrf, "question": "1"})
    page = ana.page()
    assert page.count('id="q1-eq-') == 1 and f"(1 of {total})" in page and f"Show the next step (2 of {total})" in page
    client.post(f"{ana.path}/hint", data={"csrf": ana.csrf, "question": "1", "all": "1"})
    assert ana.page().count('id="q1-eq-') == total
    # question 2's steps are those beyond question 1's (its forward pass is question 1's)
    first, second = ({step.id for step in server.pages.needed(1, q)} for q in (1, 2))
    assert second and not first & second and K("z1[1]") in first


def test_another_variant_starts_a_new_attempt(served):
    server, client = served
    ana = Student(client, server, "ana")
    response = client.post(f"{ana.path}/another", data={"csrf": ana.csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == ana.path
    page = ana.page()
    assert "(your variant number 2)" in page and "variant 1:" in page  # the earlier one listed with its marks


def test_open_practice_gives_each_visitor_a_link_of_their_own(serve_quiz, serve_marking, tmp_path):
    server = make_server(serve_quiz, serve_marking, tmp_path, roster=None)
    with TestClient(create_app(server)) as client:
        front = client.get("/")
        assert "Start practising" in front.text and "tracer_csrf" in front.headers["set-cookie"]
        assert "samesite=strict" in front.headers["set-cookie"].lower() and "httponly" in front.headers["set-cookie"].lower()
        assert client.post("/practice", data={"csrf": "x" * 32}).status_code == 403  # not the cookie's
        started = client.post("/practice", data={"csrf": csrf_of(front.text)}, follow_redirects=False)
        assert started.status_code == 303 and re.fullmatch(r"/s/[A-Za-z0-9_-]{32}", started.headers["location"])
        assert "The problem" in client.get(started.headers["location"]).text
        rows = client.get(f"/i/{tokens.instructor_token(server.quiz.secret)}/answers.csv").text.splitlines()
        assert rows[1].startswith("practice-0001,")
        statuses = [client.post("/practice", data={"csrf": csrf_of(front.text)}, follow_redirects=False).status_code for _ in range(20)]
        assert statuses == [303] * 19 + [429]  # 20 sessions a minute from one address


# ---------------------------------------------------------------------------------------------
# The exam: one submission in the window, marks when released
# ---------------------------------------------------------------------------------------------


def test_an_exam_takes_one_submission_while_open_and_shows_marks_when_released(serve_quiz, serve_marking, tmp_path):
    server = make_server(serve_quiz, serve_marking, tmp_path, mode="exam")
    with TestClient(create_app(server)) as client:
        instructor = f"/i/{tokens.instructor_token(server.quiz.secret)}"
        ana = Student(client, server, "ana")
        page = ana.page()
        assert "The exam is not open yet" in page and "The problem" not in page
        a = serve_support.answers(serve_marking, 1)
        form = {"csrf": ana.csrf, "q1": a.doubled, "q2": a.right[1], "q3": a.carried, "q4": ""}
        assert client.post(f"{ana.path}/answer", data=form).status_code == 409  # not open
        icsrf = csrf_of(client.get(instructor).text)
        client.post(f"{instructor}/exam", data={"csrf": icsrf, "action": "open", "minutes": "30"})
        assert "Submit my answers" in ana.page()
        assert client.post(f"{ana.path}/answer", data=form, follow_redirects=False).status_code == 303
        page = ana.page()
        assert "Submitted at" in page and "✗ wrong" not in page and a.doubled in page  # her answers, no verdicts yet
        again = client.post(f"{ana.path}/answer", data=form)
        assert again.status_code == 409 and "submitted already" in again.text
        assert client.post(f"{ana.path}/hint", data={"csrf": ana.csrf, "question": "1"}).status_code == 404
        assert "→ carried" in client.get(instructor).text  # the instructor sees the marks at once
        client.post(f"{instructor}/exam", data={"csrf": icsrf, "action": "release"})
        page = ana.page()
        assert "✗ wrong" in page and "→ carried" in page and "Marks: 1.5 of 4." in page
        client.post(f"{instructor}/exam", data={"csrf": icsrf, "action": "close"})
        ben = Student(client, server, "ben")
        assert "The exam is closed" in ben.page()
        assert client.post(f"{ben.path}/answer", data={"csrf": ben.csrf, "q1": "1"}).status_code == 409


# ---------------------------------------------------------------------------------------------
# Security: every route with another student's credentials and with none
# ---------------------------------------------------------------------------------------------


def _routes(app) -> list[Route]:
    starlette = app
    while not hasattr(starlette, "routes"):
        starlette = starlette.app
    return [r for r in starlette.routes if isinstance(r, Route)]


def test_every_route_refuses_another_students_credentials_and_none(served, serve_marking):
    server, client = served
    ana, ben = Student(client, server, "ana"), Student(client, server, "ben")
    instructor = tokens.instructor_token(server.quiz.secret)
    keys = {e.answer for v in range(1, serve_marking.variants + 1) for e in serve_marking.questions(v)}
    tried = 0
    for route in _routes(client.app):
        if "{token}" not in route.path:
            continue
        method = next(iter(route.methods - {"HEAD"}))
        path = route.path.replace("{number:int}", "1")
        for token in ("", "x", "A" * 32, tokens.random_token()):  # none, malformed, well-formed but nobody's
            response = client.request(method, path.replace("{token}", token), data={"csrf": ana.csrf, "question": "1", "answer": "1"})
            assert response.status_code in (404, 405), (route.path, token, response.status_code)
            tried += 1
        if route.path.startswith("/i/"):
            for token in (ana.token, ben.token):  # a student's link on the instructor's routes
                response = client.request(method, path.replace("{token}", token), data={"csrf": ana.csrf, "action": "release"})
                assert response.status_code == 404, (route.path, response.status_code)
                tried += 1
        else:
            response = client.request(method, path.replace("{token}", instructor))  # the instructor's link is no student's
            assert response.status_code == 404, route.path
            if method == "POST":  # ben's page with ana's form token: refused, nothing stored for ben
                response = client.post(path.replace("{token}", ben.token), data={"csrf": ana.csrf, "question": "1", "answer": "0.5"})
                assert response.status_code == 403, (route.path, response.status_code)
                tried += 2
            else:  # ana's own page: her variant only, no answer of any variant's key
                text = client.get(path.replace("{token}", ana.token)).text
                assert "variant 1" in text and not [k for k in keys if re.search(rf"(?<![\d.]){re.escape(k)}(?!\d)", text)]
    assert tried >= 50
    assert "✗" not in ben.page() and client.get(f"/i/{instructor}/answers.csv").text.count("\n") == 1 + 3  # nothing stored


def _altered(token: str) -> str:
    """``token`` with its last character changed (a token ending in x stayed the same when x was
    written over it: the test failed once in 64, on a CI run of 2026-12-07)."""
    return token[:-1] + ("y" if token.endswith("x") else "x")


def test_forms_need_their_pages_csrf_token_and_this_site(served):
    server, client = served
    ana, ben = Student(client, server, "ana"), Student(client, server, "ben")
    for data in ({"question": "1", "answer": "1"}, {"csrf": "", "question": "1", "answer": "1"},
                 {"csrf": ben.csrf, "question": "1", "answer": "1"}, {"csrf": _altered(ana.csrf), "question": "1", "answer": "1"}):
        assert client.post(f"{ana.path}/answer", data=data).status_code == 403
    good = {"csrf": ana.csrf, "question": "1", "answer": "1"}
    assert client.post(f"{ana.path}/answer", data=good, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(f"{ana.path}/answer", data=good, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post(f"{ana.path}/answer", data=good, headers={"Origin": "http://testserver"}, follow_redirects=False).status_code == 303
    instructor = f"/i/{tokens.instructor_token(server.quiz.secret)}"
    assert client.post(f"{instructor}/exam", data={"action": "release"}).status_code == 403


def test_behind_a_proxy_the_base_urls_host_is_this_site_and_https_is_kept(serve_quiz, serve_marking, tmp_path):
    """A proxy that passes its own Host on (127.0.0.1:8000): a form from https://quiz.example.edu is this site's."""
    server = make_server(serve_quiz, serve_marking, tmp_path, base_url="https://quiz.example.edu")
    with TestClient(create_app(server), base_url="http://127.0.0.1:8000") as client:
        ana = Student(client, server, "ana")
        form = {"csrf": ana.csrf, "question": "1", "answer": "0.1"}
        assert client.post(f"{ana.path}/answer", data=form, headers={"Origin": "https://quiz.example.edu"}, follow_redirects=False).status_code == 303
        assert client.post(f"{ana.path}/answer", data=form, headers={"Origin": "https://quiz.example.edu.evil"}).status_code == 403
        page = client.get(ana.path)
        assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert (tmp_path / "links" / "links.csv").read_text().count("https://quiz.example.edu/s/") == 3


def test_request_size_answer_length_and_form_kind_are_limited(served):
    server, client = served
    ana = Student(client, server, "ana")
    big = client.post(f"{ana.path}/answer", data={"csrf": ana.csrf, "question": "1", "answer": "1", "pad": "x" * 20000})
    assert big.status_code == 413 and "too large" in big.text
    assert client.post(f"{ana.path}/answer", data={"csrf": ana.csrf, "question": "1", "answer": "1" * 41}).status_code == 422
    assert client.post(f"{ana.path}/answer", data={"csrf": ana.csrf, "question": "1", "answer": "=HYPERLINK(1)"}).status_code == 422
    assert client.post(f"{ana.path}/answer", data={"csrf": ana.csrf, "question": "9", "answer": "1"}).status_code == 400
    assert client.post(f"{ana.path}/answer", json={"csrf": ana.csrf}).status_code == 415
    assert client.get("/s/" + "a" * 3000).status_code == 414


def test_answers_per_minute_per_token_are_limited(serve_quiz, serve_marking, tmp_path):
    server = make_server(serve_quiz, serve_marking, tmp_path, rate=3)
    with TestClient(create_app(server)) as client:
        ana, ben = Student(client, server, "ana"), Student(client, server, "ben")
        assert [ana.answer(1, "0.1").status_code for _ in range(3)] == [200, 200, 200]
        refused = ana.answer(1, "0.1")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert refused.json() == {"error": "At most 3 answers a minute; wait a moment and enter it again"}
        assert ben.answer(1, "0.1").status_code == 200  # per token


def test_an_error_is_one_log_line_and_never_a_stack_trace_in_the_browser(served, caplog):
    server, client = served
    ana = Student(client, server, "ana")

    def broken(*args):
        raise ZeroDivisionError(f"division by zero for {ana.token}")

    server.marking.mark_rows, saved = broken, server.marking.mark_rows
    try:
        with caplog.at_level(logging.INFO, logger="tracer.serve"):
            response = ana.answer(1, "0.1")
            page = client.post(f"{ana.path}/answer", data={"csrf": ana.csrf, "question": "1", "answer": "0.1"})
    finally:
        server.marking.mark_rows = saved
    assert response.status_code == 500 and page.status_code == 500
    for text in (response.text, page.text):
        assert "Traceback" not in text and "ZeroDivisionError" not in text and "File " not in text and ana.token not in text
    reference = re.search(r"reference ([0-9a-f]{8})", page.text).group(1)
    errors = [r.getMessage() for r in caplog.records if r.name == "tracer.serve.error"]
    assert len(errors) == 2 and all("\n" not in e for e in errors)
    assert errors[1].startswith(f"error {reference}: ZeroDivisionError: division by zero for …")
    assert "POST /s/…/answer" in errors[1] and not [r for r in caplog.records if r.exc_info]


def test_every_response_carries_the_security_headers(served):
    server, client = served
    ana = Student(client, server, "ana")
    for response in (client.get("/"), client.get(ana.path), client.get("/s/nobody"), ana.answer(1, "0.1"),
                     client.post(f"{ana.path}/answer", data={"question": "1"}), client.get("/static/serve.js")):
        h = response.headers
        assert "default-src 'none'" in h["content-security-policy"] and "frame-ancestors 'none'" in h["content-security-policy"]
        assert "script-src 'self' 'sha256-" in h["content-security-policy"] and "unsafe-inline" not in h["content-security-policy"].split("script-src")[1].split(";")[0]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY" and h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == ("public, max-age=3600" if "/static/" in str(response.url) else "no-store")
        assert "server" not in h


def test_the_log_never_holds_a_token(served, caplog):
    server, client = served
    with caplog.at_level(logging.INFO, logger="tracer.serve"):
        ana = Student(client, server, "ana")
        ana.answer(1, "0.1")
        client.get(f"/i/{tokens.instructor_token(server.quiz.secret)}")
        client.get("/s/" + tokens.random_token())
    lines = [r.getMessage() for r in caplog.records]
    assert any('"GET /s/…" 200' in line for line in lines) and any('"POST /s/…/answer" 200' in line for line in lines)
    assert not [line for line in lines if re.search(r"/[si]/[A-Za-z0-9_-]{20,}", line)]
    assert ana.token not in "\n".join(lines) and tokens.instructor_token(server.quiz.secret) not in "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Links, roster, command line
# ---------------------------------------------------------------------------------------------


def test_links_are_written_for_the_instructor_only(served, tmp_path):
    server, _ = served
    links = tmp_path / "links" / "links.csv"
    rows = list(csv.DictReader(links.open(encoding="utf-8")))
    assert [(r["id"], r["name"], r["variant"]) for r in rows] == [("ana", "Ana Lima", "1"), ("ben", "Ben Okafor", "2"), ("cho", "Cho Min", "3")]
    assert rows[0]["link"] == f"http://testserver/s/{tokens.student_token(server.quiz.secret, 'ana')}"
    instructor = tmp_path / "links" / "instructor-link.txt"
    assert instructor.read_text() == f"http://testserver/i/{tokens.instructor_token(server.quiz.secret)}\n"
    for path in (links, instructor):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("text, message", [
    ("name\nana\n", "class.csv: header: a column id expected, got name"),
    ("id\nana\nana\n", "class.csv: line 3: id: 'ana' is listed twice"),
    ("id,variant\nana,7\n", "class.csv: line 2: variant: a variant from 1 to 3 expected, got 7"),
    ("id,variant\nana,x\n", "class.csv: line 2: variant: a variant number expected, got 'x'"),
    ("id\n", "class.csv: no student listed"),
])
def test_a_bad_roster_is_refused_naming_the_line(tmp_path, text, message):
    path = tmp_path / "class.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        read_roster(path, 3)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_the_command_refuses_what_it_cannot_serve_in_one_line(serve_quiz, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", str(serve_quiz), "--mode", "exam"])
    assert result.exit_code == 2 and result.output.strip() == \
        "tracer: --mode exam: a roster is needed (--roster students.csv): an exam gives each student one link"
    result = runner.invoke(cli, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and "no answers.csv (the quiz's key)" in result.output
    result = runner.invoke(cli, ["serve", str(serve_quiz), "--db", "mysql://x/y"])
    assert result.exit_code == 2 and "--db: a mysql database; sqlite:///FILE or postgresql://USER@HOST/DB expected" in result.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(cli, ["serve", str(serve_quiz), "--port", str(port)])
    assert result.exit_code == 2 and result.output.strip() == f"tracer: --host 127.0.0.1 --port {port}: cannot listen there (in use by another program)"
