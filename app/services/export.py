"""CSV out of smsdesk: contacts, groups, and the rejected rows of an import.

Every file is UTF-8 with a byte order mark (without it Excel reads UTF-8 as Windows-1252 and
shows "Ã¸" for "ø"), comma separated, one header row; our importer reads it back unchanged.

Formula injection: a spreadsheet runs a cell that starts with = + - @ (or a tab or carriage
return followed by one) as a formula, so a contact named ``=HYPERLINK(...)`` could act when a
colleague opens the export. Such cells get a leading ``'``, which spreadsheets show as text and
which our importer removes again. Deliberate exception: a plain international phone number
(``+`` and digits only, e.g. ``+4799999999``) stays as it is. A spreadsheet reads it as a number
or as text, never as a formula (there is nothing to evaluate), and a quote in front would corrupt
the one column people export contacts for.
"""
from __future__ import annotations

import csv
import io
import re
from typing import Iterable, Iterator

from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, Contact, Group, group_members, scoped
from app.models.base import iso
from app.services.contacts import ContactFilter, filtered

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"\+[0-9]+", re.ASCII)
BOM = "\ufeff"
BATCH = 1000  # rows fetched and written at a time

CONTACT_COLUMNS = ("name", "first_name", "last_name", "company_name", "phone_number", "email", "tags", "notes",
                   "type", "created_at")
GROUP_COLUMNS = ("name", "description", "members", "created_at")


def safe_cell(value) -> str:
    """The value as a cell a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_lines(columns: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The file, a few hundred rows at a time (for streaming), starting with the BOM and header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(columns)
    for n, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(v) for v in row])
        if n % BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def to_csv(columns: Iterable[str], rows: Iterable[Iterable]) -> str:
    return "".join(csv_lines(columns, rows))


def contact_rows(account: Account, flt: ContactFilter) -> Iterator[tuple]:
    """The account's contacts matching the list's filters, alphabetical. Anonymised contacts (GDPR
    erasure) are left out: nothing of them is left to export. The filter is checked now (an
    unknown group raises NotFound here, before a streamed response has started)."""
    table = Contact.__table__
    query = (filtered(scoped(Contact, account.id), account, flt)
             .where(Contact.anonymised_at.is_(None))
             .with_only_columns(*(table.c[c] for c in CONTACT_COLUMNS))
             .order_by(func.lower(Contact.name), Contact.id))
    return _contact_values(query)


def _contact_values(query) -> Iterator[tuple]:
    for row in db.session.execute(query.execution_options(yield_per=BATCH)):
        values = row._mapping
        yield tuple(_contact_value(c, values[c]) for c in CONTACT_COLUMNS)


def _contact_value(column: str, value):
    if column == "tags":
        return ", ".join(value or [])
    if column == "created_at":
        return iso(value)
    return value


def group_rows(account: Account) -> Iterator[tuple]:
    """Every group of the account with its number of members, alphabetical."""
    members = (select(group_members.c.group_id, func.count().label("members"))
               .group_by(group_members.c.group_id).subquery())
    query = (scoped(Group, account.id)
             .outerjoin(members, members.c.group_id == Group.id)
             .with_only_columns(Group.name, Group.description, func.coalesce(members.c.members, 0), Group.created_at)
             .order_by(Group.name_key, Group.id))
    for name, description, count, created_at in db.session.execute(query.execution_options(yield_per=BATCH)):
        yield name, description, count, iso(created_at)


def contacts_csv(account: Account, flt: ContactFilter) -> Iterator[str]:
    return csv_lines(CONTACT_COLUMNS, contact_rows(account, flt))


def groups_csv(account: Account) -> Iterator[str]:
    return csv_lines(GROUP_COLUMNS, group_rows(account))
