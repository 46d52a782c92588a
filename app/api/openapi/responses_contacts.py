"""Response schemas (components/schemas) of the contact directory (/v1/contacts)."""
from __future__ import annotations

from app.api.openapi.builders import array, boolean, integer, obj, ref, string, timestamp, uuid


def contact_response_schemas() -> dict:
    contact_type = string("person or company", enum=("person", "company"))
    paging = {
        "total": integer("Items matching the filters"),
        "page": integer(minimum=1),
        "page_size": integer(minimum=1),
        "per_page": integer("Same as page_size", minimum=1),
        "has_more": boolean("Whether a later page exists"),
    }
    return {
        "Contact": obj({
            "id": uuid(),
            "type": contact_type,
            "contact_type": {**contact_type, "description": "Same as type (the docs' example uses this name)"},
            "name": string("Display name"),
            "first_name": string(nullable=True),
            "last_name": string(nullable=True),
            "company_name": string(nullable=True),
            "phone_number": string("E.164", nullable=True),
            "email": string(nullable=True),
            "tags": array(string(), "Tags as written"),
            "notes": string(nullable=True),
            "created_at": timestamp(),
            "updated_at": timestamp(),
            "anonymised_at": timestamp("When the contact was anonymised (GDPR erasure); null if never",
                                       nullable=True),
        }),
        "ContactList": obj({"contacts": array(ref("Contact"), "Alphabetical by name"), **paging}),
        "ContactDeleted": obj({"message": string(enum=("Contact deleted",)), "id": string("The deleted contact's id")}),
        "Group": obj({
            "id": uuid(),
            "name": string("Unique per account, ignoring case"),
            "description": string(nullable=True),
            "member_count": integer(),
            "created_at": timestamp(),
            "updated_at": timestamp(),
        }),
        "GroupList": obj({"groups": array(ref("Group"), "Alphabetical by name"), **paging}),
        "GroupDeleted": obj({"message": string(enum=("Group deleted",)), "id": string("The deleted group's id")}),
        "GroupMemberList": obj({
            "group_id": uuid(),
            "members": array(ref("Contact"), "The group's contacts, alphabetical"),
            **paging,
        }),
        "GroupMembersAdded": obj({
            "group_id": uuid(),
            "added": array(string(), "Ids added by this request"),
            "already_members": array(string(), "Ids that were members already (nothing changed)"),
            "member_count": integer(),
        }),
        "GroupMemberRemoved": obj({
            "message": string(enum=("Contact removed from group",)),
            "group_id": uuid(),
            "contact_id": string(),
            "member_count": integer(),
        }),
    }
