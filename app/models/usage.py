"""Usage rollups: per account, time zone and local day, the figures usage pages and the usage API
read instead of counting a month of messages every time (``app.services.usage_rollup`` says when a
day is rolled up and why its figures cannot change afterwards).

Also here: the indexes on ``messages`` that the rollups read by. They belong to this concern (no
other query needs them) and are partial, so a message costs index space only once it has the event:
a queued message is in none of them, an outbound one joins the ``sent_at`` index when the carrier
accepts it, and only failed and inbound messages ever enter the other two.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, id_column
from app.models.message import Message


class UsageRollup(db.Model):
    """One local day of one account in one time zone has been rolled up: its figures are the
    ``usage_daily`` rows with the same key (none at all for a day without traffic).

    ``unsettled`` counts the messages sent that day that were still waiting for a delivery report
    when the day was counted: while it is above zero the day's *delivered* figure may still grow,
    so the day is counted again now and then (``usage_rollup.REFRESH``) until it settles."""

    __tablename__ = "usage_rollups"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unsettled: Mapped[int] = mapped_column(Integer, default=0)


class UsageDaily(db.Model):
    """The figures of one rolled-up day for one campaign (NULL: sends outside campaigns) and one
    sender profile, with the definitions of ``app.services.usage``: *sent* and *units* by
    ``sent_at``, *delivered* among those sent, *failed* by ``failed_at``, *received* by
    ``received_at``. Cost is not stored: it is units times the account's price when read, as the
    API computes it."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        # Re-counting a day replaces its rows: deleting the rollup deletes them.
        ForeignKeyConstraint(["account_id", "zone", "day"],
                             ["usage_rollups.account_id", "usage_rollups.zone", "usage_rollups.day"],
                             ondelete="CASCADE"),
        Index("ix_usage_daily_day", "account_id", "zone", "day"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(String(36))
    zone: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    campaign_id: Mapped[str | None] = mapped_column(String(36))
    # Deleting a profile sets its messages' profile to NULL; the rollups follow, so they keep
    # agreeing with a count over the messages.
    sender_profile_id: Mapped[str | None] = mapped_column(ForeignKey("sender_profiles.id", ondelete="SET NULL"))
    sent: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)


def _event_index(name: str, column: str) -> Index:
    table = Message.__table__
    present = table.c[column].isnot(None)
    return Index(name, table.c.account_id, table.c[column], postgresql_where=present, sqlite_where=present)


MESSAGE_EVENT_INDEXES = (
    _event_index("ix_messages_account_sent", "sent_at"),
    _event_index("ix_messages_account_failed", "failed_at"),
    _event_index("ix_messages_account_received", "received_at"),
)
