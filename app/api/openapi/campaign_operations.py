"""Operations of /v1/campaigns: drafts, preview, and the campaign's life."""
from __future__ import annotations

from app.api.campaign_schemas import CampaignBody, CampaignChanges, DispatchBody, ScheduleBody
from app.api.openapi.builders import PAYLOAD_TOO_LARGE, UNAUTHORIZED, Operation, error, json_content, ref
from app.api.openapi.parameters import PAGING_PARAMETERS
from app.models import CampaignStatus

CAMPAIGN_PARAMETERS = {
    "CampaignIdPath": {"name": "campaign_id", "in": "path", "required": True, "description": "Campaign ID",
                       "schema": {"type": "string"}},
    "CampaignStatus": {"name": "status", "in": "query", "required": False,
                       "description": f"Only campaigns in this status (case-insensitive): one of "
                                      f"{', '.join(CampaignStatus.ALL)}", "schema": {"type": "string"},
                       "example": "SCHEDULED"},
}

LIFECYCLE = """Lifecycle:
- DRAFT: written, editable (PATCH); nothing is sent
- SCHEDULED: waits for scheduled_at (POST /schedule); POST /unschedule takes it back to DRAFT, POST /schedule again moves it
- SENDING: the recipients are written as messages (one per number, never two) and released to the carrier, inside the send window if there is one
- PAUSED: no more messages are released (those already released still go); POST /resume continues where it stopped. The engine also pauses a campaign whose next slice would pass its spend_cap or the account's monthly spending limit (releasing what still fits), with a note saying which; resuming without raising that budget pauses it again at once with the same note
- COMPLETED: every message reached a final status (DELIVERED, FAILED or CANCELLED)
- CANCELLED: stopped for good; messages not yet handed to the carrier are cancelled
A change the current status does not allow is 409 (code invalid_campaign_status) with the current status in detail. The campaign's messages: GET /v1/sms/messages?campaign_id=<id>."""

DRAFT_DESCRIPTION = """Fields: name (required), message (required; merge fields {first_name}, {last_name}, {name}, {company_name}, with an optional fallback: {first_name|there}), group_ids (at least one), excluded_group_ids, sender_profile_id (default: the account's default profile; it must be approved), timezone (IANA; default: the account's zone), send_window {start, end} (HH:MM local time; null: any time), spend_cap (the most the campaign may release, in the account currency; null: no cap; unlike the other fields it may also be changed on a SCHEDULED, SENDING or PAUSED campaign).

The audience is the contacts of group_ids, once per contact, minus the members of excluded_group_ids, opted-out numbers and contacts without a valid number. It is counted when sending starts, not when the draft is saved: GET /preview shows what it would be now."""

CAMPAIGN_404 = error("No campaign with this id in your account (code not_found)")
STATE_409 = error("The campaign's status does not allow this (code invalid_campaign_status; detail names the "
                  "current status)")
DRAFT_422 = error("Invalid draft: body not a JSON object, wrong field types, missing or too long name, empty or too "
                  "long message (invalid_message), unknown merge field (unknown_merge_field), no groups "
                  "(no_groups), unknown group (unknown_group), unknown or unapproved sender profile, bad time zone "
                  "(invalid_timezone), bad send window (invalid_send_window)")
READY_422 = ("the campaign no longer passes the draft checks (e.g. one of its groups or its sender profile was "
             "deleted: unknown_group, unknown_sender_profile)")
COMMITMENT = ("Optional body {expected_recipients, expected_units}: the figures of the preview the client showed "
              "or checked. If the audience has changed since, nothing happens: 409 audience_changed, with the "
              "current figures in detail.")


def campaign_operations() -> list[Operation]:
    return [*_draft_operations(), *_life_operations()]


def _campaign_200(description: str, schema: str = "Campaign") -> dict:
    return {"description": description, "content": json_content(ref(schema))}


def _draft_operations() -> list[Operation]:
    one = ("CampaignIdPath",)
    return [
        Operation(
            "get", "/v1/campaigns", "listCampaigns", "List campaigns",
            "The account's campaigns, newest first. Paging: page (1-based) with page_size or per_page (default "
            "50, max 500); the envelope is {campaigns, total, page, page_size, per_page, has_more}.\n\n" + LIFECYCLE,
            "Campaigns", parameters=(*PAGING_PARAMETERS, "CampaignStatus"),
            responses={
                "200": {"description": "One page of campaigns", "content": json_content(ref("CampaignList"))},
                "401": UNAUTHORIZED,
                "422": error("Invalid query: paging or unknown status (code invalid_query)"),
            },
        ),
        Operation(
            "post", "/v1/campaigns", "createCampaign", "Create campaign draft",
            "Create a campaign as a DRAFT. Nothing is sent: preview it, then send it now or schedule it.\n\n"
            + DRAFT_DESCRIPTION, "Campaigns", body=CampaignBody,
            responses={
                "201": _campaign_200("The draft"),
                "401": UNAUTHORIZED,
                "413": PAYLOAD_TOO_LARGE,
                "422": DRAFT_422,
            },
        ),
        Operation(
            "get", "/v1/campaigns/{campaign_id}", "getCampaign", "Get campaign",
            "One campaign: its fields, status and times, the schedule (UTC and local), the recipients and skipped "
            "counts written when sending started, the engine's note, and progress (its messages by status).\n\n"
            + LIFECYCLE, "Campaigns", parameters=one,
            responses={"200": _campaign_200("The campaign"), "401": UNAUTHORIZED, "404": CAMPAIGN_404},
        ),
        Operation(
            "patch", "/v1/campaigns/{campaign_id}", "updateCampaign", "Update campaign draft",
            "Change a DRAFT: only the fields sent change; null sets excluded_group_ids, sender_profile_id, "
            "timezone and send_window back to their defaults (name, message and group_ids cannot be null). The "
            "whole draft is checked again. A campaign that is not a draft cannot be changed (409; take a "
            "scheduled one off the schedule first with POST /unschedule).\n\n" + DRAFT_DESCRIPTION,
            "Campaigns", parameters=one, body=CampaignChanges,
            responses={
                "200": _campaign_200("The changed draft"),
                "401": UNAUTHORIZED,
                "404": CAMPAIGN_404,
                "409": error("The campaign is not a draft (code conflict; detail names the current status)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": DRAFT_422,
            },
        ),
        Operation(
            "get", "/v1/campaigns/{campaign_id}/preview", "previewCampaign", "Preview campaign",
            "What sending the campaign now would commit to, counted from the live contact directory: recipients, "
            "who is skipped and why, encoding and parts of the personal texts (merge fields make them differ), "
            "units, and the cost in every currency, with a few sample texts. Nothing is created or sent. Pass "
            "recipients and units as expected_recipients/expected_units to POST /send or /schedule to make sure "
            "the audience has not changed in between.",
            "Campaigns", parameters=one,
            responses={
                "200": {"description": "The preview", "content": json_content(ref("CampaignPreview"))},
                "401": UNAUTHORIZED,
                "404": CAMPAIGN_404,
                "422": error(f"Cannot preview: {READY_422}"),
            },
        ),
    ]


def _life_operations() -> list[Operation]:
    one = ("CampaignIdPath",)
    simple = [
        ("unschedule", "unscheduleCampaign", "Unschedule campaign",
         "Take a SCHEDULED campaign off the schedule: it is a DRAFT again, to edit or send."),
        ("pause", "pauseCampaign", "Pause campaign",
         "Pause a SENDING campaign: no more messages are released to the carrier; those already released are "
         "still sent. Resume with POST /resume."),
        ("resume", "resumeCampaign", "Resume campaign",
         "Resume a PAUSED campaign where it stopped; no recipient gets a second message. While its spend_cap "
         "or the monthly spending limit leaves no room, the resume is refused with 409 (code budget_reached, "
         "detail says which budget) and the campaign stays PAUSED with that note."),
        ("cancel", "cancelCampaign", "Cancel campaign",
         "Cancel a DRAFT, SCHEDULED, SENDING or PAUSED campaign for good. Its messages not yet handed to the "
         "carrier are CANCELLED; those already sent keep their status."),
    ]
    return [
        Operation(
            "post", "/v1/campaigns/{campaign_id}/send", "sendCampaign", "Send campaign now",
            "Start sending a DRAFT or SCHEDULED campaign now (a scheduled one loses its schedule). The answer is "
            "the campaign, SENDING: the messages are written and released by the engine, inside the send "
            "window. " + COMMITMENT + "\n\n" + LIFECYCLE,
            "Campaigns", parameters=one, body=DispatchBody, body_required=False,
            responses={
                "200": _campaign_200("The campaign, now SENDING"),
                "401": UNAUTHORIZED,
                "404": CAMPAIGN_404,
                "409": error("The campaign cannot be sent in its status (code invalid_campaign_status), or the "
                             "audience changed since the preview (code audience_changed)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": error(f"Invalid body (not a JSON object, only one of expected_recipients/expected_units), or "
                             f"{READY_422}"),
            },
        ),
        Operation(
            "post", "/v1/campaigns/{campaign_id}/schedule", "scheduleCampaign", "Schedule campaign",
            "Schedule a DRAFT campaign, or move a SCHEDULED one, to start at scheduled_at. A time without an "
            "offset is a local wall time in `timezone` (default: the campaign's zone; a given timezone becomes "
            "the campaign's zone); with Z or an offset it is absolute. It must be in the future and at most 30 "
            "days ahead. A local time that does not exist (clocks spring forward) is 422 saying so; one that "
            "occurs twice (clocks go back) takes the first occurrence and schedule_note says so. "
            + COMMITMENT + "\n\n" + LIFECYCLE,
            "Campaigns", parameters=one, body=ScheduleBody,
            responses={
                "200": _campaign_200("The campaign, SCHEDULED, with schedule_note", "CampaignScheduled"),
                "401": UNAUTHORIZED,
                "404": CAMPAIGN_404,
                "409": error("The campaign cannot be scheduled in its status (code invalid_campaign_status), or "
                             "the audience changed since the preview (code audience_changed)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid schedule: body not a JSON object, missing or malformed scheduled_at, a time "
                             "in the past or more than 30 days ahead, a local time that does not exist "
                             f"(invalid_schedule), unknown time zone (invalid_timezone); or {READY_422}"),
            },
        ),
        *(Operation(
            "post", f"/v1/campaigns/{{campaign_id}}/{verb}", op_id, summary, what + "\n\n" + LIFECYCLE,
            "Campaigns", parameters=one,
            responses={
                "200": _campaign_200("The campaign in its new status"),
                "401": UNAUTHORIZED,
                "404": CAMPAIGN_404,
                "409": STATE_409,
            },
        ) for verb, op_id, summary, what in simple),
    ]
