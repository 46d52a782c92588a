"""Parameters (components/parameters): path ids, paging, the message and contact filters, headers."""
from __future__ import annotations

from app.api import params as paging_params
from app.api.openapi.builders import DIRECTIONS
from app.models import Status


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
