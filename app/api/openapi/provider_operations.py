"""Operations and schemas of the provider callbacks, ``/v1/providers/{code}/inbound`` and ``/dlr``,
field for field as ``app/api/providers.py`` builds them. The request bodies are the built-in
simulator's shapes (``app/providers/simulator.py``); another provider's parser reads its own."""
from __future__ import annotations

from dataclasses import dataclass

from app.api.openapi.builders import (
    PAYLOAD_TOO_LARGE, Operation, array, boolean, error, integer, json_content, obj, ref, string, uuid,
)

CALLBACK_SECURITY = [{"CallbackToken": []}, {"Bearer": []}]
CALLBACK_SCHEME = {"type": "apiKey", "in": "header", "name": "X-Callback-Token",
                   "description": "The provider's callback token (PROVIDER_CALLBACK_TOKENS; also accepted as "
                                  "Authorization: Bearer <token>). Provider callbacks only."}
PROVIDER_PARAMETERS = {
    "ProviderCodePath": {"name": "code", "in": "path", "required": True,
                         "description": "The provider's code, e.g. simulator", "schema": {"type": "string"}},
}

_UNAUTHORIZED = error("Missing or wrong callback token, or none configured for this provider (code unauthorized)")
_UNKNOWN = error("A token is configured for this code but no provider by it sends callbacks (code "
                 "unknown_provider); a code without a token is 401")

_SIGNED = ("\n\nA WAYSCloud connection with a webhook secret (WAYSCLOUD_WEBHOOK_SECRET, or "
           "WAYSCLOUD_<LABEL>_WEBHOOK_SECRET) also accepts a request without the token whose Standard Webhooks "
           "signature (webhook-id, webhook-timestamp, webhook-signature) verifies with that secret.")


@dataclass
class CallbackOperation(Operation):
    """An operation whose body is a provider's own JSON, described by a schema, not a pydantic model."""

    body_schema: str = ""

    def document(self) -> dict:
        operation = super().document()
        operation["requestBody"] = {"required": True, "content": json_content(ref(self.body_schema))}
        return operation


def provider_operations() -> list[Operation]:
    return [
        CallbackOperation(
            "post", "/v1/providers/{code}/inbound", "receiveInbound", "Inbound SMS callback",
            "A provider reports texts people sent to the accounts' numbers. Each is stored as an INBOUND message "
            "with status RECEIVED in the account whose approved sender profile has the number it was sent to (with "
            "or without '+'); message_type is REPLY and related_message_id the account's latest outbound message to "
            "that person when there is one. A number shared by several accounts goes to the one that last messaged "
            "the sender. A repeated callback (same provider message id) creates nothing (duplicate true).\n\n"
            "Then the text acts: an opt-out word (STOP, STOPP, SLUTT, AVSLUTT, UNSUBSCRIBE ...) suppresses the number "
            "(opt-out source sms) and gets one confirmation; an opt-in word (START, START IGJEN ...) lifts it and is "
            "confirmed; HELP/HJELP gets the help text; otherwise the account's active keyword equal to the first word "
            "is counted and its auto-reply sent. Answers go only from phone-number profiles with allow_reply.\n\n"
            "Body (simulator): {\"messages\": [...]} or one message object. A callback naming any unknown number is "
            "refused whole. Body (wayscloud, wayscloud.<label>): smsdesk's own sms.inbound webhook event, one "
            "object or a list." + _SIGNED, "Provider callbacks", parameters=("ProviderCodePath",), security=CALLBACK_SECURITY,
            body_schema="InboundCallback",
            responses={
                "200": {"description": "Stored (or already stored)", "content": json_content(ref("InboundReceived"))},
                "401": _UNAUTHORIZED,
                "413": PAYLOAD_TOO_LARGE,
                "404": error("Unknown provider with a configured token (code unknown_provider), or a number no account has approved "
                             "(unknown_number) or shared by accounts none of which messaged the sender "
                             "(ambiguous_number); nothing is stored"),
                "422": error("Unreadable callback, every problem listed in errors, or text holding NUL or an "
                             "unpaired surrogate anywhere in it (code invalid_callback), or a sender that is not "
                             "a phone number (invalid_phone_number)"),
            },
        ),
        CallbackOperation(
            "post", "/v1/providers/{code}/dlr", "receiveReports", "Delivery report callback",
            "A provider reports the fate of messages it accepted: each report moves its message (found by our "
            "reference, else by the provider's message id) to DELIVERED or FAILED. Every report is recorded; a "
            "late or duplicate one cannot undo a final state.\n\nBody (simulator): {\"reports\": [...]} or one "
            "report object. Body (wayscloud, wayscloud.<label>): smsdesk's own sms.status webhook event, one object or "
            "a list; events that are not final (SENDING, SENT) change nothing." + _SIGNED, "Provider callbacks", parameters=("ProviderCodePath",), security=CALLBACK_SECURITY,
            body_schema="ReportCallback",
            responses={
                "200": {"description": "Recorded", "content": json_content(ref("ReportsRecorded"))},
                "401": _UNAUTHORIZED,
                "413": PAYLOAD_TOO_LARGE,
                "404": _UNKNOWN,
                "422": error("Unreadable callback, every problem listed in errors, or text holding NUL or an "
                             "unpaired surrogate anywhere in it (code invalid_callback)"),
            },
        ),
    ]


def provider_schemas() -> dict:
    return {
        # Request bodies: open objects (unknown fields are ignored).
        "InboundCallback": {"type": "object", "required": ["messages"], "properties": {
            "messages": array(ref("InboundCallbackMessage"), "1 to 1000 texts", minItems=1, maxItems=1000)}},
        "InboundCallbackMessage": {"type": "object", "required": ["id", "from", "to", "message"], "properties": {
            "id": string("The provider's message id (message_id is accepted too)", maxLength=128),
            "from": string("The sender's number, E.164", maxLength=32),
            "to": string("The account's number it was sent to", maxLength=32),
            "message": string("The text (body is accepted too)", maxLength=10000),
            "received_at": string("When the provider received it, ISO 8601 (informational)", fmt="date-time"),
        }},
        "ReportCallback": {"type": "object", "required": ["reports"], "properties": {
            "reports": array(ref("ReportCallbackItem"), "1 to 1000 reports", minItems=1, maxItems=1000)}},
        "ReportCallbackItem": {"type": "object", "required": ["status"], "properties": {
            "message_id": string("The provider's message id (this or reference is required)", maxLength=128),
            "reference": string("Our message id, when the provider echoes it", maxLength=36),
            "status": string("DELIVERED or FAILED, any case"),
            "error_code": string("The provider's error code", maxLength=64),
            "error_message": string("The provider's error text", maxLength=500),
            "occurred_at": string("When it happened, ISO 8601", fmt="date-time"),
        }},
        # Responses
        "InboundReceived": obj({
            "received": integer("How many texts the callback carried"),
            "messages": array(ref("InboundResult")),
        }),
        "InboundResult": obj({
            "message_id": uuid("The stored inbound message"),
            "status": string(enum=("RECEIVED",)),
            "duplicate": boolean("True if an earlier callback had stored it (nothing was done again)"),
            "action": string("What the text triggered", nullable=True, enum=("opt_out", "opt_in", "help", "keyword")),
            "keyword": string("The keyword matched, as written at creation", nullable=True),
            "reply_message_id": uuid("Our answer (confirmation, help text or auto-reply), if one was sent",
                                     nullable=True),
        }),
        "ReportsRecorded": obj({"recorded": integer("How many reports were recorded")}),
    }
