"""Contacts: create, change, find and erase them, and expand contacts and groups into the numbers
a send goes to.

Values arrive already typed (the API's pydantic bodies, the dashboard's forms); the rules about
them live here so both front doors apply the same ones: names, types, E.164 numbers read in the
account's region, one contact per number, tags.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from sqlalchemy import Table, delete, func, insert, or_, select, true
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Account, Contact, Group, get_owned, group_members, scoped
from app.models.contact import CONTACT_TYPES
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.messages import MessageFilter, list_messages
from app.services.paging import Page, paginate
from app.sms import normalize_number
from app.sms.errors import InvalidNumber

# Every field a client may set; ``contact_type`` is folded into ``type`` by the front door.
FIELDS = ("type", "name", "first_name", "last_name", "company_name", "phone_number", "email", "tags", "notes")
BLANK = {"type": "person", "name": None, "first_name": None, "last_name": None, "company_name": None,
         "phone_number": None, "email": None, "tags": [], "notes": None}
MAX_LENGTHS = {"name": 200, "first_name": 100, "last_name": 100, "company_name": 200, "email": 254,
               "notes": 10_000}
MAX_TAGS, MAX_TAG_LENGTH = 50, 50
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces. Whether
# the mailbox exists is not ours to decide.
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
PHONE_LIKE = re.compile(r"\+?[0-9]{3,}")
SEPARATORS = re.compile(r"[\s\-.()]")
IN_CHUNK = 500  # ids per IN (...) list, well inside every database's parameter limit


@dataclass(frozen=True)
class ContactFilter:
    """Filters of the contact list. ``tags``: a contact matches when it has ALL of them
    (case-insensitively), so adding a tag to the filter narrows the list."""

    type: str | None = None
    search: str | None = None
    tags: tuple[str, ...] = ()
    group_id: str | None = None


# -- reading -------------------------------------------------------------------------------------

def get_contact(account: Account, contact_id: str) -> Contact:
    contact = get_owned(Contact, account.id, contact_id)
    if contact is None:
        raise NotFound(f"Contact '{contact_id}' not found")
    return contact


def list_contacts(account: Account, flt: ContactFilter, page: int, page_size: int) -> Page:
    query = filtered(scoped(Contact, account.id), account, flt)
    return alphabetical(query, page, page_size)


def filtered(query, account: Account, flt: ContactFilter):
    if flt.type:
        query = query.where(Contact.type == flt.type)
    if flt.search and flt.search.strip():
        query = query.where(_matches(flt.search.strip()))
    for tag in flt.tags:
        query = query.where(Contact.tag_keys.contains(json.dumps(tag.casefold()), autoescape=True))
    if flt.group_id is not None:
        group = get_owned(Group, account.id, flt.group_id)
        if group is None:
            raise NotFound(f"Group '{flt.group_id}' not found")
        query = query.where(Contact.id.in_(
            select(group_members.c.contact_id).where(group_members.c.group_id == group.id)))
    return query


def _matches(term: str):
    """Case-insensitive substring of name, first/last name, company, email or phone; a term that
    looks like a phone number also matches when typed with spaces or dashes."""
    conditions = [Contact.search_text.contains(term.casefold(), autoescape=True)]
    digits = SEPARATORS.sub("", term)
    if PHONE_LIKE.fullmatch(digits):
        conditions.append(Contact.phone_number.contains(digits, autoescape=True))
    return or_(*conditions)


def tags_in_use(account: Account, limit: int = 500) -> list[str]:
    """The account's tags (for a filter's choices): alphabetical and each once, ignoring case.
    Unpacked by the database (SQLite ``json_each``, PostgreSQL
    ``json_array_elements_text``), so no contact row is loaded to list them."""
    sqlite = db.session.get_bind().dialect.name == "sqlite"  # else PostgreSQL, the only other one
    element = (func.json_each if sqlite else func.json_array_elements_text)(Contact.tags).table_valued("value")
    query = (scoped(Contact, account.id).join(element, true()).where(Contact.tag_keys != "[]")
             .with_only_columns(element.c.value).distinct())
    spellings = [str(tag) for tag in db.session.scalars(query)]
    unique: dict[str, str] = {}
    for tag in sorted(spellings):
        unique.setdefault(tag.casefold(), tag)
    return [unique[key] for key in sorted(unique)][:limit]


def message_history(account: Account, contact: Contact, page: int, page_size: int) -> Page:
    """Messages to and from the contact's number, newest first. A contact without a number (never
    given, or anonymised) has none: its old messages are no longer linked to it."""
    if not contact.phone_number:
        return Page([], 0, 1, page_size)
    return list_messages(account, MessageFilter(number=contact.phone_number), page, page_size)


def alphabetical(query, page: int, page_size: int) -> Page:
    """Alphabetical pages of a contact query (ties broken by id so pages never overlap)."""
    return paginate(query, func.lower(Contact.name), Contact.id, page=page, page_size=page_size)


# -- writing -------------------------------------------------------------------------------------

def create_contact(account: Account, values: dict) -> Contact:
    """A new contact from any of :data:`FIELDS`. ``name`` is required, but may be derived: from
    ``first_name``/``last_name``, or for a company from ``company_name``."""
    fields = clean(account, {**BLANK, **_known(values)})
    fields["name"] = _name(fields, given=values.get("name"))
    _check_number_free(account, fields["phone_number"])
    contact = Contact(account_id=account.id, **fields)
    db.session.add(contact)
    audit.record(account.id, "contact.created", "contact", contact)  # no personal data: erasure must leave none
    _commit(account, fields["phone_number"])
    return contact


def update_contact(account: Account, contact_id: str, changes: dict, *, replace: bool = False) -> Contact:
    """PATCH (``replace=False``: only the given fields change; ``None`` clears one) or PUT
    (``replace=True``: fields not given go back to their defaults).

    When first/last name change and ``name`` was derived from them (and is not given now),
    ``name`` follows, so it never keeps showing a name the person no longer has."""
    contact = get_contact(account, contact_id)
    if contact.anonymised_at is not None:
        raise Conflict(f"Contact '{contact.id}' was anonymised (GDPR erasure) and cannot be changed",
                       code="contact_anonymised")
    changes = _known(changes)
    current = {f: getattr(contact, f) for f in FIELDS}
    fields = clean(account, {**(BLANK if replace else current), **changes})
    if "name" in changes or replace:
        fields["name"] = _name(fields, given=changes.get("name"))
    elif _derived(current) == current["name"] and _derived(fields):
        fields["name"] = _derived(fields)
    if fields["phone_number"] != contact.phone_number:
        _check_number_free(account, fields["phone_number"], except_id=contact.id)
    for field, value in fields.items():
        setattr(contact, field, value)
    audit.record_changes(account.id, "contact.changed", "contact", contact, FIELDS, values=False)
    _commit(account, fields["phone_number"])
    return contact


def delete_contact(account: Account, contact_id: str) -> None:
    contact = get_contact(account, contact_id)
    db.session.execute(delete(group_members).where(group_members.c.contact_id == contact.id))
    db.session.delete(contact)
    audit.record(account.id, "contact.deleted", "contact", contact.id)
    db.session.commit()


def gdpr_delete(account: Account, contact_id: str) -> Contact:
    """Erase everything that identifies the person but keep the row and its id, so whatever refers
    to the contact stays consistent. Group memberships go too (being in "VIP Oslo" says something
    about a person). Messages are not touched, and neither is the opt-out list: a suppressed
    number must stay suppressed. Repeating it is harmless."""
    contact = get_contact(account, contact_id)
    contact.anonymise()
    db.session.execute(delete(group_members).where(group_members.c.contact_id == contact.id))
    audit.record(account.id, "contact.erased", "contact", contact.id)
    db.session.commit()
    return contact


def _commit(account: Account, number: str | None) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # Another request took the number between our check and our write.
        db.session.rollback()
        _check_number_free(account, number)
        raise


def _check_number_free(account: Account, number: str | None, except_id: str | None = None) -> None:
    if number is None:
        return
    query = scoped(Contact, account.id).where(Contact.phone_number == number)
    if except_id:
        query = query.where(Contact.id != except_id)
    existing = db.session.scalar(query)
    if existing is not None:
        raise Conflict(f"A contact with phone number {number} already exists: {existing.id}",
                       code="duplicate_phone_number", fields=[_field("phone_number", "already in use")])


# -- field rules ---------------------------------------------------------------------------------

def _known(values: dict) -> dict:
    return {k: v for k, v in values.items() if k in FIELDS}


def clean(account: Account, fields: dict) -> dict:
    """Trimmed strings (blank ones become None), a known type, an E.164 number, a plausible email,
    clean tags, lengths within bounds. Raises :class:`Invalid` naming the field."""
    out = {k: _trimmed(v) if isinstance(v, str) else v for k, v in fields.items()}
    out["type"] = (out.get("type") or "person").lower()
    if out["type"] not in CONTACT_TYPES:
        raise Invalid(f"type must be one of {', '.join(CONTACT_TYPES)}, not '{fields['type']}'",
                      fields=[_field("type", "unknown type")])
    for field, limit in MAX_LENGTHS.items():
        if out.get(field) and len(out[field]) > limit:
            raise Invalid(f"{field} may be at most {limit} characters", fields=[_field(field, "too long")])
    if out.get("phone_number"):
        out["phone_number"] = _number(account, out["phone_number"])
    if out.get("email") and not EMAIL.fullmatch(out["email"]):
        raise Invalid(f"email '{out['email'][:64]}' is not a valid email address",
                      fields=[_field("email", "not an email address")])
    out["tags"] = clean_tags(out.get("tags") or [])
    return out


def _trimmed(value: str) -> str | None:
    return value.strip() or None


def _number(account: Account, raw: str) -> str:
    try:
        return normalize_number(raw, account.default_region)
    except InvalidNumber as exc:
        raise Invalid(f"phone_number {exc.message}", code="invalid_phone_number",
                      fields=[_field("phone_number", exc.message)]) from None


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, blank ones dropped, duplicates (ignoring case) dropped keeping the first spelling.
    A tag may not contain a comma: the list filter takes tags as a comma-separated list."""
    result, seen = [], set()
    for raw in tags:
        tag = raw.strip()
        if not tag or tag.casefold() in seen:
            continue
        if "," in tag:
            raise Invalid(f"tag '{tag[:MAX_TAG_LENGTH]}' contains a comma; tags may not contain commas",
                          fields=[_field("tags", "contains a comma")])
        if len(tag) > MAX_TAG_LENGTH:
            raise Invalid(f"tags may be at most {MAX_TAG_LENGTH} characters each",
                          fields=[_field("tags", "too long")])
        seen.add(tag.casefold())
        result.append(tag)
    if len(result) > MAX_TAGS:
        raise Invalid(f"A contact may have at most {MAX_TAGS} tags", fields=[_field("tags", "too many")])
    return result


def _derived(fields: dict) -> str | None:
    person = " ".join(p for p in (fields.get("first_name"), fields.get("last_name")) if p)
    if person:
        return person
    return fields.get("company_name") if fields.get("type") == "company" else None


def _name(fields: dict, given) -> str:
    name = fields.get("name") if isinstance(given, str) and given.strip() else _derived(fields)
    if not name:
        raise Invalid("name is required (or give first_name/last_name, or company_name for a company)",
                      code="name_required", fields=[_field("name", "Field required")])
    if len(name) > MAX_LENGTHS["name"]:
        raise Invalid(f"name may be at most {MAX_LENGTHS['name']} characters", fields=[_field("name", "too long")])
    return name


def _field(name: str, msg: str) -> dict:
    return {"loc": ["body", name], "msg": msg, "type": "value_error"}


# -- for the send path ---------------------------------------------------------------------------

def expand_recipients(account_id: str, contact_ids: Iterable, group_ids: Iterable) -> tuple[list[str], list[dict]]:
    """The E.164 numbers of these contacts and of the members of these groups, in input order
    (a group's members alphabetically, as the member list shows them), each number once.

    Every input ends up among the numbers or in ``rejected``: ``{"contact_id"|"group_id": id,
    "reason": ...}`` for an unknown or another account's id ("contact not found", "group not
    found"), a contact without a number ("has no phone number") and an empty group ("group has no
    members"). A contact named twice, or directly and through a group, is simply sent to once.
    """
    numbers: list[str] = []
    rejected: list[dict] = []
    seen_contacts: set[str] = set()
    seen_numbers: set[str] = set()

    def take(contact_id: str, number: str | None) -> None:
        if contact_id in seen_contacts:
            return
        seen_contacts.add(contact_id)
        if not number:
            rejected.append({"contact_id": contact_id, "reason": "has no phone number"})
        elif number not in seen_numbers:
            seen_numbers.add(number)
            numbers.append(number)

    contact_ids, group_ids = _unique(contact_ids), _unique(group_ids)
    direct = _owned_numbers(account_id, contact_ids)
    for contact_id in contact_ids:
        if not isinstance(contact_id, str) or contact_id not in direct:
            rejected.append({"contact_id": contact_id, "reason": "contact not found"})
        else:
            take(contact_id, direct[contact_id])
    owned_groups = set(_owned_ids(Group, account_id, group_ids))
    for group_id in group_ids:
        if not isinstance(group_id, str) or group_id not in owned_groups:
            rejected.append({"group_id": group_id, "reason": "group not found"})
            continue
        members = _member_numbers(account_id, group_id)
        if not members:
            rejected.append({"group_id": group_id, "reason": "group has no members"})
        for contact_id, number in members:
            take(contact_id, number)
    return numbers, rejected


def _unique(ids: Iterable) -> list:
    """Input order, each id once; anything that is not a string is kept so it is rejected."""
    seen, result = set(), []
    for value in ids or ():
        key = value if isinstance(value, str) else repr(value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def chunks(values: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _valid_ids(ids: list) -> list[str]:
    return [i for i in ids if isinstance(i, str) and len(i) <= 64]


def _owned_numbers(account_id: str, contact_ids: list) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for chunk in chunks(_valid_ids(contact_ids)):
        query = scoped(Contact, account_id).where(Contact.id.in_(chunk))
        rows = db.session.execute(query.with_only_columns(Contact.id, Contact.phone_number))
        found.update((cid, number) for cid, number in rows)
    return found


def _owned_ids(model, account_id: str, ids: list) -> list[str]:
    found: list[str] = []
    for chunk in chunks(_valid_ids(ids)):
        query = scoped(model, account_id).where(model.id.in_(chunk))
        found.extend(db.session.scalars(query.with_only_columns(model.id)))
    return found


def _member_numbers(account_id: str, group_id: str) -> list[tuple[str, str | None]]:
    query = (scoped(Contact, account_id)
             .join(group_members, group_members.c.contact_id == Contact.id)
             .where(group_members.c.group_id == group_id)
             .order_by(func.lower(Contact.name), Contact.id)
             .with_only_columns(Contact.id, Contact.phone_number))
    return [(cid, number) for cid, number in db.session.execute(query)]


def owned_contact_ids(account_id: str, contact_ids: list) -> set[str]:
    """Which of these ids are the account's contacts."""
    return set(_owned_ids(Contact, account_id, contact_ids))


def insert_ignoring_duplicates(table: Table, rows: list[dict]) -> None:
    """INSERT rows, silently skipping any that would break a unique constraint (another request
    inserted the same row first). Race-free on SQLite and PostgreSQL: ON CONFLICT DO NOTHING."""
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - smsdesk runs on SQLite and PostgreSQL only
        db.session.execute(insert(table), rows)
        return
    db.session.execute(dialect_insert(table).on_conflict_do_nothing(), rows)
