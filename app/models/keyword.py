"""Inbound keywords: a word an account claims so that texts starting with it are routed to it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, utcnow
from app.sms.keywords import keyword_key


class Keyword(db.Model):
    """A keyword (2-20 ASCII letters/digits) and what an inbound text starting with it triggers:
    a webhook call and/or an auto-reply. ``keyword`` is kept as the client wrote it (clients compare
    what they read back); ``keyword_key`` is its case-folded form, unique per account. The keyword
    cannot change after creation; ``messages_received``/``last_message_at`` are kept by the inbound
    handler."""

    __tablename__ = "keywords"
    __table_args__ = (UniqueConstraint("account_id", "keyword_key", name="uq_keywords_account_id_keyword_key"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    keyword: Mapped[str] = mapped_column(String(20))
    keyword_key: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    auto_reply_message: Mapped[str | None] = mapped_column(Text)
    auto_reply_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    messages_received: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    @validates("keyword")
    def _set_key(self, _field: str, keyword: str) -> str:
        self.keyword_key = keyword_key(keyword)
        return keyword
