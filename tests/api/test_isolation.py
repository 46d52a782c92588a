"""Tenant isolation: another account's messages and sender profiles are invisible (404, never
listed, never counted, never usable)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest


@pytest.fixture
def theirs(client, other_account, run_jobs):
    """The other account's objects: a delivered and a scheduled message, and a sender profile."""
    _, other_auth = other_account
    delivered = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Theirs", "customer_ref": "secret"},
                            headers=other_auth).json
    run_jobs()
    when = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    scheduled = client.post("/v1/sms/send", json={"to": "+4798888888", "message": "Theirs later",
                                                  "scheduled_at": when}, headers=other_auth).json
    profile = client.post("/v1/sms/sender-profiles", json={"name": "theirs", "sender_id": "+4791234567"},
                          headers=other_auth).json
    return {"auth": other_auth, "delivered": delivered["sms_message_id"], "scheduled": scheduled["sms_message_id"],
            "batch": delivered["batch_id"], "profile": profile["id"]}


def test_their_messages_are_404(client, auth, theirs):
    for key in ("delivered", "scheduled"):
        response = client.get(f"/v1/sms/messages/{theirs[key]}", headers=auth)
        assert response.status_code == 404
        assert theirs[key] in response.json["detail"]  # names what was asked for, reveals nothing more


def test_cannot_cancel_their_message(client, auth, theirs):
    response = client.post(f"/v1/sms/messages/{theirs['scheduled']}/cancel", headers=auth)
    assert response.status_code == 404
    status = client.get(f"/v1/sms/messages/{theirs['scheduled']}", headers=theirs["auth"]).json["status"]
    assert status == "SCHEDULED"


def test_their_messages_are_never_listed(client, auth, theirs):
    for query in ({}, {"customer_ref": "secret"}, {"batch_id": theirs["batch"]}, {"to": "+4799999999"},
                  {"status": "DELIVERED,SCHEDULED"}, {"direction": "OUTBOUND"}):
        body = client.get("/v1/sms/messages", query_string=query, headers=auth).json
        assert (body["messages"], body["total"]) == ([], 0), query


def test_their_messages_are_never_counted(client, auth, theirs):
    usage = client.get("/v1/sms/usage", headers=auth).json
    assert (usage["messages_sent"], usage["units_used"], usage["cost"]) == (0, 0, 0.0)
    stats = client.get("/v1/sms/stats", headers=auth).json
    assert stats["status_breakdown"] == {}
    assert stats["last_30_days"]["messages_sent"] == 0
    status = client.get("/v1/sms/status", headers=auth).json
    assert (status["messages_today"], status["messages_sent_30d"]) == (0, 0)


def test_their_sender_profile_is_invisible_and_unusable(client, auth, theirs):
    assert theirs["profile"] not in [p["id"] for p in client.get("/v1/sms/sender-profiles", headers=auth).json]
    assert client.delete(f"/v1/sms/sender-profiles/{theirs['profile']}", headers=auth).status_code == 404
    send = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi",
                                             "sender_profile_id": theirs["profile"]}, headers=auth)
    assert send.status_code == 422
    by_sender_id = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi",
                                                     "sender_id": "+4791234567"}, headers=auth)
    assert by_sender_id.status_code == 422
    # still there for them
    assert theirs["profile"] in [p["id"] for p in client.get("/v1/sms/sender-profiles", headers=theirs["auth"]).json]


def test_the_other_way_round(client, auth, other_account):
    _, other_auth = other_account
    mine = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Mine"}, headers=auth).json
    assert client.get(f"/v1/sms/messages/{mine['sms_message_id']}", headers=other_auth).status_code == 404
    assert client.get("/v1/sms/messages", headers=other_auth).json["total"] == 0
    assert client.get("/v1/sms/messages", headers=auth).json["total"] == 1
