"""Texts "from people" through the carrier simulator, so the two-way flow can be tried after
``make run``: an incoming text to one of the account's numbers, or a reply to a message it sent.

Each is built as the simulator's inbound callback would carry it (the provider's own parser reads
it, so the same rules apply) and handed to ``inbound.receive`` under the simulator's code: STOP,
keywords and auto-replies behave exactly as for a real carrier's callback. Only while the simulator
is the provider in use: on a real carrier a made-up text would be a lie about what people wrote.
"""
from __future__ import annotations

import uuid

from flask import current_app

from app.extensions import db
from app.models import Account, Message, SenderProfile, get_owned, scoped
from app.providers import REGISTRY
from app.providers.base import CallbackError, Inbound
from app.providers.simulator import SimulatorProvider
from app.services import inbound as inbound_service
from app.services import inbox, senders
from app.services.errors import Conflict, Invalid, NotFound
from app.services.inbound import KEYWORD, Received
from app.services.provider_routes import provider_for
from app.sms import normalize_number
from app.sms.errors import InvalidNumber
from app.sms.keywords import HELP, OPT_IN, OPT_OUT

SIMULATOR = SimulatorProvider.code


def simulator_in_use(account: Account | None = None) -> bool:
    """Whether texts can be simulated: for ``account``, when any of its messages go through the
    simulator (``SMS_PROVIDER``, or a route of the account or one of its sender profiles);
    without one, when the simulator is the default provider."""
    if SIMULATOR not in REGISTRY:
        return False
    if account is None:
        return current_app.config["SMS_PROVIDER"] == SIMULATOR
    profiles = senders.list_profiles(account)
    return SIMULATOR in {provider_for(account.id, None), *(provider_for(account.id, p.id) for p in profiles)}


def our_numbers(account: Account) -> list[SenderProfile]:
    """The account's numbers a person can text through the simulator: approved phone-number
    profiles whose messages go through it, those that allow replies first (the default among them
    first), then by age."""
    numbers = [p for p in senders.list_profiles(account) if p.can_send and not p.is_custom_sender
               and _through_simulator(account, p)]
    return sorted(numbers, key=lambda p: (not p.allow_reply, not p.is_default))


def _through_simulator(account: Account, profile: SenderProfile) -> bool:
    return provider_for(account.id, profile.id) == SIMULATOR


def simulate_inbound(account: Account, from_number: str, text: str, to: str | None = None) -> Received:
    """A text from ``from_number`` to the account's number ``to`` (a number or a sender profile's
    id; by default its number that allows replies), received as the simulator would deliver it."""
    _require_simulator(account)
    profile = _addressed(account, to)
    sender = _read_from(account, from_number)
    return _receive(account, _inbound(sender, profile.sender_id, text))


def simulate_reply(account: Account, message_id: str | None, text: str) -> Received:
    """A reply from the recipient of the account's outbound message ``message_id`` (its latest
    outbound message when None), to the number it was sent from."""
    _require_simulator(account)
    query = scoped(Message, account.id).where(Message.direction == "OUTBOUND")
    if message_id:
        original = get_owned(Message, account.id, message_id)
        if original is None or original.direction != "OUTBOUND":
            raise NotFound(f"No message '{str(message_id)[:64]}' sent by this account")
    else:
        original = db.session.scalar(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(1))
        if original is None:
            raise NotFound("This account has sent no message yet, so there is nothing to reply to",
                           code="nothing_to_reply_to")
    if not (original.from_number or "").lstrip("+").isdigit():
        raise Invalid(f"The message to {original.to_number} was sent from '{original.from_number}', a name rather "
                      "than a number: nobody can reply to it", code="reply_not_possible")
    carrier = original.provider or current_app.config["SMS_PROVIDER"]
    if carrier != SIMULATOR:
        raise Conflict(f"The message to {original.to_number} went out through '{carrier}', not the carrier "
                       "simulator: only a real reply can answer it", code="simulator_not_in_use")
    return _receive(account, _inbound(original.to_number, original.from_number, text))


def simulate_in_thread(account: Account, number: str, our_number: str | None, text: str) -> Received:
    """The next text of a conversation's person: a reply to the latest message the account sent
    them (from ``our_number`` when given), or when it sent none, another text to the number they
    wrote to last."""
    _require_simulator(account)
    query = scoped(Message, account.id).where(Message.direction == "OUTBOUND", Message.to_number == number)
    if our_number:
        query = query.where(Message.from_number == our_number)
    sent = db.session.scalar(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(1))
    if sent is not None:
        return simulate_reply(account, sent.id, text)
    written = inbox.latest_inbound(account, number, our_number)
    if written is None:
        raise NotFound(f"No conversation with {number[:32]} to reply in", code="nothing_to_reply_to")
    return _receive(account, _inbound(number, _addressed(account, written.to_number).sender_id, text))


def describe(received: Received) -> str:
    """One sentence on what the text did, for the dashboard and the command line."""
    message = received.message
    said = f"Text from {message.from_number} to {message.to_number} received"
    effects = {OPT_OUT: "the number is opted out", OPT_IN: "the number is opted in again",
               HELP: "it asked for help", KEYWORD: f"it matched the keyword {received.keyword}"}
    if received.action in effects:
        said += f"; {effects[received.action]}"
    if received.reply_message_id:
        said += "; an answer is on its way"
    return said + "."


# -- the parts ----------------------------------------------------------------------------------------

def _require_simulator(account: Account) -> None:
    if not simulator_in_use(account):
        raise Conflict(f"The carrier simulator is not in use (SMS_PROVIDER is "
                       f"'{current_app.config['SMS_PROVIDER']}' and no route of this account leads to it): texts "
                       "can only be simulated for messages that go through the simulator", code="simulator_not_in_use")


def _addressed(account: Account, to: str | None) -> SenderProfile:
    numbers = our_numbers(account)
    if not to or not to.strip():
        if numbers and numbers[0].allow_reply:
            return numbers[0]
        raise Invalid("This account has no phone-number sender that allows replies: add one under Sender "
                      "profiles (a phone number with 'Allow replies'), or name the number texted",
                      code="no_reply_number", fields=[_field("to", "no number that allows replies")])
    wanted = to.strip()
    for profile in senders.list_profiles(account):
        if wanted == profile.id or wanted.removeprefix("+") == profile.sender_id.removeprefix("+"):
            if profile in numbers:
                return profile
            if profile.can_send and not profile.is_custom_sender:
                raise Invalid(f"{profile.sender_id} sends through '{provider_for(account.id, profile.id)}', not the "
                              "carrier simulator: texts to it cannot be simulated", code="simulator_not_in_use",
                              fields=[_field("to", "not a number of the simulator")])
    listed = ", ".join(p.sender_id for p in numbers) or "none"
    raise Invalid(f"'{wanted[:40]}' is not one of this account's numbers (approved phone-number senders: {listed})",
                  code="unknown_number", fields=[_field("to", "not one of this account's numbers")])


def _read_from(account: Account, raw: str) -> str:
    try:
        return normalize_number(raw or "", account.default_region)
    except InvalidNumber as exc:
        message = exc.message.removeprefix("Phone number ")
        raise Invalid(f"From number {message}", code="invalid_phone_number",
                      fields=[_field("from_number", message)]) from None


def _inbound(from_number: str, to_number: str, text: str) -> Inbound:
    """The text as the simulator's callback carries it, read by the simulator's own parser; the
    provider's message id is new for every call, so no two simulated texts are taken as repeats."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid("Text is required", code="text_required", fields=[_field("text", "Field required")])
    payload = {"id": f"sim-in-{uuid.uuid4().hex}", "from": from_number, "to": to_number, "message": text}
    try:
        return SimulatorProvider(current_app.config).parse_inbound(payload)[0]
    except CallbackError as exc:
        fields = [{**p, "loc": ["body", "text" if p["loc"][-1] == "message" else p["loc"][-1]]} for p in exc.problems]
        raise Invalid(f"The simulator cannot carry this text: {exc}", code="invalid_text", fields=fields) from None


def _receive(account: Account, inbound: Inbound) -> Received:
    # A number may be shared by accounts; the one the person's conversation belongs to gets the
    # text. Simulating into another tenant's inbox must not be possible from this one.
    owner = inbound_service.find_owner(inbound)
    if owner.account.id != account.id:
        raise Conflict(f"A text from {inbound.from_number} to {inbound.to_number} would not reach this account: the "
                       "number is shared with other accounts and this person's conversation on it is not this "
                       "account's. Simulate it to another of your numbers", code="number_owned_elsewhere")
    return inbound_service.receive(SIMULATOR, inbound)


def _field(name: str, msg: str) -> dict:
    return {"loc": ["body", name], "msg": msg, "type": "value_error"}

