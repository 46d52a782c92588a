"""Who a campaign reaches, what each of them gets, and what it will cost.

The audience is the contacts of the chosen groups (union), minus the members of the excluded
groups, minus opted-out numbers and contacts without a usable number; a contact in several
groups is one recipient (numbers are unique per account, so a contact is a number). A "resend to
failed only" campaign reaches instead the recipients its source campaign failed to reach, with
the very text they should have had.

The same stream of recipients feeds the preview and the ledger written at dispatch, so what the
preview counts is what is sent.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator

from flask import current_app
from sqlalchemy import and_, func, select

from app.extensions import db
from app.models import Account, Contact, Message, OptOut, Status, group_members
from app.sms import Template, basic_gsm7_parts, count_segments, costs_in_all_currencies, is_e164, suggest_gsm_replacements
from app.sms.encoding import GSM7

_C = Contact.__table__
_M = group_members
_O = OptOut.__table__
_MSG = Message.__table__

# Reasons a contact is left out, as counted in ``Audience.skipped`` (and shown to people).
SKIP_REASONS = {
    "excluded_group": "in an excluded group",
    "opted_out": "opted out",
    "no_number": "no phone number",
    "invalid_number": "invalid phone number",
    "in_several_groups": "in more than one chosen group (sent once)",
}


@dataclass(frozen=True)
class Recipient:
    number: str
    text: str
    name: str | None = None


@dataclass
class Audience:
    """The recipients, streamed, and why the others were left out (complete once streamed)."""

    skipped: Counter = field(default_factory=Counter)


def recipients(account: Account, template: Template, group_ids: list[str], excluded_group_ids: list[str],
               source_campaign_id: str | None, audience: Audience) -> Iterator[Recipient]:
    """Every recipient with its personal text; ``audience.skipped`` counts the rest as it goes.
    Group ids must already be known to belong to the account."""
    if source_campaign_id:
        yield from _failed_of(account, source_campaign_id, audience)
        return
    yield from _group_recipients(account, template, group_ids, excluded_group_ids, audience)


PAGE = 20_000


def _pages(query, key) -> Iterator:
    """The rows of ``query`` in pages of ``PAGE``, ordered by the unique ``key`` (keyset paging).
    Each page is its own short query, so the caller may commit between rows (the ledger writer
    does); a server-side cursor would not survive the commit."""
    query = query.add_columns(key.label("page_key")).order_by(key).limit(PAGE)
    after = None
    while True:
        rows = db.session.execute(query if after is None else query.where(key > after)).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1].page_key


def _unusable(number: str | None, opted_out: bool) -> str | None:
    if not number:
        return "no_number"
    if not is_e164(number):
        return "invalid_number"
    if opted_out:
        return "opted_out"
    return None


def _group_recipients(account: Account, template: Template, group_ids: list[str], excluded_group_ids: list[str],
                      audience: Audience) -> Iterator[Recipient]:
    """The usable contacts of the groups, ordered by id, a page at a time; the others counted.

    Shaped so that no plan can be quadratic. Right after a group is imported PostgreSQL has no
    statistics for it (nor, for a new account, for its contacts) and estimates one row for each;
    a join that also filters contacts by account is then planned as a nested loop that scans all
    the account's contacts for every member (a 20,000-contact group took minutes). So a page is
    the group's members (its index, in order) joined to their contacts by primary key only; the
    account is checked in the select list, and the excluded members and the opt-outs are read
    once into sets."""
    if not group_ids:
        return
    excluded = set(db.session.scalars(
        select(_M.c.contact_id).where(_M.c.group_id.in_(excluded_group_ids)))) if excluded_group_ids else set()
    opted_out = set(db.session.scalars(select(_O.c.number).where(_O.c.account_id == account.id)))
    after = None
    while True:
        page = db.session.execute(_group_page(account, group_ids, after)).all()
        for row in page:
            contact_id, memberships, owned, number = row[:4]
            if not owned:  # removed since (or, never expected, another account's)
                continue
            if memberships > 1:
                audience.skipped["in_several_groups"] += memberships - 1
            if contact_id in excluded:
                audience.skipped["excluded_group"] += 1
                continue
            reason = _unusable(number, number in opted_out)
            if reason:
                audience.skipped[reason] += 1
                continue
            yield Recipient(number, template.render(row._mapping), row.name)
        if len(page) < PAGE:
            return
        after = page[-1].contact_id


def _group_page(account: Account, group_ids: list[str], after: str | None):
    """The next ``PAGE`` contacts in any of the groups, by id (keyset paging: the caller may
    commit between pages), with how many of the groups each is in and its merge fields."""
    members = select(_M.c.contact_id, func.count().label("memberships")).where(_M.c.group_id.in_(group_ids))
    if after is not None:
        members = members.where(_M.c.contact_id > after)
    page = members.group_by(_M.c.contact_id).order_by(_M.c.contact_id).limit(PAGE).subquery("page")
    return (select(page.c.contact_id, page.c.memberships, (_C.c.account_id == account.id).label("owned"),
                   _C.c.phone_number, _C.c.first_name, _C.c.last_name, _C.c.name, _C.c.company_name)
            .select_from(page.outerjoin(_C, _C.c.id == page.c.contact_id))
            .order_by(page.c.contact_id))


def _failed_of(account: Account, campaign_id: str, audience: Audience) -> Iterator[Recipient]:
    query = (
        select(_MSG.c.to_number, _MSG.c.body, _O.c.id.is_not(None).label("opted_out"))
        .outerjoin(_O, and_(_O.c.account_id == _MSG.c.account_id, _O.c.number == _MSG.c.to_number))
        .where(_MSG.c.account_id == account.id, _MSG.c.campaign_id == campaign_id,
               _MSG.c.status == Status.FAILED)
    )
    for row in _pages(query, _MSG.c.id):
        if row.opted_out:
            audience.skipped["opted_out"] += 1
            continue
        yield Recipient(row.to_number, row.body)


@dataclass
class Preview:
    """What dispatching would commit to, for people to check before they press the button."""

    recipients: int
    skipped: dict[str, int]
    encodings: dict[str, int]
    parts: dict[int, int]  # parts per message -> how many messages
    units: int
    ucs2_characters: list[str]
    replacements: dict[str, str]
    costs: list[tuple[str, Decimal]]  # the account currency first
    samples: list[Recipient]

    @property
    def worst_parts(self) -> int:
        return max(self.parts, default=0)

    @property
    def encoding(self) -> str:
        """GSM-7 or UCS-2 when every message agrees, else "mixed"."""
        return next(iter(self.encodings)) if len(self.encodings) == 1 else ("mixed" if self.encodings else "GSM-7")

    @property
    def cost(self) -> tuple[str, Decimal]:
        return self.costs[0]


SAMPLES = 3


def preview(account: Account, stream: Iterator[Recipient], audience: Audience) -> Preview:
    """Count a recipient stream: parts of each personal text (texts that repeat are counted once),
    units, cost in every currency, the characters that force UCS-2, and a few samples."""
    parts: Counter = Counter()
    encodings: Counter = Counter()
    forcing: dict[str, None] = {}
    samples: list[Recipient] = []
    known: dict[str, tuple[str, int, tuple]] = {}
    for recipient in stream:
        text = recipient.text
        plain = basic_gsm7_parts(text)
        if plain is not None:
            encodings[GSM7] += 1
            parts[plain] += 1
        else:
            counted = known.get(text)
            if counted is None:
                segments = count_segments(text)
                counted = known[text] = (segments.encoding, segments.parts, segments.ucs2_characters)
                forcing.update(dict.fromkeys(segments.ucs2_characters))
            encodings[counted[0]] += 1
            parts[counted[1]] += 1
        if len(samples) < SAMPLES:
            samples.append(recipient)
    units = sum(p * n for p, n in parts.items())
    prices = current_app.config["SMS_PRICES"]
    return Preview(
        recipients=sum(parts.values()), skipped=dict(audience.skipped), encodings=dict(encodings),
        parts=dict(sorted(parts.items())), units=units, ucs2_characters=list(forcing),
        replacements=suggest_gsm_replacements(forcing), samples=samples,
        costs=costs_in_all_currencies(units, prices, first=account.currency),
    )
