"""Response schemas (components/schemas) of the /v1/sms operations.

Written field for field as ``app/api/serializers.py`` and the services build them: a field that may
be empty is present with ``null`` and its type says ``["...", "null"]``.
"""
from __future__ import annotations

from app.api.openapi.builders import (
    DIRECTIONS, ENCODINGS, MESSAGE_TYPES, array, boolean, currency, integer, nullable_ref, number, obj, ref, string,
    timestamp, uuid,
)
from app.models import Status
from app.models.sender import APPROVAL_STATUSES
from app.sms import CURRENCIES


def sms_response_schemas() -> dict:
    return {**_message_schemas(), **_sender_schemas(), **_usage_schemas(), **_pricing_schemas()}


def _message_schemas() -> dict:
    message_status = string("Message status", enum=Status.ALL)
    return {
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
            "schedule_note": string("Set when scheduled_at named a local time that occurs twice (clocks going "
                                    "back): says that its first occurrence was used", nullable=True),
        }, description="The reference's send response plus smsdesk extensions "
                       "(batch_id, message_ids, rejected, encoding, parts, cost, currency, schedule_note)."),
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
    }


def _sender_schemas() -> dict:
    return {
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
    }


def _usage_schemas() -> dict:
    return {
        "ServiceStatus": obj(_service_status_fields()),
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
        # Overview cannot be allOf [ServiceStatus, ...]: ServiceStatus forbids other fields, so the
        # status fields are shared as properties and usage/stats reuse their schemas by reference.
        "Overview": obj({
            **_service_status_fields(),
            "usage": ref("Usage"),
            "stats": ref("Stats"),
        }, description="GET /status's fields, plus this month's GET /usage and GET /stats."),
    }


def _service_status_fields() -> dict:
    return {
        "active": boolean("Whether the account is active"),
        "has_sender_profiles": boolean(),
        "has_api_key": boolean("Whether the account has an unrevoked API key"),
        "default_sender": nullable_ref("SenderProfileBrief", "The default sender profile; null if none"),
        "messages_today": integer("Messages sent today (account time zone)"),
        "messages_this_month": integer("Messages sent this calendar month"),
        "messages_sent_30d": integer("Messages sent in the last 30 days"),
        "messages_received_30d": integer("Messages received in the last 30 days"),
    }


def _pricing_schemas() -> dict:
    return {
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
    }
