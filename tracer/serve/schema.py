"""The tables of ``tracer serve`` (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``submission`` is the record: every answer a student enters, appended with the time the
server received it, never updated or deleted. ``mark`` is derived from it (the marking
of each attempt's latest answers, kept so that the class table needs no re-marking) and is
overwritten; an export re-marks from ``submission``. ``event`` appends the exam's
openings, closings and releases. Times are UTC, without a zone.

The schema's history is the Alembic migrations in ``migrations/versions``; a change here
comes with a new migration (tests/test_serve_storage.py compares the two).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: the one quiz a database serves: its key's digest, where it came from, the secret its links derive from
quiz = Table(
    "quiz",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_digest", String(64), nullable=False, unique=True),
    Column("file", Text, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("variants", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("secret", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

#: a student: from the roster (``student`` is its id) or an open practice session (``student`` null)
participant = Table(
    "participant",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("quiz_id", Integer, ForeignKey("quiz.id"), nullable=False),
    Column("student", String(200), nullable=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("variant", Integer, nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("quiz_id", "student", name="uq_participant_student"),
)

#: one variant a participant works (practice: "another variant" starts the next)
attempt = Table(
    "attempt",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("participant_id", Integer, ForeignKey("participant.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("variant", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    UniqueConstraint("participant_id", "number", name="uq_attempt_number"),
)

#: every answer entered, with its time: appended, never overwritten
submission = Table(
    "submission",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("attempt_id", Integer, ForeignKey("attempt.id"), nullable=False),
    Column("participant_id", Integer, ForeignKey("participant.id"), nullable=False),
    Column("question", Integer, nullable=False),
    Column("answer", String(64), nullable=False),
    Column("exam", Boolean, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("ix_submission_attempt", "attempt_id", "id"),
    Index("ix_submission_participant_time", "participant_id", "received_at"),
)

#: the marking of an attempt's latest answers (derived from submission; rewritten after each)
mark = Table(
    "mark",
    metadata,
    Column("attempt_id", Integer, ForeignKey("attempt.id"), primary_key=True),
    Column("question", Integer, primary_key=True),
    Column("answer", String(64), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("credit", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("culprit", String(200), nullable=True),
    Column("mistake", Text, nullable=False),
    Column("through", BigInteger, nullable=False),  # the last submission this marking includes
)

#: "show the next step": one row per step shown
hint = Table(
    "hint",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("attempt_id", Integer, ForeignKey("attempt.id"), nullable=False),
    Column("question", Integer, nullable=False),
    Column("shown_at", DateTime, nullable=False),
    Index("ix_hint_attempt", "attempt_id"),
)

#: the exam's window and release: open (until ``until``, or until closed), close, release, withhold
event = Table(
    "event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("quiz_id", Integer, ForeignKey("quiz.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("until", DateTime, nullable=True),
)
