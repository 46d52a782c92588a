"""A CSV import of contacts: the uploaded file, how its columns map to contact fields, and what
became of every row.

Lifecycle (transitions only through the methods below)::

    UPLOADED --start--> MAPPED --claim (the job)--> RUNNING --all rows written--> COMPLETED
       |                  ^                            |
       |                  |                            +--error, or worker gone--> FAILED
       |                  +---------------start (a retry)---------------------------+
       +--discard (the row is deleted; a FAILED import may be discarded too)

The job writes every contact of the file and the import's final counts in ONE transaction, so a
failure at any point (an exception, a killed worker) leaves no contact of the file behind and a
retry starts from a clean slate. Progress while it runs therefore cannot live in this row (it is
committed only at the end); the job reports it through Redis and this row only says RUNNING.

``attempts`` counts claims. The job that claimed attempt *n* may finish the import only while
``attempts`` is still *n*, so a job presumed dead (and retried) can never complete it twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, Update, update
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, utcnow

DEDUPE_MODES = ("skip", "update")
COUNTS = ("created", "updated", "skipped", "rejected")


class ContactImport(db.Model):
    __tablename__ = "contact_imports"

    UPLOADED, MAPPED, RUNNING, COMPLETED, FAILED = "uploaded", "mapped", "running", "completed", "failed"
    ACTIVE = (MAPPED, RUNNING)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    # The file as uploaded. Deferred: the progress poll must not load megabytes every second.
    # Dropped once the import completes; the rejected-rows report is all that is still needed.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    encoding: Mapped[str] = mapped_column(String(32))
    delimiter: Mapped[str] = mapped_column(String(4))
    notice: Mapped[str | None] = mapped_column(Text)  # said once about how the file was read
    columns: Mapped[list] = mapped_column(JSON, default=list)  # header names, made unique
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)  # contact field -> column index
    dedupe: Mapped[str] = mapped_column(String(8), default="skip")
    group_id: Mapped[str | None] = mapped_column(ForeignKey("contact_groups.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=UPLOADED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)  # data rows in the file
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[str | None] = mapped_column(Text, deferred=True)  # rejected rows as CSV
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_done(self) -> bool:
        return self.status in (self.COMPLETED, self.FAILED)

    @property
    def can_start(self) -> bool:
        return self.status in (self.UPLOADED, self.FAILED)

    def start(self, mapping: dict, dedupe: str, group_id: str | None) -> None:
        """Mapping and options chosen: the import waits for the job (UPLOADED/FAILED -> MAPPED)."""
        if not self.can_start:
            raise ValueError(f"an import that is {self.status} cannot be started")
        if dedupe not in DEDUPE_MODES:
            raise ValueError(f"dedupe must be one of {DEDUPE_MODES}")
        self.mapping, self.dedupe, self.group_id = dict(mapping), dedupe, group_id
        self.status, self.error, self.queued_at = self.MAPPED, None, utcnow()
        self.created = self.updated = self.skipped = self.rejected = 0
        self.started_at = self.finished_at = None

    @classmethod
    def claim(cls, import_id: str) -> Update:
        """MAPPED -> RUNNING as one conditional UPDATE: of two jobs for the same import (a lost
        job re-enqueued, a double click), exactly one matches a row."""
        return (update(cls).where(cls.id == import_id, cls.status == cls.MAPPED)
                .values(status=cls.RUNNING, attempts=cls.attempts + 1, started_at=utcnow(), error=None)
                .execution_options(synchronize_session=False))

    @classmethod
    def finish(cls, import_id: str, attempt: int, counts: dict, report: str | None) -> Update:
        """RUNNING -> COMPLETED, in the same transaction as the contacts, for this attempt only."""
        values = {name: counts[name] for name in COUNTS}
        return (update(cls).where(cls.id == import_id, cls.status == cls.RUNNING, cls.attempts == attempt)
                .values(status=cls.COMPLETED, finished_at=utcnow(), report=report, content=None, **values)
                .execution_options(synchronize_session=False))

    @classmethod
    def fail(cls, import_id: str, message: str, attempt: int | None = None) -> Update:
        """RUNNING -> FAILED (for this attempt, when given). Nothing of the file was committed."""
        stmt = update(cls).where(cls.id == import_id, cls.status == cls.RUNNING)
        if attempt is not None:
            stmt = stmt.where(cls.attempts == attempt)
        return (stmt.values(status=cls.FAILED, finished_at=utcnow(), error=message[:2000])
                .execution_options(synchronize_session=False))
