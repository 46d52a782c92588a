"""``/v1/providers/<code>/inbound`` and ``/v1/providers/<code>/dlr``: the callbacks of SMS providers.

A provider authenticates with its own token (``PROVIDER_CALLBACK_TOKENS``), never with an
account's API key: a callback is not made on behalf of one account. The token travels in
``X-Callback-Token`` or as ``Authorization: Bearer <token>``. A provider may also vouch for a
request itself with ``authenticate(headers, body) -> bool`` (WAYSCloud: the upstream's Standard
Webhooks signature, since an upstream smsdesk cannot send our token). Order of refusals: a body
over the size limit 413; a missing or wrong token (and no signature the provider accepts) 401
(first, as everywhere under /v1: a caller without valid credentials learns nothing, not even which
providers exist, and a code without a configured token or secret is refused whatever it
presents); a code with a token but no provider that sends callbacks 404; an unreadable body 422
with every problem listed. The provider's own parser reads the body (a JSON object, or an array
for a provider that takes one); the services do the rest.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.api.auth import Unauthorized
from app.api.sms import json_body
from app.extensions import db
from app.providers import get_provider, known_codes, provider_class
from app.providers.base import CallbackError
from app.services import inbound
from app.services.delivery import apply_reports
from app.services.errors import Invalid, NotFound
from app.text import text_problem

providers = Blueprint("providers", __name__)


@providers.before_request
def _refuse_large_bodies() -> None:
    # Before the token check, so an oversized body is 413 whoever sends it, as on every /v1 route.
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def _provider(code: str, parser: str):
    """The provider named ``code``, once it proved who it is, and its parser for this callback."""
    expected = current_app.config["PROVIDER_CALLBACK_TOKENS"].get(code)
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    presented = request.headers.get("X-Callback-Token") or (bearer.strip() if scheme.lower() == "bearer" else "")
    # No token configured: refuse everything rather than accept anything.
    token_ok = bool(expected and presented and hmac.compare_digest(presented.encode(), expected.encode()))
    if not (token_ok or _vouched(code)):
        raise Unauthorized(f"Missing or invalid callback token for provider '{code[:32]}' "
                           "(X-Callback-Token or Authorization: Bearer)")
    known = known_codes(current_app.config)
    if code not in known or getattr(provider_class(code), parser, None) is None:
        raise NotFound(f"No SMS provider '{code[:32]}' sends callbacks here; known: {', '.join(known)}",
                       code="unknown_provider")
    return getattr(get_provider(code), parser)


def _vouched(code: str) -> bool:
    """The provider itself accepts the request (a signature made with a secret it was given)."""
    if code not in known_codes(current_app.config) or getattr(provider_class(code), "authenticate", None) is None:
        return False
    return get_provider(code).authenticate(request.headers, request.get_data(cache=True))


def _callback_body() -> object:
    """The JSON object or array in the body (the provider's parser says what it accepts)."""
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        body = None
    return body if isinstance(body, list) else json_body()


def _unsafe_text(body) -> str | None:
    """Where in a callback body sits text no field can hold (NUL, an unpaired surrogate), and why.
    Iterative: a deeply nested body must not overflow the stack."""
    stack = [("body", body)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str) and (problem := text_problem(value)):
            return f"{where} {problem}"
        if isinstance(value, dict):
            for key, item in value.items():
                if problem := text_problem(key):
                    return f"a key in {where} {problem}"
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def _parsed(parse) -> list:
    body = _callback_body()
    # The parsers pass the provider's text on to the database, which cannot store it (PostgreSQL
    # refuses NUL): refuse the whole callback here, with the place named.
    if problem := _unsafe_text(body):
        raise Invalid(f"Cannot read the callback: {problem[:200]}", code="invalid_callback")
    try:
        return parse(body)
    except CallbackError as exc:
        raise Invalid(f"Cannot read the callback: {exc}", code="invalid_callback", fields=exc.problems) from None


@providers.post("/<code>/inbound")
def receive_inbound(code: str):
    items = _parsed(_provider(code, "parse_inbound"))
    results = inbound.receive_all(code, items)
    return jsonify({"received": len(results), "messages": [{
        "message_id": r.message.id,
        "status": r.message.status,
        "duplicate": r.duplicate,
        "action": r.action,
        "keyword": r.keyword,
        "reply_message_id": r.reply_message_id,
    } for r in results]})


@providers.post("/<code>/dlr")
def receive_reports(code: str):
    reports = _parsed(_provider(code, "parse_reports"))
    recorded = apply_reports(code, reports)
    db.session.commit()
    return jsonify({"recorded": recorded})
