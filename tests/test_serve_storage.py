"""The database of ``tracer serve``, on SQLite and on PostgreSQL (a cluster of the tests' own:
tests/pg_cluster.py; under CI never skipped, since scripts/setup.sh installs PostgreSQL).

Every submission is appended, never overwritten; concurrent submissions of one attempt are all
in the marking; an exam takes one submission however many arrive at once; the schema is the
migrations' (Alembic); and a server killed with SIGKILL during a burst of answers has lost none
it acknowledged when it comes back, and serves on.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import threading
import time

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from serve_support import ServerProcess, free_port
from tracer.serve import tokens
from tracer.serve.schema import metadata
from tracer.serve.storage import AlreadySubmitted, MarkRow, Store, StoreError, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "serve.sqlite3")
    return request.getfixturevalue("postgres").create_database("t" + secrets.token_hex(6))


@pytest.fixture
def store(db_url):
    found = Store(db_url)
    found.migrate()
    yield found
    found.close()


def _attempt(store: Store, student: str = "ana", digest: str = "a" * 64):
    quiz = store.open_quiz(digest, "mazur.yaml", 5, 3, "Mazur")
    store.add_students(quiz, [(student, "", 1, tokens.digest(tokens.student_token(quiz.secret, student)))])
    participant = store.participant(tokens.digest(tokens.student_token(quiz.secret, student)))
    return quiz, participant, store.current_attempt(participant)


def _echo(latest: dict[int, str]) -> list[MarkRow]:
    """A stand-in marking that says what it was given (the real one: tests/test_serve.py)."""
    return [MarkRow(q, text, "right", 1.0, f"saw {text}", None, "") for q, text in sorted(latest.items())]


def test_the_migrations_make_the_schema_that_schema_py_declares(store):
    assert store.revision() == "0001"
    with store.writer.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    store.migrate()  # again: nothing to do
    assert store.revision() == "0001"


def test_every_submission_is_appended_never_overwritten(store):
    quiz, ana, attempt = _attempt(store)
    store.submit(attempt, {1: "0.1"}, False, _echo)
    store.submit(attempt, {1: "0.2"}, False, _echo)
    marks, ids = store.submit(attempt, {2: "0.3"}, False, _echo)
    log = list(store.submissions(quiz))
    assert [(q, text) for _, _, _, q, text, _, _ in log] == [(1, "0.1"), (1, "0.2"), (2, "0.3")]
    assert [at for *_, at in log] == sorted(at for *_, at in log) and ids == [log[-1][0]]
    assert store.latest(attempt).answers == {1: "0.2", 2: "0.3"}
    assert {q: m.reason for q, m in store.marks(attempt).items()} == {1: "saw 0.2", 2: "saw 0.3"}
    assert store.answers_since(ana, 60) == 3


def test_concurrent_submissions_of_one_attempt_are_all_in_its_marking(store):
    """Two tabs, two processes: the marking written last includes every answer (marked again when
    another submission came in between)."""
    _, _, attempt = _attempt(store)
    barrier = threading.Barrier(6)
    failed: list[BaseException] = []

    def answer(k: int) -> None:
        barrier.wait()
        try:
            for n in range(5):
                store.submit(attempt, {k % 4 + 1: f"{k}.{n}"}, False, _echo)
        except BaseException as err:  # noqa: BLE001 — reported below, not lost in the thread
            failed.append(err)

    threads = [threading.Thread(target=answer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failed
    assert len(list(store.submissions(store.open_quiz("a" * 64, "mazur.yaml", 5, 3, "Mazur")))) == 30
    latest = store.latest(attempt)
    assert len({text for text in latest.answers.values()}) == 4
    assert {q: m.answer for q, m in store.marks(attempt).items()} == latest.answers


def test_an_exam_takes_one_submission_however_many_arrive_at_once(store):
    _, _, attempt = _attempt(store)
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def submit(k: int) -> None:
        barrier.wait()
        try:
            store.submit(attempt, {1: str(k), 2: "", 3: "", 4: ""}, True, _echo)
            outcomes.append("taken")
        except AlreadySubmitted:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 4 + ["taken"]
    assert len(store.latest(attempt).answers) == 4 and store.latest(attempt).exam_at is not None


def test_a_database_serves_one_quiz(store):
    _attempt(store, digest="a" * 64)
    with pytest.raises(StoreError, match=r"this database serves another quiz \(mazur.yaml, seed 5, 3 variants\)"):
        store.open_quiz("b" * 64, "other.yaml", 1, 2, "Other")


def test_a_bad_database_url_is_one_line():
    with pytest.raises(StoreError, match=r"not a database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match=r"one in memory would forget every answer"):
        Store("sqlite://")


# ---------------------------------------------------------------------------------------------
# SIGKILL during a burst
# ---------------------------------------------------------------------------------------------


def test_a_server_killed_during_a_burst_loses_no_acknowledged_answer(db_url, serve_quiz, tmp_path):
    students = [f"s{k:02d}" for k in range(12)]
    roster = tmp_path / "class.csv"
    roster.write_text("id\n" + "\n".join(students) + "\n", encoding="utf-8")
    links = tmp_path / "links.csv"
    server = ServerProcess(serve_quiz, db_url, roster, links, free_port(), "--rate", "10000").start()
    paths = {row["id"]: httpx.URL(row["link"]).path for row in csv.DictReader(links.open(encoding="utf-8"))}
    acknowledged: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst(student: str) -> None:
        path = paths[student]
        with httpx.Client(base_url=server.base, timeout=10) as client:
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)
            n = 0
            while not stop.is_set():
                n += 1
                question, text = n % 4 + 1, f"0.{students.index(student):02d}{n:04d}"
                try:
                    response = client.post(f"{path}/answer", data={"csrf": csrf, "question": str(question), "answer": text},
                                           headers={"Accept": "application/json"})
                except httpx.HTTPError:
                    return  # the server is gone: this answer was not acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append((student, question, text))

    threads = [threading.Thread(target=burst, args=(s,)) for s in students]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL, mid-burst
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) >= 150
    again = ServerProcess(serve_quiz, db_url, roster, links, free_port(), "--rate", "10000").start()
    try:
        instructor = (links.parent / "instructor-link.txt").read_text().strip().replace(server.base, again.base)
        stored = {(r["id"], int(r["question"]), r["answer"])
                  for r in csv.DictReader(io.StringIO(httpx.get(f"{instructor}/submissions.csv", timeout=30).text))}
        lost = [a for a in acknowledged if a not in stored]
        assert lost == [], f"{len(lost)} acknowledged answers lost of {len(acknowledged)}"
        with httpx.Client(base_url=again.base, timeout=10) as client:  # and it serves on
            path = paths["s00"]
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)
            response = client.post(f"{path}/answer", data={"csrf": csrf, "question": "1", "answer": "0.5"}, headers={"Accept": "application/json"})
            assert response.status_code == 200 and response.json()["marks"][0]["given"] == "0.5"
    finally:
        again.stop()
