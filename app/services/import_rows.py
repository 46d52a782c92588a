"""The rules for one row of a contact import, shared by the preview and the job.

- The phone number is required and read in the account's region; one contact per number. A row
  whose number is missing or invalid is rejected with the reason, never dropped silently; so is a
  row repeating a number of an earlier row ("same phone number as row 7").
- Other values follow the contact rules (``contacts.clean``: lengths, email shape, tags). Tags
  in one cell are separated by commas, semicolons or ``|``.
- A new contact's name is the name column, else first + last name, else the company (the contact
  is then a company), else the number itself: a list of bare numbers is a valid import.
- A number already in smsdesk is skipped (its details stay as they are) or updated, as chosen.
  Updating only sets the values the row has: a blank cell never erases anything, and tags are
  added to the contact's tags. Either way the contact joins the chosen group.
"""
from __future__ import annotations

import re

from app.models import Account
from app.services import csv_files
from app.services.contacts import MAX_LENGTHS, MAX_TAGS, clean
from app.services.errors import ServiceError
from app.sms import normalize_number
from app.sms.errors import InvalidNumber

FIELDS = ("phone_number", "name", "first_name", "last_name", "company_name", "email", "tags", "notes")
FIELD_LABELS = {"phone_number": "Phone number", "name": "Name", "first_name": "First name",
                "last_name": "Last name", "company_name": "Company", "email": "Email", "tags": "Tags",
                "notes": "Notes"}
# The contact columns an import writes besides the number.
WRITTEN = ("type", "name", "first_name", "last_name", "company_name", "email", "tags", "notes")
TAG_SEPARATORS = re.compile(r"[,;|]")


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def raw_fields(cells: list[str], mapping: dict[str, int]) -> dict[str, str]:
    """The mapped cells as written in the file (trimmed), field by field."""
    return {f: csv_files.unescape(cells[i].strip()) if i < len(cells) else "" for f, i in mapping.items()}


def contact_fields(account: Account, cells: list[str], mapping: dict[str, int], width: int) -> dict:
    """The row's contact values (blank ones None, the number in E.164), or :class:`Rejected`."""
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        raise Rejected(f"{len(cells)} values, but the header names {width} columns")
    raw = raw_fields(cells, mapping)
    if not raw.get("phone_number"):
        raise Rejected("no phone number")
    try:
        number = normalize_number(raw["phone_number"], account.default_region)
    except InvalidNumber as exc:
        raise Rejected(f"invalid phone number: {exc.message}") from None
    person = raw.get("name") or raw.get("first_name") or raw.get("last_name")
    values = {f: raw.get(f) or None for f in WRITTEN if f not in ("type", "tags")}
    values["type"] = "company" if raw.get("company_name") and not person else "person"
    values["tags"] = TAG_SEPARATORS.split(raw["tags"]) if raw.get("tags") else []
    try:
        values = clean(account, values)
    except ServiceError as exc:
        raise Rejected(exc.message) from None
    values["phone_number"] = number
    return values


def check_repeat(seen: dict[str, int], number: str, row: int) -> None:
    first = seen.setdefault(number, row)
    if first != row:
        raise Rejected(f"same phone number as row {first}")


def new_name(values: dict) -> str:
    return (values["name"] or _person(values) or values["company_name"] or values["phone_number"])[:MAX_LENGTHS["name"]]


def _person(values: dict) -> str | None:
    return " ".join(p for p in (values["first_name"], values["last_name"]) if p) or None


def merged(existing: dict, values: dict) -> dict:
    """An existing contact updated with the row: only the row's non-blank values change it."""
    out = {f: existing[f] for f in WRITTEN}
    for name in ("first_name", "last_name", "company_name", "email", "notes"):
        if values[name] is not None:
            out[name] = values[name]
    if values["name"]:
        out["name"] = values["name"]
    elif values["first_name"] or values["last_name"]:
        out["name"] = _person(out)[:MAX_LENGTHS["name"]]
    known = {t.casefold() for t in out["tags"] or []}
    out["tags"] = [*(out["tags"] or []), *(t for t in values["tags"] if t.casefold() not in known)]
    if len(out["tags"]) > MAX_TAGS:
        raise Rejected(f"A contact may have at most {MAX_TAGS} tags (counting the ones it has already)")
    return out
