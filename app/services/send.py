"""Sending: validate everything first, write every message row in one transaction, then enqueue.

Nothing is sent from the request thread. After the commit a dispatch job is requested (one job
serves every send made while it waits); if Redis is down the rows stay QUEUED and the sweeper enqueues them later, so an
accepted message is never lost.

Recipients policy: numbers in ``to`` and the numbers of ``to_contacts`` and ``to_groups`` are
checked and de-duplicated; invalid and duplicate numbers, unknown contacts or groups and
opted-out numbers are listed in ``rejected`` with a reason, and the valid ones are sent. If no
valid recipient is left the whole request is refused (422) naming the rejected ones, so no input
entry is ever dropped silently.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NoReturn

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs.queue import request_dispatch
from app.models import Account, Message, SenderProfile, Status, new_id, utcnow
from app.models.base import iso
from app.services import budgets, contacts, idempotency, optouts
from app.services.errors import Invalid
from app.services.metrics import count_accepted
from app.services.provider_routes import provider_for
from app.services.senders import resolve_for_send
from app.services.webhook_urls import check_callback_url
from app.sms import (
    ScheduleTime,
    Segments,
    get_zone,
    normalize_number,
    price_per_unit,
    resolve_schedule,
    validate_message,
)
from app.sms import cost as total_cost
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
    schedule_note: str | None = None


def send(account: Account, request: SendRequest, *, idempotency_key: str | None = None) -> tuple[dict, bool]:
    """Accept a send; returns ``(response, replayed)`` where ``replayed`` is True when the response
    is the stored answer to an earlier request with the same Idempotency-Key. The key is compared
    with the request as parsed, so the API and the dashboard judge "the same request" alike."""
    if idempotency_key is not None:
        idempotency_key = idempotency.check_key(idempotency_key)
    body_hash = idempotency.request_hash(asdict(request)) if idempotency_key else ""
    if idempotency_key and (stored := idempotency.replay(account.id, idempotency_key, body_hash)):
        return stored, True
    plan = plan_send(account, request)
    batch_id = new_id()
    rows = _rows(account, request, plan, batch_id)
    response = _response(request, plan, batch_id, rows)
    # In the same transaction as the rows: refused whole (402) if it would pass the monthly limit.
    # Charged to the month of the rows' own stamp, which a cancel gives back to.
    budgets.reserve(account, sum((row["cost"] for row in rows), Decimal("0")),
                    now=rows[0]["created_at"] if rows else None)
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
    count_accepted(len(rows))
    if plan.status == Status.QUEUED:
        request_dispatch()
    return response, False


def plan_send(account: Account, request: SendRequest) -> SendPlan:
    config = current_app.config
    segments = validate_message(request.message)
    profile = resolve_for_send(account, request.sender_profile_id, request.sender_id)
    if request.allow_reply and profile.is_custom_sender:
        raise Invalid(f"Sender '{profile.sender_id}' is alphanumeric and cannot receive replies; "
                      "use a phone-number sender profile with allow_reply", code="reply_not_possible")
    check_callback_url(request.callback_url, allow_http=config["ALLOW_HTTP_CALLBACKS"],
                       allowed_hosts=config["WEBHOOK_ALLOWED_HOSTS"])
    _check_customer_ref(request.customer_ref)
    recipients = expand_recipients(account, request, config["MAX_RECIPIENTS"])
    resolved = schedule_time(request, config)
    scheduled_at = resolved.utc if resolved else None
    status = Status.SCHEDULED if scheduled_at and scheduled_at > utcnow() else Status.QUEUED
    return SendPlan(profile, segments, recipients, scheduled_at, status,
                    price_per_unit(account.currency, config["SMS_PRICES"]), _schedule_note(request, resolved))


def expand_recipients(account: Account, request: SendRequest, limit: int) -> Recipients:
    """Numbers from ``to``, contacts and groups, normalised and de-duplicated, with opted-out
    numbers skipped. Every input ends up accepted or rejected (with its reason); a number reached
    twice (say, a contact in two groups) is simply sent once."""
    if not (request.to or request.to_contacts or request.to_groups):
        raise Invalid("At least one recipient is required in 'to', 'to_contacts' or 'to_groups'",
                      code="no_recipients",
                      fields=[{"loc": ["body", "to"], "msg": "Field required", "type": "missing"}])
    result, locs = _collect(account, request)
    if not result.accepted:
        _refuse_all(result.rejected, locs)
    if len(result.accepted) > limit:
        raise Invalid(f"At most {limit} recipients per request; this one has {len(result.accepted)}",
                      code="too_many_recipients")
    return result


def preview_recipients(account: Account, request: SendRequest) -> Recipients:
    """Whom a send with these recipients would reach and whom it would skip (with the reason),
    refusing nothing: for showing the count while the send is still being written."""
    if not (request.to or request.to_contacts or request.to_groups):
        return Recipients()
    return _collect(account, request)[0]


def _collect(account: Account, request: SendRequest) -> tuple[Recipients, list]:
    """Accepted and rejected recipients, and where each rejected one came from."""
    result, seen, locs = Recipients(), set(), []
    for position, raw in enumerate(request.to):
        try:
            number = normalize_number(raw, account.default_region)
        except InvalidNumber as exc:
            _reject(result, locs, {"to": raw, "reason": exc.message}, ["to", position])
            continue
        if number in seen:
            _reject(result, locs, {"to": raw, "reason": f"duplicate of {number}"}, ["to", position])
            continue
        seen.add(number)
        result.accepted.append(number)
    _add_directory(account, request, result, seen, locs)
    _skip_opted_out(account, result, locs)
    return result, locs


def _reject(result: Recipients, locs: list, entry: dict, loc: list) -> None:
    result.rejected.append(entry)
    locs.append(loc)


def _add_directory(account: Account, request: SendRequest, result: Recipients, seen: set, locs: list) -> None:
    if not (request.to_contacts or request.to_groups):
        return
    numbers, rejected = contacts.expand_recipients(account.id, request.to_contacts, request.to_groups)
    for entry in rejected:
        _reject(result, locs, entry, ["to_contacts" if "contact_id" in entry else "to_groups"])
    for number in numbers:
        if number not in seen:
            seen.add(number)
            result.accepted.append(number)


def _skip_opted_out(account: Account, result: Recipients, locs: list) -> None:
    suppressed = optouts.suppressed_numbers(account.id, result.accepted)
    if not suppressed:
        return
    result.accepted = [n for n in result.accepted if n not in suppressed]
    for number in sorted(suppressed):
        _reject(result, locs, {"to": number, "reason": "opted out"}, ["to"])


def _refuse_all(rejected: list[dict], locs: list[list]) -> NoReturn:
    """422 naming the rejected recipients: the first few in ``detail`` (kept readable), every one
    of them in ``errors`` with where it came from, so a client can fix all of them at once."""
    named = "; ".join(f"{_label(r)!r}: {r['reason']}" for r in rejected[:10])
    more = f" (and {len(rejected) - 10} more)" if len(rejected) > 10 else ""
    raise Invalid(f"No valid recipient: {named}{more}", code="no_valid_recipients", fields=[
        {"loc": ["body", *loc], "msg": r["reason"], "type": "invalid_recipient"}
        for loc, r in zip(locs, rejected)
    ])


def _label(entry: dict) -> str:
    return entry.get("to") or entry.get("contact_id") or entry.get("group_id") or ""


def _schedule_note(request: SendRequest, resolved: ScheduleTime | None) -> str | None:
    """A local time that occurs twice (clocks going back) is read as its first occurrence; the
    client is told, since it may have meant the second."""
    if resolved is None or not resolved.ambiguous:
        return None
    return (f"{request.scheduled_at} occurs twice in {resolved.zone} (clocks go back); the first "
            f"occurrence, {iso(resolved.utc)}, was used")


def schedule_time(request: SendRequest, config=None) -> ScheduleTime | None:
    """When the send goes out (None: now), checked as the send checks it; ``ambiguous`` says the
    wall time occurs twice (clocks going back) and the first occurrence was taken."""
    config = config or current_app.config
    if request.timezone is not None:
        get_zone(request.timezone)
    if request.scheduled_at is None:
        return None
    return resolve_schedule(
        request.scheduled_at, request.timezone, utcnow(),
        max_ahead=timedelta(days=config["SCHEDULE_MAX_DAYS"]),
        grace=timedelta(seconds=config["SCHEDULE_GRACE_SECONDS"]),
    )


def _check_customer_ref(ref: str | None) -> None:
    if ref is not None and len(ref) > 255:
        raise Invalid("customer_ref may be at most 255 characters", code="invalid_customer_ref")


def outbound_values(account: Account, profile: SenderProfile, status: str, batch_id: str, **values) -> dict:
    """The columns every outbound message row shares, for a send or a campaign's ledger; the
    caller adds the per-recipient ones (id, to_number, and body, encoding, units, cost)."""
    now = utcnow()
    row = {
        "account_id": account.id, "batch_id": batch_id, "campaign_id": None, "sender_profile_id": profile.id,
        "direction": "OUTBOUND", "message_type": "PLAIN", "from_number": profile.sender_id, "status": status,
        "customer_ref": None, "callback_url": None, "scheduled_at": None, "created_at": now,
        "queued_at": now if status == Status.QUEUED else None, "attempts": 0,
        "provider": provider_for(account.id, profile.id), "currency": account.currency, **values,
    }
    # A message with a callback owes its receiver one event per status change from here on.
    row["notified_status"] = status if row["callback_url"] else None
    return row


def _rows(account: Account, request: SendRequest, plan: SendPlan, batch_id: str) -> list[dict]:
    parts = plan.segments.parts
    common = outbound_values(
        account, plan.profile, plan.status, batch_id, body=request.message, encoding=plan.segments.encoding,
        units=parts, cost=plan.unit_price * parts, customer_ref=request.customer_ref,
        callback_url=request.callback_url, scheduled_at=plan.scheduled_at)
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
        # Rounded to cents like every amount we bill (prices may have more decimals than cents).
        "cost": float(total_cost(units, rows[0]["currency"], current_app.config["SMS_PRICES"])),
        "currency": rows[0]["currency"],
        "schedule_note": plan.schedule_note,
    }
