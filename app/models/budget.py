"""What an account has committed to spend in a month: the figure its monthly limit is held to."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class AccountSpend(db.Model):
    """The cost of the messages an account has committed to in one calendar month (``YYYY-MM`` in
    the account's zone): accepted sends and released campaign slices, less what was cancelled.

    Kept only while the account has a monthly limit, so accounts without one pay nothing for it.
    Every acceptance adds its cost with a conditional UPDATE (``committed + cost <= limit``) in
    the acceptance's own transaction: the row lock makes parallel sends queue up, so the limit
    cannot be passed however many arrive at once. Rebuilt from the messages whenever the limit is
    set or changed (``services.budgets.recompute``)."""

    __tablename__ = "account_spend"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    committed: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal("0"), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
