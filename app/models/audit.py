"""The audit log: who created, changed, dispatched or approved what, and when.

Rows are only ever inserted, in the same transaction as the change they describe, so the log can
neither miss a change that happened nor record one that was rolled back. The actor's label (an
email, or a key's display name) is copied in, so the entry still reads right after the user or
key is gone.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import created_column, id_column


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_account_created", "account_id", "created_at"),
        Index("ix_audit_events_account_object", "account_id", "object_type", "object_id"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # Exactly one kind of actor: a signed-in user, an API key, or the system (the engine itself,
    # a CLI command); the ids are kept loose so deleting a user or key keeps its history.
    actor_type: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    # A dotted verb, e.g. ``campaign.dispatched``, ``sender_profile.approved``, ``user.role_changed``.
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str | None] = mapped_column(String(36))
    # What changed, never a secret: field names with before/after values, counts, names.
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
