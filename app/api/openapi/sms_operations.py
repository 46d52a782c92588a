"""Operations of /v1/sms (each also served under /v1/dashboard/sms, see ``document.mirror``)."""
from __future__ import annotations

from app.api.openapi.builders import PAYLOAD_TOO_LARGE, UNAUTHORIZED, Operation, array, error, json_content, ref
from app.api.openapi.parameters import LIST_PARAMETERS
from app.api.schemas import EstimateBody, SendBody, SenderProfileBody
from app.sms import CURRENCIES, DEFAULT_PRICES, MAX_CHARACTERS


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

Spending limit: when the account has a monthly spending limit, a send whose cost (units × price per unit) would take this month's committed spend past it is refused whole with 402 spending_limit_reached; nothing is written. Cancelling a message gives its cost back.

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
    return [*_message_operations(), *_sender_operations(), *_usage_operations()]


def _message_operations() -> list[Operation]:
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
                "402": error("The send would pass the account's monthly spending limit (code "
                             "spending_limit_reached): refused whole, nothing is written or sent. detail says the "
                             "limit, what is spent this month, what is left and what this send costs"),
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
    ]


def _sender_operations() -> list[Operation]:
    return [
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
    ]


def _usage_operations() -> list[Operation]:
    return [
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
            "get", "/overview", "getOverview", "Get usage overview",
            "Monitor overall usage in one call (the WAYSCloud guide's GET /v1/dashboard/sms/overview): the "
            "fields of GET /status, plus `usage`, the current month's GET /usage, and `stats`, GET /stats. "
            "The figures are the same as those endpoints give.",
            "Usage and pricing",
            responses={
                "200": {"description": "Overview", "content": json_content(ref("Overview"))},
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
