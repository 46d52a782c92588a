"""The OpenAPI 3.1 document of the JSON API, served at ``/v1/openapi.json`` and rendered at ``/docs``.

Request bodies come from the same pydantic models that validate requests (``model_json_schema``),
with the reference's field descriptions added where a model has none. Response schemas are written
here, field for field as ``app/api/serializers.py`` and the services build them: every object lists
all its fields in ``required`` (a field that may be empty is present with ``null``, its type says
``["...", "null"]``) and sets ``additionalProperties: false``, so ``tests/api/test_openapi.py`` catches
a response field that is added, renamed or dropped without the document following.

Every ``/v1/sms/...`` operation is also served under ``/v1/dashboard/sms/...`` by the same handler;
those mirror operations are generated from the ``/v1/sms`` ones (distinct operationIds, bearer
security), never written twice.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel

from app.api import params as paging_params
from app.api.schemas import EstimateBody, SendBody, SenderProfileBody
from app.models import Status
from app.models.sender import APPROVAL_STATUSES
from app.sms import CURRENCIES, DEFAULT_PRICES, MAX_CHARACTERS

try:  # the contact directory (/v1/contacts)
    from app.api.contact_schemas import ContactBody, GroupBody, MembersBody
except ImportError:  # pragma: no cover - only while the contact directory is not part of the app
    ContactBody = GroupBody = MembersBody = None

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

SMS_PREFIX = "/v1/sms"
MIRROR_PREFIX = "/v1/dashboard/sms"

API_KEY_SECURITY = [{"ApiKey": []}, {"Bearer": []}]
BEARER_SECURITY = [{"Bearer": []}]

ENCODINGS = ("GSM-7", "UCS-2")
DIRECTIONS = ("OUTBOUND", "INBOUND")
MESSAGE_TYPES = ("PLAIN", "REPLY", "VERIFY")

# --------------------------------------------------------------------------------------------------
# Schema building blocks
# --------------------------------------------------------------------------------------------------

# UTC ISO 8601 with a trailing Z, e.g. 2026-03-30T10:00:00Z (app.models.base.iso).
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _type(kind: str, nullable: bool) -> str | list[str]:
    return [kind, "null"] if nullable else kind


def string(description: str = "", *, nullable: bool = False, enum=None, fmt: str | None = None,
           example=None, **extra) -> dict:
    schema: dict = {"type": _type("string", nullable)}
    if enum is not None:
        schema["enum"] = [*enum, None] if nullable else list(enum)
    if fmt:
        schema["format"] = fmt
    if description:
        schema["description"] = description
    if example is not None:
        schema["example"] = example
    schema.update(extra)
    return schema


def uuid(description: str = "", *, nullable: bool = False) -> dict:
    return string(description, nullable=nullable, fmt="uuid")


def timestamp(description: str = "", *, nullable: bool = False) -> dict:
    return string(description or "UTC, ISO 8601 with Z", nullable=nullable, fmt="date-time",
                  pattern=TIMESTAMP_PATTERN)


def integer(description: str = "", *, minimum: int | None = 0, **extra) -> dict:
    schema: dict = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def number(description: str = "", *, minimum: float | None = 0, **extra) -> dict:
    schema: dict = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if description:
        schema["description"] = description
    schema.update(extra)
    return schema


def boolean(description: str = "", **extra) -> dict:
    return {"type": "boolean", **({"description": description} if description else {}), **extra}


def array(items: dict, description: str = "", **extra) -> dict:
    return {"type": "array", "items": items, **({"description": description} if description else {}), **extra}


def nullable_ref(name: str, description: str = "") -> dict:
    schema: dict = {"anyOf": [ref(name), {"type": "null"}]}
    if description:
        schema["description"] = description
    return schema


def obj(properties: dict, *, optional: tuple[str, ...] = (), description: str = "", **extra) -> dict:
    """A response object: every field not in ``optional`` is always present; nothing else is."""
    schema: dict = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = [name for name in properties if name not in optional]
    schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def currency(description: str = "Currency code (ISO 4217)") -> dict:
    return string(description, enum=CURRENCIES)


# --------------------------------------------------------------------------------------------------
# Response schemas (components/schemas)
# --------------------------------------------------------------------------------------------------

ERROR_CODES_NOTE = (
    "Machine-readable code, e.g. unauthorized, not_found, conflict, not_cancellable, "
    "idempotency_key_reused, payload_too_large, validation_error, invalid_json, invalid_query, "
    "invalid_message, invalid_number, no_valid_recipients, too_many_recipients, invalid_schedule, "
    "invalid_timezone, invalid_sender_id, brand_confirmation_required, invalid_period"
)


def response_schemas() -> dict:
    message_status = string("Message status", enum=Status.ALL)
    return {
        "Error": obj({
            "detail": string("Human-readable explanation (the field the official WAYSCloud clients read)"),
            "error": ref("ErrorInfo"),
            "errors": array(ref("FieldError"), "Field problems; present for field validation errors only",
                            minItems=1),
        }, optional=("errors",), description="The one error shape of the API."),
        "ErrorInfo": obj({
            "code": string(ERROR_CODES_NOTE),
            "message": string("Same text as detail"),
        }),
        "FieldError": obj({
            "loc": array({"type": ["string", "integer"]}, "Where the problem is, e.g. [\"body\", \"message\"]"),
            "msg": string("What is wrong"),
            "type": string("Kind of problem, e.g. missing, string_type, value_error"),
        }),
        "SendResponse": obj({
            "sms_message_id": uuid("Id of the first message (the first recipient in `to`)"),
            "to": array(string(example="+4799999999"), "Accepted recipients, normalised to E.164, de-duplicated"),
            "status": string("QUEUED, or SCHEDULED when scheduled_at is in the future",
                             enum=(Status.QUEUED, Status.SCHEDULED)),
            "scheduled_at": timestamp("The resolved send time in UTC; null when sent at once", nullable=True),
            "units_estimate": integer("SMS units billed: parts × accepted recipients"),
            "customer_ref": string("Your reference, echoed", nullable=True),
            "batch_id": uuid("Id shared by every message of this request (filter /messages by it)"),
            "message_ids": array(uuid(), "One message id per recipient, in `to` order"),
            "rejected": array(ref("RejectedRecipient"), "Recipients that were not sent to, with the reason"),
            "encoding": string("Encoding of the message", enum=ENCODINGS),
            "parts": integer("SMS parts per recipient (the true count, see the send description)", minimum=1),
            "cost": number("Total cost: units_estimate × price per unit"),
            "currency": currency(),
        }, description="The reference's send response plus smsdesk extensions "
                       "(batch_id, message_ids, rejected, encoding, parts, cost, currency)."),
        "RejectedRecipient": obj({
            "to": string("The `to` entry as sent"),
            "contact_id": string("The to_contacts entry as sent"),
            "group_id": string("The to_groups entry as sent"),
            "reason": string("Why it was not sent (invalid number, duplicate, contact not found, ...)"),
        }, optional=("to", "contact_id", "group_id"),
            description="A recipient that was not sent to: exactly one of to, contact_id, group_id, and the reason.",
            oneOf=[{"required": ["to"]}, {"required": ["contact_id"]}, {"required": ["group_id"]}]),
        "Message": obj({
            "id": uuid(),
            "direction": string(enum=DIRECTIONS),
            "message_type": string(enum=MESSAGE_TYPES),
            "from_number": string("Sender id or number", nullable=True),
            "to_number": string("Recipient, E.164"),
            "body": string("Message text"),
            "status": message_status,
            "units_count": integer("SMS units (parts) of this message"),
            "customer_ref": string(nullable=True),
            "created_at": timestamp(),
            "scheduled_at": timestamp(nullable=True),
            "sent_at": timestamp("When the carrier accepted it", nullable=True),
            "delivered_at": timestamp(nullable=True),
            "related_message_id": uuid("For a reply: the message it answers", nullable=True),
            "error_message": string(nullable=True),
            "batch_id": uuid("smsdesk extension: the send request it came from", nullable=True),
            "campaign_id": uuid("smsdesk extension", nullable=True),
            "encoding": string("smsdesk extension", enum=ENCODINGS),
            "cost": number("smsdesk extension: units_count × price per unit"),
            "currency": currency("smsdesk extension"),
            "error_code": string("smsdesk extension: the carrier's error code", nullable=True),
            "cancelled_at": timestamp("smsdesk extension", nullable=True),
            "failed_at": timestamp("smsdesk extension", nullable=True),
        }, description="One SMS to or from one number: the reference's fields plus smsdesk extensions."),
        "MessageList": obj({
            "messages": array(ref("Message"), "Newest first"),
            "total": integer("Messages matching the filters"),
            "page": integer(minimum=1),
            "page_size": integer(minimum=1),
            "per_page": integer("Same as page_size", minimum=1),
            "has_more": boolean("Whether a later page exists"),
        }),
        "CancelResponse": obj({
            "message": string(enum=("Message cancelled",)),
            "message_id": uuid(),
            "status": string("smsdesk extension: the new status", enum=(Status.CANCELLED,)),
        }),
        "SenderProfile": obj({
            "id": uuid(),
            "name": string("Profile name"),
            "sender_id": string("Phone number or alphanumeric (max 11 chars), exactly as created"),
            "is_default": boolean(),
            "allow_reply": boolean(),
            "is_custom_sender": boolean("True for an alphanumeric (brand) sender"),
            "approval_status": string("Only approved profiles can send", enum=APPROVAL_STATUSES),
            "monthly_price": number("Monthly fee (custom senders)"),
            "created_at": timestamp(),
        }),
        "SenderProfileBrief": obj({
            "id": uuid(),
            "name": string(),
            "sender_id": string(),
            "is_default": boolean(),
        }, description="The default sender as /status shows it."),
        "SenderProfileDeleted": obj({
            "message": string(enum=("Sender profile deleted",)),
            "id": string("The deleted profile's id"),
        }),
        "ServiceStatus": obj({
            "active": boolean("Whether the account is active"),
            "has_sender_profiles": boolean(),
            "has_api_key": boolean("Whether the account has an unrevoked API key"),
            "default_sender": nullable_ref("SenderProfileBrief", "The default sender profile; null if none"),
            "messages_today": integer("Messages sent today (account time zone)"),
            "messages_this_month": integer("Messages sent this calendar month"),
            "messages_sent_30d": integer("Messages sent in the last 30 days"),
            "messages_received_30d": integer("Messages received in the last 30 days"),
        }),
        "Usage": obj({
            "period": string("Billing period (YYYY-MM)", pattern=r"^[0-9]{4}-[0-9]{2}$"),
            "period_start": string("First day of the period", fmt="date"),
            "period_end": string("Last day of the period", fmt="date"),
            "messages_sent": integer("Total outbound messages (counted when the carrier accepted them)"),
            "messages_received": integer("Total inbound messages"),
            "messages_failed": integer("Failed messages (counted when they failed)"),
            "units_used": integer("SMS units consumed (parts of the sent messages)"),
            "cost": number("Total cost: units_used × price_per_unit"),
            "currency": currency(),
            "price_per_unit": number("Price per SMS unit"),
            "outbound_cost": number("Cost for outbound messages"),
            "inbound_cost": number("Cost for inbound messages (always 0)"),
        }),
        "SMSStatsPeriod": obj({
            "messages_sent": integer(),
            "messages_received": integer(),
            "units_used": integer(),
            "delivery_rate": number("Delivered ÷ sent in the window (0 when nothing was sent)", maximum=1),
        }),
        "Stats": obj({
            "today": ref("SMSStatsPeriod"),
            "this_week": ref("SMSStatsPeriod"),
            "this_month": ref("SMSStatsPeriod"),
            "last_30_days": ref("SMSStatsPeriod"),
            "status_breakdown": {
                "type": "object",
                "description": "Message count by status (all time; statuses with no message are left out)",
                "propertyNames": {"enum": list(Status.ALL)},
                "additionalProperties": integer(minimum=1),
            },
        }),
        "Pricing": obj({
            "currency": currency("The account's currency"),
            "price_per_unit": number("Price per SMS unit in the account's currency"),
            "inbound_price_per_unit": number("Inbound messages are free", maximum=0),
            "prices": array(ref("CurrencyPrice"), "Price per unit in every supported currency"),
        }),
        "CurrencyPrice": obj({
            "currency": currency(),
            "price_per_unit": number(),
        }),
        "MessagePricing": obj({
            "currency": currency("The account's currency"),
            "price_per_unit": number(),
            "messages": array(ref("MessagePriceTier"), "What a message costs by length and encoding"),
        }),
        "MessagePriceTier": obj({
            "encoding": string(enum=ENCODINGS),
            "parts": integer(minimum=1),
            "max_characters": integer("Most characters that fit in this many parts", minimum=1),
            "units": integer(minimum=1),
            "price": number("Price per recipient"),
        }),
        "Estimate": obj({
            "encoding": string(enum=ENCODINGS),
            "characters": integer("Characters (code points) in the message", minimum=1),
            "length": integer("Length in encoding units: septets (GSM-7) or UTF-16 code units (UCS-2)", minimum=1),
            "parts": integer("SMS parts per recipient", minimum=1),
            "per_part": integer("Units per part that apply (160/153 GSM-7, 70/67 UCS-2)", minimum=1),
            "remaining": integer("Units still free in the last part"),
            "recipients": integer(minimum=1),
            "units": integer("parts × recipients"),
            "cost": number("units × price per unit, in `currency`"),
            "currency": currency("The account's currency"),
            "costs": {
                "type": "object", "description": "The cost in every supported currency",
                "propertyNames": {"enum": list(CURRENCIES)},
                "additionalProperties": number(),
            },
            "ucs2_characters": array(string(), "The characters that force UCS-2 (empty for GSM-7)"),
            "suggestions": {
                "type": "object", "description": "GSM-7 replacements for some of ucs2_characters (e.g. ’ → ')",
                "additionalProperties": string(),
            },
        }, description="What a message would cost; nothing is created or sent."),
        "Health": obj({
            "status": string(enum=("ok", "unavailable")),
            "database": string(enum=("ok", "unreachable")),
            "redis": string(enum=("ok", "unreachable")),
        }),
        "Ping": obj({"pong": {"type": "boolean", "const": True}}),
        "OpenApiDocument": obj({
            "openapi": string(enum=(OPENAPI_VERSION,)),
            "info": {"type": "object", "additionalProperties": True},
            "paths": {"type": "object", "additionalProperties": True},
            "components": {"type": "object", "additionalProperties": True},
            "tags": array({"type": "object", "additionalProperties": True}),
        }, description="This document."),
    }


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


# --------------------------------------------------------------------------------------------------
# Request bodies: the pydantic models, described
# --------------------------------------------------------------------------------------------------

REQUEST_MODELS: tuple[type[BaseModel] | None, ...] = (SendBody, EstimateBody, SenderProfileBody, ContactBody,
                                                       GroupBody, MembersBody)

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


# --------------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------------

def _query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema, **extra}


PARAMETERS = {
    "MessageId": {"name": "message_id", "in": "path", "required": True, "description": "Message ID",
                  "schema": {"type": "string"}},
    "ProfileId": {"name": "profile_id", "in": "path", "required": True, "description": "Sender profile ID",
                  "schema": {"type": "string"}},
    "Page": _query("page", "Page number, 1-based", {"type": "integer", "minimum": 1, "default": 1, **(
        {"maximum": paging_params.MAX_PAGE} if getattr(paging_params, "MAX_PAGE", None) else {})}),
    "PageSize": _query("page_size", f"Items per page (default {paging_params.DEFAULT_PAGE_SIZE}; values above "
                                    f"{paging_params.MAX_PAGE_SIZE} are capped at {paging_params.MAX_PAGE_SIZE})",
                       {"type": "integer", "minimum": 1, "default": paging_params.DEFAULT_PAGE_SIZE}),
    "PerPage": _query("per_page", "Alias of page_size (page_size wins if both are given)",
                      {"type": "integer", "minimum": 1, "default": paging_params.DEFAULT_PAGE_SIZE}),
    "Status": _query("status", "Message status, case-insensitive; several comma-separated "
                               f"(e.g. DELIVERED,FAILED). One of {', '.join(Status.ALL)}", {"type": "string"},
                     example="DELIVERED,FAILED"),
    "Direction": _query("direction", f"{' or '.join(DIRECTIONS)} (case-insensitive)", {"type": "string"},
                        example="OUTBOUND"),
    "CustomerRef": _query("customer_ref", "Exact customer_ref", {"type": "string"}),
    "BatchId": _query("batch_id", "Messages of one send request (its batch_id)", {"type": "string"}),
    "CampaignId": _query("campaign_id", "Messages of one campaign", {"type": "string"}),
    "To": _query("to", "Either a phone number (messages to or from it) or, when it reads as an ISO 8601 date "
                       "or date-time, the end of the created_at range started by `from` (the reference uses "
                       "`from`/`to` for dates)", {"type": "string"}),
    "From": _query("from", "Created at or after (ISO 8601 date or date-time; naive times are UTC)",
                   {"type": "string"}),
    "DateFrom": _query("date_from", "Created at or after (ISO 8601); wins over `from`", {"type": "string"}),
    "DateTo": _query("date_to", "Created at or before (ISO 8601; a bare date includes the whole day); wins "
                                "over a date in `to`", {"type": "string"}),
    "ToNumber": _query("to_number", "Messages to or from this phone number (normalised to E.164)",
                       {"type": "string"}),
    "Number": _query("number", "Alias of to_number", {"type": "string"}),
    "Period": _query("period", "Billing period YYYY-MM (default: the current month in the account's time zone)",
                     {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{1,2}$"}, example="2025-12"),
    "ContactId": {"name": "contact_id", "in": "path", "required": True, "description": "Contact ID",
                  "schema": {"type": "string"}},
    "GroupId": {"name": "group_id", "in": "path", "required": True, "description": "Group ID",
                "schema": {"type": "string"}},
    "ContactType": _query("type", "person or company (case-insensitive)", {"type": "string"}),
    "ContactTypeAlias": _query("contact_type", "Alias of type", {"type": "string"}),
    "Search": _query("search", "Case-insensitive part of the name, first/last name, company, email or phone "
                               "number (max 200 characters)", {"type": "string", "maxLength": 200}),
    "SearchAlias": _query("q", "Alias of search", {"type": "string", "maxLength": 200}),
    "Tags": _query("tags", "Comma-separated tags; a contact must have all of them (case-insensitive)",
                   {"type": "string"}),
    "Tag": _query("tag", "One tag; may repeat (combined with tags)", {"type": "string"}),
    "GroupFilter": _query("group_id", "Only members of this group (unknown group: 404)", {"type": "string"}),
    "GroupSearch": _query("search", "Case-insensitive part of the group name", {"type": "string"}),
    "IdempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": False,
                       "description": "1 to 255 characters. The same key with the same body within 24 h returns "
                                      "the original response (with Idempotent-Replayed: true) and creates nothing; "
                                      "the same key with a different body is 409 idempotency_key_reused.",
                       "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
}

PAGING_PARAMETERS = ("Page", "PageSize", "PerPage")
CONTACT_FILTERS = ("ContactType", "ContactTypeAlias", "Search", "SearchAlias", "Tags", "Tag")
LIST_PARAMETERS = ("Page", "PageSize", "PerPage", "Status", "Direction", "CustomerRef", "BatchId", "CampaignId",
                   "To", "From", "DateFrom", "DateTo", "ToNumber", "Number")


# --------------------------------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------------------------------

def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def error(description: str) -> dict:
    return {"description": description, "content": json_content(ref("Error"))}


UNAUTHORIZED = error("Missing, invalid or revoked credentials (code unauthorized)")
PAYLOAD_TOO_LARGE = error("Request body larger than the server's limit (1 MiB by default; code payload_too_large)")


@dataclass
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    responses: dict
    parameters: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    security: list | None = field(default_factory=lambda: API_KEY_SECURITY)

    def document(self) -> dict:
        operation: dict = {
            "tags": [self.tag],
            "operationId": self.operation_id,
            "summary": self.summary,
            "description": self.description,
        }
        if self.parameters:
            operation["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in self.parameters]
        if self.body is not None:
            operation["requestBody"] = {"required": True, "content": json_content(ref(self.body.__name__))}
        operation["responses"] = copy.deepcopy(self.responses)
        operation["security"] = copy.deepcopy(self.security) if self.security is not None else []
        return operation


SEND_DESCRIPTION = f"""Send SMS message(s) to one or more recipients. Nothing is sent from the request: the messages are written, then queued (or scheduled) for the dispatch engine; follow them with GET /messages/{{id}} or a callback_url.

Recipients: specify at least one of:
- to: phone numbers in E.164 format (e.g. +4799999999); a single string or an array
- to_contacts: contact UUIDs from your contact directory
- to_groups: contact group UUIDs
Numbers are normalised and de-duplicated; invalid and duplicate entries are not sent and are listed in `rejected` with the reason. If no valid recipient is left the request is refused (422). At most 1000 recipients per request after expansion.

Message length (units_estimate = parts × recipients):
- GSM-7 (standard): 160 characters = 1 SMS, then 153 per part
- Unicode (UCS-2; emoji etc.): 70 characters = 1 SMS, then 67 per part, counted in UTF-16 code units (an emoji is 2)
- The GSM-7 extension characters ^ {{ }} \\ [ ~ ] | € and form feed cost 2
- A two-unit character (escape pair, surrogate pair) is never split between parts, so the part count is not simply ceil(n/153): the true part count is billed
- Max {MAX_CHARACTERS} characters. The reference's "(10 parts)" does not hold for GSM-7 (1600 characters need 11 parts): smsdesk accepts up to {MAX_CHARACTERS} characters and bills the true part count
- An empty (or blank) message is 422

Scheduling:
- scheduled_at schedules a future delivery (ISO 8601), at most 30 days ahead
- With Z or an explicit offset it is an absolute time; without, it is read in `timezone` (IANA, e.g. Europe/Oslo), by default UTC
- A time in the past beyond a small grace (5 minutes) is 422; a local time that does not exist (DST gap) is 422 saying so; an ambiguous one (DST overlap) takes the first occurrence
- Scheduled messages can be cancelled with POST /messages/{{id}}/cancel

Sender: sender_profile_id, else sender_id (the approved profile with that sender id), else the account's default profile. A pending or rejected profile cannot send (422).

Delivery reports: provide callback_url (HTTPS) to receive status webhooks.

Idempotency: send an Idempotency-Key header to make retries safe (see the parameter)."""

CANCEL_DESCRIPTION = """Cancel a scheduled or queued SMS message before it is sent.

Cancellable statuses:
- SCHEDULED: message waiting for its scheduled time
- QUEUED: message in the send queue

Messages that are already SENDING, SENT, DELIVERED, FAILED (or CANCELLED, RECEIVED) cannot be cancelled: 409 with the current status in detail."""

SENDER_CREATE_DESCRIPTION = """Create a new sender profile (sender ID).

Sender ID types:
- Phone number: your own number or a dedicated number (3-15 digits, optional leading +); approved at once
- Alphanumeric: brand name, at most 11 ASCII letters, digits, spaces, '-' or '.', with at least one letter, no Æ/Ø/Å; requires brand_confirmation: true

Custom alphanumeric sender IDs require admin approval (approval_status pending until then) and may have a monthly fee. A pending or rejected profile cannot send. String values are echoed exactly as sent.

The first profile of an account, or one created with is_default: true, becomes the default."""

USAGE_DESCRIPTION = "\n\n".join([
    "Get SMS usage statistics for a billing period: message counts, SMS units consumed, and cost breakdown.",
    "Definitions: an outbound message counts as sent in the period in which the carrier accepted it "
    "(sent_at) and as failed in the period in which it failed; an inbound message counts in the period "
    "it was received. Units are the sent messages' parts. Periods are calendar months in the account's "
    "time zone.",
    "Pricing per SMS unit (defaults; the operator may configure others, see GET /pricing):\n"
    + "\n".join(f"- {c}: {DEFAULT_PRICES[c]}" for c in CURRENCIES),
    "Cost is calculated as: units_used × price_per_unit (the account's currency). Inbound messages are free.",
])

STATS_DESCRIPTION = """Get aggregated SMS statistics across multiple time periods: message counts, units, and delivery rates for:
- today
- this week (from Monday)
- this month
- the last 30 days (today and the 29 days before)
Windows are in the account's time zone and use the same definitions as GET /usage; delivery_rate is the share of the window's sent messages that were delivered.

Also includes status_breakdown: the number of the account's messages in each status (QUEUED, SENT, DELIVERED, FAILED, etc)."""


def sms_operations() -> list[Operation]:
    not_found_message = error("No message with this id in your account (code not_found)")
    return [
        Operation(
            "post", "/send", "sendSms", "Send SMS", SEND_DESCRIPTION, "SMS",
            parameters=("IdempotencyKey",), body=SendBody,
            responses={
                "200": {
                    "description": "Accepted: messages are QUEUED (or SCHEDULED)",
                    "headers": {"Idempotent-Replayed": {
                        "description": "\"true\" when this is the stored response to an earlier request with the "
                                       "same Idempotency-Key (nothing new was created); absent otherwise",
                        "schema": {"type": "string", "enum": ["true"]}}},
                    "content": json_content(ref("SendResponse")),
                },
                "401": UNAUTHORIZED,
                "409": error("The Idempotency-Key was already used with a different body "
                             "(code idempotency_key_reused)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: body not a JSON object, missing message, empty or too long message, "
                             "no (valid) recipient, too many recipients, bad schedule or time zone, unknown or "
                             "unapproved sender, non-https callback_url, bad Idempotency-Key"),
            },
        ),
        Operation(
            "post", "/estimate", "estimateSms", "Estimate encoding, parts and cost",
            "smsdesk extension: the encoding, part count, units and cost of a message, without creating or "
            "sending anything. The recipient count is the length of `to` if given, else `recipients` "
            "(default 1). Counts follow the same rules as POST /send (GSM-7 160/153, UCS-2 70/67 in UTF-16 "
            "units, extension characters cost 2, two-unit characters never split, max "
            f"{MAX_CHARACTERS} characters). `ucs2_characters` names the characters that force UCS-2 and "
            "`suggestions` offers GSM-7 replacements for some.",
            "SMS", body=EstimateBody,
            responses={
                "200": {"description": "The estimate", "content": json_content(ref("Estimate"))},
                "401": UNAUTHORIZED,
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: body not a JSON object, missing, empty or too long message, "
                             "bad recipients"),
            },
        ),
        Operation(
            "get", "/messages", "listMessages", "List messages",
            "List sent and received SMS messages, newest first, with optional filters. Filters combine (AND); "
            "enum values are case-insensitive. Paging: page (1-based) with page_size or per_page (default 50, "
            "max 500).",
            "SMS", parameters=LIST_PARAMETERS,
            responses={
                "200": {"description": "One page of messages", "content": json_content(ref("MessageList"))},
                "401": UNAUTHORIZED,
                "422": error("Invalid query: page or page size not a positive whole number, unknown status or "
                             "direction, date not ISO 8601, invalid phone number (code invalid_query)"),
            },
        ),
        Operation(
            "get", "/messages/{message_id}", "getMessage", "Get message",
            "Get details for a specific SMS message.", "SMS", parameters=("MessageId",),
            responses={
                "200": {"description": "The message", "content": json_content(ref("Message"))},
                "401": UNAUTHORIZED,
                "404": not_found_message,
            },
        ),
        Operation(
            "post", "/messages/{message_id}/cancel", "cancelMessage", "Cancel scheduled message",
            CANCEL_DESCRIPTION, "SMS", parameters=("MessageId",),
            responses={
                "200": {"description": "Cancelled", "content": json_content(ref("CancelResponse"))},
                "401": UNAUTHORIZED,
                "404": not_found_message,
                "409": error("The message is not SCHEDULED or QUEUED; detail names its current status "
                             "(code not_cancellable)"),
            },
        ),
        Operation(
            "get", "/sender-profiles", "listSenderProfiles", "List sender profiles",
            "List your configured sender profiles (sender IDs), oldest first. The response is a bare array, "
            "as in the reference.", "Sender profiles",
            responses={
                "200": {"description": "The account's sender profiles",
                        "content": json_content(array(ref("SenderProfile")))},
                "401": UNAUTHORIZED,
            },
        ),
        Operation(
            "post", "/sender-profiles", "createSenderProfile", "Create sender profile",
            SENDER_CREATE_DESCRIPTION, "Sender profiles", body=SenderProfileBody,
            responses={
                "201": {"description": "Created", "content": json_content(ref("SenderProfile"))},
                "401": UNAUTHORIZED,
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: missing name or sender_id, sender id breaking the rules "
                             "(code invalid_sender_id), custom sender without brand_confirmation "
                             "(code brand_confirmation_required)"),
            },
        ),
        Operation(
            "delete", "/sender-profiles/{profile_id}", "deleteSenderProfile", "Delete sender profile",
            "Delete a sender profile. The only profile of an account cannot be deleted (409); deleting the "
            "default profile makes the oldest approved remaining profile the default.",
            "Sender profiles", parameters=("ProfileId",),
            responses={
                "200": {"description": "Deleted", "content": json_content(ref("SenderProfileDeleted"))},
                "401": UNAUTHORIZED,
                "404": error("No sender profile with this id in your account (code not_found)"),
                "409": error("It is the account's only sender profile (code conflict)"),
            },
        ),
        Operation(
            "get", "/status", "getStatus", "Get service status",
            "Get SMS service status including message counts and default sender. Counts use the definitions "
            "of GET /usage (sent = accepted by the carrier), in the account's time zone.",
            "Usage and pricing",
            responses={
                "200": {"description": "Service status", "content": json_content(ref("ServiceStatus"))},
                "401": UNAUTHORIZED,
            },
        ),
        Operation(
            "get", "/usage", "getUsage", "Get SMS usage for billing", USAGE_DESCRIPTION, "Usage and pricing",
            parameters=("Period",),
            responses={
                "200": {"description": "Usage for the period", "content": json_content(ref("Usage"))},
                "401": UNAUTHORIZED,
                "422": error("period is not YYYY-MM (code invalid_period)"),
            },
        ),
        Operation(
            "get", "/stats", "getStats", "Get SMS statistics", STATS_DESCRIPTION, "Usage and pricing",
            responses={
                "200": {"description": "Statistics", "content": json_content(ref("Stats"))},
                "401": UNAUTHORIZED,
            },
        ),
        Operation(
            "get", "/pricing", "getPricing", "Price per unit per currency",
            "smsdesk extension: the price of one SMS unit (part) in the account's currency and in every "
            "supported currency. Inbound messages are free.", "Usage and pricing",
            responses={
                "200": {"description": "Prices", "content": json_content(ref("Pricing"))},
                "401": UNAUTHORIZED,
            },
        ),
        Operation(
            "get", "/pricing/messages", "getMessagePricing", "Price by message length",
            "smsdesk extension: what a message costs per recipient by encoding and length (1 to 3 parts).",
            "Usage and pricing",
            responses={
                "200": {"description": "Price table", "content": json_content(ref("MessagePricing"))},
                "401": UNAUTHORIZED,
            },
        ),
    ]


def meta_operations() -> list[Operation]:
    return [
        Operation(
            "get", "/v1/ping", "ping", "Liveness",
            "Answers without touching the database or Redis. No authentication.", "Meta", security=None,
            responses={"200": {"description": "Alive", "content": json_content(ref("Ping"))}},
        ),
        Operation(
            "get", "/healthz", "healthz", "Health",
            "Checks the database and Redis. No authentication.", "Meta", security=None,
            responses={
                "200": {"description": "Healthy", "content": json_content(ref("Health"))},
                "503": {"description": "The database or Redis is unreachable", "content": json_content(ref("Health"))},
            },
        ),
        Operation(
            "get", "/v1/openapi.json", "getOpenApi", "This OpenAPI document",
            "The OpenAPI 3.1 description of the API (also rendered at /docs). No authentication.", "Meta",
            security=None,
            responses={"200": {"description": "The document", "content": json_content(ref("OpenApiDocument"))}},
        ),
    ]


CONTACT_DESCRIPTION = """A contact: a person or a company the account sends to, identified by its id.

Fields: type (person|company; contact_type is accepted and returned as an alias), name (required, unless first_name/last_name, or for a company company_name, are given: then it is derived from them), first_name, last_name, company_name, phone_number (E.164; national numbers are read in the account's region; one contact per number), email, tags, notes. Blank strings mean null. Unknown fields are ignored."""


def contact_operations() -> list[Operation]:
    if ContactBody is None:
        return []
    contact_404 = error("No contact with this id in your account (code not_found)")
    group_404 = error("No group with this id in your account (code not_found)")
    contact_422 = error("Invalid input: body not a JSON object, wrong field types, missing name, unknown type, "
                        "invalid phone number or email, too long values, bad tags (field problems in errors)")
    group_422 = error("Invalid input: body not a JSON object, missing or too long name, too long description")
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
                "404": group_404,
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
                "422": contact_422,
            },
        ),
        Operation(
            "get", "/v1/contacts/{contact_id}", "getContact", "Get contact", "Get one contact.", "Contacts",
            parameters=("ContactId",),
            responses={
                "200": {"description": "The contact", "content": json_content(ref("Contact"))},
                "401": UNAUTHORIZED,
                "404": contact_404,
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
                "404": contact_404,
                "409": error("Another contact has this phone number (code duplicate_phone_number), or the "
                             "contact was anonymised (code contact_anonymised)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": contact_422,
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
                "404": contact_404,
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
                "404": contact_404,
            },
        ),
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
                "422": group_422,
            },
        ),
        Operation(
            "get", "/v1/contacts/groups/{group_id}", "getGroup", "Get group", "Get one group.", "Contact groups",
            parameters=("GroupId",),
            responses={
                "200": {"description": "The group", "content": json_content(ref("Group"))},
                "401": UNAUTHORIZED,
                "404": group_404,
            },
        ),
        *(Operation(
            method, "/v1/contacts/groups/{group_id}", op_id, summary, what, "Contact groups",
            parameters=("GroupId",), body=GroupBody,
            responses={
                "200": {"description": "The changed group", "content": json_content(ref("Group"))},
                "401": UNAUTHORIZED,
                "404": group_404,
                "409": error("Another group has this name (code duplicate_group_name)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": group_422,
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
                "404": group_404,
            },
        ),
        Operation(
            "get", "/v1/contacts/groups/{group_id}/members", "listGroupMembers", "List group members",
            "The group's contacts, alphabetical, with the contact list's filters and paging.", "Contact groups",
            parameters=("GroupId", *PAGING_PARAMETERS, *CONTACT_FILTERS),
            responses={
                "200": {"description": "One page of members", "content": json_content(ref("GroupMemberList"))},
                "401": UNAUTHORIZED,
                "404": group_404,
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
                "404": group_404,
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


def mirror(operation: dict, method: str, path: str) -> dict:
    """The /v1/dashboard/sms twin of a /v1/sms operation: same handler, other id and auth."""
    twin = copy.deepcopy(operation)
    op_id = operation["operationId"]
    twin["operationId"] = "dashboard" + op_id[0].upper() + op_id[1:]
    twin["tags"] = ["Dashboard mirror"]
    twin["description"] = (f"The same operation as {method.upper()} {path} (operationId {op_id}), at the path "
                           "the WAYSCloud guide uses; authenticated with Authorization: Bearer <key> "
                           "(X-API-Key is accepted too).\n\n"
                           + operation["description"])
    twin["security"] = copy.deepcopy(BEARER_SECURITY)
    return twin


INFO_DESCRIPTION = """A WAYSCloud-compatible SMS API.

Authentication: a service API key in the X-API-Key header (wayscloud_sms_<key id>_<secret>), or the same key as Authorization: Bearer <key>. Missing or invalid credentials: 401.

Contacts: the contact directory under /v1/contacts (contacts, groups, memberships) uses the same authentication, errors and paging.

Errors: a JSON body {"detail": "...", "error": {"code", "message"}}; field validation problems are also listed in "errors" as {"loc", "msg", "type"}. 401 unauthenticated, 404 not found (also another account's object), 409 conflict or wrong state, 413 body too large, 422 invalid input. Unknown JSON fields are ignored.

Times are UTC, ISO 8601 with Z. List endpoints page with page (1-based) and page_size or per_page (default 50, max 500).

Every /v1/sms/... operation is also served under /v1/dashboard/sms/... (the paths of the WAYSCloud guide) by the same handler; only authentication differs (bearer token)."""

TAGS = [
    {"name": "SMS", "description": "Send, estimate, list, get and cancel messages"},
    {"name": "Sender profiles", "description": "The sender IDs an account may send from"},
    {"name": "Usage and pricing", "description": "Status, usage for billing, statistics and prices"},
    {"name": "Contacts", "description": "The contact directory"},
    {"name": "Contact groups", "description": "Named groups of contacts and their members"},
    {"name": "Meta", "description": "Liveness, health and this document"},
    {"name": "Dashboard mirror", "description": "The /v1/sms operations under /v1/dashboard/sms"},
]


@cache
def openapi_document() -> dict:
    paths: dict = {}
    for op in sms_operations():
        paths.setdefault(SMS_PREFIX + op.path, {})[op.method] = op.document()
    for path, operations in list(paths.items()):
        twin_path = MIRROR_PREFIX + path[len(SMS_PREFIX):]
        for method, operation in operations.items():
            paths.setdefault(twin_path, {})[method] = mirror(operation, method, path)
    for op in [*contact_operations(), *meta_operations()]:
        paths.setdefault(op.path, {})[op.method] = op.document()

    schemas = {model.__name__: request_schema(model) for model in REQUEST_MODELS if model is not None}
    schemas.update(response_schemas())
    if ContactBody is not None:
        schemas.update(contact_response_schemas())
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "smsdesk SMS API", "version": API_VERSION, "description": INFO_DESCRIPTION},
        "tags": TAGS,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": PARAMETERS,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                           "description": "Service API key: wayscloud_sms_<key id>_<secret>"},
                "Bearer": {"type": "http", "scheme": "bearer",
                           "description": "Authorization: Bearer <key>: the service API key as a bearer token"},
            },
        },
    }
