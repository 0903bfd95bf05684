"""The routes of ``tracer serve`` (Starlette, under uvicorn).

============================  ===========================================================
``GET  /``                    open practice's start (without a roster), else a pointer to the links
``POST /practice``            a practice session of one's own: a fresh variant, its own link
``GET  /s/TOKEN``             a student's page: their variant, their answers and verdicts
``POST /s/TOKEN/answer``      practice: one answer, marked at once; exam: the one submission
``POST /s/TOKEN/hint``        practice: one more step of a question's worked solution
``POST /s/TOKEN/another``     practice: another variant
``GET  /i/TOKEN``             the instructor's page; ``/i/TOKEN/class`` its live table
``GET  /i/TOKEN/marks.csv``   ``tracer grade``'s marks.csv of the answers; ``answers.csv``, ``submissions.csv``
``POST /i/TOKEN/exam``        open or close the exam, release or withhold the results
``GET  /i/TOKEN/variant/N``   variant N's key and worked solution
``GET  /static/…``            the pages' style sheet and script; ``/healthz``
============================  ===========================================================

A token is the whole credential of its page: an unknown one, a student's on the
instructor's routes, or none at all is a 404 like any page that does not exist. Every
form posts a CSRF token bound to its page (a form of another student's page is refused),
and a request from another site (``Origin``, ``Sec-Fetch-Site``) is refused.
Answers are limited per minute per token (counted in the database, so across processes).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import math
import re
import secrets
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import anyio.to_thread
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tracer.render.document import environment, render, template_dir
from tracer.render.quiz import KEY_DIGITS
from tracer.serve import guard, tokens
from tracer.serve.marking import Marking
from tracer.serve.pages import Pages, marks_json
from tracer.serve.roster import Student, links_csv, read_roster, write_private
from tracer.serve.storage import AlreadySubmitted, Attempt, Participant, Quiz, Store, now
from tracer.spec import load
from tracer.teach.quiz import parse_spec

#: an answer as typed: a number (digits, sign, point, exponent, the minus sign −) or an option's letter
ANSWER = re.compile(r"^[0-9A-Za-z.+\-−() ]{0,40}$")
MODES = ("practice", "exam")
#: open practice sessions one address may start per minute (each is a row in the database)
STARTS_PER_MINUTE = 20
#: "another variant" per minute per token
VARIANTS_PER_MINUTE = 10
CSRF_COOKIE = "tracer_csrf"
#: threads that run the requests' work (marking, the database, the pages) in one process
THREADS = 8
#: seconds a thread runs Python before another may (CPython's default is 0.005)
SWITCH_INTERVAL = 0.001


@dataclass(frozen=True)
class Settings:
    quizdir: str
    db: str
    mode: str = "practice"
    roster: str | None = None
    problem: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    links: str | None = None  # links.csv (default QUIZDIR/links.csv)
    rate: int = 30  # answers per minute per token
    carried: float = 0.5
    max_body: int = guard.MAX_BODY

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Window:
    """The exam's state: open (until when), and whether the results are released."""

    open: bool
    until: datetime | None
    released: bool
    opened: bool  # ever opened


def window_of(events: list[tuple[str, datetime, datetime | None]], at: datetime) -> Window:
    is_open, until, released, opened = False, None, False, False
    for kind, _, end in events:
        if kind == "open":
            is_open, until, opened = True, end, True
        elif kind == "close":
            is_open, until = False, None
        elif kind == "release":
            released = True
        elif kind == "withhold":
            released = False
    if is_open and until is not None and at >= until:
        is_open = False
    return Window(is_open, until, released, opened)


class Server:
    """One quiz served: its marking, its database, its pages. Made once per process."""

    def __init__(self, settings: Settings, write_links: bool = True, marking: Marking | None = None):
        if settings.mode not in MODES:
            raise ValueError(f"--mode: practice or exam expected, got {settings.mode!r}")
        self.settings = settings
        self.marking = marking or Marking(settings.quizdir, settings.problem, settings.carried)
        problem = load(self.marking.problem_file)
        self.digits = parse_spec(problem).digits
        self.store = Store(settings.db)
        self.store.migrate()
        key = self.marking.key
        self.quiz: Quiz = self.store.open_quiz(self.marking.digest, key.file, key.seed, key.variants, problem.title or "")
        self.pages = Pages(self.marking, problem.title or "", self.digits)
        self.instructor = tokens.instructor_token(self.quiz.secret)
        self.roster: list[Student] = read_roster(settings.roster, key.variants) if settings.roster else []
        if self.roster:
            self.store.add_students(self.quiz, [(s.id, s.name, s.variant, tokens.digest(tokens.student_token(self.quiz.secret, s.id)))
                                                for s in self.roster])
        self.links_file: Path | None = None
        if write_links:
            self.links_file = self._write_links()
        self._starts: dict[str, deque] = {}
        self._starts_lock = threading.Lock()

    # -- links --------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    def _write_links(self) -> Path:
        folder = Path(self.settings.links).parent if self.settings.links else Path(self.settings.quizdir)
        if self.roster:
            rows = [(s, self.url(f"/s/{tokens.student_token(self.quiz.secret, s.id)}")) for s in self.roster]
            write_private(Path(self.settings.links) if self.settings.links else folder / "links.csv", links_csv(rows))
        path = folder / "instructor-link.txt"
        write_private(path, self.url(f"/i/{self.instructor}") + "\n")
        return path

    # -- who asks -----------------------------------------------------------------------------
    def visitor(self, token: str) -> tuple[Participant, Attempt] | None:
        """Whose link it is and their current attempt (the first made on their first visit), or None."""
        if not tokens.well_formed(token):
            return None
        found = self.store.visitor(tokens.digest(token))
        if found is None or found[0].quiz_id != self.quiz.id:
            return None
        participant, attempt = found
        return participant, self.store.current_attempt(participant, attempt)

    def is_instructor(self, token: str) -> bool:
        return tokens.same(token, self.instructor)

    def allow_start(self, client: str) -> bool:
        """At most :data:`STARTS_PER_MINUTE` practice sessions per address per minute (this process's count)."""
        at = time.monotonic()
        with self._starts_lock:
            recent = self._starts.setdefault(client, deque())
            while recent and at - recent[0] > 60:
                recent.popleft()
            if len(recent) >= STARTS_PER_MINUTE:
                return False
            recent.append(at)
            if len(self._starts) > 10000:  # forget the quiet addresses
                for key in [k for k, v in self._starts.items() if not v or at - v[-1] > 60]:
                    del self._starts[key]
            return True

    def warm(self) -> None:
        """Each variant's page, solution and diagnoses made before the server listens (`tracer serve`
        does it: 0.2 s a variant), so that no student's first request or first wrong answer waits
        for them; without it each is made when first needed."""
        for number in range(1, self.marking.variants + 1):
            self.pages.warm(number)
            self.marking.warm(number)

    def window(self) -> Window:
        return window_of(self.store.events(self.quiz), now())

    # -- marking ------------------------------------------------------------------------------
    def result(self, participant: Participant, attempt: Attempt):
        return self.marking.stored(participant.label, attempt.variant, self.store.marks(attempt))

    def submit(self, participant: Participant, attempt: Attempt, answers: dict[int, str], exam: bool):
        marks, _ = self.store.submit(attempt, answers, exam,
                                     lambda latest: self.marking.mark_rows(participant.label, attempt.variant, latest))
        return self.marking.stored(participant.label, attempt.variant, {m.question: m for m in marks})

    def export_rows(self) -> list[tuple[str, int, dict[int, str]]]:
        """Every attempt's latest answers, and the roster's students who have not started (blank)."""
        rows = [(p.label, a.variant, answers) for p, a, answers in self.store.latest_answers(self.quiz)]
        rows += [(p.label, p.variant, {}) for p in self.store.roster_without_attempt(self.quiz)]
        return rows


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------


class Refused(HTTPException):
    """A request refused with its status and one sentence (shown as a page, or JSON to the script)."""


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the only kind the pages post), at most 64 fields."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "A form (application/x-www-form-urlencoded) is expected")
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "A malformed form") from None
    return dict(pairs)


def _same_site(request: Request, home: str = "") -> None:
    """A form posted from another site is refused (with the CSRF token, a second lock). A browser says
    where a request comes from in ``Sec-Fetch-Site`` and ``Origin`` (``null`` under the pages'
    ``Referrer-Policy: no-referrer``: then only the CSRF token decides). This site is the request's
    ``Host``, or ``home``, the host of ``--base-url`` (behind a proxy that does not pass ``Host`` on)."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        raise Refused(403, "A form from another site is refused")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() not in {request.headers.get("host", "").lower(), home}:
        raise Refused(403, "A form from another site is refused")


def _question(form: dict[str, str], count: int) -> int:
    try:
        number = int(form.get("question", ""))
    except ValueError:
        raise Refused(400, "Which question? (a question number expected)") from None
    if not 1 <= number <= count:
        raise Refused(400, f"Which question? (1 to {count} expected)")
    return number


def _answer(text: str) -> str:
    text = text.strip()
    if not ANSWER.match(text):
        raise Refused(422, "An answer is a number (digits, a sign, a decimal point, an exponent) or an option's letter, at most 40 characters")
    return text


class Routes:
    def __init__(self, server: Server):
        self.server = server
        self.https = server.settings.base_url.startswith("https://")
        self.home = urlsplit(server.settings.base_url).netloc.lower()

    # -- helpers ----------------------------------------------------------------------------
    def _student(self, token: str) -> tuple[Participant, Attempt]:
        found = self.server.visitor(token)
        if found is None:
            raise Refused(404, "No such page")
        return found

    def _instructor(self, token: str) -> None:
        if not self.server.is_instructor(token):
            raise Refused(404, "No such page")

    def _csrf(self, token: str, form: dict[str, str]) -> None:
        if not tokens.csrf_ok(self.server.quiz.secret, token, form.get("csrf")):
            raise Refused(403, "This form has expired or is not this page's; reload the page and try again")

    def _back(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)

    # -- the front page ----------------------------------------------------------------------
    async def front(self, request: Request) -> Response:
        practice = self.server.settings.mode == "practice" and not self.server.roster
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if practice and not re.fullmatch(r"[A-Za-z0-9_-]{32}", cookie):
            cookie = tokens.random_token()
        html = self.server.pages.start(practice=practice, start_url="/practice", csrf=cookie, static="/static")
        response = HTMLResponse(html)
        if practice:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=self.https, path="/")
        return response

    async def start(self, request: Request) -> Response:
        if self.server.settings.mode != "practice" or self.server.roster:
            raise Refused(404, "No such page")
        _same_site(request, self.home)
        form = await _form(request)
        if not tokens.same(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            raise Refused(403, "This form has expired; reload the page and try again")
        client = request.client.host if request.client else "-"
        if not self.server.allow_start(client):
            raise Refused(429, "Too many practice sessions started from here; wait a minute")
        token = tokens.random_token()
        variant = secrets.randbelow(self.server.marking.variants) + 1
        await run_in_threadpool(self.server.store.new_participant, self.server.quiz, variant, tokens.digest(token))
        return self._back(f"/s/{token}")

    # -- a student's page --------------------------------------------------------------------
    async def student(self, request: Request) -> Response:
        token = request.path_params["token"]
        return HTMLResponse(await run_in_threadpool(self._student_page, token, ""))

    def _student_page(self, token: str, notice: str) -> str:
        server = self.server
        participant, attempt = self._student(token)
        mode = server.settings.mode
        context: dict = {"mode": mode, "student": participant.student or "", "attempt": attempt.number, "notice": notice,
                         "csrf": tokens.csrf_for(server.quiz.secret, token), "static": "/static",
                         "urls": {"answer": f"/s/{token}/answer", "hint": f"/s/{token}/hint", "another": f"/s/{token}/another"}}
        result = server.result(participant, attempt)
        if mode == "practice":
            hints = server.store.hints(attempt)
            earlier = []
            for other in server.store.attempts(participant)[:-1]:
                r = server.result(participant, other)
                earlier.append({"variant": other.variant, "total": f"{r.total:g}", "out_of": r.out_of})
            context.update(show_problem=True, questions=server.pages.questions(attempt.variant, result, hints, True),
                           earlier=earlier)
        else:
            window = server.window()
            latest = server.store.latest(attempt)
            submitted = latest.exam_at is not None
            shown = result if (submitted and window.released) else None
            questions = server.pages.questions(attempt.variant, shown, {}, False)
            for q in questions:  # their own answers, without verdicts until released
                q.given = latest.answers.get(q.number, "")
            can_submit = window.open and not submitted
            if submitted:
                notice = notice or (f"Submitted at {latest.exam_at:%Y-%m-%d %H:%M:%S} UTC."
                                    + ("" if window.released else " Your marks are shown when your instructor releases them."))
            elif not window.open:
                notice = notice or ("The exam is closed." if window.opened else "The exam is not open yet; reload this page when your instructor opens it.")
            context.update(show_problem=can_submit or submitted, questions=questions, can_submit=can_submit, released=window.released,
                           until=f"{window.until:%H:%M} UTC" if window.until else "", notice=notice)
        context.update(variant=server.pages.variant(attempt.variant), total=f"{result.total:g}", out_of=result.out_of)
        return server.pages.student(**context)

    async def answer(self, request: Request) -> Response:
        token = request.path_params["token"]
        participant, attempt = await run_in_threadpool(self._student, token)
        _same_site(request, self.home)
        form = await _form(request)
        self._csrf(token, form)
        return await run_in_threadpool(self._answer, token, participant, attempt, form, _wants_json(request))

    def _answer(self, token: str, participant: Participant, attempt: Attempt, form: dict[str, str], as_json: bool) -> Response:
        server = self.server
        count = len(server.marking.questions(attempt.variant))
        if server.settings.mode == "practice":
            question = _question(form, count)
            answer = _answer(form.get("answer", ""))
            if server.store.answers_since(participant, 60) >= server.settings.rate:
                raise Refused(429, f"At most {server.settings.rate} answers a minute; wait a moment and enter it again")
            result = server.submit(participant, attempt, {question: answer}, exam=False)
            if as_json:
                return JSONResponse(marks_json(result))
            return self._back(f"/s/{token}#q{question}")
        window = server.window()
        if not window.open:
            raise Refused(409, "The exam is not open: your answers were not taken")
        answers = {q: _answer(form.get(f"q{q}", "")) for q in range(1, count + 1)}
        try:
            server.submit(participant, attempt, answers, exam=True)
        except AlreadySubmitted:
            raise Refused(409, "You have submitted already: an exam takes one submission") from None
        if as_json:
            return JSONResponse({"submitted": True})
        return self._back(f"/s/{token}")

    async def hint(self, request: Request) -> Response:
        token = request.path_params["token"]
        _, attempt = await run_in_threadpool(self._student, token)
        _same_site(request, self.home)
        form = await _form(request)
        self._csrf(token, form)
        if self.server.settings.mode != "practice":
            raise Refused(404, "No such page")

        def show() -> int:
            question = _question(form, len(self.server.marking.questions(attempt.variant)))
            self.server.store.show_hint(attempt, question, len(self.server.pages.needed(attempt.variant, question)), form.get("all") == "1")
            return question

        question = await run_in_threadpool(show)
        return self._back(f"/s/{token}#q{question}")

    async def another(self, request: Request) -> Response:
        token = request.path_params["token"]
        participant, attempt = await run_in_threadpool(self._student, token)
        _same_site(request, self.home)
        form = await _form(request)
        self._csrf(token, form)
        if self.server.settings.mode != "practice":
            raise Refused(404, "No such page")

        def new() -> None:
            store = self.server.store
            if store.attempts_since(participant, 60) >= VARIANTS_PER_MINUTE:
                raise Refused(429, "Enough new variants for a minute; work this one a little")
            done = {a.variant for a in store.attempts(participant)}
            current = attempt.variant
            variants = range(1, self.server.marking.variants + 1)
            fresh = [v for v in variants if v not in done] or [v for v in variants if v != current] or [current]
            store.start_attempt(participant, fresh[secrets.randbelow(len(fresh))])

        await run_in_threadpool(new)
        return self._back(f"/s/{token}")

    # -- the instructor's page ---------------------------------------------------------------
    def _class_context(self) -> dict:
        server = self.server
        hints = server.store.hints_by_attempt(server.quiz)
        rows, results = [], []
        for row in server.store.class_rows(server.quiz):
            result = server.marking.stored(row.participant.label, row.attempt.variant, row.marks)
            results.append(result)
            rows.append((row.participant.label, row.participant.name, row.attempt.number, row.attempt.variant, result, row.last_at,
                         hints.get(row.attempt.id, 0)))
        questions = max((len(server.marking.questions(v)) for v in range(1, server.marking.variants + 1)), default=0)
        return {"rows": server.pages.class_rows(rows), "tally": server.pages.tally_view(server.marking.tally(results)),
                "questions": questions, "waiting": len(server.store.roster_without_attempt(server.quiz))}

    async def instructor(self, request: Request) -> Response:
        token = request.path_params["token"]
        self._instructor(token)
        return HTMLResponse(await run_in_threadpool(self._instructor_page, token, request.query_params.get("done", "")))

    def _instructor_page(self, token: str, done: str) -> str:
        server = self.server
        window = server.window()
        base = f"/i/{token}"
        if window.open:
            text = "Open" + (f" until {window.until:%Y-%m-%d %H:%M} UTC." if window.until else " until you close it.")
        else:
            text = "Closed." if window.opened else "Not opened yet."
        text += " Results " + ("released: students see their marks." if window.released else "not released.")
        notices = {"open": "The exam is open.", "close": "The exam is closed.", "release": "The results are released.",
                   "withhold": "The results are withheld."}
        return server.pages.instructor(
            mode=server.settings.mode, file=server.marking.key.file, seed=server.marking.key.seed, students=len(server.roster),
            window=window, window_text=text, csrf=tokens.csrf_for(server.quiz.secret, token), static="/static", notice=notices.get(done, ""),
            urls={"page": base, "table": f"{base}/class", "marks": f"{base}/marks.csv", "answers": f"{base}/answers.csv",
                  "submissions": f"{base}/submissions.csv", "exam": f"{base}/exam"},
            variants=[{"number": n, "url": f"{base}/variant/{n}"} for n in range(1, server.marking.variants + 1)],
            **self._class_context())

    async def class_table(self, request: Request) -> Response:
        self._instructor(request.path_params["token"])
        return HTMLResponse(await run_in_threadpool(lambda: self.server.pages.class_table(**self._class_context())))

    def _csv(self, text: str, name: str) -> Response:
        return Response(text, media_type="text/csv; charset=utf-8", headers={"content-disposition": f'attachment; filename="{name}"'})

    async def marks_csv(self, request: Request) -> Response:
        self._instructor(request.path_params["token"])
        return self._csv(await run_in_threadpool(lambda: self.server.marking.marks_csv(self.server.export_rows())), "marks.csv")

    async def answers_csv(self, request: Request) -> Response:
        self._instructor(request.path_params["token"])
        return self._csv(await run_in_threadpool(lambda: self.server.marking.answers_csv(self.server.export_rows())), "answers.csv")

    async def submissions_csv(self, request: Request) -> Response:
        self._instructor(request.path_params["token"])

        def text() -> str:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["submission", "id", "attempt", "variant", "question", "answer", "exam", "received_at"])
            for sid, p, a, q, answer, exam, at in self.server.store.submissions(self.server.quiz):
                writer.writerow([sid, p.label, a.number, a.variant, q, answer, "yes" if exam else "no", at.isoformat(timespec="microseconds")])
            return out.getvalue()

        return self._csv(await run_in_threadpool(text), "submissions.csv")

    async def exam(self, request: Request) -> Response:
        token = request.path_params["token"]
        self._instructor(token)
        _same_site(request, self.home)
        form = await _form(request)
        self._csrf(token, form)
        if self.server.settings.mode != "exam":
            raise Refused(404, "No such page")
        action = form.get("action", "")
        if action not in ("open", "close", "release", "withhold"):
            raise Refused(400, "open, close, release or withhold expected")
        until = None
        if action == "open" and form.get("minutes", "").strip():
            try:
                minutes = float(form["minutes"])
            except ValueError:
                raise Refused(400, "Minutes: a number expected") from None
            if not (math.isfinite(minutes) and 0 < minutes <= 60 * 24 * 14):
                raise Refused(400, "Minutes: more than 0 and at most two weeks expected")
            until = now() + timedelta(minutes=minutes)
        await run_in_threadpool(self.server.store.add_event, self.server.quiz, action, until)
        return self._back(f"/i/{token}?done={action}")

    async def variant(self, request: Request) -> Response:
        token = request.path_params["token"]
        self._instructor(token)
        number = request.path_params["number"]
        if not 1 <= number <= self.server.marking.variants:
            raise Refused(404, "No such page")

        def page() -> str:
            server = self.server
            view = server.pages.variant(number)
            questions = [{"number": e.question, "name": e.quantity, "label": label, "answer": e.answer, "tolerance": e.tolerance,
                          "options": " ".join(f"({k}) {v}" for k, v in sorted(e.options.items()))}
                         for e, label in zip(server.marking.questions(number), view["labels"])]
            body = render(server.marking.solution(number), "html", digits=max(server.digits, KEY_DIGITS), anchor=f"v{number}-")
            return environment("page").get_template("serve_variant.html.j2").render(
                title=server.pages.title, number=number, questions=questions, solution_html=Markup(body), static="/static",
                back=f"/i/{token}")

        return HTMLResponse(await run_in_threadpool(page))

    # -- the rest -----------------------------------------------------------------------------
    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise Refused(404, "No such page")
        body, kind = STATIC[name]
        return Response(body, media_type=kind)

    async def no_icon(self, request: Request) -> Response:
        return Response(status_code=204)

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")


def _static() -> dict[str, tuple[bytes, str]]:
    folder = template_dir()
    return {"serve.css": ((folder / "serve.css").read_bytes(), "text/css; charset=utf-8"),
            "serve.js": ((folder / "serve.js").read_bytes(), "text/javascript; charset=utf-8")}


STATIC = _static()


def inline_script_hashes() -> list[str]:
    """The CSP hashes of the inline scripts the page templates write (the equations' links):
    the only inline script a page may run."""
    html = environment("page").from_string('{% from "_page.html.j2" import foot %}{{ foot() }}').render()
    return ["sha256-" + base64.b64encode(hashlib.sha256(m.encode("utf-8")).digest()).decode()
            for m in re.findall(r"<script>(.*?)</script>", html, re.S)]


def create_app(server: Server):
    """The ASGI application: the routes inside the guards of :mod:`tracer.serve.guard`."""
    routes = Routes(server)
    pages = server.pages

    def page(status: int, message: str) -> str:
        return pages.error(status, message)

    async def refused(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc, Refused) else {404: "No such page", 405: "Not allowed here"}.get(exc.status_code, "Refused")
        headers = {"retry-after": "60"} if exc.status_code == 429 else None
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=exc.status_code, headers=headers)
        return HTMLResponse(page(exc.status_code, message), status_code=exc.status_code, headers=headers)

    async def failed(request: Request, exc: Exception) -> Response:
        reference = secrets.token_hex(4)
        guard.error_log.error("%s", guard.error_line(reference, exc, request.scope))
        exc.__dict__["tracer_logged"] = True
        message = f"Something went wrong on the server (reference {reference}); your earlier answers are kept"
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=500)
        return HTMLResponse(page(500, message), status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        # a few threads for the requests' work: it is Python's (one core a process), more would only contend
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        # a thread back from the database gets the interpreter within 1 ms, not 5 ms, of a thread marking
        # (PostgreSQL, p95 of an answer under 300 students: 528 → 134 ms); the process's own setting again after
        before = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            yield
        finally:
            sys.setswitchinterval(before)

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", routes.front, methods=["GET"]),
            Route("/practice", routes.start, methods=["POST"]),
            Route("/s/{token}", routes.student, methods=["GET"]),
            Route("/s/{token}/answer", routes.answer, methods=["POST"]),
            Route("/s/{token}/hint", routes.hint, methods=["POST"]),
            Route("/s/{token}/another", routes.another, methods=["POST"]),
            Route("/i/{token}", routes.instructor, methods=["GET"]),
            Route("/i/{token}/class", routes.class_table, methods=["GET"]),
            Route("/i/{token}/marks.csv", routes.marks_csv, methods=["GET"]),
            Route("/i/{token}/answers.csv", routes.answers_csv, methods=["GET"]),
            Route("/i/{token}/submissions.csv", routes.submissions_csv, methods=["GET"]),
            Route("/i/{token}/exam", routes.exam, methods=["POST"]),
            Route("/i/{token}/variant/{number:int}", routes.variant, methods=["GET"]),
            Route("/static/{name}", routes.static, methods=["GET"]),
            Route("/healthz", routes.health, methods=["GET"]),
            Route("/favicon.ico", routes.no_icon, methods=["GET"]),
        ],
        exception_handlers={HTTPException: refused, Exception: failed},
    )
    guarded = guard.SizeLimit(app, page, server.settings.max_body)
    guarded = guard.Errors(guarded, page)
    guarded = guard.SecurityHeaders(guarded, inline_script_hashes(), routes.https)
    return guard.AccessLog(guarded)
