"""``/v1/sms/...``, also served as ``/v1/dashboard/sms/...`` by the same handlers.

Each view parses input, calls one service, renders JSON.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from app.api.auth import authenticate
from app.api.params import message_filter, page_envelope, paging
from app.api.schemas import EstimateBody, SendBody, SenderProfileBody
from app.api.serializers import message_json, profile_brief, profile_json
from app.services import messages, senders, usage
from app.services.errors import Invalid
from app.services.pricing import estimate, message_price_table, price_list
from app.services.send import SendRequest, send

sms = Blueprint("sms", __name__)


@sms.before_request
def _authenticate() -> None:
    authenticate()


def json_body() -> dict:
    """The JSON object in the body, whatever the Content-Type (curl -d sends a form type)."""
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # absurdly deep nesting; silent=True only covers ValueError
        body = None
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object", code="invalid_json")
    return body


@sms.post("/send")
def send_sms():
    parsed = SendBody.model_validate(json_body())
    response, replayed = send(g.account, SendRequest(**parsed.model_dump()),
                              idempotency_key=request.headers.get("Idempotency-Key"))
    result = jsonify(response)
    if replayed:
        result.headers["Idempotent-Replayed"] = "true"
    return result


@sms.post("/estimate")
def estimate_sms():
    parsed = EstimateBody.model_validate(json_body())
    recipients = len(parsed.to) or parsed.recipients
    return jsonify(estimate(g.account, parsed.message, recipients))


@sms.get("/messages")
def list_messages():
    page, size = paging()
    result = messages.list_messages(g.account, message_filter(g.account.default_region), page, size)
    return jsonify(page_envelope("messages", [message_json(m) for m in result.items], result))


@sms.get("/messages/<message_id>")
def get_message(message_id: str):
    return jsonify(message_json(messages.get_message(g.account, message_id)))


@sms.post("/messages/<message_id>/cancel")
def cancel_message(message_id: str):
    message = messages.cancel_message(g.account, message_id)
    return jsonify({"message": "Message cancelled", "message_id": message.id, "status": message.status})


@sms.get("/sender-profiles")
def list_sender_profiles():
    return jsonify([profile_json(p) for p in senders.list_profiles(g.account)])


@sms.post("/sender-profiles")
def create_sender_profile():
    parsed = SenderProfileBody.model_validate(json_body())
    profile = senders.create_profile(g.account, **parsed.model_dump())
    return jsonify(profile_json(profile)), 201


@sms.delete("/sender-profiles/<profile_id>")
def delete_sender_profile(profile_id: str):
    senders.delete_profile(g.account, profile_id)
    return jsonify({"message": "Sender profile deleted", "id": profile_id})


def _status_json() -> dict:
    status = usage.service_status(g.account)
    return {**status, "default_sender": profile_brief(status["default_sender"])}


@sms.get("/status")
def service_status():
    return jsonify(_status_json())


@sms.get("/usage")
def get_usage():
    return jsonify(usage.usage(g.account, request.args.get("period")))


@sms.get("/stats")
def get_stats():
    return jsonify(usage.stats(g.account))


@sms.get("/overview")
def get_overview():
    """The guide's "monitor overall usage" call: /status, this month's /usage and /stats in one answer."""
    return jsonify({**_status_json(), "usage": usage.usage(g.account, None), "stats": usage.stats(g.account)})


@sms.get("/pricing")
def get_pricing():
    return jsonify(price_list(g.account, current_app.config["SMS_PRICES"]))


@sms.get("/pricing/messages")
def get_message_pricing():
    return jsonify(message_price_table(g.account, current_app.config["SMS_PRICES"]))


from app.api import keywords as _keywords  # noqa: E402,F401 - its routes live on this blueprint
