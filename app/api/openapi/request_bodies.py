"""Request bodies (components/schemas): the pydantic models that validate requests, described.

``model_json_schema`` gives the shape; the reference's field descriptions are added where a model
has none, so the document and the validation cannot drift apart.
"""
from __future__ import annotations

from pydantic import BaseModel

from app.api.campaign_schemas import CampaignBody, CampaignChanges, DispatchBody, ScheduleBody, SendWindow
from app.api.schemas import EstimateBody, SendBody, SenderProfileBody
from app.sms import MAX_CHARACTERS

try:  # the contact directory (/v1/contacts)
    from app.api.contact_schemas import ContactBody, GroupBody, MembersBody
except ImportError:  # pragma: no cover - only while the contact directory is not part of the app
    ContactBody = GroupBody = MembersBody = None


REQUEST_MODELS: tuple[type[BaseModel] | None, ...] = (SendBody, EstimateBody, SenderProfileBody, ContactBody,
                                                       GroupBody, MembersBody, CampaignBody, CampaignChanges,
                                                       SendWindow, DispatchBody, ScheduleBody)

# The reference's descriptions, added where the pydantic field has none; plus facts the model
# enforces elsewhere (length limits) so the document states them.
FIELD_DOCS: dict[str, dict[str, dict]] = {
    "SendBody": {
        "to": {"description": "Recipient phone numbers (E.164, e.g. +4799999999; national numbers are read in "
                              "the account's region). One string or an array."},
        "to_contacts": {"description": "Contact UUIDs from your contact directory (/v1/contacts); each is sent "
                                       "to its phone number. Unknown contacts and contacts without a number "
                                       "are listed in `rejected`."},
        "to_groups": {"description": "Contact group UUIDs; every member is sent to, once per number. Unknown "
                                     "or empty groups are listed in `rejected`."},
        "message": {"description": f"Required. Message content, 1 to {MAX_CHARACTERS} characters",
                    "minLength": 1, "maxLength": MAX_CHARACTERS},
        "sender_profile_id": {"description": "Sender profile ID (uses the default if not specified); "
                                             "wins over sender_id"},
        "sender_id": {"description": "A sender name/number: selects the account's approved profile with this "
                                     "sender id"},
        "allow_reply": {"description": "Allow the recipient to reply (needs a phone-number sender)"},
        "customer_ref": {"description": "Your reference ID for correlation (max 255 characters)"},
        "callback_url": {"description": "Webhook URL for delivery status (HTTPS required)"},
        "scheduled_at": {"description": "Schedule for future delivery (ISO 8601), max 30 days ahead. With Z or an "
                                        "offset it is absolute; without, it is read in `timezone` (default UTC)."},
        "timezone": {"description": "IANA time zone for scheduled_at (e.g. Europe/Oslo). If omitted, "
                                    "scheduled_at is treated as UTC."},
    },
    "EstimateBody": {
        "message": {"description": f"Required. Message content, 1 to {MAX_CHARACTERS} characters",
                    "minLength": 1, "maxLength": MAX_CHARACTERS},
        "to": {"description": "Recipients; if given, their count is the recipient count. One string or an array."},
    },
    "SenderProfileBody": {
        "name": {"description": "Required. Profile name (max 120 characters)"},
        "sender_id": {"description": "Required. A phone number (3-15 digits, optional leading +) or an "
                                     "alphanumeric brand name: at most 11 ASCII letters, digits, spaces, '-' or "
                                     "'.', with at least one letter, no Æ/Ø/Å. Stored exactly as sent."},
        "allow_reply": {"description": "Whether recipients may reply (phone-number senders)"},
        "is_default": {"description": "Make this the account's default profile"},
        "brand_confirmation": {"description": "Required (true) for a custom alphanumeric sender ID: you confirm "
                                              "you own or may use the brand"},
    },
    "ContactBody": {
        "type": {"description": "person or company (default person)"},
        "first_name": {"description": "First name (max 100 characters)"},
        "last_name": {"description": "Last name (max 100 characters)"},
        "company_name": {"description": "Company name (max 200 characters)"},
        "email": {"description": "Email address (max 254 characters)"},
        "tags": {"description": "Tags (at most 50, each at most 50 characters, no commas); duplicates ignoring "
                                "case are dropped. One comma-separated string or an array."},
        "notes": {"description": "Free text (max 10000 characters)"},
    },
    "GroupBody": {
        "description": {"description": "Free text (max 2000 characters); null or blank clears it"},
    },
    "MembersBody": {
        "contact_ids": {"description": "Ids of the account's contacts; one string or an array"},
    },
}


def _one_or_many_fields(model: type[BaseModel]) -> set[str]:
    """Fields a ``one_or_many`` validator widens: they take one string as well as a list."""
    fields: set[str] = set()
    for name, decorator in model.__pydantic_decorators__.field_validators.items():
        if name in ("one_or_many", "comma_list"):
            fields.update(decorator.info.fields)
    return fields


def request_schema(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # a nested body (SendWindow) is a component of its own, in REQUEST_MODELS
    properties = schema.get("properties", {})
    for name in _one_or_many_fields(model):
        prop = properties.get(name)
        if prop and prop.get("type") == "array":
            kept = {key: prop.pop(key) for key in ("title", "description", "default") if key in prop}
            properties[name] = {"anyOf": [prop, prop["items"]], **kept}
        elif prop and "anyOf" in prop:  # e.g. list[str] | None
            for i, alternative in enumerate(prop["anyOf"]):
                if alternative.get("type") == "array":
                    prop["anyOf"].insert(i + 1, alternative["items"])
                    break
    for name, extra in FIELD_DOCS.get(model.__name__, {}).items():
        if name not in properties:
            continue
        for key, value in extra.items():
            if key == "description" and properties[name].get("description"):
                continue  # the model's own description wins
            properties[name].setdefault(key, value)
    schema["description"] = (model.__doc__ or "").strip() or "Unknown fields are ignored."
    if "ignored" not in schema["description"]:
        schema["description"] += " Unknown fields are ignored."
    return schema
