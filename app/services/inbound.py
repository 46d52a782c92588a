"""Inbound SMS: a text a person sent to one of our numbers, as a provider's callback reports it.

What ``receive`` does, in order:

1. De-duplicates: a message's id is derived from ``(provider, provider_message_id)`` (a UUID 5),
   so a repeated callback finds the stored row and changes nothing, and two concurrent ones
   collide on the primary key (no extra unique index needed).
2. Finds the owner: the approved sender profile whose ``sender_id`` is ``to_number`` (with or
   without '+'). No such profile: ``NotFound`` (404, code ``unknown_number``), nothing stored.
   Several accounts may share a number (every account's default profile is the platform's
   number): then the owner is the account that last messaged this person from it; if none did,
   ``NotFound`` (code ``ambiguous_number``), since guessing would hand a stranger's text to
   another tenant.
3. Stores a RECEIVED row: ``message_type`` REPLY when the account has messaged this person
   before (``related_message_id`` is its latest outbound message to them), else PLAIN.
   ``received_at`` is our clock, not the provider's: usage rollups count a closed day once, so no
   event may be stamped into a day that already closed.
4. Acts on the text, in the same transaction as the row: an opt-out word adds the number to the
   account's opt-outs (source ``sms``), an opt-in word removes it, a help word does nothing more;
   otherwise the account's active keyword equal to the first word (ignoring case) counts it.
5. Answers (only from a phone-number profile with ``allow_reply``; an empty configured text means
   no answer of that kind): opt-out with ``STOP_REPLY_TEXT``, opt-in with ``START_REPLY_TEXT``,
   help with ``HELP_REPLY_TEXT``, a keyword with its auto-reply when enabled.
   The opt-out confirmation is written in the SAME transaction as the opt-out, directly as a
   QUEUED row (bypassing ``send``, which would refuse the now opted-out number): the opt-out and
   its single confirmation exist together or not at all, and a repeated STOP callback creates
   neither again. The other answers go through ``send`` after that commit (its checks, pricing
   and dispatch); an answer that cannot be sent is logged and the inbound message stays stored.

A keyword with a ``webhook_url`` gets an ``sms.inbound`` event, written in the same transaction as
the message and delivered by the webhook machinery (DESIGN §6).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.jobs.queue import request_dispatch
from app.models import Account, Keyword, Message, SenderProfile, Status, new_id, utcnow
from app.providers.base import Inbound
from app.services import budgets, optouts, webhook_events
from app.services.errors import Invalid, NotFound, ServiceError
from app.services.send import SendRequest, outbound_values, send
from app.sms import count_segments, normalize_number, price_per_unit, validate_message
from app.sms.errors import InvalidNumber, SmsError
from app.sms.keywords import HELP, OPT_IN, OPT_OUT, first_word, keyword_key, text_meaning

log = logging.getLogger(__name__)

_IDS = uuid.UUID("8f9c2a57-1b0e-4d57-9a35-6c1e0f3b2d44")  # namespace of inbound message ids
KEYWORD = "keyword"
_REPLY_TEXTS = {OPT_OUT: "STOP_REPLY_TEXT", OPT_IN: "START_REPLY_TEXT", HELP: "HELP_REPLY_TEXT"}


@dataclass(frozen=True)
class Received:
    """What became of one inbound text: the stored message, whether it was a repeat, what it
    triggered (opt_out, opt_in, help, keyword or None) and the id of our answer, if any."""

    message: Message
    duplicate: bool = False
    action: str | None = None
    keyword: str | None = None
    reply_message_id: str | None = None


@dataclass(frozen=True)
class _Owner:
    account: Account
    profile: SenderProfile
    from_number: str  # normalised in the account's region


def receive(provider_code: str, inbound: Inbound) -> Received:
    existing = db.session.get(Message, inbound_id(provider_code, inbound.provider_message_id))
    if existing is not None:
        return Received(existing, duplicate=True)
    return _receive(provider_code, inbound, find_owner(inbound))


def receive_all(provider_code: str, items: list[Inbound]) -> list[Received]:
    """Every text of one callback. Owners are found for all of them before anything is written, so
    a callback naming an unknown number is refused whole rather than half applied."""
    owners = {}
    for item in items:
        if db.session.get(Message, inbound_id(provider_code, item.provider_message_id)) is None:
            owners[item.provider_message_id] = find_owner(item)
    results = []
    for item in items:
        owner = owners.get(item.provider_message_id)
        existing = db.session.get(Message, inbound_id(provider_code, item.provider_message_id))
        if owner is None or existing is not None:
            results.append(Received(existing, duplicate=True))
        else:
            results.append(_receive(provider_code, item, owner))
    return results


def inbound_id(provider_code: str, provider_message_id: str) -> str:
    return str(uuid.uuid5(_IDS, f"{provider_code}\n{provider_message_id}"))


def find_owner(inbound: Inbound) -> _Owner:
    wanted = inbound.to_number.strip().removeprefix("+")
    profiles = list(db.session.scalars(
        select(SenderProfile)
        .where(SenderProfile.sender_id.in_([wanted, "+" + wanted]), SenderProfile.approval_status == "approved",
               SenderProfile.is_custom_sender.is_(False))
        .order_by(SenderProfile.created_at)
    )) if wanted.isdigit() else []
    if not profiles:
        raise NotFound(f"No account has an approved sender number '{inbound.to_number[:32]}'; the inbound "
                       "message was not stored", code="unknown_number")
    if len({p.account_id for p in profiles}) == 1:
        return _owner(profiles[0], inbound.from_number)
    # A shared number: the account in conversation with this person owns the reply.
    latest = None
    for profile in profiles:
        owner = _owner(profile, inbound.from_number)
        sent = db.session.scalar(
            select(Message.created_at).where(
                Message.account_id == profile.account_id, Message.sender_profile_id == profile.id,
                Message.direction == "OUTBOUND", Message.to_number == owner.from_number)
            .order_by(Message.created_at.desc()).limit(1))
        if sent is not None and (latest is None or sent > latest[0]):
            latest = (sent, owner)
    if latest is None:
        raise NotFound(f"Number '{inbound.to_number[:32]}' is shared by several accounts and none of them has "
                       "messaged the sender; the inbound message was not stored", code="ambiguous_number")
    return latest[1]


def _owner(profile: SenderProfile, from_number: str) -> _Owner:
    account = db.session.get(Account, profile.account_id)
    try:
        number = normalize_number(from_number, account.default_region)
    except InvalidNumber as exc:
        raise Invalid(f"from number {exc.message}", code="invalid_phone_number",
                      fields=[{"loc": ["body", "from"], "msg": exc.message, "type": "invalid_number"}]) from None
    return _Owner(account, profile, number)


def _receive(provider_code: str, inbound: Inbound, owner: _Owner) -> Received:
    now = utcnow()
    related = db.session.scalar(
        select(Message.id).where(Message.account_id == owner.account.id, Message.direction == "OUTBOUND",
                                 Message.to_number == owner.from_number)
        .order_by(Message.created_at.desc()).limit(1))
    segments = count_segments(inbound.body)
    message = Message(
        id=inbound_id(provider_code, inbound.provider_message_id), account_id=owner.account.id,
        sender_profile_id=owner.profile.id, direction="INBOUND", message_type="REPLY" if related else "PLAIN",
        from_number=owner.from_number, to_number=owner.profile.sender_id, body=inbound.body,
        encoding=segments.encoding, units=segments.parts, status=Status.RECEIVED, created_at=now,
        received_at=now, provider=provider_code, provider_message_id=inbound.provider_message_id,
        cost=0, currency=owner.account.currency, related_message_id=related,
    )
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:
        # The same callback, processed at the same time by another request, stored it first.
        db.session.rollback()
        return Received(db.session.get(Message, message.id), duplicate=True)
    action, keyword = _act(owner, message, now)
    confirmation = _confirm_opt_out(owner, message) if action == OPT_OUT else None
    db.session.commit()
    if confirmation:
        request_dispatch()
        return Received(message, action=action, reply_message_id=confirmation)
    reply = keyword.auto_reply_message if keyword is not None and keyword.auto_reply_enabled else None
    if action in (OPT_IN, HELP):
        reply = current_app.config[_REPLY_TEXTS[action]]
    return Received(message, action=action, keyword=keyword.keyword if keyword else None,
                    reply_message_id=_reply(owner, message, reply))


def _act(owner: _Owner, message: Message, now) -> tuple[str | None, Keyword | None]:
    """The effect of the text on the account's state, in the caller's transaction."""
    meaning = text_meaning(message.body)
    if meaning == OPT_OUT:
        optouts.add_optout(owner.account, owner.from_number, source="sms", commit=False)
    elif meaning == OPT_IN:
        optouts.remove_optout(owner.account, owner.from_number, commit=False)
    if meaning is not None:
        return meaning, None
    word = first_word(message.body)
    keyword = word and db.session.scalar(select(Keyword).where(
        Keyword.account_id == owner.account.id, Keyword.keyword_key == keyword_key(word),
        Keyword.is_active.is_(True)))
    if not keyword:
        return None, None
    # One UPDATE, so two texts arriving at once are both counted.
    db.session.execute(update(Keyword).where(Keyword.id == keyword.id).values(
        messages_received=Keyword.messages_received + 1, last_message_at=now))
    if keyword.webhook_url:
        webhook_events.add_inbound_event(message, keyword.keyword, keyword.webhook_url)
    return KEYWORD, keyword


def _can_reply(profile: SenderProfile) -> bool:
    return profile.allow_reply and not profile.is_custom_sender


def _confirm_opt_out(owner: _Owner, message: Message) -> str | None:
    """The one confirmation an opt-out gets, as a QUEUED row in the opt-out's own transaction."""
    text = current_app.config["STOP_REPLY_TEXT"]
    if not text or not _can_reply(owner.profile):
        return None
    try:
        segments = validate_message(text)
    except SmsError as exc:
        log.error("STOP_REPLY_TEXT cannot be sent (%s); opt-out recorded without confirmation", exc.message)
        return None
    units, reply_id = segments.parts, new_id()
    unit_price = price_per_unit(owner.account.currency, current_app.config["SMS_PRICES"])
    budgets.charge_regardless(owner.account, unit_price * units)
    db.session.add(Message(**outbound_values(
        owner.account, owner.profile, Status.QUEUED, reply_id, id=reply_id, to_number=owner.from_number,
        body=text, encoding=segments.encoding, units=units, cost=unit_price * units, message_type="REPLY",
        related_message_id=message.id)))
    return reply_id


def _reply(owner: _Owner, message: Message, text: str | None) -> str | None:
    """Answer through ``send`` (its checks, pricing and dispatch), marked as a reply to ``message``."""
    if not text or not _can_reply(owner.profile):
        return None
    try:
        response, _ = send(owner.account, SendRequest(message=text, to=(owner.from_number,),
                                                      sender_profile_id=owner.profile.id))
    except (ServiceError, SmsError) as exc:
        log.warning("no answer to inbound message %s: %s", message.id, exc.message)
        db.session.rollback()
        return None
    reply_id = response["message_ids"][0]
    db.session.execute(update(Message).where(Message.id == reply_id).values(
        message_type="REPLY", related_message_id=message.id))
    db.session.commit()
    return reply_id
