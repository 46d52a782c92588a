"""Operations of the contact directory (/v1/contacts): contacts, groups, memberships."""
from __future__ import annotations

from app.api.openapi.builders import PAYLOAD_TOO_LARGE, UNAUTHORIZED, Operation, error, json_content, ref
from app.api.openapi.parameters import CONTACT_FILTERS, PAGING_PARAMETERS
from app.api.openapi.request_bodies import ContactBody, GroupBody, MembersBody


CONTACT_DESCRIPTION = """A contact: a person or a company the account sends to, identified by its id.

Fields: type (person|company; contact_type is accepted and returned as an alias), name (required, unless first_name/last_name, or for a company company_name, are given: then it is derived from them), first_name, last_name, company_name, phone_number (E.164; national numbers are read in the account's region; one contact per number), email, tags, notes. Blank strings mean null. Unknown fields are ignored."""

CONTACT_404 = error("No contact with this id in your account (code not_found)")
GROUP_404 = error("No group with this id in your account (code not_found)")
CONTACT_422 = error("Invalid input: body not a JSON object, wrong field types, missing name, unknown type, "
                    "invalid phone number or email, too long values, bad tags (field problems in errors)")
GROUP_422 = error("Invalid input: body not a JSON object, missing or too long name, too long description")


def contact_operations() -> list[Operation]:
    if ContactBody is None:
        return []
    return [*_contact_operations(), *_group_operations()]


def _contact_operations() -> list[Operation]:
    return [
        Operation(
            "get", "/v1/contacts", "listContacts", "List contacts",
            "List the account's contacts, alphabetical by name, with optional filters (combined with AND). "
            "Paging: page (1-based) with page_size or per_page (default 50, max 500); the envelope is "
            "{contacts, total, page, page_size, per_page, has_more}.",
            "Contacts", parameters=(*PAGING_PARAMETERS, *CONTACT_FILTERS, "GroupFilter"),
            responses={
                "200": {"description": "One page of contacts", "content": json_content(ref("ContactList"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
                "422": error("Invalid query: paging, unknown type, too long search (code invalid_query)"),
            },
        ),
        Operation(
            "post", "/v1/contacts", "createContact", "Create contact", CONTACT_DESCRIPTION, "Contacts",
            body=ContactBody,
            responses={
                "201": {"description": "Created", "content": json_content(ref("Contact"))},
                "401": UNAUTHORIZED,
                "409": error("Another contact has this phone number (code duplicate_phone_number)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": CONTACT_422,
            },
        ),
        Operation(
            "get", "/v1/contacts/{contact_id}", "getContact", "Get contact", "Get one contact.", "Contacts",
            parameters=("ContactId",),
            responses={
                "200": {"description": "The contact", "content": json_content(ref("Contact"))},
                "401": UNAUTHORIZED,
                "404": CONTACT_404,
            },
        ),
        *(Operation(
            method, "/v1/contacts/{contact_id}", op_id, summary,
            f"{what}\n\n{CONTACT_DESCRIPTION}\n\nWhen first/last name change and name was derived from them "
            "(and no name is given), name follows. An anonymised contact cannot be changed (409).",
            "Contacts", parameters=("ContactId",), body=ContactBody,
            responses={
                "200": {"description": "The changed contact", "content": json_content(ref("Contact"))},
                "401": UNAUTHORIZED,
                "404": CONTACT_404,
                "409": error("Another contact has this phone number (code duplicate_phone_number), or the "
                             "contact was anonymised (code contact_anonymised)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": CONTACT_422,
            },
        ) for method, op_id, summary, what in (
            ("patch", "updateContact", "Update contact",
             "Change the given fields only; null clears a field."),
            ("put", "replaceContact", "Replace contact",
             "Replace the contact: fields not given go back to their defaults."),
        )),
        Operation(
            "delete", "/v1/contacts/{contact_id}", "deleteContact", "Delete contact",
            "Delete a contact and its group memberships. Its messages are kept.", "Contacts",
            parameters=("ContactId",),
            responses={
                "200": {"description": "Deleted", "content": json_content(ref("ContactDeleted"))},
                "401": UNAUTHORIZED,
                "404": CONTACT_404,
            },
        ),
        Operation(
            "post", "/v1/contacts/{contact_id}/gdpr-delete", "anonymiseContact", "Anonymise contact (GDPR)",
            "Erase everything that identifies the person (name becomes \"Anonymised\"; names, company, phone "
            "number, email, notes and tags are cleared; group memberships are removed) but keep the contact's "
            "id, so message history stays consistent. The opt-out list is not touched. Repeating it is "
            "harmless.", "Contacts", parameters=("ContactId",),
            responses={
                "200": {"description": "The anonymised contact", "content": json_content(ref("Contact"))},
                "401": UNAUTHORIZED,
                "404": CONTACT_404,
            },
        ),
    ]


def _group_operations() -> list[Operation]:
    return [
        Operation(
            "get", "/v1/contacts/groups", "listGroups", "List groups",
            "List the account's contact groups, alphabetical, with their member counts.", "Contact groups",
            parameters=(*PAGING_PARAMETERS, "GroupSearch"),
            responses={
                "200": {"description": "One page of groups", "content": json_content(ref("GroupList"))},
                "401": UNAUTHORIZED,
                "422": error("Invalid paging (code invalid_query)"),
            },
        ),
        Operation(
            "post", "/v1/contacts/groups", "createGroup", "Create group",
            "Create a named group of contacts. Names are unique per account, ignoring case.", "Contact groups",
            body=GroupBody,
            responses={
                "201": {"description": "Created", "content": json_content(ref("Group"))},
                "401": UNAUTHORIZED,
                "409": error("A group with this name exists (code duplicate_group_name)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": GROUP_422,
            },
        ),
        Operation(
            "get", "/v1/contacts/groups/{group_id}", "getGroup", "Get group", "Get one group.", "Contact groups",
            parameters=("GroupId",),
            responses={
                "200": {"description": "The group", "content": json_content(ref("Group"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
            },
        ),
        *(Operation(
            method, "/v1/contacts/groups/{group_id}", op_id, summary, what, "Contact groups",
            parameters=("GroupId",), body=GroupBody,
            responses={
                "200": {"description": "The changed group", "content": json_content(ref("Group"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
                "409": error("Another group has this name (code duplicate_group_name)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": GROUP_422,
            },
        ) for method, op_id, summary, what in (
            ("patch", "updateGroup", "Update group", "Change the given fields; description: null clears it."),
            ("put", "replaceGroup", "Replace group", "Replace the group: name is required, a missing description "
                                                     "is cleared."),
        )),
        Operation(
            "delete", "/v1/contacts/groups/{group_id}", "deleteGroup", "Delete group",
            "Delete a group and its memberships; the contacts stay.", "Contact groups", parameters=("GroupId",),
            responses={
                "200": {"description": "Deleted", "content": json_content(ref("GroupDeleted"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
            },
        ),
        Operation(
            "get", "/v1/contacts/groups/{group_id}/members", "listGroupMembers", "List group members",
            "The group's contacts, alphabetical, with the contact list's filters and paging.", "Contact groups",
            parameters=("GroupId", *PAGING_PARAMETERS, *CONTACT_FILTERS),
            responses={
                "200": {"description": "One page of members", "content": json_content(ref("GroupMemberList"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
                "422": error("Invalid query: paging, unknown type, too long search (code invalid_query)"),
            },
        ),
        Operation(
            "post", "/v1/contacts/groups/{group_id}/members", "addGroupMembers", "Add group members",
            "Add contacts to the group. Idempotent: contacts that are members already are listed in "
            "already_members and nothing changes for them. All or nothing: if any id is not one of the "
            "account's contacts, nothing is added (422 naming every such id in errors).", "Contact groups",
            parameters=("GroupId",), body=MembersBody,
            responses={
                "200": {"description": "Members added", "content": json_content(ref("GroupMembersAdded"))},
                "401": UNAUTHORIZED,
                "404": GROUP_404,
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: no contact_ids, or unknown contact ids (code unknown_contacts)"),
            },
        ),
        Operation(
            "delete", "/v1/contacts/groups/{group_id}/members/{contact_id}", "removeGroupMember",
            "Remove group member", "Remove a contact from the group (the contact stays).", "Contact groups",
            parameters=("GroupId", "ContactId"),
            responses={
                "200": {"description": "Removed", "content": json_content(ref("GroupMemberRemoved"))},
                "401": UNAUTHORIZED,
                "404": error("No such group or contact in your account (code not_found), or the contact is "
                             "not a member of the group (code not_a_member)"),
            },
        ),
    ]
