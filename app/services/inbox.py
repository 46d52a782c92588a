"""The two-way inbox: conversations with the people who text the account, and replies to them.

A **thread** is one (our number, their number) pair that has at least one inbound text: the inbox
lists what people wrote, not every recipient of every campaign. Threads are ordered by the
person's latest text, newest first.

Why the list is built from inbound rows only: they are found through the partial index
``ix_messages_account_received`` (``account_id, received_at WHERE received_at IS NOT NULL``), so a
page view reads the account's inbound texts and never its outbound ones, which outnumber them by
orders of magnitude (a campaign is one row per recipient). Ordering by our answers too would need
the latest outbound message of every thread, which without an index on ``to_number`` means
reading every outbound message of the account.

A **conversation** (one thread's page) is read newest first through a keyset cursor (``before``),
with no total count: the database stops after one page of the conversation's messages instead of
counting all of them. Its outbound side looks messages up by ``to_number``, which no index serves
yet; one on (account_id, to_number, created_at) turns that read into a lookup.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from app.extensions import db
from app.models import Account, Contact, Keyword, Message, OptOut, SenderProfile, get_owned, scoped
from app.services import senders
from app.services.contacts import PHONE_LIKE, SEPARATORS, ContactFilter, filtered
from app.services.errors import Invalid
from app.services.paging import Page
from app.services.send import SendRequest, send
from app.sms import normalize_number
from app.sms.errors import InvalidNumber
from app.sms.keywords import HELP, OPT_IN, OPT_OUT, first_word, keyword_key, text_meaning

CONVERSATION_PAGE = 50
MAX_SEARCH = 200
# What an inbound text meant, as the thread shows it next to the text.
MEANINGS = {OPT_OUT: "STOP (opt-out)", OPT_IN: "START (opt-in)", HELP: "HELP"}


@dataclass(frozen=True)
class Thread:
    our_number: str
    number: str
    inbound_count: int
    last_inbound_at: datetime
    last_text: Message | None  # the person's latest text
    contact: Contact | None = None

    @property
    def name(self) -> str | None:
        return self.contact.name if self.contact is not None else None


@dataclass(frozen=True)
class Conversation:
    """One thread's messages (oldest first on the page) and what the page needs around them."""

    number: str
    our_number: str | None
    messages: list[Message]
    older_than: str | None  # the cursor for the page before this one (a message id), if any
    contact: Contact | None
    optout: OptOut | None
    meanings: dict[str, str] = field(default_factory=dict)  # inbound message id -> what it matched
    reply_profiles: list[SenderProfile] = field(default_factory=list)
    written_to: SenderProfile | None = None  # the profile of the person's latest text, if it may reply

    @property
    def in_flight(self) -> bool:
        return any(not m.is_final for m in self.messages)


# -- the thread list ----------------------------------------------------------------------------------

def _inbound(account_id: str) -> tuple:
    # ``received_at IS NOT NULL`` is the partial index's condition: repeated so the index is used.
    return (Message.account_id == account_id, Message.received_at.is_not(None), Message.direction == "INBOUND")


def threads(account: Account, search: str | None, page: int, page_size: int) -> Page:
    """A page of the account's threads, the person's latest text first. ``search`` matches the
    person's number (digits, spaces allowed) or the name, company or email of a contact."""
    last_in = func.max(Message.received_at).label("last_in")
    groups = (select(Message.to_number.label("our_number"), Message.from_number.label("number"),
                     func.count().label("inbound"), last_in)
              .where(*_inbound(account.id), *_search(account, search))
              .group_by(Message.to_number, Message.from_number))
    # The total rides along as a window over the groups: the inbound rows are grouped once, not
    # once to count and again for the page. A page past the end has no row to carry it.
    rows = db.session.execute(groups.add_columns(func.count().over().label("total"))
                              .order_by(last_in.desc(), Message.from_number, Message.to_number)
                              .offset((page - 1) * page_size).limit(page_size)).all()
    total = rows[0].total if rows else db.session.scalar(select(func.count()).select_from(groups.subquery()))
    return Page(_threads_of(account, rows), total, page, page_size)


def _search(account: Account, search: str | None) -> tuple:
    term = (search or "").strip()[:MAX_SEARCH]
    if not term:
        return ()
    contacts = filtered(scoped(Contact, account.id), account, ContactFilter(search=term))
    conditions = [Message.from_number.in_(
        contacts.where(Contact.phone_number.is_not(None)).with_only_columns(Contact.phone_number))]
    digits = SEPARATORS.sub("", term)
    if PHONE_LIKE.fullmatch(digits):
        conditions.append(Message.from_number.contains(digits.lstrip("+"), autoescape=True))
    return (or_(*conditions),)


def _threads_of(account: Account, rows) -> list[Thread]:
    """The page's rows with each person's latest text and contact: two queries for the page."""
    if not rows:
        return []
    latest = {}
    # Each thread's latest text is the inbound row at its ``last_in``: one lookup on the index.
    for message in db.session.scalars(scoped(Message, account.id).where(
            *_inbound(account.id)[1:], Message.received_at.in_(sorted({row.last_in for row in rows})))):
        key = (message.to_number, message.from_number)
        if key not in latest or message.id > latest[key].id:  # same instant: any one, but always the same
            latest[key] = message
    contacts = contacts_by_number(account, {row.number for row in rows})
    return [Thread(row.our_number, row.number, row.inbound, row.last_in, latest.get((row.our_number, row.number)),
                   contacts.get(row.number)) for row in rows]


def contacts_by_number(account: Account, numbers: set[str]) -> dict[str, Contact]:
    if not numbers:
        return {}
    found = db.session.scalars(scoped(Contact, account.id).where(Contact.phone_number.in_(sorted(numbers))))
    return {contact.phone_number: contact for contact in found}


# -- one conversation ---------------------------------------------------------------------------------

def read_number(account: Account, raw: str) -> str:
    """The person's number in E.164 (read in the account's region), or Invalid."""
    try:
        return normalize_number(raw, account.default_region)
    except InvalidNumber as exc:
        raise Invalid(f"number {exc.message}", code="invalid_phone_number") from None


def conversation(account: Account, number: str, our_number: str | None = None, *,
                 before: str | None = None, page_size: int = CONVERSATION_PAGE) -> Conversation:
    """The messages between ``number`` and the account (through ``our_number`` only, when given):
    outbound texts to the person and their texts to us, the newest ``page_size`` (before the
    message ``before``), shown oldest first."""
    query = scoped(Message, account.id).where(_between(number, our_number))
    cursor = get_owned(Message, account.id, before) if before else None
    if cursor is not None:
        query = query.where(or_(Message.created_at < cursor.created_at,
                                and_(Message.created_at == cursor.created_at, Message.id < cursor.id)))
    newest = list(db.session.scalars(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(page_size + 1)))
    older = newest[page_size - 1].id if len(newest) > page_size else None
    messages = list(reversed(newest[:page_size]))
    profiles = reply_profiles(account)
    return Conversation(
        number=number, our_number=our_number, messages=messages, older_than=older,
        contact=contacts_by_number(account, {number}).get(number),
        optout=db.session.scalar(scoped(OptOut, account.id).where(OptOut.number == number)),
        meanings=meanings(account, [m for m in messages if m.direction == "INBOUND"]),
        reply_profiles=profiles, written_to=_written_to(account, number, our_number, profiles),
    )


def _between(number: str, our_number: str | None):
    # Each side is written so an index can serve it: the person's texts with the condition of the
    # partial indexes on received messages, ours with the condition of ``ix_messages_account_to``.
    inbound = [Message.received_at.is_not(None), Message.direction == "INBOUND", Message.from_number == number]
    outbound = [Message.direction == "OUTBOUND", Message.to_number == number]
    if our_number:
        inbound.append(Message.to_number == our_number)
        outbound.append(Message.from_number == our_number)
    return or_(and_(*inbound), and_(*outbound))


def latest_inbound(account: Account, number: str, our_number: str | None = None) -> Message | None:
    query = scoped(Message, account.id).where(*_inbound(account.id)[1:], Message.from_number == number)
    if our_number:
        query = query.where(Message.to_number == our_number)
    return db.session.scalar(query.order_by(Message.received_at.desc(), Message.id.desc()).limit(1))


def meanings(account: Account, inbound: list[Message]) -> dict[str, str]:
    """What each inbound text matched: an opt-out, opt-in or help word, or one of the account's
    keywords (as they are now: which keyword a text matched is not stored with it)."""
    if not inbound:
        return {}
    keywords = {k.keyword_key: k for k in db.session.scalars(scoped(Keyword, account.id))}
    found = {}
    for message in inbound:
        meaning = text_meaning(message.body)
        word = first_word(message.body)
        keyword = keywords.get(keyword_key(word)) if word and meaning is None else None
        if meaning is not None:
            found[message.id] = MEANINGS[meaning]
        elif keyword is not None:
            found[message.id] = f"keyword {keyword.keyword}" + ("" if keyword.is_active else " (inactive)")
    return found


# -- replying -----------------------------------------------------------------------------------------

def can_reply(profile: SenderProfile) -> bool:
    """A profile a reply may go from: an approved phone number that allows replies."""
    return profile.can_send and profile.allow_reply and not profile.is_custom_sender


def reply_profiles(account: Account) -> list[SenderProfile]:
    return [p for p in senders.list_profiles(account) if can_reply(p)]


def _written_to(account: Account, number: str, our_number: str | None,
                profiles: list[SenderProfile]) -> SenderProfile | None:
    """The profile the person last wrote to, when it may send the reply (else the user picks)."""
    latest = latest_inbound(account, number, our_number)
    if latest is None:
        return None
    by_id = {p.id: p for p in profiles}
    if latest.sender_profile_id in by_id:
        return by_id[latest.sender_profile_id]
    # The profile was deleted and made again: the number is what the person wrote to.
    return next((p for p in profiles if p.sender_id == latest.to_number), None)


def reply(account: Account, number: str, text: str, profile_id: str | None, *,
          idempotency_key: str | None = None) -> Message:
    """Send ``text`` to ``number`` from a reply-capable profile, through ``send`` (its checks: an
    opted-out number is refused there), marked as a reply to the person's latest text to it."""
    profile = next((p for p in reply_profiles(account) if p.id == profile_id), None)
    if profile is None:
        raise Invalid("Choose a sender that allows replies (a phone number with 'Allow replies')",
                      code="reply_not_possible",
                      fields=[{"loc": ["body", "sender_profile_id"], "msg": "not a reply sender", "type": "value_error"}])
    response, replayed = send(account, SendRequest(message=text, to=(number,), sender_profile_id=profile.id,
                                                   allow_reply=True), idempotency_key=idempotency_key)
    reply_id = response["message_ids"][0]
    if not replayed:
        answered = latest_inbound(account, number, profile.sender_id)
        db.session.execute(update(Message).where(Message.id == reply_id, Message.account_id == account.id)
                           .values(message_type="REPLY", related_message_id=answered.id if answered else None))
        db.session.commit()
    return db.session.get(Message, reply_id)
