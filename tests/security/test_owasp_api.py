"""Probes for the OWASP API Security Top 10 (2023) items the README's Security table points here:
API3 (object property level: fields a client may not set are ignored, not applied), API4 (resource
consumption: page sizes and body sizes are capped), API8 (misconfiguration: no debug, no tracebacks,
no cross-origin reads), API9 (inventory: every /v1 route is documented)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.models import Campaign, Contact, Message, SenderProfile
from app.services.groups import create_group


def _age(stamp: str) -> timedelta:
    return datetime.now(timezone.utc) - datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# -- API3: mass assignment ----------------------------------------------------------------------------

FORCED = {"id": "forced-id", "account_id": None, "created_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z"}


def _forced(other) -> dict:
    return {**FORCED, "account_id": other.id}


def test_a_contact_takes_no_id_account_or_timestamps_from_the_client(client, auth, account, other_account):
    other, _ = other_account
    body = {"first_name": "Ada", "phone_number": "+4791000001", **_forced(other)}
    created = client.post("/v1/contacts", json=body, headers=auth)
    assert created.status_code == 201, created.json
    assert created.json["id"] != "forced-id" and _age(created.json["created_at"]) < timedelta(minutes=1)
    row = db.session.get(Contact, created.json["id"])
    assert row.account_id == account.id
    patched = client.patch(f"/v1/contacts/{row.id}", json={"first_name": "Bea", **_forced(other)}, headers=auth)
    assert patched.status_code == 200 and patched.json["id"] == row.id
    db.session.expire_all()
    assert db.session.get(Contact, row.id).account_id == account.id


def test_a_message_takes_no_status_cost_provider_or_account_from_the_client(client, auth, account, other_account):
    other, _ = other_account
    body = {"to": "+4791000002", "message": "Hi", "status": "DELIVERED", "cost": 0, "units": 0,
            "provider": "nowhere", "provider_message_id": "x", "direction": "INBOUND", **_forced(other)}
    sent = client.post("/v1/sms/send", json=body, headers=auth)
    assert sent.status_code == 200, sent.json
    message = db.session.get(Message, sent.json["sms_message_id"])
    assert (message.account_id, message.status, message.direction) == (account.id, "QUEUED", "OUTBOUND")
    assert message.provider != "nowhere" and message.provider_message_id is None and message.units == 1


def test_a_sender_profile_cannot_approve_itself(client, auth, account, other_account):
    other, _ = other_account
    body = {"name": "Brand", "sender_id": "ACMEBRAND", "brand_confirmation": True, "approval_status": "approved",
            "monthly_price": 0, **_forced(other)}
    created = client.post("/v1/sms/sender-profiles", json=body, headers=auth)
    assert created.status_code == 201, created.json
    profile = db.session.get(SenderProfile, created.json["id"])
    assert (profile.approval_status, profile.account_id) == ("pending", account.id) and profile.monthly_price > 0


def test_a_campaign_takes_no_status_or_counts_from_the_client(client, auth, account, other_account):
    other, _ = other_account
    group = create_group(account, "Customers")
    forced = {"status": "COMPLETED", "recipients": 99, "started_at": "2000-01-01T00:00:00Z", **_forced(other)}
    created = client.post("/v1/campaigns", json={"name": "Sale", "message": "Hi", "group_ids": [group.id], **forced},
                          headers=auth)
    assert created.status_code == 201, created.json
    patched = client.patch(f"/v1/campaigns/{created.json['id']}", json={"name": "Sale 2", **forced}, headers=auth)
    assert patched.status_code == 200, patched.json
    db.session.expire_all()
    campaign = db.session.get(Campaign, created.json["id"])
    assert (campaign.status, campaign.account_id, campaign.name) == ("DRAFT", account.id, "Sale 2")
    assert campaign.started_at is None


# -- API4: resource consumption ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/sms/messages", "/v1/contacts", "/v1/contacts/groups", "/v1/campaigns",
                                  "/v1/webhooks/deliveries"])
def test_page_sizes_are_capped(client, auth, path):
    response = client.get(path, query_string={"page_size": 10_000_000}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["page_size"] <= 500
    huge_page = client.get(path, query_string={"page": 10 ** 30}, headers=auth)
    assert huge_page.status_code == 422


def test_bodies_are_capped(client, auth, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 0 < limit <= 16 * 1024 * 1024
    response = client.post("/v1/contacts", data=b"{" + b" " * limit + b"}", headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"


# -- API8: misconfiguration ----------------------------------------------------------------------------

def test_no_debug_and_no_traceback_in_an_error(client, auth, app, monkeypatch):
    from app import create_app

    assert create_app({"TESTING": False, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "REDIS_URL": app.config["REDIS_URL"]}).debug is False

    def explode(*args, **kwargs):
        raise RuntimeError("internal detail /srv/smsdesk/secret.py")

    monkeypatch.setattr("app.services.messages.get_message", explode)
    response = client.get("/v1/sms/messages/x", headers=auth)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "internal detail" not in text and "secret.py" not in text


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_no_cross_origin_reads(client, auth, method):
    """No CORS headers: a page on another site cannot read the API's answers with a visitor's
    dashboard session (``/v1/dashboard/sms``) or anything else."""
    headers = {**auth, "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    for path in ("/v1/sms/messages", "/v1/dashboard/sms/messages", "/v1/webhooks/secret"):
        response = client.open(path, method=method, headers=headers)
        assert not any(h.lower().startswith("access-control-allow") for h in response.headers.keys()), path


# -- API9: inventory -------------------------------------------------------------------------------------

def test_every_api_route_is_in_the_openapi_document(client, app):
    import re

    documented = set(client.get("/v1/openapi.json").json["paths"])
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/v1/") and rule.rule != "/v1/openapi.json"}
    undocumented = {r for r in routes if not any(_same(r, d) for d in documented)}
    assert not undocumented, undocumented


def _same(route: str, documented: str) -> bool:
    import re

    def shape(p):
        return re.sub(r"\{[^}]+\}", "{}", p)

    return shape(route) == shape(documented)
