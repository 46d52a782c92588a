"""Delivery webhooks end to end: real sends, real dispatch jobs, a real receiver on 127.0.0.1."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import Account, Message, WebhookAttempt, WebhookDelivery, utcnow
from app.models.webhook import MAX_ATTEMPTS, RETRY_DELAYS, DeliveryState
from app.services import webhook_events, webhook_signing, webhooks
from app.services.simulator import deliver_due_reports
from app.services.webhook_signing import WebhookVerificationError
from tests.webhook_receiver import WebhookReceiver

PATH_OF_A_DELIVERED_MESSAGE = ["SENDING", "SENT", "DELIVERED"]


@pytest.fixture
def receiver(settings):
    settings(ALLOW_HTTP_CALLBACKS=True, WEBHOOK_ALLOWED_HOSTS=frozenset({"127.0.0.1"}), WEBHOOK_TIMEOUT_SECONDS=5.0)
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def account_id(account) -> str:
    return account.id  # read now: running jobs ends the session the account object belongs to


@pytest.fixture
def send_with_callback(client, auth, run_jobs):
    """Send to ``numbers`` with a callback and run dispatch and the carrier's reports for real."""

    def send(url: str, numbers=("+4791000001",), **fields) -> list[str]:
        response = client.post("/v1/sms/send", headers=auth, json={
            "to": list(numbers), "message": "Hello", "callback_url": url, "customer_ref": "order-7", **fields})
        assert response.status_code in (200, 201, 202), response.json
        run_jobs()
        deliver_due_reports()
        return response.json["message_ids"]

    return send


def _by_message(received) -> dict[str, list[str]]:
    seen = defaultdict(list)
    for request in received:
        seen[request.event["message_id"]].append(request.event["status"])
    return seen


def test_every_status_change_reaches_the_receiver_signed_and_in_order(receiver, send_with_callback, account_id):
    ids = send_with_callback(receiver.url(), numbers=("+4791000001", "+4791000002", "+4790000000"))
    webhooks.pump_once()

    seen = _by_message(receiver.accepted)
    assert seen[ids[0]] == seen[ids[1]] == PATH_OF_A_DELIVERED_MESSAGE
    assert seen[ids[2]] == ["SENDING", "SENT", "FAILED"]  # the simulator fails numbers ending 0000
    secret = db.session.get(Account, account_id).webhook_secret
    for request in receiver.accepted:
        assert webhook_signing.verify(secret, request.headers, request.body)
        assert request.id == webhook_events.event_id(request.event["message_id"], request.event["status"])
    failed = [r.event for r in receiver.accepted if r.event["status"] == "FAILED"][0]
    assert failed["error_code"] == "UNKNOWN_SUBSCRIBER" and failed["previous_status"] == "SENT"
    delivered = [r.event for r in receiver.accepted if r.event["message_id"] == ids[0]][-1]
    assert delivered == {
        "event": "sms.status", "message_id": ids[0], "batch_id": delivered["batch_id"], "status": "DELIVERED",
        "previous_status": "SENT", "to": "+4791000001", "customer_ref": "order-7", "units": 1,
        "error_code": None, "error_message": None, "timestamp": delivered["timestamp"]}


def test_a_message_without_callback_gets_no_events(receiver, client, auth, run_jobs):
    client.post("/v1/sms/send", headers=auth, json={"to": "+4791000001", "message": "Hi"})
    run_jobs()
    deliver_due_reports()
    assert webhooks.pump_once() == 0
    assert db.session.scalar(select(db.func.count()).select_from(WebhookDelivery)) == 0


def test_receiver_down_for_an_hour_gets_every_event_exactly_once_in_order(receiver, send_with_callback):
    ids = send_with_callback(receiver.url(), numbers=[f"+479100000{i}" for i in range(1, 6)])
    receiver.status = 503
    now = utcnow()
    for _ in range(61):  # an hour, looked at every minute, as the pump would
        webhooks.pump_once(now=now)
        now += timedelta(minutes=1)
    assert receiver.requests and not receiver.accepted
    receiver.status = 200
    for _ in range(12):  # the back-off reaches up to two hours between tries by now
        webhooks.pump_once(now=now)
        now += timedelta(minutes=30)

    accepted = receiver.accepted
    assert len(accepted) == len({r.id for r in accepted}) == 15
    assert all(statuses == PATH_OF_A_DELIVERED_MESSAGE for statuses in _by_message(accepted).values())
    assert set(_by_message(accepted)) == set(ids)
    # Every retry carried the same id as the first try.
    assert {r.id for r in receiver.requests} == {r.id for r in accepted}
    states = db.session.scalars(select(WebhookDelivery.state)).all()
    assert set(states) == {DeliveryState.DELIVERED}


def test_verification_fails_for_a_tampered_body_or_an_old_timestamp(receiver, send_with_callback, account_id):
    send_with_callback(receiver.url())
    webhooks.pump_once()
    request = receiver.accepted[0]
    secret = db.session.get(Account, account_id).webhook_secret
    with pytest.raises(WebhookVerificationError) as tampered:
        webhook_signing.verify(secret, request.headers, request.body.replace(b"SENDING", b"DELIVERED"))
    assert tampered.value.reason == "no_matching_signature"
    sent_at = int(request.headers["webhook-timestamp"])
    with pytest.raises(WebhookVerificationError) as old:
        webhook_signing.verify(secret, request.headers, request.body, now=sent_at + 301)
    assert old.value.reason == "timestamp_too_old"


def test_410_gone_is_not_retried(receiver, send_with_callback):
    send_with_callback(receiver.url())
    receiver.status = 410
    webhooks.pump_once()
    webhooks.pump_once(now=utcnow() + timedelta(days=2))
    deliveries = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.seq)).all()
    assert [(d.state, d.attempts) for d in deliveries] == [(DeliveryState.FAILED, 1)] * 3
    assert len(receiver.requests) == 3


def test_retries_stop_after_the_schedule_which_lasts_over_a_day(receiver, send_with_callback):
    assert sum(RETRY_DELAYS) >= 24 * 3600
    send_with_callback(receiver.url())
    receiver.status = 500
    webhook_events.generate()
    now = utcnow()
    for delay in (0, *RETRY_DELAYS, 3600):
        now += timedelta(seconds=delay)
        webhooks.pump_once(now=now)
    first = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.seq == 2)).one()
    assert (first.state, first.attempts, first.last_error) == (DeliveryState.FAILED, MAX_ATTEMPTS, "HTTP 500")
    assert db.session.scalar(select(db.func.count()).select_from(WebhookAttempt)
                             .where(WebhookAttempt.delivery_id == first.id)) == MAX_ATTEMPTS


def test_later_events_wait_for_an_earlier_one_still_being_retried(receiver, send_with_callback):
    [message_id] = send_with_callback(receiver.url())
    receiver.status = 500
    webhooks.pump_once()
    receiver.status = 200
    webhooks.pump_once()  # the first event's retry is not due yet, so nothing may overtake it
    assert receiver.accepted == []
    webhooks.pump_once(now=utcnow() + timedelta(seconds=RETRY_DELAYS[0] + 1))
    assert _by_message(receiver.accepted)[message_id] == PATH_OF_A_DELIVERED_MESSAGE


def test_replay_sends_the_same_event_again_and_logs_it(receiver, send_with_callback, account_id):
    send_with_callback(receiver.url())
    webhooks.pump_once()
    delivered = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.seq == 4)).one()
    webhooks.replay(db.session.get(Account, account_id), delivered.id)
    webhooks.pump_once()
    assert [r.id for r in receiver.accepted].count(delivered.id) == 2
    attempts = db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivered.id)
                                  .order_by(WebhookAttempt.number)).all()
    assert [(a.number, a.replay, a.status_code) for a in attempts] == [(1, False, 200), (2, True, 200)]
    db.session.expire_all()
    assert db.session.get(WebhookDelivery, delivered.id).state == DeliveryState.DELIVERED


def test_rotation_signs_with_both_secrets_during_the_grace_period(receiver, send_with_callback, account_id):
    old = db.session.get(Account, account_id).webhook_secret
    new = webhooks.rotate_secret(db.session.get(Account, account_id))
    assert new != old and new.startswith("whsec_")
    send_with_callback(receiver.url())
    webhooks.pump_once()
    request = receiver.accepted[0]
    assert len(request.headers["webhook-signature"].split()) == 2
    assert webhook_signing.verify(old, request.headers, request.body)
    assert webhook_signing.verify(new, request.headers, request.body)
    db.session.execute(update(Account).where(Account.id == account_id)
                       .values(webhook_secret_previous_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert webhooks.signing_secrets(db.session.get(Account, account_id), utcnow()) == (new,)


def test_a_claimed_delivery_is_not_taken_twice_until_its_lease_runs_out(receiver, send_with_callback):
    send_with_callback(receiver.url())
    webhook_events.generate()
    first = webhooks.claim(10)
    assert len(first) == 1  # the later events of the message wait behind it
    assert webhooks.claim(10) == []
    retaken = webhooks.claim(10, now=utcnow() + timedelta(minutes=5))
    assert [c.id for c in retaken] == [first[0].id]
    # The first attempt's late answer is logged but no longer moves the delivery.
    webhooks.record([webhooks.attempt(first[0], webhooks.PostSettings.from_config(current_app.config))])
    assert db.session.get(WebhookDelivery, first[0].id).state == DeliveryState.PENDING


def test_generating_twice_writes_each_event_once(receiver, send_with_callback):
    [message_id] = send_with_callback(receiver.url())
    assert webhook_events.generate() == 3
    db.session.execute(update(Message).where(Message.id == message_id).values(notified_status="QUEUED"))
    db.session.commit()
    webhook_events.generate()
    assert db.session.scalar(select(db.func.count()).select_from(WebhookDelivery)) == 3


def test_endpoint_health_and_the_attempt_log(receiver, send_with_callback, account_id):
    from app.services import webhook_log

    send_with_callback(receiver.url("/good?order=1"))
    send_with_callback(receiver.url("/good?order=2"))
    webhooks.pump_once()
    receiver.status = 503
    send_with_callback(receiver.url("/bad"))
    webhooks.pump_once()
    account = db.session.get(Account, account_id)
    health = {h.endpoint: h for h in webhook_log.endpoint_health(account)}
    good, bad = health[receiver.url("/good")], health[receiver.url("/bad")]
    assert (good.events, good.delivered, good.attempts, good.success_rate, good.status) == (6, 6, 6, 1.0, "healthy")
    assert (bad.events, bad.pending, bad.attempts, bad.successful_attempts, bad.status) == (3, 3, 1, 0, "failing")
    assert bad.last_failure_at is not None and bad.last_success_at is None
    assert list(health) == [receiver.url("/bad"), receiver.url("/good")]  # worst first
    rows, total = webhook_log.list_deliveries(account, endpoint=receiver.url("/bad"))
    assert total == 3 and {r.state for r in rows} == {DeliveryState.PENDING}
    delivery, attempts = webhook_log.get_delivery(account, rows[-1].id)
    assert [(a.status_code, a.error) for a in attempts] == [(503, None)]
    assert '"error"' in attempts[0].response_excerpt


def test_an_inbound_keyword_is_forwarded_to_its_webhook_once(receiver, client, auth, account_id):
    from app.services.senders import create_profile

    create_profile(db.session.get(Account, account_id), "Replies", "+4791234567", allow_reply=True)
    assert client.post("/v1/sms/keywords", headers=auth, json={
        "keyword": "Promo", "webhook_url": receiver.url("/keywords")}).status_code == 201
    token = {"X-Callback-Token": current_app.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]}
    text = {"messages": [{"id": "in-1", "from": "+4799887766", "to": "+4791234567", "message": "promo please"}]}
    first = client.post("/v1/providers/simulator/inbound", headers=token, json=text)
    client.post("/v1/providers/simulator/inbound", headers=token, json=text)  # the carrier calls twice
    webhooks.pump_once()

    [request] = receiver.accepted
    message_id = first.json["messages"][0]["message_id"]
    assert request.event == {"event": "sms.inbound", "message_id": message_id, "keyword": "Promo",
                             "from": "+4799887766", "to": "+4791234567", "message": "promo please",
                             "received_at": request.event["received_at"]}
    assert request.id == webhook_events.event_id(message_id, "inbound")
    secret = db.session.get(Account, account_id).webhook_secret
    assert webhook_signing.verify(secret, request.headers, request.body)


def _readme_recipe():
    """The ``verify`` function exactly as the README's "Verifying webhooks" section prints it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Verifying webhooks", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation, under test
    return scope["verify"]


def test_the_readme_recipe_verifies_real_webhooks(receiver, send_with_callback, account_id):
    verify = _readme_recipe()
    send_with_callback(receiver.url())
    webhooks.pump_once()
    secret = db.session.get(Account, account_id).webhook_secret
    for request in receiver.accepted:
        assert verify(secret, request.headers, request.body)
    request = receiver.accepted[0]
    assert not verify(secret, request.headers, request.body.replace(b"SENDING", b"SENT"))
    old = {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 301)}
    assert not verify(secret, old, request.body)
    assert not verify(webhook_signing.new_secret(), request.headers, request.body)


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data", "https://127.0.0.1/hook", "https://10.0.0.5/hook",
    "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://2130706433/hook", "https://0x7f.1/hook",
])
def test_an_event_aimed_inside_the_network_is_refused_and_not_retried(settings, account_id, url):
    """A URL can become internal after it was accepted (an allow-list entry removed, a host name
    now resolving to 10.x): the attempt is refused without connecting, and never retried."""
    settings(WEBHOOK_ALLOWED_HOSTS=frozenset())
    db.session.add(WebhookDelivery(
        id="evt_refused", account_id=account_id, message_id="m1", event="sms.status", seq=2, url=url,
        endpoint=webhook_events.endpoint_of(url), payload="{}", max_attempts=MAX_ATTEMPTS,
        next_attempt_at=utcnow()))
    db.session.commit()
    assert webhooks.pump_once() == 1
    assert webhooks.pump_once(now=utcnow() + timedelta(days=2)) == 0
    delivery = db.session.get(WebhookDelivery, "evt_refused")
    attempt = db.session.scalars(select(WebhookAttempt)).one()
    assert (delivery.state, attempt.error, attempt.status_code) == (DeliveryState.FAILED, "refused", None)


def test_finished_deliveries_are_purged_after_their_time_but_pending_ones_stay(receiver, send_with_callback):
    send_with_callback(receiver.url(), numbers=("+4791000001", "+4791000002"))
    webhooks.pump_once()
    receiver.status = 503
    send_with_callback(receiver.url(), numbers=("+4791000003",))
    webhooks.pump_once()
    assert webhooks.purge_old(30) == 0
    assert webhooks.purge_old(30, now=utcnow() + timedelta(days=31), chunk=4) == 6
    left = db.session.scalars(select(WebhookDelivery.state)).all()
    assert left == [DeliveryState.PENDING] * 3
    assert db.session.scalar(select(db.func.count()).select_from(WebhookAttempt)) == 1
