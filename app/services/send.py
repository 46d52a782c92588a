"""Sending: validate everything first, write every message row in one transaction, then enqueue.

Nothing is sent from the request thread. After the commit a dispatch job is enqueued with the
batch id; if Redis is down the rows stay QUEUED and the sweeper enqueues them later, so an
accepted message is never lost.

Recipients policy: every number is checked; invalid and duplicate numbers are listed in
``rejected`` with a reason and the valid ones are sent. If no valid recipient is left the whole
request is refused (422) naming the rejected numbers, so no input entry is ever dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs.queue import enqueue_dispatch
from app.models import Account, Message, SenderProfile, Status, new_id, utcnow
from app.models.base import iso
from app.services import idempotency
from app.services.errors import Invalid
from app.services.senders import resolve_for_send
from app.sms import Segments, get_zone, normalize_number, price_per_unit, resolve_schedule, validate_message
from app.sms.errors import InvalidNumber


@dataclass(frozen=True)
class SendRequest:
    message: str
    to: tuple = ()
    to_contacts: tuple = ()
    to_groups: tuple = ()
    sender_profile_id: str | None = None
    sender_id: str | None = None
    allow_reply: bool | None = None
    customer_ref: str | None = None
    callback_url: str | None = None
    scheduled_at: str | None = None
    timezone: str | None = None


@dataclass
class Recipients:
    accepted: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class SendPlan:
    """Everything validated: what will be written."""

    profile: SenderProfile
    segments: Segments
    recipients: Recipients
    scheduled_at: datetime | None
    status: str
    unit_price: Decimal


def send(account: Account, request: SendRequest, *, idempotency_key: str | None = None,
         body_hash: str = "") -> tuple[dict, bool]:
    """Accept a send; returns ``(response, replayed)`` where ``replayed`` is True when the response
    is the stored answer to an earlier request with the same Idempotency-Key."""
    if idempotency_key and (stored := idempotency.replay(account.id, idempotency_key, body_hash)):
        return stored, True
    plan = plan_send(account, request)
    batch_id = new_id()
    rows = _rows(account, request, plan, batch_id)
    response = _response(request, plan, batch_id, rows)
    db.session.execute(insert(Message.__table__), rows)
    if idempotency_key:
        idempotency.remember(account.id, idempotency_key, body_hash, response)
    try:
        db.session.commit()
    except IntegrityError:
        # The same key raced us and won: its response is the answer (or a Conflict if it differs).
        db.session.rollback()
        if idempotency_key and (stored := idempotency.replay(account.id, idempotency_key, body_hash)):
            return stored, True
        raise
    if plan.status == Status.QUEUED:
        enqueue_dispatch(batch_id)
    return response, False


def plan_send(account: Account, request: SendRequest) -> SendPlan:
    config = current_app.config
    segments = validate_message(request.message)
    profile = resolve_for_send(account, request.sender_profile_id, request.sender_id)
    if request.allow_reply and profile.is_custom_sender:
        raise Invalid(f"Sender '{profile.sender_id}' is alphanumeric and cannot receive replies; "
                      "use a phone-number sender profile with allow_reply", code="reply_not_possible")
    _check_callback_url(request.callback_url, config["ALLOW_HTTP_CALLBACKS"])
    _check_customer_ref(request.customer_ref)
    recipients = expand_recipients(account, request, config["MAX_RECIPIENTS"])
    scheduled_at = _schedule(request, config)
    status = Status.SCHEDULED if scheduled_at and scheduled_at > utcnow() else Status.QUEUED
    return SendPlan(profile, segments, recipients, scheduled_at, status,
                    price_per_unit(account.currency, config["SMS_PRICES"]))


def expand_recipients(account: Account, request: SendRequest, limit: int) -> Recipients:
    """Normalise and de-duplicate the numbers; every input ends up accepted or rejected."""
    if request.to_contacts or request.to_groups:
        raise Invalid("to_contacts and to_groups need the contact directory, which this server does not "
                      "have yet; send to phone numbers with 'to'", code="contacts_unavailable")
    if not request.to:
        raise Invalid("At least one recipient is required in 'to'", code="no_recipients",
                      fields=[{"loc": ["body", "to"], "msg": "Field required", "type": "missing"}])
    result, seen = Recipients(), set()
    for raw in request.to:
        try:
            number = normalize_number(raw, account.default_region)
        except InvalidNumber as exc:
            result.rejected.append({"to": raw, "reason": exc.message})
            continue
        if number in seen:
            result.rejected.append({"to": raw, "reason": f"duplicate of {number}"})
            continue
        seen.add(number)
        result.accepted.append(number)
    if not result.accepted:
        named = "; ".join(f"{r['to']!r}: {r['reason']}" for r in result.rejected[:10])
        raise Invalid(f"No valid recipient: {named}", code="no_valid_recipients")
    if len(result.accepted) > limit:
        raise Invalid(f"At most {limit} recipients per request; this one has {len(result.accepted)}",
                      code="too_many_recipients")
    return result


def _schedule(request: SendRequest, config) -> datetime | None:
    if request.timezone is not None:
        get_zone(request.timezone)
    if request.scheduled_at is None:
        return None
    resolved = resolve_schedule(
        request.scheduled_at, request.timezone, utcnow(),
        max_ahead=timedelta(days=config["SCHEDULE_MAX_DAYS"]),
        grace=timedelta(seconds=config["SCHEDULE_GRACE_SECONDS"]),
    )
    return resolved.utc


def _check_callback_url(url: str | None, allow_http: bool) -> None:
    if url is None:
        return
    parts = urlsplit(url) if isinstance(url, str) else None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts is None or parts.scheme not in schemes or not parts.hostname or len(url) > 2048:
        raise Invalid("callback_url must be an https:// URL", code="invalid_callback_url",
                      fields=[{"loc": ["body", "callback_url"], "msg": "must be https", "type": "value_error"}])


def _check_customer_ref(ref: str | None) -> None:
    if ref is not None and len(ref) > 255:
        raise Invalid("customer_ref may be at most 255 characters", code="invalid_customer_ref")


def _rows(account: Account, request: SendRequest, plan: SendPlan, batch_id: str) -> list[dict]:
    now = utcnow()
    parts = plan.segments.parts
    common = {
        "account_id": account.id, "batch_id": batch_id, "campaign_id": None,
        "sender_profile_id": plan.profile.id, "direction": "OUTBOUND", "message_type": "PLAIN",
        "from_number": plan.profile.sender_id, "body": request.message, "encoding": plan.segments.encoding,
        "units": parts, "status": plan.status, "customer_ref": request.customer_ref,
        "callback_url": request.callback_url, "scheduled_at": plan.scheduled_at, "created_at": now,
        "queued_at": now if plan.status == Status.QUEUED else None, "attempts": 0,
        "provider": current_app.config["SMS_PROVIDER"], "cost": plan.unit_price * parts,
        "currency": account.currency,
    }
    return [{**common, "id": new_id(), "to_number": number} for number in plan.recipients.accepted]


def _response(request: SendRequest, plan: SendPlan, batch_id: str, rows: list[dict]) -> dict:
    units = plan.segments.parts * len(rows)
    return {
        "sms_message_id": rows[0]["id"],
        "to": [row["to_number"] for row in rows],
        "status": plan.status,
        "scheduled_at": iso(plan.scheduled_at),
        "units_estimate": units,
        "customer_ref": request.customer_ref,
        "batch_id": batch_id,
        "message_ids": [row["id"] for row in rows],
        "rejected": plan.recipients.rejected,
        "encoding": plan.segments.encoding,
        "parts": plan.segments.parts,
        "cost": float(plan.unit_price * units),
        "currency": rows[0]["currency"],
    }
