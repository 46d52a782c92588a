"""The per-account suppression list: numbers that must not be messaged (a STOP reply, a request
to the marketer, an import). Sends skip them and report them as rejected.

Kept apart from contacts on purpose: deleting or anonymising a contact never lifts a suppression.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Account, OptOut, scoped
from app.models.contact import OPTOUT_SOURCES
from app.services.contacts import chunks, insert_ignoring_duplicates
from app.services import audit
from app.sms.phone import masked
from app.services.errors import Invalid
from app.services.paging import Page, paginate
from app.sms import normalize_number
from app.sms.errors import InvalidNumber


def add_optout(account: Account, number: str, source: str = "api", *, commit: bool = True) -> OptOut:
    """Suppress ``number`` (read in the account's region). Adding it again changes nothing and
    keeps the first row, so the original source and time stay on record."""
    if source not in OPTOUT_SOURCES:
        raise Invalid(f"source must be one of {', '.join(OPTOUT_SOURCES)}, not '{source}'")
    number = _normalized(account, number)
    insert_ignoring_duplicates(OptOut.__table__, [{"account_id": account.id, "number": number, "source": source}])
    row = db.session.scalar(scoped(OptOut, account.id).where(OptOut.number == number))
    if audit.by_person():  # a STOP reply is the message's own record
        audit.record(account.id, "optout.added", "optout", row.id, number=masked(number), source=source)
    if commit:
        db.session.commit()
    return row


def remove_optout(account: Account, number: str, *, commit: bool = True) -> bool:
    """Lift the suppression (the person opted back in). True if the number was suppressed."""
    number = _normalized(account, number)
    result = db.session.execute(delete(OptOut).where(OptOut.account_id == account.id, OptOut.number == number))
    if result.rowcount and audit.by_person():
        audit.record(account.id, "optout.removed", "optout", None, number=masked(number))
    if commit:
        db.session.commit()
    return result.rowcount > 0


def find_optout(account: Account, number: str) -> OptOut | None:
    """The suppression of ``number`` (read in the account's region), if there is one."""
    return db.session.scalar(scoped(OptOut, account.id).where(OptOut.number == _normalized(account, number)))


def list_optouts(account: Account, page: int, page_size: int) -> Page:
    """Newest first."""
    query = scoped(OptOut, account.id)
    return paginate(query, OptOut.created_at.desc(), OptOut.id, page=page, page_size=page_size)


def suppressed_numbers(account_id: str, numbers: Iterable[str]) -> set[str]:
    """Which of these E.164 numbers the account must not message. The numbers are compared as
    given, so pass normalised ones (the send path has them)."""
    wanted = list(dict.fromkeys(n for n in numbers if isinstance(n, str)))
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(db.session.scalars(
            select(OptOut.number).where(OptOut.account_id == account_id, OptOut.number.in_(chunk))))
    return found


def _normalized(account: Account, number: str) -> str:
    try:
        return normalize_number(number, account.default_region)
    except InvalidNumber as exc:
        raise Invalid(f"number {exc.message}", code="invalid_phone_number") from None
