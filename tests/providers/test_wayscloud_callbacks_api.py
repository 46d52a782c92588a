"""The upstream's webhooks at ``/v1/providers/wayscloud[.<label>]/dlr`` and ``/inbound``: accepted
with the callback token or with the upstream's signature, read, and applied."""
from __future__ import annotations

import json
import time

import pytest

from app.extensions import db
from app.models import Message, Status, new_id, utcnow
from app.services import webhook_signing

SECRET = webhook_signing.new_secret()
NORDIC_SECRET = webhook_signing.new_secret()


@pytest.fixture
def wayscloud(ctx, monkeypatch):
    for name, value in {"WAYSCLOUD_API_KEY": "k", "WAYSCLOUD_WEBHOOK_SECRET": SECRET,
                        "WAYSCLOUD_NORDIC_API_KEY": "k2", "WAYSCLOUD_NORDIC_WEBHOOK_SECRET": NORDIC_SECRET}.items():
        monkeypatch.setitem(ctx.config, name, value)
    return ctx


def sent_message(account, provider: str = "wayscloud", pmid: str = "up-1") -> Message:
    now = utcnow()
    message = Message(id=new_id(), account_id=account.id, direction="OUTBOUND", message_type="PLAIN",
                      from_number="+4759440000", to_number="+4799999999", body="Hi", status=Status.SENT,
                      created_at=now, queued_at=now, sending_at=now, sent_at=now, attempts=1, provider=provider,
                      provider_message_id=pmid, currency="NOK")
    db.session.add(message)
    db.session.commit()
    return message


def event(message: Message, status: str = "DELIVERED", **extra) -> dict:
    return {"event": "sms.status", "message_id": message.provider_message_id, "batch_id": "b", "status": status,
            "previous_status": "SENT", "to": message.to_number, "customer_ref": message.id, "units": 1,
            "error_code": None, "error_message": None, "timestamp": "2026-03-30T10:00:03Z", **extra}


def signed(payload, secret: str = SECRET, stamp: int | None = None) -> dict:
    body = json.dumps(payload, separators=(",", ":"))
    headers = webhook_signing.headers(secret, "evt_" + new_id().replace("-", ""), stamp or int(time.time()), body)
    return {"data": body, "headers": {**headers, "Content-Type": "application/json"}}


def status_of(message_id: str) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def test_a_signed_delivery_report_is_applied(client, wayscloud, account):
    message = sent_message(account)
    response = client.post("/v1/providers/wayscloud/dlr", **signed(event(message)))
    assert response.status_code == 200, response.json
    assert response.json == {"recorded": 1}
    row = status_of(message.id)
    assert (row.status, row.provider_message_id) == (Status.DELIVERED, "up-1")


def test_a_failure_keeps_the_upstream_error(client, wayscloud, account):
    message = sent_message(account)
    payload = event(message, "FAILED", error_code="ABSENT", error_message="Absent subscriber")
    assert client.post("/v1/providers/wayscloud/dlr", **signed(payload)).status_code == 200
    row = status_of(message.id)
    assert (row.status, row.error_code, row.error_message) == (Status.FAILED, "ABSENT", "Absent subscriber")


def test_intermediate_events_and_lists_are_read(client, wayscloud, account):
    first, second = sent_message(account, pmid="up-1"), sent_message(account, pmid="up-2")
    payload = [event(first, "SENDING"), event(first, "SENT"), event(second, "DELIVERED")]
    response = client.post("/v1/providers/wayscloud/dlr", **signed(payload))
    assert response.json == {"recorded": 1}
    assert (status_of(first.id).status, status_of(second.id).status) == (Status.SENT, Status.DELIVERED)


def test_the_callback_token_still_works(client, wayscloud, account, monkeypatch):
    monkeypatch.setitem(wayscloud.config["PROVIDER_CALLBACK_TOKENS"], "wayscloud", "tok-123")
    message = sent_message(account)
    response = client.post("/v1/providers/wayscloud/dlr", json=event(message), headers={"X-Callback-Token": "tok-123"})
    assert response.status_code == 200 and status_of(message.id).status == Status.DELIVERED


@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "another connection's secret", "too old", "altered"])
def test_unauthenticated_callbacks_are_refused(client, wayscloud, account, how):
    message = sent_message(account)
    request = {
        "unsigned": {"json": event(message)},
        "wrong secret": signed(event(message), webhook_signing.new_secret()),
        "another connection's secret": signed(event(message), NORDIC_SECRET),
        "too old": signed(event(message), stamp=int(time.time()) - 3600),
        "altered": {**signed(event(message, "FAILED")), "data": json.dumps(event(message, "DELIVERED"))},
    }[how]
    response = client.post("/v1/providers/wayscloud/dlr", **request)
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert status_of(message.id).status == Status.SENT


def test_a_labelled_connection_checks_its_own_secret(client, wayscloud, account):
    message = sent_message(account, provider="wayscloud.nordic")
    assert client.post("/v1/providers/wayscloud.nordic/dlr", **signed(event(message))).status_code == 401
    assert client.post("/v1/providers/wayscloud.nordic/dlr", **signed(event(message), NORDIC_SECRET)).status_code == 200
    assert status_of(message.id).status == Status.DELIVERED


def test_without_a_secret_no_signature_is_accepted(client, wayscloud, account, monkeypatch):
    monkeypatch.setitem(wayscloud.config, "WAYSCLOUD_WEBHOOK_SECRET", "")
    message = sent_message(account)
    assert client.post("/v1/providers/wayscloud/dlr", **signed(event(message))).status_code == 401


def test_an_unconfigured_connection_is_unknown(client, wayscloud, monkeypatch):
    monkeypatch.setitem(wayscloud.config["PROVIDER_CALLBACK_TOKENS"], "wayscloud.gone", "tok-gone")
    response = client.post("/v1/providers/wayscloud.gone/dlr", json={}, headers={"X-Callback-Token": "tok-gone"})
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_provider"
    assert "wayscloud.nordic" in response.json["detail"]


def test_an_unreadable_report_is_422_with_every_problem(client, wayscloud):
    payload = [{"status": "DELIVERED"}, {"message_id": "x", "status": 7}]
    response = client.post("/v1/providers/wayscloud/dlr", **signed(payload))
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_callback"
    assert [e["loc"] for e in response.json["errors"]] == [["body", 0, "message_id"], ["body", 1, "status"]]


def test_a_signed_inbound_text_is_received(client, wayscloud, account):
    from app.services.senders import create_profile

    create_profile(account, "Replies", "+4791234567", allow_reply=True)
    payload = {"event": "sms.inbound", "message_id": "up-in-1", "keyword": None, "from": "+4799887766",
               "to": "+4791234567", "message": "Hello there", "received_at": "2026-03-30T10:00:00Z"}
    response = client.post("/v1/providers/wayscloud/inbound", **signed(payload))
    assert response.status_code == 200, response.json
    row = status_of(response.json["messages"][0]["message_id"])
    assert (row.direction, row.status, row.body) == ("INBOUND", "RECEIVED", "Hello there")
    assert row.from_number == "+4799887766"


def test_the_simulator_still_refuses_a_list_body(client, ctx):
    token = {"X-Callback-Token": ctx.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]}
    payload = [{"message_id": "x", "status": "DELIVERED"}]
    response = client.post("/v1/providers/simulator/dlr", json=payload, headers=token)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_callback"
