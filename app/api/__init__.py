"""The JSON API under /v1."""
from __future__ import annotations

from flask import Flask, g
from flask_login import current_user

from app.api.campaigns import campaigns
from app.api.contacts import contacts
from app.api.errors import register_api_errors
from app.api.meta import meta
from app.api.providers import providers
from app.api.sms import sms
from app.api.webhooks import webhooks
from app.services import rate_limit

# Blueprints whose requests are authenticated, so each counts against its API key (or, on the
# /v1/dashboard/sms mirror, the signed-in user). Provider callbacks and health are not limited:
# carriers send callbacks in bursts and a 429 there would only make them retry.
RATE_LIMITED = ("sms", "dashboard_sms", "contacts", "campaigns", "webhooks")


def register_api(app: Flask) -> None:
    app.register_blueprint(meta)
    app.register_blueprint(sms, url_prefix="/v1/sms")
    # The guide's paths: the same handlers, registered a second time under another name.
    app.register_blueprint(sms, url_prefix="/v1/dashboard/sms", name="dashboard_sms")
    app.register_blueprint(contacts, url_prefix="/v1/contacts")
    app.register_blueprint(campaigns, url_prefix="/v1/campaigns")
    app.register_blueprint(providers, url_prefix="/v1/providers")
    app.register_blueprint(webhooks, url_prefix="/v1/webhooks")
    register_api_errors(app)
    for name in RATE_LIMITED:
        # Appended after the blueprint's own authenticate hook, so g.api_key is known here.
        app.before_request_funcs.setdefault(name, []).append(_limit_api)
    app.after_request(rate_limit.add_headers)


def _limit_api() -> None:
    key = g.get("api_key")
    if key is not None:
        rate_limit.limit_request("api", f"key:{key.id}", "this API key")
    elif current_user.is_authenticated:
        rate_limit.limit_request("api", f"user:{current_user.id}", "your sign-in")
