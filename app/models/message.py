"""Messages (one row per recipient), the delivery reports about them, and idempotent sends."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    and_,
    column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, picked_once


class Status:
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    RECEIVED = "RECEIVED"

    ALL = (SCHEDULED, QUEUED, SENDING, SENT, DELIVERED, FAILED, CANCELLED, RECEIVED)
    FINAL = frozenset({DELIVERED, FAILED, CANCELLED, RECEIVED})


# Which status may follow which. Anything not listed is refused, so a status never moves backwards
# and a late or duplicate delivery report cannot undo a final state. SENDING -> DELIVERED/FAILED is
# allowed because a carrier may report before we have recorded its acceptance.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.CANCELLED}),
    Status.QUEUED: frozenset({Status.SENDING, Status.CANCELLED}),
    Status.SENDING: frozenset({Status.SENT, Status.DELIVERED, Status.FAILED}),
    Status.SENT: frozenset({Status.DELIVERED, Status.FAILED}),
}

# The time stamped by each status.
STAMPS = {
    Status.QUEUED: "queued_at",
    Status.SENDING: "sending_at",
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.FAILED: "failed_at",
    Status.CANCELLED: "cancelled_at",
    Status.RECEIVED: "received_at",
}


# The condition of the partial index above; a query must repeat it word for word to use it.
WEBHOOK_PENDING = "callback_url IS NOT NULL AND notified_status <> status"

# The order statuses are entered in: a message's path is the statuses it has a stamp for.
PATH = (Status.QUEUED, Status.SENDING, Status.SENT, Status.DELIVERED, Status.FAILED, Status.CANCELLED)


def status_changes(notified: str, stamps: dict[str, datetime | None]) -> list[tuple[str, str, datetime]]:
    """The changes a message went through after ``notified``, as (previous, status, time), read from
    its stamps: a message that went QUEUED -> SENDING -> SENT -> DELIVERED between two looks yields
    three changes, in order. A stamp moved again (SENDING re-stamped by the reconciler) is one change."""
    start = PATH.index(notified) + 1 if notified in PATH else 0
    changes, previous = [], notified
    for status in PATH[start:]:
        at = stamps.get(STAMPS[status])
        if at is not None:
            changes.append((previous, status, at))
            previous = status
    return changes


def sources_for(target: str) -> tuple[str, ...]:
    """The statuses a message may be in for it to move to ``target``."""
    return tuple(sorted(src for src, targets in TRANSITIONS.items() if target in targets))


class Message(db.Model):
    """One SMS to or from one number.

    Lifecycle (changes happen only through :meth:`transition`, a conditional UPDATE, so two
    processes can never both move the same row and no status ever moves backwards)::

        SCHEDULED --due--> QUEUED --claimed--> SENDING --provider accepted--> SENT --DLR--> DELIVERED
            |                 |                   |  \\--provider rejected--> FAILED    \\--DLR--> FAILED
            +--cancel--> CANCELLED <--cancel------+     \\--early DLR--> DELIVERED/FAILED
        inbound: RECEIVED

    Each change stamps its time (``sent_at``, ``delivered_at`` ...). A row stuck in SENDING
    (worker killed mid-call) stays SENDING; the reconciler re-submits it with the same reference
    (``id``), which the provider uses to de-duplicate.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_account_created", "account_id", "created_at"),
        Index("ix_messages_status_scheduled", "status", "scheduled_at"),
        Index("ix_messages_batch_status", "batch_id", "status"),
        Index("ix_messages_provider_ref", "provider", "provider_message_id"),
        # A conversation with one number: what we sent to it (also the last message an inbound
        # text answers, looked up on every text that arrives) and what came from it.
        Index("ix_messages_account_to", "account_id", "to_number", "created_at",
              postgresql_where=text("direction = 'OUTBOUND'"), sqlite_where=text("direction = 'OUTBOUND'")),
        Index("ix_messages_account_from_received", "account_id", "from_number", "received_at",
              postgresql_where=text("received_at IS NOT NULL"), sqlite_where=text("received_at IS NOT NULL")),
        # A campaign's ledger: one message per recipient, enforced by the database (NULLs, that
        # is messages outside campaigns, never collide).
        Index("uq_messages_campaign_recipient", "campaign_id", "to_number", unique=True),
        # Messages owing webhook events: only rows with a callback whose status moved on are in it,
        # so finding them costs nothing however many messages there are.
        Index("ix_messages_webhook_pending", "created_at",
              postgresql_where=text(WEBHOOK_PENDING), sqlite_where=text(WEBHOOK_PENDING)),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    batch_id: Mapped[str | None] = mapped_column(String(36))
    campaign_id: Mapped[str | None] = mapped_column(String(36))
    sender_profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("sender_profiles.id", ondelete="SET NULL")
    )
    direction: Mapped[str] = mapped_column(String(8), default="OUTBOUND")
    message_type: Mapped[str] = mapped_column(String(8), default="PLAIN")
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    units: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12))
    customer_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="NOK")
    related_message_id: Mapped[str | None] = mapped_column(String(36))
    # For a message with a callback_url: the last status its receiver has been given an event for
    # (the status it was created in, at first). Rows where it differs from ``status`` owe events.
    notified_status: Mapped[str | None] = mapped_column(String(12))

    @classmethod
    def transition(cls, target: str, *where, now: datetime, **values):
        """The UPDATE that moves matching rows to ``target`` if, and only if, their current status
        allows it, stamping the status's time. Callers add the rows (``where``) and extra values."""
        # OR of equalities rather than IN: an expanding IN cannot be used with executemany.
        table = cls.__table__
        allowed = sources_for(target)
        if not allowed:
            raise ValueError(f"no status may move to {target}")
        return (
            update(cls.__table__)
            .where(and_(or_(*(table.c.status == s for s in allowed)), *where))
            .values(status=target, **{STAMPS[target]: now}, **values)
        )

    @classmethod
    def transition_each(cls, target: str, rows: list[dict], *, now: datetime, values):
        """One UPDATE that moves each row of ``rows`` (dicts with ``id`` and per-row data, all with
        the same keys) to ``target`` if its status allows it, returning the ids that moved.

        The rows travel as one JSON parameter joined on id (``UPDATE ... FROM``): a batch of a
        thousand is one statement and one round trip, RETURNING says exactly which rows moved, and
        the SQL text is the same for every batch, so it is compiled once (a VALUES list would be
        compiled anew for every batch size, which costs more than the update). ``values`` maps
        columns to expressions over the rows' columns, given as a function of them."""
        each = _json_rows(db.session.get_bind().dialect.name, list(rows[0]), rows)
        table = cls.__table__
        return cls.transition(target, table.c.id == each.c.id, now=now, **values(each.c)).returning(table.c.id)

    @property
    def is_final(self) -> bool:
        return self.status in Status.FINAL

    def can_move_to(self, target: str) -> bool:
        return target in TRANSITIONS.get(self.status, ())


class DeliveryReport(db.Model):
    """Every delivery report received, applied or not: a late or duplicate report is kept for the
    record even when it cannot change the message."""

    __tablename__ = "delivery_reports"

    id: Mapped[str] = id_column()
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    applied: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = created_column()


class IdempotencyKey(db.Model):
    """The response to a send made with an ``Idempotency-Key``, replayed for a repeated request."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


def _json_rows(dialect: str, names: list[str], rows: list[dict]):
    """``rows`` as a table of text columns ``names``, from a single JSON parameter."""
    if not all(name.isidentifier() for name in names):
        raise ValueError(f"column names must be identifiers: {names}")
    if dialect == "postgresql":
        columns = ", ".join(f"{name} text" for name in names)
        sql = f"SELECT * FROM json_to_recordset(CAST(:each_rows AS json)) AS r({columns})"
    else:
        picks = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name in names)
        sql = f"SELECT {picks} FROM json_each(:each_rows)"
    selectable = text(sql).bindparams(each_rows=json.dumps(rows)).columns(*(column(n, String) for n in names))
    return selectable.subquery("each")


def claim_statement(dialect: str, now: datetime, limit: int, batch_id: str | None = None,
                    providers: tuple[str, ...] | None = None):
    """QUEUED -> SENDING for up to ``limit`` rows, returning what a provider needs.

    On PostgreSQL the rows are picked with ``FOR UPDATE SKIP LOCKED`` so concurrent workers take
    disjoint rows without waiting; SQLite serialises writers, and the status condition in the
    UPDATE itself makes the claim atomic there. Either way a row is claimed exactly once.
    ``providers`` limits the claim to rows this worker can send (NULL means the default one).
    """
    table = Message.__table__
    pick = select(table.c.id).where(table.c.status == Status.QUEUED, *provider_filter(providers))
    if batch_id:
        pick = pick.where(table.c.batch_id == batch_id)
    return Message.transition(
        Status.SENDING, _picked_once(dialect, pick.limit(limit)), now=now, attempts=table.c.attempts + 1
    ).returning(*OUTBOUND_COLUMNS)


def reclaim_statement(dialect: str, now: datetime, stale_before: datetime, limit: int,
                      providers: tuple[str, ...] | None = None):
    """Take over rows stuck in SENDING since before ``stale_before`` (their worker died).

    The status does not change; ``sending_at`` is moved to now, conditionally, so of two
    reconcilers only one takes a row."""
    table = Message.__table__
    stale = (table.c.status == Status.SENDING, table.c.sending_at < stale_before)
    pick = select(table.c.id).where(*stale, *provider_filter(providers)).limit(limit)
    return (
        update(table)
        .where(_picked_once(dialect, pick), *stale)
        .values(sending_at=now, attempts=table.c.attempts + 1)
        .returning(*OUTBOUND_COLUMNS, table.c.attempts)
    )


def provider_filter(providers: tuple[str, ...] | None) -> tuple:
    """Conditions for rows whose provider is one of ``providers`` (all rows when None)."""
    if providers is None:
        return ()
    column = Message.__table__.c.provider
    return (or_(column.is_(None), column.in_(providers)),)


def _picked_once(dialect: str, pick):
    return picked_once(dialect, Message.__table__.c.id, pick)


OUTBOUND_COLUMNS = tuple(
    Message.__table__.c[name] for name in ("id", "to_number", "from_number", "body", "provider")
)
