"""Idempotency-Key on POST /v1/sms/send: a retried request is answered from the record, never
sent twice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import IdempotencyKey, Message, utcnow

BODY = {"to": ["+4799999999", "+4798888888"], "message": "Pay day!", "customer_ref": "r1"}


def count_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def send(client, auth, key: str | None, body=BODY):
    headers = {**auth, **({"Idempotency-Key": key} if key is not None else {})}
    return client.post("/v1/sms/send", json=body, headers=headers)


def test_same_key_same_body_replays_the_same_response(client, auth):
    first = send(client, auth, "key-1")
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    again = send(client, auth, "key-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert count_messages() == 2


def test_key_order_in_the_body_does_not_matter(client, auth):
    first = send(client, auth, "key-1").json
    reordered = dict(reversed(list(BODY.items())))
    assert send(client, auth, "key-1", reordered).json["message_ids"] == first["message_ids"]
    assert count_messages() == 2


def test_replay_after_the_messages_were_sent_still_sends_nothing(client, auth, run_jobs):
    first = send(client, auth, "key-1").json
    run_jobs()
    again = send(client, auth, "key-1")
    assert again.json == first
    assert count_messages() == 2


@pytest.mark.parametrize("changed", [
    {**BODY, "message": "Pay day!!"},
    {**BODY, "to": ["+4799999999"]},
    {**BODY, "customer_ref": "r2"},
    {k: v for k, v in BODY.items() if k != "customer_ref"},
])
def test_same_key_different_body_is_409(client, auth, changed):
    send(client, auth, "key-1")
    response = send(client, auth, "key-1", changed)
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json["detail"]
    assert response.json["error"]["code"] == "idempotency_key_reused"
    assert count_messages() == 2


def test_different_keys_are_different_sends(client, auth):
    a = send(client, auth, "key-a").json
    b = send(client, auth, "key-b").json
    assert a["batch_id"] != b["batch_id"]
    assert count_messages() == 4


def test_without_a_key_every_request_sends(client, auth):
    send(client, auth, None)
    send(client, auth, None)
    assert count_messages() == 4


def test_accounts_use_the_same_key_independently(client, auth, other_account):
    _, other_auth = other_account
    mine = send(client, auth, "shared-key").json
    theirs = send(client, other_auth, "shared-key", {**BODY, "message": "Something else"})
    assert theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json["batch_id"] != mine["batch_id"]
    assert theirs.json["currency"] == "EUR"
    # and each still replays its own
    assert send(client, auth, "shared-key").json == mine
    assert count_messages() == 4


def test_a_failed_request_does_not_burn_the_key(client, auth):
    bad = send(client, auth, "key-1", {**BODY, "message": ""})
    assert bad.status_code == 422
    good = send(client, auth, "key-1", {**BODY, "message": ""} | {"message": "fixed"})
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers
    assert count_messages() == 2


def test_an_expired_key_may_be_used_again(client, auth):
    first = send(client, auth, "key-1").json
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    again = send(client, auth, "key-1")
    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert again.json["batch_id"] != first["batch_id"]
    assert count_messages() == 4


def test_scheduled_send_replay_keeps_the_schedule(client, auth):
    body = {**BODY, "scheduled_at": (utcnow() + timedelta(days=1)).replace(microsecond=0).isoformat()}
    first = send(client, auth, "key-1", body).json
    assert send(client, auth, "key-1", body).json == first
    assert first["status"] == "SCHEDULED"


@pytest.mark.parametrize("key", ["", "   ", "k" * 256, "a\x00b", "tab\there"])
def test_invalid_key_is_422(client, auth, key):
    response = send(client, auth, key)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["detail"]
    assert count_messages() == 0


def test_key_under_the_dashboard_prefix_is_the_same_key(client, auth):
    first = send(client, auth, "key-1").json
    again = client.post("/v1/dashboard/sms/send", json=BODY, headers={**auth, "Idempotency-Key": "key-1"})
    assert again.json == first
    assert count_messages() == 2


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "different-body"])
def test_a_lost_race_writes_nothing_and_answers_with_the_winner(client, auth, monkeypatch, same_body):
    """Two requests with one key both pass the first look-up; the loser's commit hits the unique
    key and must roll back its messages, then answer like a late retry would."""
    from app.services import idempotency

    winner = send(client, auth, "key-1").json
    real_replay, calls = idempotency.replay, []

    def racing(*args):
        calls.append(args)
        return None if len(calls) == 1 else real_replay(*args)  # the first look-up ran before the winner committed

    monkeypatch.setattr(idempotency, "replay", racing)
    loser = send(client, auth, "key-1", BODY if same_body else {**BODY, "message": "other"})
    if same_body:
        assert loser.status_code == 200
        assert loser.headers["Idempotent-Replayed"] == "true"
        assert loser.json == winner
    else:
        assert loser.status_code == 409
    assert len(calls) == 2
    assert count_messages() == 2
