"""Webhook events on their way to a receiver, and every attempt at delivering them (DESIGN §6)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, and_, exists, select, text
from sqlalchemy.orm import Mapped, aliased, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column


class DeliveryState:
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"

    ALL = (PENDING, DELIVERED, FAILED)


# Seconds to wait after each failed attempt: retries go on for about 32 hours (at least 24 h, so a
# receiver down over a night or a weekend day still gets everything), then the delivery FAILS.
RETRY_DELAYS = (5, 30, 2 * 60, 10 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 8 * 3600, 8 * 3600)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)


def retry_delay(attempts: int) -> int | None:
    """Seconds until the next try after ``attempts`` failed ones, or None when they are used up."""
    return RETRY_DELAYS[attempts - 1] if 1 <= attempts <= len(RETRY_DELAYS) else None


class WebhookDelivery(db.Model):
    """One event (``sms.status`` or ``sms.inbound``) for one receiver URL. Its id is the event id:
    the ``webhook-id`` header of every attempt, so a receiver de-duplicates retries and replays.

    Lifecycle::

        PENDING --2xx--> DELIVERED
           |  \\--error, attempts left--> PENDING (next_attempt_at moves out on the back-off schedule)
           +--410 Gone, refused address, or attempts used up--> FAILED
        DELIVERED / FAILED --replay--> PENDING (one more attempt)

    A delivery waits while an earlier event of the same message (lower ``seq``) is still PENDING,
    so a receiver gets each message's events in order even across hours of retries. Claiming an
    attempt counts it and moves ``next_attempt_at`` past the attempt's time limit (a lease): a
    worker killed mid-POST leaves a delivery that is simply tried again once the lease runs out.
    The payload is fixed when the event is created, so every attempt sends the same bytes.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The pump's question, "what is due?", reads only pending rows.
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("state = 'PENDING'"), sqlite_where=text("state = 'PENDING'")),
        Index("ix_webhook_deliveries_message_seq", "message_id", "seq"),
        Index("ix_webhook_deliveries_account_created", "account_id", "created_at"),
        Index("ix_webhook_deliveries_account_endpoint", "account_id", "endpoint", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(String(2048))
    # The URL without its query string: what the health view groups by, so per-message query
    # parameters (?order=123) do not split one receiver into thousands.
    endpoint: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    # Set by a replay, cleared by the attempt it asked for (which the attempt log marks as a replay).
    replay_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))

    @classmethod
    def due(cls, now: datetime, limit: int, busy_endpoints: frozenset[str] = frozenset()):
        """(id, endpoint) of deliveries to attempt now, oldest due first: pending, due, with no
        earlier event of their message still pending, and not to an endpoint already busy enough."""
        earlier = aliased(cls)
        query = (
            select(cls.id, cls.endpoint)
            .where(cls.state == DeliveryState.PENDING, cls.next_attempt_at <= now)
            .where(~exists().where(and_(earlier.message_id == cls.message_id, earlier.seq < cls.seq,
                                        earlier.state == DeliveryState.PENDING)))
            .order_by(cls.next_attempt_at)
            .limit(limit)
        )
        if busy_endpoints:
            query = query.where(cls.endpoint.not_in(sorted(busy_endpoints)))
        return query


class WebhookAttempt(db.Model):
    """One POST of a delivery: what came back and how long it took. ``error`` is set when no
    HTTP answer came (refused, unresolvable, timeout, tls, connection)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),
        # Recent attempts across accounts: /metrics and the status page count the last minutes.
        Index("ix_webhook_attempts_attempted_at", "attempted_at"),
    )

    id: Mapped[str] = id_column()
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500))
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
