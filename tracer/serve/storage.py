"""The database of ``tracer serve``: SQLite by default (one file, WAL), PostgreSQL for several processes.

Durability is the contract: a submission the server acknowledged is committed first — on
SQLite with ``synchronous=FULL`` (the WAL is synced at every commit), on PostgreSQL by its
own commit — so a server killed with SIGKILL (or a machine that loses power) loses none
that a student saw marked.

Every answer is appended to ``submission`` with the time it arrived; the marking of an
attempt's latest answers is written beside it in the same transaction, made from the answers
as they are when it commits (two tabs of one student, or two server processes: the second
marks again, :meth:`Store.submit`).

Transactions that write take the lock at their start: ``BEGIN IMMEDIATE`` on SQLite (one
writer at a time, the others wait up to 30 s), ``SELECT … FOR UPDATE`` of the attempt on
PostgreSQL (only the same attempt waits). Reads take none.

The schema is made and upgraded by Alembic (``migrations/``) when the server starts,
under a lock, so that several processes starting at once migrate once.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import and_, create_engine, delete, event, func, insert, select, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError, SQLAlchemyError

from tracer.serve import schema

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: a process-wide key of PostgreSQL's advisory lock that serialises migrations ("tracer" in ASCII)
_MIGRATION_LOCK = 0x747261636572


class StoreError(Exception):
    """The database cannot be used as asked; ``str(err)`` is one line for the user."""


class AlreadySubmitted(Exception):
    """An exam attempt takes one submission."""


def now() -> datetime:
    """UTC, without a zone (as stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Quiz:
    id: int
    secret: bytes
    variants: int
    title: str


@dataclass(frozen=True)
class Participant:
    id: int
    quiz_id: int
    student: str | None  # the roster's id; None for an open practice session
    name: str
    variant: int  # the variant of the first attempt

    @property
    def label(self) -> str:
        """The student's id in the exports: the roster's, or ``practice-0007``."""
        return self.student if self.student is not None else f"practice-{self.id:04d}"


@dataclass(frozen=True)
class Attempt:
    id: int
    participant_id: int
    number: int
    variant: int
    started_at: datetime


@dataclass(frozen=True)
class MarkRow:
    """One question's marking as stored (the marking of :mod:`tracer.teach.grade`, flattened)."""

    question: int
    answer: str
    verdict: str
    credit: float
    reason: str
    culprit: str | None
    mistake: str


@dataclass(frozen=True)
class Latest:
    """An attempt's latest answer to each question, and the last submission read."""

    answers: dict[int, str]
    through: int
    exam_at: datetime | None  # when its exam submission came in


@dataclass(frozen=True)
class ClassRow:
    participant: Participant
    attempt: Attempt
    marks: dict[int, MarkRow]
    last_at: datetime | None


def database_url(url: str) -> URL:
    """A URL as given (``sqlite:///class.db``, ``postgresql://user@host/db``); PostgreSQL through
    psycopg 3 when no driver is named. :class:`StoreError` for anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"--db {url!r}: not a database URL (sqlite:///FILE or postgresql://USER@HOST/DB expected)") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"--db: a {backend} database; sqlite:///FILE or postgresql://USER@HOST/DB expected")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError("--db: an SQLite database in a file expected (sqlite:///FILE); one in memory would forget every answer")
    return parsed


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _sqlite_engine(url: URL, begin: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=32)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the driver begins nothing by itself: we say BEGIN below
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


class Store:
    """The database of one quiz: read through :attr:`reader`, written through :attr:`writer`."""

    def __init__(self, url: str):
        self.url = database_url(url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self._write_lock = threading.Lock() if self.sqlite else contextlib.nullcontext()
        try:
            if self.sqlite:
                folder = Path(self.url.database or "").resolve().parent
                if not folder.is_dir():
                    raise StoreError(f"--db: the folder {folder} of the SQLite file does not exist")
                self.reader = self.snapshot = _sqlite_engine(self.url, "BEGIN")  # WAL: a reader sees one snapshot
                self.writer = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            else:
                # no pre-ping: it would double the round trips of every request; a connection a PostgreSQL
                # restart broke fails one request, and the pool is renewed (SQLAlchemy invalidates it)
                self.writer = create_engine(self.url, pool_size=8, max_overflow=32, pool_recycle=3600)
                # a read of one statement needs no transaction (no BEGIN, no ROLLBACK: two round trips fewer);
                # a read of several that must agree (the class, the exports) takes a snapshot of its own
                self.reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")
                self.snapshot = self.writer.execution_options(isolation_level="REPEATABLE READ")
        except (NoSuchModuleError, ImportError) as err:
            raise StoreError(f"--db: no driver for {self.url.drivername} ({err}); pip install 'backprop-tracer[serve]'") from None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction that writes. On SQLite the threads of this process take turns for it here,
        in order, rather than in SQLite's busy handler, which sleeps up to 100 ms between tries."""
        with self._write_lock:
            with self.writer.begin() as connection:
                yield connection

    def close(self) -> None:
        for engine in {self.reader.engine, self.writer.engine}:
            engine.dispose()

    # -- the schema ------------------------------------------------------------------------
    def migrate(self) -> None:
        """The schema made or upgraded to the newest migration (once, whoever starts first)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self._writing() as connection:
                if not self.sqlite:
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except OperationalError as err:
            raise StoreError(f"--db {self.url.render_as_string(hide_password=True)}: cannot connect ({_first_line(err)})") from None

    def revision(self) -> str | None:
        with self.reader.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    # -- the quiz --------------------------------------------------------------------------
    def open_quiz(self, digest: str, file: str, seed: int, variants: int, title: str) -> Quiz:
        """The quiz this database serves, made on the first start; another quiz's database is refused."""
        with self._writing() as c:
            rows = c.execute(select(schema.quiz)).all()
            if not rows:
                secret = secrets.token_hex(32)
                c.execute(insert(schema.quiz).values(key_digest=digest, file=file, seed=seed, variants=variants, title=title,
                                                     secret=secret, created_at=now()))
                rows = c.execute(select(schema.quiz)).all()
            row = rows[0]
            if row.key_digest != digest:
                raise StoreError(f"--db: this database serves another quiz ({row.file}, seed {row.seed}, {row.variants} variants); "
                                 "give each quiz its own database")
            return Quiz(row.id, bytes.fromhex(row.secret), row.variants, row.title)

    # -- participants ----------------------------------------------------------------------
    def add_students(self, quiz: Quiz, students: list[tuple[str, str, int, str]]) -> list[str]:
        """Roster students (id, name, variant, token hash) not yet here, added; their ids."""
        added = []
        with self._writing() as c:
            known = set(c.execute(select(schema.participant.c.student).where(schema.participant.c.quiz_id == quiz.id)).scalars())
            for student, name, variant, token_hash in students:
                if student in known:
                    continue
                c.execute(insert(schema.participant).values(quiz_id=quiz.id, student=student, name=name, variant=variant,
                                                            token_hash=token_hash, created_at=now()))
                added.append(student)
        return added

    def students(self, quiz: Quiz) -> list[Participant]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.participant).where(and_(schema.participant.c.quiz_id == quiz.id,
                                                                   schema.participant.c.student.is_not(None)))
                             .order_by(schema.participant.c.id)).all()
        return [_participant(r) for r in rows]

    def participant(self, token_hash: str) -> Participant | None:
        with self.reader.connect() as c:
            row = c.execute(select(schema.participant).where(schema.participant.c.token_hash == token_hash)).first()
        return _participant(row) if row is not None else None

    def new_participant(self, quiz: Quiz, variant: int, token_hash: str) -> tuple[Participant, Attempt]:
        """An open practice session with its first attempt."""
        with self._writing() as c:
            pid = c.execute(insert(schema.participant).values(quiz_id=quiz.id, student=None, name="", variant=variant,
                                                              token_hash=token_hash, created_at=now())
                            .returning(schema.participant.c.id)).scalar_one()
            attempt = self._start(c, pid, variant)
            row = c.execute(select(schema.participant).where(schema.participant.c.id == pid)).one()
        return _participant(row), attempt

    # -- attempts --------------------------------------------------------------------------
    def attempts(self, participant: Participant) -> list[Attempt]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.attempt).where(schema.attempt.c.participant_id == participant.id)
                             .order_by(schema.attempt.c.number)).all()
        return [_attempt(r) for r in rows]

    def visitor(self, token_hash: str) -> tuple[Participant, Attempt | None] | None:
        """Whose link it is, with their latest attempt (None before their first visit): one query."""
        p, a = schema.participant, schema.attempt
        with self.reader.connect() as c:
            row = c.execute(select(p, a.c.id.label("attempt_id"), a.c.number, a.c.variant.label("attempt_variant"), a.c.started_at)
                            .select_from(p.outerjoin(a, a.c.participant_id == p.c.id)).where(p.c.token_hash == token_hash)
                            .order_by(a.c.number.desc()).limit(1)).first()
        if row is None:
            return None
        attempt = Attempt(row.attempt_id, row.id, row.number, row.attempt_variant, row.started_at) if row.attempt_id is not None else None
        return _participant(row), attempt

    def current_attempt(self, participant: Participant, known: Attempt | None = None) -> Attempt:
        """The participant's latest attempt (``known``, when the caller has it); the first (their
        variant) made on their first visit."""
        if known is not None:
            return known
        found = self.attempts(participant)
        if found:
            return found[-1]
        with self._writing() as c:
            again = c.execute(select(schema.attempt).where(schema.attempt.c.participant_id == participant.id)
                              .order_by(schema.attempt.c.number.desc())).first()
            return _attempt(again) if again is not None else self._start(c, participant.id, participant.variant)

    def start_attempt(self, participant: Participant, variant: int) -> Attempt:
        with self._writing() as c:
            return self._start(c, participant.id, variant)

    def _start(self, c: Connection, participant_id: int, variant: int) -> Attempt:
        number = (c.execute(select(func.max(schema.attempt.c.number)).where(schema.attempt.c.participant_id == participant_id)).scalar() or 0) + 1
        at = now()
        aid = c.execute(insert(schema.attempt).values(participant_id=participant_id, number=number, variant=variant, started_at=at)
                        .returning(schema.attempt.c.id)).scalar_one()
        return Attempt(aid, participant_id, number, variant, at)

    def attempts_since(self, participant: Participant, seconds: float) -> int:
        with self.reader.connect() as c:
            return c.execute(select(func.count()).select_from(schema.attempt).where(and_(
                schema.attempt.c.participant_id == participant.id, schema.attempt.c.started_at > now() - timedelta(seconds=seconds)))).scalar_one()

    # -- answers ---------------------------------------------------------------------------
    def latest(self, attempt: Attempt, c: Connection | None = None) -> Latest:
        if c is None:
            with self.reader.connect() as connection:
                return self.latest(attempt, connection)
        rows = c.execute(select(schema.submission.c.id, schema.submission.c.question, schema.submission.c.answer,
                                schema.submission.c.exam, schema.submission.c.received_at)
                         .where(schema.submission.c.attempt_id == attempt.id).order_by(schema.submission.c.id)).all()
        answers: dict[int, str] = {}
        exam_at = None
        for row in rows:
            answers[row.question] = row.answer
            if row.exam and exam_at is None:
                exam_at = row.received_at
        return Latest(answers, rows[-1].id if rows else 0, exam_at)

    def answers_since(self, participant: Participant, seconds: float) -> int:
        """How many answers the participant entered in the last ``seconds`` (the rate limit's count)."""
        with self.reader.connect() as c:
            return c.execute(select(func.count()).select_from(schema.submission).where(and_(
                schema.submission.c.participant_id == participant.id,
                schema.submission.c.received_at > now() - timedelta(seconds=seconds)))).scalar_one()

    def submit(self, attempt: Attempt, answers: dict[int, str], exam: bool,
               mark: Callable[[dict[int, str]], list[MarkRow]]) -> tuple[list[MarkRow], list[int]]:
        """Append ``answers`` (question → text) to the attempt's submissions and store the marking of
        its latest answers, ``mark(latest)``, in one transaction; returns the marking and the new
        submissions' ids. The marking is computed before the transaction, so that no lock is held
        while it runs; when another submission of the attempt arrived in between, it is computed
        again inside the transaction, under the lock, from the answers as they now are."""
        before = self.latest(attempt)
        if exam and before.exam_at is not None:
            raise AlreadySubmitted()
        marks = mark({**before.answers, **answers})
        with self._writing() as c:
            if not self.sqlite:  # the attempt's row lock: its submissions are written one at a time (then a statement
                # of its own reads the newest: one that waited for the lock would see what was there before it waited)
                c.execute(select(schema.attempt.c.id).where(schema.attempt.c.id == attempt.id).with_for_update())
            last = c.execute(select(func.max(schema.submission.c.id)).where(schema.submission.c.attempt_id == attempt.id)).scalar() or 0
            if last != before.through:  # another submission came in: mark again with it
                now_latest = self.latest(attempt, c)
                if exam and now_latest.exam_at is not None:
                    raise AlreadySubmitted()
                marks = mark({**now_latest.answers, **answers})
            at = now()
            ids = [c.execute(insert(schema.submission).values(attempt_id=attempt.id, participant_id=attempt.participant_id,
                                                              question=q, answer=a, exam=exam, received_at=at)
                             .returning(schema.submission.c.id)).scalar_one()
                   for q, a in sorted(answers.items())]
            c.execute(delete(schema.mark).where(schema.mark.c.attempt_id == attempt.id))
            if marks:
                c.execute(insert(schema.mark), [dict(attempt_id=attempt.id, through=ids[-1] if ids else last, **m.__dict__) for m in marks])
            return marks, ids

    def marks(self, attempt: Attempt) -> dict[int, MarkRow]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.mark).where(schema.mark.c.attempt_id == attempt.id)).all()
        return {r.question: _mark(r) for r in rows}

    # -- hints -----------------------------------------------------------------------------
    def hints(self, attempt: Attempt) -> Counter:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.hint.c.question, func.count()).where(schema.hint.c.attempt_id == attempt.id)
                             .group_by(schema.hint.c.question)).all()
        return Counter({q: n for q, n in rows})

    def show_hint(self, attempt: Attempt, question: int, steps: int, every: bool = False) -> int:
        """One more step of the question shown (``every``: all the rest), at most ``steps``; how many are shown now."""
        with self._writing() as c:
            shown = c.execute(select(func.count()).select_from(schema.hint).where(and_(
                schema.hint.c.attempt_id == attempt.id, schema.hint.c.question == question))).scalar_one()
            more = max(0, steps - shown) if every else min(1, max(0, steps - shown))
            if more:
                at = now()
                c.execute(insert(schema.hint), [dict(attempt_id=attempt.id, question=question, shown_at=at)] * more)
            return shown + more

    def hints_by_attempt(self, quiz: Quiz) -> dict[int, int]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.hint.c.attempt_id, func.count()).select_from(_hints_of_quiz())
                             .where(schema.participant.c.quiz_id == quiz.id).group_by(schema.hint.c.attempt_id)).all()
        return {a: n for a, n in rows}

    # -- the exam's window -----------------------------------------------------------------
    def add_event(self, quiz: Quiz, kind: str, until: datetime | None = None) -> None:
        with self._writing() as c:
            c.execute(insert(schema.event).values(quiz_id=quiz.id, kind=kind, at=now(), until=until))

    def events(self, quiz: Quiz) -> list[tuple[str, datetime, datetime | None]]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.event.c.kind, schema.event.c.at, schema.event.c.until)
                             .where(schema.event.c.quiz_id == quiz.id).order_by(schema.event.c.id)).all()
        return [(r.kind, r.at, r.until) for r in rows]

    # -- the class -------------------------------------------------------------------------
    def class_rows(self, quiz: Quiz) -> list[ClassRow]:
        """Every attempt with its stored marking and the time of its last answer, in the order they began."""
        with self.snapshot.begin() as c:
            people = {r.id: _participant(r) for r in c.execute(select(schema.participant).where(schema.participant.c.quiz_id == quiz.id))}
            attempts = [_attempt(r) for r in c.execute(select(schema.attempt).where(schema.attempt.c.participant_id.in_(list(people)))
                                                      .order_by(schema.attempt.c.id))] if people else []
            marks: dict[int, dict[int, MarkRow]] = {}
            for r in c.execute(select(schema.mark).select_from(_marks_of_quiz()).where(schema.participant.c.quiz_id == quiz.id)):
                marks.setdefault(r.attempt_id, {})[r.question] = _mark(r)
            last = dict(c.execute(select(schema.submission.c.attempt_id, func.max(schema.submission.c.received_at))
                                  .join(schema.participant, schema.submission.c.participant_id == schema.participant.c.id).where(schema.participant.c.quiz_id == quiz.id)
                                  .group_by(schema.submission.c.attempt_id)).all())
        return [ClassRow(people[a.participant_id], a, marks.get(a.id, {}), last.get(a.id)) for a in attempts]

    def roster_without_attempt(self, quiz: Quiz) -> list[Participant]:
        with self.reader.connect() as c:
            rows = c.execute(select(schema.participant).where(and_(
                schema.participant.c.quiz_id == quiz.id, schema.participant.c.student.is_not(None),
                ~select(schema.attempt.c.id).where(schema.attempt.c.participant_id == schema.participant.c.id).exists()))
                .order_by(schema.participant.c.id)).all()
        return [_participant(r) for r in rows]

    def latest_answers(self, quiz: Quiz) -> list[tuple[Participant, Attempt, dict[int, str]]]:
        """Every attempt's latest answers (what an export marks), in the order the attempts began."""
        with self.snapshot.begin() as c:
            people = {r.id: _participant(r) for r in c.execute(select(schema.participant).where(schema.participant.c.quiz_id == quiz.id))}
            attempts = {r.id: _attempt(r) for r in c.execute(select(schema.attempt).where(schema.attempt.c.participant_id.in_(list(people)))
                                                            .order_by(schema.attempt.c.id))} if people else {}
            answers: dict[int, dict[int, str]] = {a: {} for a in attempts}
            for r in c.execute(select(schema.submission.c.attempt_id, schema.submission.c.question, schema.submission.c.answer)
                               .join(schema.participant, schema.submission.c.participant_id == schema.participant.c.id).where(schema.participant.c.quiz_id == quiz.id).order_by(schema.submission.c.id)):
                answers[r.attempt_id][r.question] = r.answer
        return [(people[a.participant_id], a, answers[a.id]) for a in attempts.values()]

    def submissions(self, quiz: Quiz) -> Iterator[tuple[int, Participant, Attempt, int, str, bool, datetime]]:
        """Every submission, oldest first: (id, participant, attempt, question, answer, exam, received at)."""
        with self.snapshot.begin() as c:
            people = {r.id: _participant(r) for r in c.execute(select(schema.participant).where(schema.participant.c.quiz_id == quiz.id))}
            attempts = {r.id: _attempt(r) for r in c.execute(select(schema.attempt).where(schema.attempt.c.participant_id.in_(list(people))))} if people else {}
            rows = c.execute(select(schema.submission).join(schema.participant, schema.submission.c.participant_id == schema.participant.c.id).where(schema.participant.c.quiz_id == quiz.id)
                             .order_by(schema.submission.c.id)).all()
        for r in rows:
            yield r.id, people[r.participant_id], attempts[r.attempt_id], r.question, r.answer, r.exam, r.received_at


def _hints_of_quiz():
    return schema.hint.join(schema.attempt, schema.hint.c.attempt_id == schema.attempt.c.id).join(
        schema.participant, schema.attempt.c.participant_id == schema.participant.c.id)


def _marks_of_quiz():
    return schema.mark.join(schema.attempt, schema.mark.c.attempt_id == schema.attempt.c.id).join(
        schema.participant, schema.attempt.c.participant_id == schema.participant.c.id)


def _participant(row) -> Participant:
    return Participant(row.id, row.quiz_id, row.student, row.name, row.variant)


def _attempt(row) -> Attempt:
    return Attempt(row.id, row.participant_id, row.number, row.variant, row.started_at)


def _mark(row) -> MarkRow:
    return MarkRow(row.question, row.answer, row.verdict, row.credit, row.reason, row.culprit, row.mistake)


def _first_line(err: Exception) -> str:
    orig = getattr(err, "orig", None) or err
    return str(orig).strip().splitlines()[0] if str(orig).strip() else err.__class__.__name__


__all__ = ["AlreadySubmitted", "Attempt", "ClassRow", "IntegrityError", "Latest", "MarkRow", "Participant", "Quiz", "SQLAlchemyError",
           "Store", "StoreError", "database_url", "now", "sqlite_url"]
