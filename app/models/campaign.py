"""Campaigns: one message text (with merge fields) to the contacts of some groups.

A campaign's messages are its ledger: one Message row per recipient, unique per
``(campaign_id, to_number)``, written when the campaign starts sending. Because the database
refuses a second row for the same recipient, re-running any step after a crash, a restart or a
pause can neither send twice to a number nor skip one.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, and_, func, update
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, utcnow


class CampaignStatus:
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"

    ALL = (DRAFT, SCHEDULED, SENDING, PAUSED, COMPLETED, CANCELLED)
    FINAL = frozenset({COMPLETED, CANCELLED})


_S = CampaignStatus

# Which status may follow which; anything else is refused. SCHEDULED -> SCHEDULED is a reschedule,
# SCHEDULED -> DRAFT takes a campaign off the schedule to edit it.
CAMPAIGN_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.DRAFT: frozenset({_S.SCHEDULED, _S.SENDING, _S.CANCELLED}),
    _S.SCHEDULED: frozenset({_S.SCHEDULED, _S.DRAFT, _S.SENDING, _S.CANCELLED}),
    _S.SENDING: frozenset({_S.PAUSED, _S.COMPLETED, _S.CANCELLED}),
    _S.PAUSED: frozenset({_S.SENDING, _S.CANCELLED}),
}

# The time stamped by each status. ``started_at`` keeps the first start (a resume does not move it).
CAMPAIGN_STAMPS = {
    _S.SENDING: "started_at",
    _S.PAUSED: "paused_at",
    _S.COMPLETED: "completed_at",
    _S.CANCELLED: "cancelled_at",
}


class Campaign(db.Model):
    """A campaign and where it is in its life.

    Lifecycle (changes only through :meth:`transition`, a conditional UPDATE, so two processes
    never both move a campaign, and a pause racing the last delivery cannot be lost)::

        DRAFT --schedule--> SCHEDULED --due (tick)--> SENDING --nothing left in flight--> COMPLETED
          |                   |   ^ reschedule            |  ^
          +--send now---------|---|---------------------->+  | resume
          |                   +--unschedule--> DRAFT      v  |
          +------------+------+------------------+---- PAUSED
                       |  cancel (any of the above)      |
                       +-------------> CANCELLED <-------+

    SENDING means the ledger is being written or released: recipients are materialised as
    Message rows when sending starts (``materialized_at`` says it finished), held as SCHEDULED
    rows without a time, and released to QUEUED a slice at a time while the campaign is SENDING
    and its send window is open. Pausing stops the release; what was already released is sent.
    COMPLETED is decided from the ledger, never from a counter: no message of the campaign is
    left outside a final status (DELIVERED, FAILED, CANCELLED), except SENT ones the carrier
    accepted more than ``REPORT_WAIT_HOURS`` ago and never reported on (they stay SENT; see
    ``campaign_run.counts_as_settled``).
    """

    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_account_created", "account_id", "created_at"),
        Index("ix_campaigns_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sender_profile_id: Mapped[str | None] = mapped_column(ForeignKey("sender_profiles.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    group_ids: Mapped[list] = mapped_column(JSON, default=list)
    excluded_group_ids: Mapped[list] = mapped_column(JSON, default=list)
    # Set on a "resend to failed only" campaign: its audience is the failed recipients of this one.
    source_campaign_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(12), default=_S.DRAFT)
    timezone: Mapped[str] = mapped_column(String(64))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    materialized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written with the ledger: how many recipients it holds and who was left out, and why.
    recipients: Mapped[int | None] = mapped_column(Integer)
    skipped: Mapped[dict] = mapped_column(JSON, default=dict)
    # Why the engine paused the campaign by itself (its sender profile lost its approval, say).
    note: Mapped[str | None] = mapped_column(String(500))
    # The most this campaign may release to the carrier, in the account currency; None: no cap.
    # Reaching it pauses the campaign (``services.budgets``).
    spend_cap: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    @classmethod
    def transition(cls, target: str, *where, now: datetime, **values):
        """The UPDATE that moves matching campaigns to ``target`` if their status allows it,
        stamping the target's time. Execute it and check ``rowcount`` to know if it moved."""
        table = cls.__table__
        allowed = tuple(sorted(s for s, targets in CAMPAIGN_TRANSITIONS.items() if target in targets))
        stamp = CAMPAIGN_STAMPS.get(target)
        stamps = {}
        if stamp and stamp not in values:
            stamps[stamp] = func.coalesce(table.c[stamp], now) if target == _S.SENDING else now
        return (
            update(table)
            .where(and_(table.c.status.in_(allowed), *where))
            .values(status=target, updated_at=now, **stamps, **values)
        )

    def can_move_to(self, target: str) -> bool:
        return target in CAMPAIGN_TRANSITIONS.get(self.status, ())

    @property
    def is_final(self) -> bool:
        return self.status in CampaignStatus.FINAL

    @property
    def is_editable(self) -> bool:
        return self.status == CampaignStatus.DRAFT
