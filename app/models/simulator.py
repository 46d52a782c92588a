"""The carrier simulator's own records: what the 'carrier' received.

This is the simulated carrier's state, not smsdesk's, so it is committed on its own connection
the moment a submission is accepted — exactly like a real carrier that has the message even if
our worker dies before recording the answer.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_column


class SimulatorSubmission(db.Model):
    __tablename__ = "simulator_submissions"
    # Reports still to send are few; the submissions ever made are many. A partial index keeps
    # the tick's "which reports are due" pick from scanning the whole history.
    __table_args__ = (
        Index("ix_simulator_submissions_unreported", "report_due_at",
              postgresql_where=text("reported_at IS NULL"), sqlite_where=text("reported_at IS NULL")),
    )

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    to_number: Mapped[str] = mapped_column(String(32))
    sender: Mapped[str | None] = mapped_column(String(32))
    # How many times this reference was submitted; anything above 1 is a duplicate we absorbed.
    submissions: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(200))
    first_submitted_at: Mapped[datetime] = created_column()
    report_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
