"""Groups of contacts: named sets (a name is unique per account, ignoring case) and their members.

Membership changes are idempotent: adding a contact that is already a member changes nothing,
so a client may safely retry. Adding is all or nothing: if any id is not one of the account's
contacts, nothing is added and the error names every such id.
"""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Account, Group, get_owned, group_members, scoped
from app.services.contacts import (
    ContactFilter,
    chunks,
    get_contact,
    insert_ignoring_duplicates,
    list_contacts,
    owned_contact_ids,
)
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.paging import Page, paginate

MAX_NAME, MAX_DESCRIPTION = 100, 2000
SHOWN_IDS = 20  # unknown ids named in ``detail``; all of them are listed in ``errors``


def get_group(account: Account, group_id: str) -> Group:
    group = get_owned(Group, account.id, group_id)
    if group is None:
        raise NotFound(f"Group '{group_id}' not found")
    return group


def list_groups(account: Account, page: int, page_size: int, search: str | None = None) -> Page:
    """Alphabetical (ignoring case); ``search`` is a case-insensitive part of the name."""
    query = scoped(Group, account.id)
    if search and search.strip():
        query = query.where(Group.name_key.contains(Group.key(search), autoescape=True))
    return paginate(query, Group.name_key, Group.id, page=page, page_size=page_size)


def member_counts(groups: list[Group]) -> dict[str, int]:
    """Members per group id, for a page of groups in one query."""
    counts = {g.id: 0 for g in groups}
    for chunk in chunks(list(counts)):
        rows = db.session.execute(
            select(group_members.c.group_id, func.count())
            .where(group_members.c.group_id.in_(chunk))
            .group_by(group_members.c.group_id)
        )
        counts.update((group_id, count) for group_id, count in rows)
    return counts


def member_count(group: Group) -> int:
    return member_counts([group])[group.id]


def create_group(account: Account, name: str, description: str | None = None) -> Group:
    fields = _clean({"name": name, "description": description})
    _check_name_free(account, fields["name"])
    group = Group(account_id=account.id, **fields)
    db.session.add(group)
    audit.record(account.id, "group.created", "group", group, name=group.name)
    _commit(account, fields["name"])
    return group


def update_group(account: Account, group_id: str, changes: dict, *, replace: bool = False) -> Group:
    """PATCH (only given fields; ``description: null`` clears it) or PUT (``replace=True``:
    ``name`` required, a missing description is cleared)."""
    group = get_group(account, group_id)
    current = {"name": group.name, "description": None if replace else group.description}
    if replace:
        current["name"] = None
    fields = _clean({**current, **{k: v for k, v in changes.items() if k in current}})
    if Group.key(fields["name"]) != group.name_key:
        _check_name_free(account, fields["name"], except_id=group.id)
    group.name, group.description = fields["name"], fields["description"]
    audit.record_changes(account.id, "group.changed", "group", group, ("name", "description"))
    _commit(account, fields["name"])
    return group


def delete_group(account: Account, group_id: str) -> None:
    """The group and its memberships go; the contacts stay."""
    group = get_group(account, group_id)
    db.session.execute(delete(group_members).where(group_members.c.group_id == group.id))
    db.session.delete(group)
    audit.record(account.id, "group.deleted", "group", group.id, name=group.name)
    db.session.commit()


def list_members(account: Account, group_id: str, page: int, page_size: int,
                 flt: ContactFilter | None = None) -> Page:
    """The group's contacts, alphabetical, with the contact list's filters."""
    group = get_group(account, group_id)
    return list_contacts(account, replace(flt or ContactFilter(), group_id=group.id), page, page_size)


def add_members(account: Account, group_id: str, contact_ids: list[str]) -> dict:
    """Adds the contacts that are not members yet. Returns the ids ``added`` now and those that
    were ``already_members``. Any id that is not the account's contact: 422 and nothing added."""
    group = get_group(account, group_id)
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        raise Invalid("contact_ids must list at least one contact id", code="no_contacts",
                      fields=[{"loc": ["body", "contact_ids"], "msg": "empty", "type": "value_error"}])
    _check_owned(account, contact_ids)
    existing = _existing_members(group.id, wanted)
    added = [cid for cid in wanted if cid not in existing]
    insert_ignoring_duplicates(group_members, [{"group_id": group.id, "contact_id": cid} for cid in added])
    if added:  # one event for the lot, however many were ticked
        audit.record(account.id, "group.members_added", "group", group.id, name=group.name, count=len(added))
    db.session.commit()
    return {"added": added, "already_members": [cid for cid in wanted if cid in existing]}


def remove_member(account: Account, group_id: str, contact_id: str) -> None:
    group = get_group(account, group_id)
    contact = get_contact(account, contact_id)
    result = db.session.execute(delete(group_members).where(
        group_members.c.group_id == group.id, group_members.c.contact_id == contact.id))
    if result.rowcount:
        audit.record(account.id, "group.member_removed", "group", group.id, name=group.name, contact_id=contact.id)
    db.session.commit()
    if result.rowcount == 0:
        raise NotFound(f"Contact '{contact.id}' is not a member of group '{group.id}'", code="not_a_member")


def member_ids_among(account: Account, group_id: str, contact_ids: list[str]) -> set[str]:
    """Which of these contacts are already members (to mark them in a list of candidates)."""
    group = get_group(account, group_id)
    return _existing_members(group.id, list(dict.fromkeys(contact_ids)))


def groups_of(account: Account, contact_id: str) -> list[Group]:
    """The groups a contact is in, alphabetical."""
    contact = get_contact(account, contact_id)
    query = (scoped(Group, account.id)
             .join(group_members, group_members.c.group_id == Group.id)
             .where(group_members.c.contact_id == contact.id)
             .order_by(Group.name_key, Group.id))
    return list(db.session.scalars(query))


def _check_owned(account: Account, contact_ids: list[str]) -> None:
    owned = owned_contact_ids(account.id, contact_ids)
    unknown = [(i, cid) for i, cid in enumerate(contact_ids) if cid not in owned]
    if not unknown:
        return
    names = list(dict.fromkeys(cid for _, cid in unknown))
    shown = ", ".join(f"'{cid[:64]}'" for cid in names[:SHOWN_IDS])
    more = f" and {len(names) - SHOWN_IDS} more" if len(names) > SHOWN_IDS else ""
    raise Invalid(f"Unknown contact ids (nothing was added): {shown}{more}", code="unknown_contacts",
                  fields=[{"loc": ["body", "contact_ids", i], "msg": f"contact '{cid[:64]}' not found",
                           "type": "not_found"} for i, cid in unknown])


def _existing_members(group_id: str, contact_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(contact_ids):
        found.update(db.session.scalars(
            select(group_members.c.contact_id)
            .where(group_members.c.group_id == group_id, group_members.c.contact_id.in_(chunk))
        ))
    return found


def _clean(fields: dict) -> dict:
    name = fields.get("name")
    name = name.strip() if isinstance(name, str) else None
    if not name:
        raise Invalid("name is required", code="name_required",
                      fields=[{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}])
    if len(name) > MAX_NAME:
        raise Invalid(f"name may be at most {MAX_NAME} characters")
    description = fields.get("description")
    description = (description.strip() or None) if isinstance(description, str) else None
    if description and len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description may be at most {MAX_DESCRIPTION} characters")
    return {"name": name, "description": description}


def _check_name_free(account: Account, name: str, except_id: str | None = None) -> None:
    query = scoped(Group, account.id).where(Group.name_key == Group.key(name))
    if except_id:
        query = query.where(Group.id != except_id)
    existing = db.session.scalar(query)
    if existing is not None:
        raise Conflict(f"A group named '{existing.name}' already exists: {existing.id}",
                       code="duplicate_group_name")


def _commit(account: Account, name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _check_name_free(account, name)
        raise
