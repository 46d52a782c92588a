"""Sender profiles: the sender ids an account may send from."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import created_column, id_column

APPROVAL_STATUSES = ("pending", "approved", "rejected")


class SenderProfile(db.Model):
    """A sender id (alphanumeric brand name or phone number) and how it may be used.

    Approval: a custom alphanumeric sender starts ``pending`` and can send only once ``approved``;
    phone-number senders and the platform's default start approved. ``sender_id`` is stored exactly
    as the client wrote it, because API clients (Terraform) compare it byte for byte.
    """

    __tablename__ = "sender_profiles"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    sender_id: Mapped[str] = mapped_column(String(16))
    is_custom_sender: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_status: Mapped[str] = mapped_column(String(16), default="pending")
    monthly_price: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    created_at: Mapped[datetime] = created_column()

    @property
    def can_send(self) -> bool:
        return self.approval_status == "approved"

    def approve(self) -> None:
        self.approval_status = "approved"

    def reject(self) -> None:
        self.approval_status = "rejected"
