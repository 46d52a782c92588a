"""The JSON API under /v1."""
from __future__ import annotations

from flask import Flask

from app.api.campaigns import campaigns
from app.api.contacts import contacts
from app.api.errors import register_api_errors
from app.api.meta import meta
from app.api.providers import providers
from app.api.sms import sms
from app.api.webhooks import webhooks


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
