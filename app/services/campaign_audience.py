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
from app.sms import Template, count_segments, costs_in_all_currencies, is_e164, suggest_gsm_replacements

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
    if not group_ids:
        return
    _count_group_exclusions(account, group_ids, excluded_group_ids, audience)
    for row in _pages(_group_query(account, group_ids, excluded_group_ids), _C.c.id):
        reason = _unusable(row.phone_number, row.opted_out)
        if reason:
            audience.skipped[reason] += 1
            continue
        yield Recipient(row.phone_number, template.render(row._mapping), row.name)


PAGE = 5000


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


def _group_query(account: Account, group_ids: list[str], excluded_group_ids: list[str]):
    members = select(_M.c.contact_id).where(_M.c.group_id.in_(group_ids))
    query = (
        select(_C.c.phone_number, _C.c.first_name, _C.c.last_name, _C.c.name, _C.c.company_name,
               _O.c.id.is_not(None).label("opted_out"))
        .outerjoin(_O, and_(_O.c.account_id == _C.c.account_id, _O.c.number == _C.c.phone_number))
        .where(_C.c.account_id == account.id, _C.c.id.in_(members))
    )
    if excluded_group_ids:
        query = query.where(_C.c.id.not_in(select(_M.c.contact_id).where(_M.c.group_id.in_(excluded_group_ids))))
    return query


def _count_group_exclusions(account: Account, group_ids, excluded_group_ids, audience: Audience) -> None:
    """Contacts dropped before the stream: those in an excluded group, and the second and later
    memberships of contacts in several chosen groups."""
    owned = select(_C.c.id).where(_C.c.account_id == account.id)
    in_groups = select(_M.c.contact_id).where(_M.c.group_id.in_(group_ids), _M.c.contact_id.in_(owned))
    memberships = db.session.scalar(select(func.count()).select_from(in_groups.subquery()))
    distinct = db.session.scalar(select(func.count()).select_from(in_groups.distinct().subquery()))
    if memberships > distinct:
        audience.skipped["in_several_groups"] += memberships - distinct
    if excluded_group_ids:
        excluded = select(_M.c.contact_id).where(_M.c.group_id.in_(excluded_group_ids))
        dropped = db.session.scalar(select(func.count()).select_from(
            in_groups.where(_M.c.contact_id.in_(excluded)).distinct().subquery()))
        if dropped:
            audience.skipped["excluded_group"] += dropped


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
        counted = known.get(recipient.text)
        if counted is None:
            segments = count_segments(recipient.text)
            counted = known[recipient.text] = (segments.encoding, segments.parts, segments.ucs2_characters)
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
