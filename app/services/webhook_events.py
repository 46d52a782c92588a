"""Turning what happened to messages into webhook events (DESIGN §6, API.md "Delivery webhooks").

Sending never waits for webhooks: a status change only moves ``status`` away from the message's
``notified_status``, which puts the row in a small partial index. :func:`generate` later reads those
rows and writes one :class:`WebhookDelivery` per change it finds in the message's stamps, in order,
then moves ``notified_status`` on. A message that went SENDING -> SENT -> DELIVERED between two
looks still yields three events. Event ids are derived from (message, status), so two processes
generating at once write each event once, and every retry or replay carries the same id.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import Message, Status, WebhookDelivery
from app.models.base import iso, utcnow
from app.models.message import PATH, STAMPS, status_changes
from app.models.webhook import MAX_ATTEMPTS, DeliveryState

STATUS_EVENT = "sms.status"
INBOUND_EVENT = "sms.inbound"
_NAMESPACE = uuid.UUID("6f1c8a52-4d0e-4b8e-9a43-1f0c5b7e2d19")
_TABLE = Message.__table__
_COLUMNS = ("id", "account_id", "batch_id", "status", "notified_status", "to_number", "customer_ref",
            "units", "error_code", "error_message", "callback_url", *STAMPS.values())


def event_id(message_id: str, kind: str) -> str:
    """The id of the event about ``kind`` (a status, or "inbound") of a message: the same every
    time it is computed, which is what makes generating an event twice harmless."""
    return "evt_" + uuid.uuid5(_NAMESPACE, f"{message_id}/{kind}").hex


def endpoint_of(url: str) -> str:
    """The receiver a URL names, without query string or fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def generate(limit: int = 1000) -> int:
    """Write the events owed for up to ``limit`` messages and commit; returns how many were written."""
    rows = db.session.execute(
        select(*(_TABLE.c[name] for name in _COLUMNS))
        .where(_TABLE.c.callback_url.is_not(None), _TABLE.c.notified_status != _TABLE.c.status)
        .order_by(_TABLE.c.created_at).limit(limit)
    ).all()
    if not rows:
        return 0
    deliveries = [delivery for row in rows for delivery in _status_deliveries(row)]
    if deliveries:
        db.session.execute(_insert_new(), deliveries)
    # Conditional on what was read: a second generator that got here first has already moved it.
    db.session.execute(
        update(_TABLE).where(_TABLE.c.id == bindparam("mid"), _TABLE.c.notified_status == bindparam("was"))
        .values(notified_status=bindparam("now_status")),
        [{"mid": row.id, "was": row.notified_status, "now_status": row.status} for row in rows],
    )
    db.session.commit()
    return len(deliveries)


def _status_deliveries(row) -> list[dict]:
    stamps = {name: getattr(row, name) for name in STAMPS.values()}
    return [
        _delivery(row.account_id, row.id, STATUS_EVENT, PATH.index(status) + 1, row.callback_url,
                  event_id(row.id, status), _status_payload(row, previous, status, at), at)
        for previous, status, at in status_changes(row.notified_status, stamps)
    ]


def _status_payload(row, previous: str, status: str, at: datetime) -> dict:
    failed = status == Status.FAILED
    return {
        "event": STATUS_EVENT, "message_id": row.id, "batch_id": row.batch_id, "status": status,
        "previous_status": previous, "to": row.to_number, "customer_ref": row.customer_ref,
        "units": row.units, "error_code": row.error_code if failed else None,
        "error_message": row.error_message if failed else None, "timestamp": iso(at),
    }


def add_inbound_event(message: Message, keyword: str, url: str) -> None:
    """Queue the ``sms.inbound`` event for a keyword's webhook, in the caller's transaction: the
    event exists exactly when the inbound message does."""
    payload = {
        "event": INBOUND_EVENT, "message_id": message.id, "keyword": keyword, "from": message.from_number,
        "to": message.to_number, "message": message.body, "received_at": iso(message.received_at),
    }
    db.session.execute(_insert_new(), [_delivery(message.account_id, message.id, INBOUND_EVENT, 0, url,
                                                 event_id(message.id, "inbound"), payload, message.received_at)])


def _delivery(account_id: str, message_id: str, event: str, seq: int, url: str, delivery_id: str,
              payload: dict, at: datetime | None) -> dict:
    now = utcnow()
    return {
        "id": delivery_id, "account_id": account_id, "message_id": message_id, "event": event, "seq": seq,
        "url": url, "endpoint": endpoint_of(url), "state": DeliveryState.PENDING, "attempts": 0,
        "max_attempts": MAX_ATTEMPTS, "replay_requested": False, "next_attempt_at": now, "created_at": at or now,
        # Compact and key-ordered: these exact bytes are signed and sent on every attempt.
        "payload": json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
    }


def _insert_new():
    """INSERT that leaves an event already written (same id) as it is."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = WebhookDelivery.__table__
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.id])
