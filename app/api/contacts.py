"""``/v1/contacts``: the contact directory (contacts, groups, memberships).

Each view parses input, calls one service, renders JSON. ``/groups`` is a fixed path segment, so
the router prefers it to ``/<contact_id>`` whatever the order of the rules.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.api.auth import authenticate
from app.api.contact_schemas import ContactBody, GroupBody, MembersBody
from app.api.params import page_envelope, paging
from app.api.sms import json_body
from app.models import Contact, Group
from app.models.base import iso
from app.models.contact import CONTACT_TYPES
from app.services import contacts as contact_service
from app.services import groups as group_service
from app.services.contacts import ContactFilter
from app.services.errors import Invalid

contacts = Blueprint("contacts", __name__)

MAX_SEARCH = 200


@contacts.before_request
def _authenticate() -> None:
    authenticate()


# -- rendering and query parsing -----------------------------------------------------------------

def contact_json(c: Contact) -> dict:
    return {
        "id": c.id,
        "type": c.type,
        "contact_type": c.type,
        "name": c.name,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company_name": c.company_name,
        "phone_number": c.phone_number,
        "email": c.email,
        "tags": list(c.tags or []),
        "notes": c.notes,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "anonymised_at": iso(c.anonymised_at),
    }


def group_json(group: Group, member_count: int) -> dict:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "member_count": member_count,
        "created_at": iso(group.created_at),
        "updated_at": iso(group.updated_at),
    }


def contact_filter() -> ContactFilter:
    """``type``, ``search``, ``tags`` (comma-separated; a contact must have ALL of them) and
    ``group_id``. ``contact_type`` and ``q`` are accepted as aliases, ``tag`` may repeat."""
    args = request.args
    kind = (args.get("type") or args.get("contact_type") or "").strip().lower() or None
    if kind and kind not in CONTACT_TYPES:
        raise Invalid(f"type must be one of {', '.join(CONTACT_TYPES)}", code="invalid_query")
    search = args.get("search") or args.get("q")
    if search and len(search) > MAX_SEARCH:
        raise Invalid(f"search may be at most {MAX_SEARCH} characters", code="invalid_query")
    raw_tags = [*args.getlist("tags"), *args.getlist("tag")]
    tags = tuple(dict.fromkeys(t.strip() for raw in raw_tags for t in raw.split(",") if t.strip()))
    return ContactFilter(type=kind, search=search, tags=tags, group_id=args.get("group_id") or None)


# -- contacts ------------------------------------------------------------------------------------

@contacts.get("")
def list_contacts():
    page, size = paging()
    result = contact_service.list_contacts(g.account, contact_filter(), page, size)
    return jsonify(page_envelope("contacts", [contact_json(c) for c in result.items], result))


@contacts.post("")
def create_contact():
    parsed = ContactBody.model_validate(json_body())
    return jsonify(contact_json(contact_service.create_contact(g.account, parsed.values()))), 201


@contacts.get("/<contact_id>")
def get_contact(contact_id: str):
    return jsonify(contact_json(contact_service.get_contact(g.account, contact_id)))


@contacts.patch("/<contact_id>")
def update_contact(contact_id: str):
    parsed = ContactBody.model_validate(json_body())
    return jsonify(contact_json(contact_service.update_contact(g.account, contact_id, parsed.values())))


@contacts.put("/<contact_id>")
def replace_contact(contact_id: str):
    parsed = ContactBody.model_validate(json_body())
    contact = contact_service.update_contact(g.account, contact_id, parsed.values(), replace=True)
    return jsonify(contact_json(contact))


@contacts.delete("/<contact_id>")
def delete_contact(contact_id: str):
    contact_service.delete_contact(g.account, contact_id)
    return jsonify({"message": "Contact deleted", "id": contact_id})


@contacts.post("/<contact_id>/gdpr-delete")
def gdpr_delete(contact_id: str):
    return jsonify(contact_json(contact_service.gdpr_delete(g.account, contact_id)))


# -- groups --------------------------------------------------------------------------------------

@contacts.get("/groups")
def list_groups():
    page, size = paging()
    result = group_service.list_groups(g.account, page, size, search=request.args.get("search"))
    counts = group_service.member_counts(result.items)
    return jsonify(page_envelope("groups", [group_json(gr, counts[gr.id]) for gr in result.items], result))


@contacts.post("/groups")
def create_group():
    parsed = GroupBody.model_validate(json_body())
    group = group_service.create_group(g.account, parsed.name, parsed.description)
    return jsonify(group_json(group, 0)), 201


@contacts.get("/groups/<group_id>")
def get_group(group_id: str):
    group = group_service.get_group(g.account, group_id)
    return jsonify(group_json(group, group_service.member_count(group)))


@contacts.patch("/groups/<group_id>")
def update_group(group_id: str):
    parsed = GroupBody.model_validate(json_body())
    group = group_service.update_group(g.account, group_id, parsed.values())
    return jsonify(group_json(group, group_service.member_count(group)))


@contacts.put("/groups/<group_id>")
def replace_group(group_id: str):
    parsed = GroupBody.model_validate(json_body())
    group = group_service.update_group(g.account, group_id, parsed.values(), replace=True)
    return jsonify(group_json(group, group_service.member_count(group)))


@contacts.delete("/groups/<group_id>")
def delete_group(group_id: str):
    group_service.delete_group(g.account, group_id)
    return jsonify({"message": "Group deleted", "id": group_id})


@contacts.get("/groups/<group_id>/members")
def list_members(group_id: str):
    page, size = paging()
    result = group_service.list_members(g.account, group_id, page, size, contact_filter())
    body = page_envelope("members", [contact_json(c) for c in result.items], result)
    return jsonify({"group_id": group_id, **body})


@contacts.post("/groups/<group_id>/members")
def add_members(group_id: str):
    parsed = MembersBody.model_validate(json_body())
    result = group_service.add_members(g.account, group_id, parsed.contact_ids)
    group = group_service.get_group(g.account, group_id)
    return jsonify({"group_id": group.id, **result, "member_count": group_service.member_count(group)})


@contacts.delete("/groups/<group_id>/members/<contact_id>")
def remove_member(group_id: str, contact_id: str):
    group_service.remove_member(g.account, group_id, contact_id)
    group = group_service.get_group(g.account, group_id)
    return jsonify({"message": "Contact removed from group", "group_id": group.id, "contact_id": contact_id,
                    "member_count": group_service.member_count(group)})
