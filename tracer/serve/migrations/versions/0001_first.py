"""The first release's tables: quiz, participant, attempt, submission, mark, hint, event.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite's rowid is its 64-bit key


def upgrade() -> None:
    op.create_table(
        "quiz",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("variants", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "participant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("quiz_id", sa.Integer, sa.ForeignKey("quiz.id"), nullable=False),
        sa.Column("student", sa.String(200), nullable=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("variant", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("quiz_id", "student", name="uq_participant_student"),
    )
    op.create_table(
        "attempt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("variant", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("participant_id", "number", name="uq_attempt_number"),
    )
    op.create_table(
        "submission",
        sa.Column("id", ID, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column("participant_id", sa.Integer, sa.ForeignKey("participant.id"), nullable=False),
        sa.Column("question", sa.Integer, nullable=False),
        sa.Column("answer", sa.String(64), nullable=False),
        sa.Column("exam", sa.Boolean, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_submission_attempt", "submission", ["attempt_id", "id"])
    op.create_index("ix_submission_participant_time", "submission", ["participant_id", "received_at"])
    op.create_table(
        "mark",
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempt.id"), primary_key=True),
        sa.Column("question", sa.Integer, primary_key=True),
        sa.Column("answer", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("credit", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("culprit", sa.String(200), nullable=True),
        sa.Column("mistake", sa.Text, nullable=False),
        sa.Column("through", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "hint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempt_id", sa.Integer, sa.ForeignKey("attempt.id"), nullable=False),
        sa.Column("question", sa.Integer, nullable=False),
        sa.Column("shown_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_hint_attempt", "hint", ["attempt_id"])
    op.create_table(
        "event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("quiz_id", sa.Integer, sa.ForeignKey("quiz.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("until", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    for table in ("event", "hint", "mark", "submission", "attempt", "participant", "quiz"):
        op.drop_table(table)
