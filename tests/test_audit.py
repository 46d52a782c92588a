"""The audit log's writing side: every consequential change, made through the real API or the
dashboard, leaves exactly one event with the right actor, action, object and details; a change
that is refused or rolled back leaves none; no event ever holds a secret or a message text.

Each case of the table sets up what it needs (as the system, outside any request), then acts
once as a client would; only the events written by that act are examined.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Account, ApiKey, Campaign, CampaignStatus, User, WebhookDelivery, new_id
from app.models.audit import AuditEvent
from app.models.base import iso
from app.models.webhook import DeliveryState
from app.services import audit, campaign_run, contacts as contact_service, groups as group_service
from app.services import keywords as keyword_service, optouts as optout_service
from app.services.accounts import create_user
from app.services.campaigns import CampaignSpec, create as create_campaign
from app.services.senders import create_profile
from tests.dashboard.conftest import PASSWORD, Browser, login_as, make_user

DASHBOARD_FIXTURES = (login_as, make_user)  # imported so the tests here can sign in as the dashboard's do

IN_A_WEEK = (datetime.now(ZoneInfo("Europe/Oslo")) + timedelta(days=7)).replace(hour=12, minute=0, second=0,
                                                                             microsecond=0)
MESSAGE = "Secret spring offer: 20% off everything with code FOXTROT"
NEW_PASSWORD = "an entirely new passphrase 42"


# -- the world each case starts from -------------------------------------------------------------

@dataclass
class World:
    account: Account
    key_text: str
    key: ApiKey
    ids: dict = field(default_factory=dict)
    secrets: set = field(default_factory=set)


@pytest.fixture
def world(account, api_key) -> World:
    key = db.session.scalar(select(ApiKey).where(ApiKey.account_id == account.id))
    secret = api_key[len(f"{key.prefix}_{key.key_id}_"):]
    return World(account, api_key, key, secrets={api_key, secret, PASSWORD, NEW_PASSWORD, MESSAGE, "FOXTROT"})


def _group(w: World, name: str = "Customers") -> str:
    w.ids["group"] = group_service.create_group(w.account, name).id
    return w.ids["group"]


def _contact(w: World, name: str = "Ada", number: str = "+4791000001") -> str:
    contact = contact_service.create_contact(w.account, {"name": name, "phone_number": number})
    w.ids.setdefault("contacts", []).append(contact.id)
    w.ids["contact"] = contact.id
    return contact.id


def _campaign(w: World, status: str | None = None) -> str:
    group_id = _group(w)
    contact_id = _contact(w)
    group_service.add_members(w.account, group_id, [contact_id])
    campaign = create_campaign(w.account, CampaignSpec(name="Spring sale", message=MESSAGE, group_ids=(group_id,)))
    if status:
        values = {"status": status}
        if status == CampaignStatus.SCHEDULED:
            values["scheduled_at"] = datetime.now(timezone.utc) + timedelta(days=2)
        db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(**values))
        db.session.commit()
    w.ids["campaign"] = campaign.id
    return campaign.id


def _failed_delivery(w: World) -> str:
    delivery_id = "evt_" + new_id().replace("-", "")
    db.session.add(WebhookDelivery(
        id=delivery_id, account_id=w.account.id, message_id=new_id(), event="sms.failed", seq=0,
        url="https://hooks.example.com/sms?token=receiver-token-xyz", endpoint="https://hooks.example.com",
        payload="{}", state=DeliveryState.FAILED, attempts=3, max_attempts=3))
    db.session.commit()
    w.secrets.add("receiver-token-xyz")
    w.ids["delivery"] = delivery_id
    return delivery_id


def _pending_profile(w: World) -> str:
    profile = create_profile(w.account, "Brand", "ACMEBRAND", brand_confirmation=True)
    w.ids["profile"] = profile.id
    return profile.id


def _user(w: World, role: str = "marketer") -> str:
    w.ids["user"] = create_user(w.account, f"{role}-{new_id()[:6]}@example.com", PASSWORD, role).id
    return w.ids["user"]


# -- acting as a client --------------------------------------------------------------------------

@dataclass
class Actors:
    client: object
    w: World
    browser: Browser | None = None

    def api(self, method: str, url: str, body: dict | None = None, status: int | tuple = (200, 201)):
        response = self.client.open(url, method=method, json=body, headers={"X-API-Key": self.w.key_text})
        assert response.status_code in ((status,) if isinstance(status, int) else status), response.get_data(True)
        return response.json

    def page(self, url: str, data: dict | None = None, **kwargs):
        response = self.browser.post(url, data or {}, **kwargs)
        assert response.status_code in (200, 303), response.get_data(as_text=True)[:500]
        return response


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[World], object]
    act: Callable[[Actors], object]
    action: str
    object_type: str
    object_id: Callable[[World, object], str | None]
    details: Callable[[World], dict] | dict = field(default_factory=dict)
    actor: str = "api_key"  # or "user" (an admin in the dashboard), "system"


def _none(w: World) -> None:
    return None


def _id(key: str):
    return lambda w, result: w.ids[key]


def _returned(w: World, result) -> str:
    return result["id"]


CASES = [
    # contacts and groups, through the API; a contact's details stay out (GDPR erasure)
    Case("contact created", _none, lambda a: a.api("POST", "/v1/contacts", {"name": "Ada", "phone_number": "+4791000002"}),
         "contact.created", "contact", _returned),
    Case("contact changed", _contact, lambda a: a.api("PATCH", f"/v1/contacts/{a.w.ids['contact']}", {"name": "Ada L"}),
         "contact.changed", "contact", _id("contact"), {"changes": {"name": {"changed": True}}}),
    Case("contact deleted", _contact, lambda a: a.api("DELETE", f"/v1/contacts/{a.w.ids['contact']}", status=(200, 204)),
         "contact.deleted", "contact", _id("contact")),
    Case("contact erased", _contact, lambda a: a.api("POST", f"/v1/contacts/{a.w.ids['contact']}/gdpr-delete"),
         "contact.erased", "contact", _id("contact")),
    Case("group created", _none, lambda a: a.api("POST", "/v1/contacts/groups", {"name": "VIP"}),
         "group.created", "group", _returned, {"name": "VIP"}),
    Case("group changed", _group, lambda a: a.api("PATCH", f"/v1/contacts/groups/{a.w.ids['group']}", {"name": "Clients"}),
         "group.changed", "group", _id("group"), {"changes": {"name": {"from": "Customers", "to": "Clients"}}}),
    Case("group deleted", _group, lambda a: a.api("DELETE", f"/v1/contacts/groups/{a.w.ids['group']}", status=(200, 204)),
         "group.deleted", "group", _id("group"), {"name": "Customers"}),
    Case("members added in bulk", lambda w: (_group(w), _contact(w), _contact(w, "Bo", "+4791000003")),
         lambda a: a.api("POST", f"/v1/contacts/groups/{a.w.ids['group']}/members", {"contact_ids": a.w.ids["contacts"]}),
         "group.members_added", "group", _id("group"), {"name": "Customers", "count": 2}),
    Case("member removed", lambda w: group_service.add_members(w.account, _group(w), [_contact(w)]),
         lambda a: a.api("DELETE", f"/v1/contacts/groups/{a.w.ids['group']}/members/{a.w.ids['contact']}",
                         status=(200, 204)),
         "group.member_removed", "group", _id("group"), lambda w: {"name": "Customers", "contact_id": w.ids["contact"]}),
    # keywords
    Case("keyword created", _none, lambda a: a.api("POST", "/v1/sms/keywords", {
        "keyword": "PIZZA", "auto_reply_message": MESSAGE, "auto_reply_enabled": True,
        "webhook_url": "https://hooks.example.com/k?token=receiver-token-xyz"}),
         "keyword.created", "keyword", _returned, {"keyword": "PIZZA"}),
    Case("keyword changed", lambda w: w.ids.update(keyword=keyword_service.create_keyword(w.account, "PIZZA").id),
         lambda a: a.api("PATCH", f"/v1/sms/keywords/{a.w.ids['keyword']}",
                         {"description": "Pizza club", "auto_reply_message": MESSAGE, "auto_reply_enabled": True}),
         "keyword.changed", "keyword", _id("keyword"),
         {"keyword": "PIZZA", "changes": {"description": {"from": None, "to": "Pizza club"},
                                          "auto_reply_message": {"changed": True},
                                          "auto_reply_enabled": {"from": False, "to": True}}}),
    Case("keyword deleted", lambda w: w.ids.update(keyword=keyword_service.create_keyword(w.account, "PIZZA").id),
         lambda a: a.api("DELETE", f"/v1/sms/keywords/{a.w.ids['keyword']}"),
         "keyword.deleted", "keyword", _id("keyword"), {"keyword": "PIZZA"}),
    # sender profiles
    Case("sender profile created", _none, lambda a: a.api("POST", "/v1/sms/sender-profiles", {
        "name": "Shop", "sender_id": "+4790000001"}),
         "sender_profile.created", "sender_profile", _returned,
         {"name": "Shop", "sender_id": "+4790000001", "approval_status": "approved", "is_default": False}),
    Case("sender profile deleted", lambda w: w.ids.update(profile=create_profile(w.account, "Shop", "+4790000001").id),
         lambda a: a.api("DELETE", f"/v1/sms/sender-profiles/{a.w.ids['profile']}", status=(200, 204)),
         "sender_profile.deleted", "sender_profile", _id("profile"), {"name": "Shop", "sender_id": "+4790000001"}),
    Case("sender profile approved", _pending_profile, lambda a: a.page(f"/sender-profiles/{a.w.ids['profile']}/approve"),
         "sender_profile.approved", "sender_profile", _id("profile"), {"name": "Brand", "sender_id": "ACMEBRAND"},
         actor="user"),
    Case("sender profile rejected", _pending_profile, lambda a: a.page(f"/sender-profiles/{a.w.ids['profile']}/reject"),
         "sender_profile.rejected", "sender_profile", _id("profile"), {"name": "Brand", "sender_id": "ACMEBRAND"},
         actor="user"),
    Case("default sender changed", lambda w: w.ids.update(profile=create_profile(w.account, "Shop", "+4790000001").id),
         lambda a: a.page(f"/sender-profiles/{a.w.ids['profile']}/default"),
         "sender_profile.default_changed", "sender_profile", _id("profile"), {"name": "Shop"}, actor="user"),
    # campaigns, through the API and the dashboard
    Case("campaign created", lambda w: (_group(w), _contact(w)),
         lambda a: a.api("POST", "/v1/campaigns", {"name": "Spring sale", "message": MESSAGE,
                                                   "group_ids": [a.w.ids["group"]]}),
         "campaign.created", "campaign", _returned, {"name": "Spring sale"}),
    Case("campaign changed", _campaign,
         lambda a: a.api("PATCH", f"/v1/campaigns/{a.w.ids['campaign']}", {"name": "Autumn sale", "message": MESSAGE + "!"}),
         "campaign.changed", "campaign", _id("campaign"),
         {"changes": {"name": {"from": "Spring sale", "to": "Autumn sale"}, "body": {"changed": True}}}),
    Case("campaign dispatched", _campaign, lambda a: a.api("POST", f"/v1/campaigns/{a.w.ids['campaign']}/send", {}),
         "campaign.dispatched", "campaign", _id("campaign"), {"name": "Spring sale"}),
    Case("campaign scheduled", _campaign,
         lambda a: a.api("POST", f"/v1/campaigns/{a.w.ids['campaign']}/schedule",
                         {"scheduled_at": IN_A_WEEK.strftime("%Y-%m-%dT%H:%M"), "timezone": "Europe/Oslo"}),
         "campaign.scheduled", "campaign", _id("campaign"),
         {"scheduled_at": iso(IN_A_WEEK), "timezone": "Europe/Oslo"}),
    Case("campaign unscheduled", lambda w: _campaign(w, CampaignStatus.SCHEDULED),
         lambda a: a.api("POST", f"/v1/campaigns/{a.w.ids['campaign']}/unschedule", {}),
         "campaign.unscheduled", "campaign", _id("campaign")),
    Case("campaign paused", lambda w: _campaign(w, CampaignStatus.SENDING),
         lambda a: a.page(f"/campaigns/{a.w.ids['campaign']}/pause"),
         "campaign.paused", "campaign", _id("campaign"), actor="user"),
    Case("campaign resumed", lambda w: _campaign(w, CampaignStatus.PAUSED),
         lambda a: a.api("POST", f"/v1/campaigns/{a.w.ids['campaign']}/resume", {}),
         "campaign.resumed", "campaign", _id("campaign")),
    Case("campaign cancelled", lambda w: _campaign(w, CampaignStatus.PAUSED),
         lambda a: a.page(f"/campaigns/{a.w.ids['campaign']}/cancel"),
         "campaign.cancelled", "campaign", _id("campaign"), actor="user"),
    Case("engine pauses a campaign it cannot send", lambda w: _campaign(w, CampaignStatus.SENDING),
         lambda a: (group_service.delete_group(a.w.account, a.w.ids["group"]), _forget_events(),
                    campaign_run.run(a.w.ids["campaign"])),
         "campaign.paused", "campaign", _id("campaign"),
         lambda w: {"note": f"Paused before sending: Group not found: {w.ids['group']}"}, actor="system"),
    # users and API keys (admins, in the dashboard)
    Case("user created", _none, lambda a: a.page("/users", {"email": "new@example.com", "password": NEW_PASSWORD,
                                                            "role": "marketer"}),
         "user.created", "user", lambda w, r: _user_id("new@example.com"), {"email": "new@example.com", "role": "marketer"},
         actor="user"),
    Case("role changed", _user, lambda a: a.page(f"/users/{a.w.ids['user']}/role", {"role": "viewer"}),
         "user.role_changed", "user", _id("user"),
         lambda w: {"email": _email(w), "changes": {"role": {"from": "marketer", "to": "viewer"}}},
         actor="user"),
    Case("user deactivated", _user, lambda a: a.page(f"/users/{a.w.ids['user']}/deactivate"),
         "user.deactivated", "user", _id("user"),
         lambda w: {"email": _email(w), "changes": {"is_active": {"from": True, "to": False}}}, actor="user"),
    Case("API key created", _none, lambda a: a.page("/api-keys", {"name": "CRM"}),
         "api_key.created", "api_key", lambda w, r: _newest_key(w), lambda w: {"name": "CRM", "display": _display(w)},
         actor="user"),
    Case("API key revoked", lambda w: w.ids.update(key=w.key.id), lambda a: a.page(f"/api-keys/{a.w.ids['key']}/revoke"),
         "api_key.revoked", "api_key", _id("key"), lambda w: {"display": w.key.display, "changes": {
             "revoked_at": {"from": None, "to": iso(db.session.get(ApiKey, w.key.id).revoked_at)}}}, actor="user"),
    # opt-outs added and removed by a person
    Case("opt-out added", _none, lambda a: a.page("/opt-outs", {"number": "+4791000009"}),
         "optout.added", "optout", lambda w, r: _optout_id(w), {"number": "+47•••••009", "source": "dashboard"},
         actor="user"),
    Case("opt-out removed", lambda w: w.ids.update(optout=optout_service.add_optout(w.account, "+4791000009").id),
         lambda a: a.page(f"/opt-outs/{a.w.ids['optout']}/remove"),
         "optout.removed", "optout", lambda w, r: None, {"number": "+47•••••009"}, actor="user"),
    # webhooks
    Case("webhook delivery replayed", _failed_delivery,
         lambda a: a.api("POST", f"/v1/webhooks/deliveries/{a.w.ids['delivery']}/replay", {}, status=(200, 202)),
         "webhook_delivery.replayed", "webhook_delivery", _id("delivery"), {"event": "sms.failed"}),
    Case("webhook secret rotated", _none, lambda a: a.page("/webhooks/secret/rotate"),
         "webhook.secret_rotated", "account", lambda w, r: w.account.id, {"grace_hours": 24.0}, actor="user"),
]


def _forget_events() -> None:
    """The engine case's own setup (deleting the group) happened inside ``act``: not what is checked."""
    db.session.execute(AuditEvent.__table__.delete().where(AuditEvent.action != "campaign.paused"))
    db.session.commit()


def _email(w: World) -> str:
    return db.session.get(User, w.ids["user"]).email


def _user_id(email: str) -> str:
    return db.session.scalar(select(User.id).where(User.email == email))


def _newest_key(w: World) -> str:
    return db.session.scalar(select(ApiKey.id).where(ApiKey.account_id == w.account.id, ApiKey.id != w.key.id))


def _display(w: World) -> str:
    return db.session.get(ApiKey, _newest_key(w)).display


def _optout_id(w: World) -> str:
    from app.models import OptOut

    return db.session.scalar(select(OptOut.id).where(OptOut.account_id == w.account.id))


def events() -> list[AuditEvent]:
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.created_at, AuditEvent.id)))


def assert_no_secrets(found: list[AuditEvent], w: World) -> None:
    account = db.session.get(Account, w.account.id)
    secrets = w.secrets | {s for s in (account.webhook_secret, account.webhook_secret_previous) if s}
    for event in found:
        text = json.dumps({c.name: str(getattr(event, c.name)) for c in AuditEvent.__table__.columns}) + json.dumps(
            event.details)
        leaked = [s for s in secrets if s in text]
        assert not leaked, (event.action, leaked)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_change_leaves_one_event(case: Case, ctx, client, world, login_as):
    case.setup(world)
    actors = Actors(client, world, login_as("admin") if case.actor == "user" else None)
    before = {e.id for e in events()}
    result = case.act(actors)
    found = [e for e in events() if e.id not in before]

    assert [(e.action, e.object_type) for e in found] == [(case.action, case.object_type)]
    (event,) = found
    assert event.account_id == world.account.id
    assert event.object_id == case.object_id(world, result)
    expected = case.details(world) if callable(case.details) else case.details
    assert event.details == expected
    if case.actor == "api_key":
        assert (event.actor_type, event.actor_id, event.actor_label) == ("api_key", world.key.id, world.key.display)
    elif case.actor == "user":
        admin = actors.browser.user
        assert (event.actor_type, event.actor_id, event.actor_label) == ("user", admin.id, admin.email)
    else:
        assert (event.actor_type, event.actor_id, event.actor_label) == ("system", None, "smsdesk")
    if case.actor != "system":
        assert event.ip == "127.0.0.1" and event.request_id
    assert_no_secrets(events(), world)


# -- sign-in, sign-out, imports ----------------------------------------------------------------------

def test_sign_in_out_and_failed_sign_in(ctx, world, make_user):
    user = make_user("manager")
    before = {e.id for e in events()}
    browser = Browser(ctx, remote_addr="203.0.113.7")
    assert browser.login(user.email, password="wrong password entirely").status_code == 401
    assert browser.login("nobody@example.com", password="wrong password entirely").status_code == 401
    assert browser.login(user.email).status_code == 303
    assert browser.post("/logout").status_code == 303
    found = [e for e in events() if e.id not in before]
    assert [(e.action, e.actor_type, e.actor_id, e.actor_label, e.object_id, e.ip) for e in found] == [
        ("user.sign_in_failed", "user", None, user.email, user.id, "203.0.113.7"),  # the email given, no password
        ("user.signed_in", "user", user.id, user.email, user.id, "203.0.113.7"),
        ("user.signed_out", "user", user.id, user.email, user.id, "203.0.113.7"),
    ]
    world.secrets.add("wrong password entirely")
    assert_no_secrets(found, world)


def test_client_ip_behind_a_trusted_proxy(ctx, world, make_user, monkeypatch):
    """With TRUSTED_PROXY_HOPS the address is the one the proxy saw, not the proxy's."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setattr(ctx, "wsgi_app", ProxyFix(ctx.wsgi_app, x_for=1, x_proto=1, x_host=1))
    user = make_user("viewer")
    browser = Browser(ctx, remote_addr="10.0.0.2")
    browser.get("/login")
    response = browser.post("/login", {"email": user.email, "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.4"})
    assert response.status_code == 303
    (event,) = [e for e in events() if e.action == "user.signed_in"]
    assert event.ip == "198.51.100.4"


def test_password_change_is_recorded_without_the_password(ctx, world, login_as):
    browser = login_as("marketer")
    before = {e.id for e in events()}
    response = browser.post("/password", {"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:500]
    found = [e for e in events() if e.id not in before]
    assert [(e.action, e.actor_id, e.object_id) for e in found] == [
        ("user.password_changed", browser.user.id, browser.user.id)]
    assert_no_secrets(found, world)


def test_contact_import_started_by_a_person_and_finished_by_the_engine(ctx, world, login_as, run_jobs):
    browser = login_as("marketer")
    data = "Name,Phone\nKari,+4741234567\nOla,+4741234568\nBad,12\n".encode()
    uploaded = browser.post("/contacts/import", {"file": (io.BytesIO(data), "people.csv")},
                            content_type="multipart/form-data")
    assert uploaded.status_code == 303
    import_id = uploaded.headers["Location"].rsplit("/", 1)[1]
    before = {e.id for e in events()}
    started = browser.post(f"/contacts/import/{import_id}/start", {"name": "0", "phone_number": "1", "dedupe": "skip"})
    assert started.status_code in (200, 303), started.get_data(as_text=True)[:500]
    run_jobs()
    found = [e for e in events() if e.id not in before]
    assert [(e.action, e.actor_type, e.object_id) for e in found] == [
        ("contact_import.started", "user", import_id), ("contact_import.finished", "system", import_id)]
    assert found[0].details == {"filename": "people.csv", "rows": 3}
    assert found[1].details == {"created": 2, "updated": 0, "skipped": 0, "rejected": 1}


def test_resend_to_failed_is_its_own_event(ctx, world, login_as):
    from app.models import Message

    campaign_id = _campaign(world, CampaignStatus.COMPLETED)
    db.session.add(Message(account_id=world.account.id, batch_id=campaign_id, campaign_id=campaign_id,
                           direction="OUTBOUND", to_number="+4791000001", from_number="Acme", body=MESSAGE,
                           status="FAILED", units=1, encoding="GSM7", provider="simulator"))
    db.session.commit()
    browser = login_as("marketer")
    before = {e.id for e in events()}
    assert browser.post(f"/campaigns/{campaign_id}/resend").status_code == 303
    found = [e for e in events() if e.id not in before]
    assert [(e.action, e.details.get("source_campaign_id")) for e in found] == [("campaign.resend_created", campaign_id)]
    assert found[0].object_id != campaign_id


# -- what leaves no event ------------------------------------------------------------------------

def test_refused_and_rolled_back_changes_leave_no_event(ctx, client, world):
    campaign_id = _campaign(world)  # a draft
    _contact(world, "Bo", "+4791000005")
    before = {e.id for e in events()}
    headers = {"X-API-Key": world.key_text}
    assert client.post(f"/v1/campaigns/{campaign_id}/pause", json={}, headers=headers).status_code == 409
    assert client.post(f"/v1/campaigns/{campaign_id}/resume", json={}, headers=headers).status_code == 409
    assert client.post("/v1/contacts", json={"name": "Dup", "phone_number": "+4791000005"},
                       headers=headers).status_code == 409
    assert client.post("/v1/contacts/groups", json={"name": "customers"}, headers=headers).status_code == 409
    # Unchanged values are no change.
    assert client.patch(f"/v1/contacts/groups/{world.ids['group']}", json={"name": "Customers"},
                        headers=headers).status_code == 200
    assert [e.action for e in events() if e.id not in before] == []


def test_an_event_recorded_before_a_rollback_is_gone(ctx, world):
    before = events()
    audit.record(world.account.id, "campaign.paused", "campaign", new_id())
    db.session.rollback()
    assert events() == before


def test_a_plain_send_is_not_audited(ctx, client, world):
    before = events()
    response = client.post("/v1/sms/send", json={"to": ["+4791000001"], "message": MESSAGE},
                           headers={"X-API-Key": world.key_text})
    assert response.status_code in (200, 201, 202), response.json
    assert events() == before


# -- the details helpers (pure rules) ------------------------------------------------------------

@pytest.mark.parametrize("details, stored", [
    ({"name": "Spring"}, {"name": "Spring"}),
    ({"password": "hunter2hunter2", "new_password": "x", "webhook_secret": "s", "token": "t", "key_text": "k"}, {}),
    ({"body": MESSAGE, "message": MESSAGE}, {}),
    ({"changes": {"body": {"from": "a", "to": "b"}}}, {"changes": {"body": {"from": "a", "to": "b"}}}),
    ({"changes": {"webhook_url": "https://x/?token=abc"}}, {"changes": {"webhook_url": {"changed": True}}}),
    ({"name": "x" * 500}, {"name": "x" * 119 + "…"}),
    ({"at": datetime(2030, 6, 1, 10, tzinfo=timezone.utc)}, {"at": "2030-06-01T10:00:00Z"}),
    ({"count": 3, "ok": True, "nothing": None}, {"count": 3, "ok": True}),
    ({"ids": ("a", "b")}, {"ids": ["a", "b"]}),
])
def test_clean_details(details, stored):
    assert audit.clean(details) == stored


def test_changes_reads_what_was_set_since_loading(ctx, world):
    campaign = db.session.get(Campaign, _campaign(world))
    campaign.name, campaign.body, campaign.timezone = "New name", "New text", campaign.timezone
    assert audit.changes(campaign, ("name", "body", "timezone")) == {
        "name": {"from": "Spring sale", "to": "New name"}, "body": {"changed": True}}
    assert audit.changes(campaign, ("name",), values=False) == {"name": {"changed": True}}
    db.session.rollback()


def test_the_cli_is_the_actor_of_its_commands(ctx, world):
    result = ctx.test_cli_runner().invoke(args=["sender-profiles", "approve", _pending_profile(world)])
    assert result.exit_code == 0, result.output
    (event,) = [e for e in events() if e.action == "sender_profile.approved"]
    assert (event.actor_type, event.actor_id) == ("system", None)
    assert "sender-profiles approve" in event.actor_label and event.ip is None


def test_engine_pauses_at_the_spending_cap_as_the_system(ctx, world):
    from decimal import Decimal

    campaign_id = _campaign(world, CampaignStatus.SENDING)
    db.session.execute(update(Campaign).where(Campaign.id == campaign_id).values(spend_cap=Decimal("0.01")))
    db.session.commit()
    before = {e.id for e in events()}
    campaign_run.run(campaign_id)
    found = [e for e in events() if e.id not in before]
    assert [(e.action, e.actor_type, e.actor_label, e.object_id) for e in found] == [
        ("campaign.paused", "system", "smsdesk", campaign_id)]
    assert found[0].details["note"] == db.session.get(Campaign, campaign_id).note
