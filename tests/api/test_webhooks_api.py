"""/v1/webhooks: the attempt log (list, filters, paging, one delivery with its attempts), replay,
endpoint health and the signing secret. Real deliveries come from real sends, dispatch jobs and
``pump_once`` to a receiver on 127.0.0.1; rows written directly cover the shapes and edge cases."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Account, WebhookAttempt, WebhookDelivery, new_id, utcnow
from app.models.webhook import MAX_ATTEMPTS
from app.services import webhook_signing, webhooks
from app.services.simulator import deliver_due_reports
from app.services.webhook_events import endpoint_of
from tests.webhook_receiver import WebhookReceiver

DELIVERIES = "/v1/webhooks/deliveries"
ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


# -- helpers shared with tests/dashboard/test_webhooks_pages.py and test_openapi.py ---------------------

def add_delivery(account, *, state: str = "DELIVERED", attempts=(200,), url: str = "https://example.com/hooks",
                 message_id: str | None = None, created_at: datetime | None = None, event: str = "sms.status",
                 payload: dict | None = None, excerpt: str = '{"ok": true}') -> dict:
    """A delivery row and its attempts, written directly: each entry of ``attempts`` is an HTTP
    status or an error word (timeout, connection ...). Returns its id, message id and endpoint."""
    created = created_at or utcnow() - timedelta(minutes=10)
    message_id = message_id or new_id()
    payload = payload or {"event": event, "message_id": message_id, "status": "DELIVERED", "to": "+4791000001"}
    times = [created + timedelta(seconds=30 * n) for n in range(1, len(attempts) + 1)]
    last = attempts[-1] if attempts else None
    delivery = WebhookDelivery(
        id="evt_" + new_id().replace("-", ""), account_id=account.id, message_id=message_id, event=event, seq=2,
        url=url, endpoint=endpoint_of(url), payload=json.dumps(payload, separators=(",", ":")), state=state,
        attempts=len(attempts), max_attempts=MAX_ATTEMPTS, replay_requested=False, created_at=created,
        next_attempt_at=utcnow() + timedelta(minutes=5) if state == "PENDING" else None,
        last_attempt_at=times[-1] if times else None,
        delivered_at=times[-1] if state == "DELIVERED" else None,
        failed_at=times[-1] if state == "FAILED" else None,
        last_status_code=last if isinstance(last, int) else None,
        last_error=None if state == "DELIVERED" or last is None else (f"HTTP {last}" if isinstance(last, int) else last),
    )
    db.session.add(delivery)
    db.session.flush()  # no relationship tells the session to insert the delivery first
    for number, (outcome, at) in enumerate(zip(attempts, times), start=1):
        answered = isinstance(outcome, int)
        db.session.add(WebhookAttempt(
            delivery_id=delivery.id, account_id=account.id, number=number, attempted_at=at,
            status_code=outcome if answered else None, latency_ms=10 * number,
            error=None if answered else outcome, detail=None if answered else f"{outcome} after 10 s",
            response_excerpt=excerpt if answered else None, replay=False))
    db.session.commit()
    return {"id": delivery.id, "message_id": message_id, "endpoint": delivery.endpoint, "url": url}


@pytest.fixture
def receiver(app, monkeypatch):
    """A real receiver on 127.0.0.1, and the settings that let smsdesk call it."""
    for name, value in (("ALLOW_HTTP_CALLBACKS", True), ("WEBHOOK_ALLOWED_HOSTS", frozenset({"127.0.0.1"})),
                        ("WEBHOOK_TIMEOUT_SECONDS", 5.0)):
        monkeypatch.setitem(app.config, name, value)
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def send_with_callback(client, auth, run_jobs):
    """Send to ``numbers`` with a callback URL, run dispatch and the carrier's reports for real and
    deliver the webhook events (``pump_once``). Returns the message ids."""

    def send(url: str, numbers=("+4791000001",), pump: bool = True) -> list[str]:
        response = client.post("/v1/sms/send", headers=auth,
                               json={"to": list(numbers), "message": "Hello", "callback_url": url})
        assert response.status_code == 200, response.json
        run_jobs()
        deliver_due_reports()
        if pump:
            webhooks.pump_once()
        return response.json["message_ids"]

    return send


# -- the log -------------------------------------------------------------------------------------------

DELIVERY_FIELDS = {"id", "event", "message_id", "url", "endpoint", "state", "attempts", "max_attempts",
                   "next_attempt_at", "created_at", "last_attempt_at", "delivered_at", "failed_at",
                   "last_status_code", "last_error"}


def test_real_deliveries_are_listed_newest_first_with_every_field(receiver, send_with_callback, client, auth):
    [message_id] = send_with_callback(receiver.url("/hooks?order=7"))
    response = client.get(DELIVERIES, headers=auth)
    assert response.status_code == 200
    body = response.json
    assert (body["total"], body["page"], body["per_page"], body["page_size"], body["has_more"]) == (3, 1, 50, 50, False)
    rows = body["deliveries"]
    assert all(set(row) == DELIVERY_FIELDS for row in rows)
    # SENDING, SENT, DELIVERED happened in that order; newest first.
    payloads = [client.get(f"{DELIVERIES}/{row['id']}", headers=auth).json["payload"]["status"] for row in rows]
    assert payloads == ["DELIVERED", "SENT", "SENDING"]
    first = rows[-1]
    assert first["message_id"] == message_id and first["event"] == "sms.status"
    assert first["url"] == receiver.url("/hooks?order=7") and first["endpoint"] == receiver.url("/hooks")
    assert (first["state"], first["attempts"], first["max_attempts"]) == ("DELIVERED", 1, MAX_ATTEMPTS)
    assert (first["last_status_code"], first["last_error"], first["next_attempt_at"], first["failed_at"]) == (
        200, None, None, None)
    for name in ("created_at", "last_attempt_at", "delivered_at"):
        datetime.strptime(first[name], ISO_Z)
    assert {r.id for r in receiver.accepted} == {row["id"] for row in rows}


def test_filters_and_paging(client, auth, account):
    base = utcnow() - timedelta(hours=1)
    ids = [add_delivery(account, state=state, url=url, created_at=base + timedelta(minutes=i))["id"]
           for i, (state, url) in enumerate([("DELIVERED", "https://a.example/h?x=1"), ("FAILED", "https://a.example/h"),
                                             ("PENDING", "https://b.example/h"), ("DELIVERED", "https://b.example/h")])]
    one_message = add_delivery(account, message_id="m-1", created_at=base - timedelta(minutes=5))

    def listed(**query):
        response = client.get(DELIVERIES, query_string=query, headers=auth)
        assert response.status_code == 200, response.json
        return [d["id"] for d in response.json["deliveries"]]

    assert listed() == [*reversed(ids), one_message["id"]]
    assert listed(state="delivered") == [ids[3], ids[0], one_message["id"]]
    assert listed(state="FAILED") == [ids[1]]
    assert listed(endpoint="https://a.example/h") == [ids[1], ids[0]]
    assert listed(endpoint="https://a.example/h", state="PENDING") == []
    assert listed(message_id="m-1") == [one_message["id"]]
    assert listed(message_id="unknown") == []
    assert listed(per_page=2) == [ids[3], ids[2]]
    assert listed(per_page=2, page=2) == [ids[1], ids[0]]
    assert listed(page_size=2, per_page=4, page=3) == [one_message["id"]]  # page_size wins
    assert listed(page=9) == []
    page = client.get(DELIVERIES, query_string={"per_page": 2, "page": 2}, headers=auth).json
    assert (page["total"], page["page"], page["per_page"], page["has_more"]) == (5, 2, 2, True)
    capped = client.get(DELIVERIES, query_string={"per_page": 1000}, headers=auth).json
    assert capped["per_page"] == 100 and len(capped["deliveries"]) == 5
    blank = client.get(DELIVERIES, query_string={"page": "", "per_page": "", "state": "", "endpoint": ""},
                       headers=auth).json
    assert (blank["page"], blank["per_page"], blank["total"]) == (1, 50, 5)


@pytest.mark.parametrize("query, field, code", [
    ({"page": "abc"}, "page", "invalid_query"),
    ({"page": "0"}, "page", "invalid_query"),
    ({"page": "1.5"}, "page", "invalid_query"),
    ({"page": str(10 ** 12)}, "page", "invalid_query"),
    ({"per_page": "-1"}, "per_page", "invalid_query"),
    ({"per_page": "lots"}, "per_page", "invalid_query"),
    ({"page_size": "0", "per_page": "10"}, "page_size", "invalid_query"),
    ({"state": "LOST"}, "state", "invalid_state"),
    ({"state": "pending,failed"}, "state", "invalid_state"),
])
def test_bad_query_parameters_are_422_naming_the_parameter(client, auth, query, field, code):
    response = client.get(DELIVERIES, query_string=query, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == code and response.json["detail"]
    assert [e["loc"] for e in response.json["errors"]] == [["query", field]]


def test_one_delivery_with_its_payload_and_attempts(client, auth, account):
    payload = {"event": "sms.status", "message_id": "m-9", "status": "FAILED", "to": "+4791000001", "units": 1}
    made = add_delivery(account, state="FAILED", attempts=[503, "timeout", 410], payload=payload, message_id="m-9",
                        excerpt="<html>gone</html>")
    response = client.get(f"{DELIVERIES}/{made['id']}", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert set(body) == DELIVERY_FIELDS | {"payload", "attempt_log"}
    assert body["payload"] == payload
    assert (body["state"], len(body["attempt_log"]), body["last_status_code"], body["last_error"]) == (
        "FAILED", 3, 410, "HTTP 410")
    assert [(a["number"], a["status_code"], a["error"], a["latency_ms"], a["replay"]) for a in body["attempt_log"]] == [
        (1, 503, None, 10, False), (2, None, "timeout", 20, False), (3, 410, None, 30, False)]
    assert body["attempt_log"][1]["detail"] == "timeout after 10 s" and body["attempt_log"][1]["response_excerpt"] is None
    assert body["attempt_log"][0]["response_excerpt"] == "<html>gone</html>"
    assert all(datetime.strptime(a["attempted_at"], ISO_Z) for a in body["attempt_log"])


def test_another_accounts_deliveries_do_not_exist_here(client, auth, account, other_account):
    other, other_auth = other_account
    theirs = add_delivery(other, state="FAILED", attempts=[500])
    mine = add_delivery(account)
    assert [d["id"] for d in client.get(DELIVERIES, headers=auth).json["deliveries"]] == [mine["id"]]
    assert client.get(DELIVERIES, query_string={"message_id": theirs["message_id"]}, headers=auth).json["total"] == 0
    for method, path in (("GET", f"{DELIVERIES}/{theirs['id']}"), ("POST", f"{DELIVERIES}/{theirs['id']}/replay")):
        response = client.open(path, method=method, headers=auth)
        assert response.status_code == 404 and response.json["error"]["code"] == "webhook_delivery_not_found"
    assert client.get(f"{DELIVERIES}/{mine['id']}", headers=other_auth).status_code == 404
    assert client.get(f"{DELIVERIES}/{'x' * 500}", headers=auth).status_code == 404
    assert db.session.get(WebhookDelivery, theirs["id"]).state == "FAILED"  # the replay changed nothing
    health = client.get("/v1/webhooks/endpoints", headers=other_auth).json["endpoints"]
    assert [(h["endpoint"], h["failed"]) for h in health] == [(theirs["endpoint"], 1)]


def test_every_operation_needs_the_api_key(client, account):
    made = add_delivery(account)
    for method, path in (("GET", DELIVERIES), ("GET", f"{DELIVERIES}/{made['id']}"),
                         ("POST", f"{DELIVERIES}/{made['id']}/replay"), ("GET", "/v1/webhooks/endpoints"),
                         ("GET", "/v1/webhooks/secret"), ("POST", "/v1/webhooks/secret/rotate")):
        response = client.open(path, method=method, headers={"X-API-Key": "wayscloud_sms_abc12_wrong"})
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized", path


# -- replay --------------------------------------------------------------------------------------------

def test_replay_resends_the_same_event_through_the_pump(receiver, send_with_callback, client, auth):
    send_with_callback(receiver.url())
    delivered = client.get(DELIVERIES, query_string={"state": "DELIVERED"}, headers=auth).json["deliveries"][0]
    response = client.post(f"{DELIVERIES}/{delivered['id']}/replay", headers=auth)
    assert response.status_code == 202
    assert set(response.json) == DELIVERY_FIELDS
    assert (response.json["id"], response.json["state"], response.json["delivered_at"]) == (delivered["id"], "PENDING",
                                                                                            None)
    assert response.json["next_attempt_at"] is not None
    again = client.post(f"{DELIVERIES}/{delivered['id']}/replay", headers=auth)
    assert again.status_code == 409 and again.json["error"]["code"] == "webhook_delivery_pending"
    assert "still being delivered" in again.json["detail"]

    assert webhooks.pump_once() == 1
    sent = [r for r in receiver.accepted if r.id == delivered["id"]]
    assert len(sent) == 2 and sent[0].body == sent[1].body  # same id, same bytes
    detail = client.get(f"{DELIVERIES}/{delivered['id']}", headers=auth).json
    assert (detail["state"], detail["max_attempts"]) == ("DELIVERED", 2)
    assert [(a["number"], a["replay"], a["status_code"]) for a in detail["attempt_log"]] == [(1, False, 200),
                                                                                          (2, True, 200)]


def test_a_failed_delivery_is_replayed_to_a_receiver_that_is_back(receiver, send_with_callback, client, auth):
    receiver.status = 410  # gone: every event fails at once
    send_with_callback(receiver.url())
    failed = client.get(DELIVERIES, query_string={"state": "failed"}, headers=auth).json
    assert failed["total"] == 3
    receiver.status = 200
    oldest = failed["deliveries"][-1]
    assert client.post(f"{DELIVERIES}/{oldest['id']}/replay", headers=auth).status_code == 202
    webhooks.pump_once()
    assert [r.id for r in receiver.accepted] == [oldest["id"]]
    detail = client.get(f"{DELIVERIES}/{oldest['id']}", headers=auth).json
    assert (detail["state"], detail["failed_at"], detail["last_status_code"]) == ("DELIVERED", None, 200)
    assert [(a["status_code"], a["replay"]) for a in detail["attempt_log"]] == [(410, False), (200, True)]


# -- endpoint health ------------------------------------------------------------------------------------

def test_endpoint_health_from_real_deliveries(receiver, send_with_callback, client, auth):
    send_with_callback(receiver.url("/good?order=1"))
    send_with_callback(receiver.url("/good?order=2"))
    receiver.status = 503
    send_with_callback(receiver.url("/bad"))
    body = client.get("/v1/webhooks/endpoints", headers=auth).json
    assert body["window_hours"] == 24
    bad, good = body["endpoints"]  # worst first
    assert (bad["endpoint"], bad["status"], bad["events"], bad["pending"], bad["attempts"], bad["success_rate"]) == (
        receiver.url("/bad"), "failing", 3, 3, 1, 0.0)
    assert bad["last_success_at"] is None and datetime.strptime(bad["last_failure_at"], ISO_Z)
    assert (good["endpoint"], good["status"], good["events"], good["delivered"], good["failed"], good["attempts"],
            good["success_rate"]) == (receiver.url("/good"), "healthy", 6, 6, 0, 6, 1.0)
    assert good["last_failure_at"] is None and isinstance(good["average_latency_ms"], int)


def test_endpoint_health_statuses(client, auth, account):
    add_delivery(account, url="https://ok.example/h", attempts=[200])
    add_delivery(account, url="https://mixed.example/h", state="PENDING", attempts=[200, 500])
    add_delivery(account, url="https://idle.example/h", state="PENDING", attempts=[])
    add_delivery(account, url="https://old.example/h", attempts=[200], created_at=utcnow() - timedelta(days=3))
    body = client.get("/v1/webhooks/endpoints", headers=auth).json
    figures = {h["endpoint"]: (h["status"], h["attempts"], h["success_rate"], h["average_latency_ms"])
               for h in body["endpoints"]}
    assert figures == {"https://mixed.example/h": ("degraded", 2, 0.5, 15),
                       "https://ok.example/h": ("healthy", 1, 1.0, 10),
                       "https://idle.example/h": ("idle", 0, None, None)}
    assert client.get("/v1/webhooks/endpoints", headers={"X-API-Key": "nope"}).status_code == 401


# -- the signing secret ----------------------------------------------------------------------------------

def test_secret_is_the_accounts_and_is_never_cached(client, auth, account):
    account_secret = account.webhook_secret
    response = client.get("/v1/webhooks/secret", headers=auth)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.json == {"secret": account_secret, "previous_secret_valid_until": None}


def test_rotation_gives_a_new_secret_and_the_old_one_still_signs(receiver, send_with_callback, client, auth, account):
    account_id, old = account.id, account.webhook_secret
    before = utcnow()
    response = client.post("/v1/webhooks/secret/rotate", headers=auth)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new, until = response.json["secret"], response.json["previous_secret_valid_until"]
    assert new != old and new.startswith("whsec_")
    grace = datetime.strptime(until, ISO_Z).replace(tzinfo=before.tzinfo) - before
    assert timedelta(hours=23, minutes=59) <= grace <= timedelta(hours=24, minutes=1)
    assert client.get("/v1/webhooks/secret", headers=auth).json == response.json

    send_with_callback(receiver.url())
    for request in receiver.accepted:  # signed with both while the grace lasts
        assert webhook_signing.verify(new, request.headers, request.body)
        assert webhook_signing.verify(old, request.headers, request.body)

    db.session.execute(update(Account).where(Account.id == account_id)
                       .values(webhook_secret_previous_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/v1/webhooks/secret", headers=auth).json == {"secret": new,
                                                                   "previous_secret_valid_until": None}
    assert db.session.scalar(select(Account.webhook_secret).where(Account.id == account_id)) == new
