"""Response schemas (components/schemas) of /v1/campaigns, field for field as
``app/api/campaign_serializers.py`` builds them."""
from __future__ import annotations

from app.api.openapi.builders import (
    ENCODINGS, array, boolean, currency, integer, number, obj, ref, string, timestamp, uuid,
)
from app.models import CampaignStatus, Status
from app.services.campaign_audience import SKIP_REASONS
from app.sms import CURRENCIES

SKIPPED_DOC = "Contacts left out, by reason: " + "; ".join(f"{code}: {label}" for code, label in SKIP_REASONS.items())
# Every status a campaign message can have (campaign messages are outbound: never RECEIVED).
PROGRESS_STATUSES = tuple(s for s in Status.ALL if s != Status.RECEIVED)


def _skipped(description: str) -> dict:
    return {"type": "object", "description": description, "propertyNames": {"enum": list(SKIP_REASONS)},
            "additionalProperties": integer(minimum=1)}


def _campaign_fields() -> dict:
    return {
        "id": uuid(),
        "name": string(),
        "message": string("The message text with its merge fields, as written"),
        "status": string("DRAFT, SCHEDULED, SENDING, PAUSED, COMPLETED or CANCELLED (see the lifecycle in the "
                         "Campaigns operations)", enum=CampaignStatus.ALL),
        "sender_profile_id": uuid("The sender profile; null if it was deleted since", nullable=True),
        "group_ids": array(uuid(), "Groups sent to"),
        "excluded_group_ids": array(uuid(), "Groups whose members are left out"),
        "source_campaign_id": uuid("For a \"resend to failed\" campaign (made in the dashboard): the campaign "
                                   "whose failed recipients it reaches", nullable=True),
        "timezone": string("IANA zone of the send window and of scheduled_local"),
        "send_window": {"anyOf": [obj({
            "start": string("HH:MM, local time", pattern=r"^[0-2][0-9]:[0-5][0-9]$"),
            "end": string("HH:MM, local time (exclusive)", pattern=r"^[0-2][0-9]:[0-5][0-9]$"),
        }), {"type": "null"}], "description": "Quiet hours: messages go out only between start and end; null: "
                                              "any time"},
        "scheduled_at": timestamp("When a SCHEDULED campaign starts (UTC)", nullable=True),
        "scheduled_local": string("scheduled_at as wall time in `timezone`, ISO 8601 with its offset "
                                  "(e.g. 2026-05-04T09:00:00+02:00)", nullable=True, fmt="date-time"),
        "created_at": timestamp(),
        "updated_at": timestamp(),
        "started_at": timestamp("When sending first started (a resume does not move it)", nullable=True),
        "paused_at": timestamp("When it was last paused", nullable=True),
        "completed_at": timestamp(nullable=True),
        "cancelled_at": timestamp(nullable=True),
        "recipients": {"type": ["integer", "null"], "minimum": 0,
                       "description": "Messages in the campaign's ledger, written when sending starts; null before"},
        "skipped": _skipped(SKIPPED_DOC + " (counted when sending starts; empty before)"),
        "note": string("Why the engine paused the campaign by itself (e.g. its sender profile lost its "
                       "approval, or it reached its spending cap or the account's monthly spending limit); "
                       "null otherwise", nullable=True),
        "spend_cap": {"type": ["number", "null"], "minimum": 0,
                      "description": "The most the campaign may release to the carrier, in the account currency; "
                                     "reaching it pauses the campaign. null: no cap"},
        "progress": obj({status: integer() for status in PROGRESS_STATUSES},
                        description="The campaign's messages by status (all zero before sending starts). "
                                    "List them with GET /v1/sms/messages?campaign_id=<id>."),
    }


def campaign_response_schemas() -> dict:
    paging = {
        "total": integer("Campaigns matching the filter"),
        "page": integer(minimum=1),
        "page_size": integer(minimum=1),
        "per_page": integer("Same as page_size", minimum=1),
        "has_more": boolean("Whether a later page exists"),
    }
    return {
        "Campaign": obj(_campaign_fields(), description="A campaign: one text (with merge fields) to the contacts "
                                                        "of some groups, and where it is in its life."),
        "CampaignList": obj({"campaigns": array(ref("Campaign"), "Newest first"), **paging}),
        "CampaignScheduled": obj({
            **_campaign_fields(),
            "schedule_note": string("Set when scheduled_at named a local time that occurs twice (clocks going "
                                    "back): says that its first occurrence was used", nullable=True),
        }, description="The scheduled campaign (the Campaign fields) and a note on an ambiguous local time."),
        "CampaignPreview": obj({
            "campaign_id": uuid(),
            "recipients": integer("Who would get a message now: the groups' contacts, once each, minus the "
                                  "skipped ones"),
            "skipped": _skipped(SKIPPED_DOC),
            "encoding": string("GSM-7 or UCS-2 when every personal text agrees, else mixed (GSM-7 when there "
                               "are no recipients)", enum=(*ENCODINGS, "mixed")),
            "encodings": {"type": "object", "description": "Messages per encoding",
                          "propertyNames": {"enum": list(ENCODINGS)}, "additionalProperties": integer(minimum=1)},
            "parts": {"type": "object", "description": "Messages per part count, e.g. {\"1\": 120, \"2\": 3}: "
                                                       "merge fields make texts differ in length",
                      "propertyNames": {"pattern": "^[1-9][0-9]*$"}, "additionalProperties": integer(minimum=1)},
            "worst_parts": integer("The most parts any message has (0 without recipients)"),
            "units": integer("SMS units: the sum of every message's parts"),
            "cost": number("units × price per unit, in `currency`"),
            "currency": currency("The account's currency"),
            "costs": {"type": "object", "description": "The cost in every supported currency",
                      "propertyNames": {"enum": list(CURRENCIES)}, "additionalProperties": number()},
            "ucs2_characters": array(string(), "The characters that force UCS-2 (empty for GSM-7)"),
            "suggestions": {"type": "object", "description": "GSM-7 replacements for some of ucs2_characters "
                                                             "(e.g. ’ → ')", "additionalProperties": string()},
            "samples": array(obj({
                "to": string("E.164"),
                "name": string("The contact's name", nullable=True),
                "message": string("The personal text this recipient would get"),
            }), "The first few recipients with their personal text", maxItems=3),
        }, description="What sending the campaign now would commit to, counted from the live directory; nothing "
                       "is created or sent."),
    }
