"""Provider callbacks: inbound texts (storage, de-duplication, opt-out/opt-in/help, keywords) and
delivery reports, through ``/v1/providers/<code>/...`` as a carrier would call them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Keyword, Message, OptOut

NUMBER = "+4791234567"  # the account's reply number
PERSON = "+4799887766"


@pytest.fixture
def token(ctx) -> dict:
    return {"X-Callback-Token": ctx.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]}


@pytest.fixture
def reply_profile(account):
    from app.services.senders import create_profile

    return create_profile(account, "Replies", NUMBER, allow_reply=True)


def inbound(client, token, text, *, pmid="in-1", to=NUMBER, sender=PERSON):
    return client.post("/v1/providers/simulator/inbound", headers=token,
                       json={"messages": [{"id": pmid, "from": sender, "to": to, "message": text}]})


def outbound(account):
    return list(db.session.scalars(select(Message).where(
        Message.account_id == account.id, Message.direction == "OUTBOUND").order_by(Message.created_at)))


def test_inbound_is_stored_as_received_and_linked_to_the_last_outbound(client, auth, token, account, reply_profile):
    first = client.post("/v1/sms/send", headers=auth, json={"to": PERSON, "message": "One"}).json
    last = client.post("/v1/sms/send", headers=auth,
                       json={"to": PERSON, "message": "Two", "sender_profile_id": reply_profile.id}).json
    response = inbound(client, token, "Thanks, see you")
    assert response.status_code == 200, response.json
    item = response.json["messages"][0]
    assert item["status"] == "RECEIVED" and item["action"] is None and item["duplicate"] is False
    assert first["sms_message_id"] != last["sms_message_id"]
    shown = client.get(f"/v1/sms/messages/{item['message_id']}", headers=auth).json
    assert (shown["direction"], shown["message_type"], shown["status"]) == ("INBOUND", "REPLY", "RECEIVED")
    assert shown["from_number"] == PERSON and shown["to_number"] == NUMBER
    assert shown["related_message_id"] == last["sms_message_id"] and shown["body"] == "Thanks, see you"


def test_inbound_without_earlier_conversation_is_plain(client, token, account, reply_profile):
    message_id = inbound(client, token, "Hello?").json["messages"][0]["message_id"]
    row = db.session.get(Message, message_id)
    assert row.message_type == "PLAIN" and row.related_message_id is None and row.received_at is not None
    assert outbound(account) == []  # nothing to answer


def test_number_matches_with_or_without_plus(client, token, account, reply_profile):
    assert inbound(client, token, "hi", to=NUMBER.removeprefix("+")).status_code == 200


def test_a_repeated_callback_creates_nothing(client, token, account, reply_profile):
    first = inbound(client, token, "STOP")
    again = inbound(client, token, "STOP")
    assert again.status_code == 200
    assert again.json["messages"][0] == {**first.json["messages"][0], "duplicate": True, "action": None,
                                         "reply_message_id": None}
    assert db.session.query(Message).filter_by(direction="INBOUND").count() == 1
    assert len(outbound(account)) == 1  # one confirmation only


@pytest.mark.parametrize("text", ["STOP", "stopp!", "Slutt", "avslutt takk", "Unsubscribe", "opt out"])
def test_opt_out_words_suppress_the_number_and_confirm_once(client, auth, token, account, reply_profile, text):
    response = inbound(client, token, text)
    assert response.json["messages"][0]["action"] == "opt_out"
    optout = db.session.scalar(select(OptOut).where(OptOut.account_id == account.id))
    assert (optout.number, optout.source) == (PERSON, "sms")
    [confirmation] = outbound(account)
    assert confirmation.id == response.json["messages"][0]["reply_message_id"]
    assert (confirmation.to_number, confirmation.from_number, confirmation.status) == (PERSON, NUMBER, "QUEUED")
    assert confirmation.message_type == "REPLY" and confirmation.related_message_id == response.json["messages"][0][
        "message_id"]
    assert confirmation.body == client.application.config["STOP_REPLY_TEXT"]
    refused = client.post("/v1/sms/send", headers=auth, json={"to": PERSON, "message": "Offer"})
    assert refused.status_code == 422 and "opted out" in refused.json["detail"]


def test_opt_out_twice_keeps_the_first_row(client, token, account, reply_profile):
    inbound(client, token, "STOP", pmid="a")
    assert inbound(client, token, "STOPP", pmid="b").status_code == 200
    assert db.session.query(OptOut).filter_by(account_id=account.id).count() == 1


@pytest.mark.parametrize("text", ["START", "start igjen", "Unstop"])
def test_opt_in_words_lift_the_suppression_and_confirm(client, auth, token, account, reply_profile, text):
    inbound(client, token, "STOP", pmid="stop")
    response = inbound(client, token, text, pmid="start")
    item = response.json["messages"][0]
    assert item["action"] == "opt_in"
    assert db.session.query(OptOut).filter_by(account_id=account.id).count() == 0
    reply = db.session.get(Message, item["reply_message_id"])
    assert reply.body == client.application.config["START_REPLY_TEXT"] and reply.to_number == PERSON
    assert (reply.message_type, reply.related_message_id) == ("REPLY", item["message_id"])
    assert client.post("/v1/sms/send", headers=auth, json={"to": PERSON, "message": "Back"}).status_code == 200


@pytest.mark.parametrize("text", ["HELP", "hjelp?"])
def test_help_gets_the_configured_text(client, token, account, reply_profile, text):
    client.application.config["HELP_REPLY_TEXT"], saved = "Acme: reply STOP to unsubscribe", \
        client.application.config["HELP_REPLY_TEXT"]
    try:
        item = inbound(client, token, text).json["messages"][0]
    finally:
        client.application.config["HELP_REPLY_TEXT"] = saved
    assert item["action"] == "help"
    assert db.session.get(Message, item["reply_message_id"]).body == "Acme: reply STOP to unsubscribe"


def test_a_sender_without_replies_stores_and_acts_but_does_not_answer(client, token, account):
    platform = client.application.config["PLATFORM_SENDER_ID"]  # the default profile: allow_reply off
    item = inbound(client, token, "STOP", to=platform).json["messages"][0]
    assert item["action"] == "opt_out" and item["reply_message_id"] is None
    assert db.session.query(OptOut).filter_by(account_id=account.id).count() == 1
    assert outbound(account) == []


def test_keyword_counts_and_auto_replies(client, auth, token, account, reply_profile):
    created = client.post("/v1/sms/keywords", headers=auth, json={
        "keyword": "Promo", "auto_reply_message": "Here is your code: 1234", "auto_reply_enabled": True}).json
    client.post("/v1/sms/keywords", headers=auth, json={"keyword": "Quiet", "auto_reply_message": "x"})
    item = inbound(client, token, "promo please", pmid="1").json["messages"][0]
    assert (item["action"], item["keyword"]) == ("keyword", "Promo")
    reply = db.session.get(Message, item["reply_message_id"])
    assert reply.body == "Here is your code: 1234" and reply.related_message_id == item["message_id"]
    inbound(client, token, "PROMO", pmid="2")
    shown = client.get(f"/v1/sms/keywords/{created['id']}", headers=auth).json
    assert shown["messages_received"] == 2 and shown["last_message_at"]
    quiet = inbound(client, token, "quiet", pmid="3").json["messages"][0]
    assert (quiet["action"], quiet["reply_message_id"]) == ("keyword", None)  # auto-reply disabled
    assert inbound(client, token, "promotion", pmid="4").json["messages"][0]["action"] is None


def test_inactive_keyword_does_not_match(client, auth, token, account, reply_profile):
    created = client.post("/v1/sms/keywords", headers=auth, json={"keyword": "Promo", "is_active": False}).json
    assert inbound(client, token, "promo").json["messages"][0]["action"] is None
    assert db.session.get(Keyword, created["id"]).messages_received == 0


def test_unknown_number_is_refused_and_nothing_stored(client, token, account, reply_profile):
    response = client.post("/v1/providers/simulator/inbound", headers=token, json={"messages": [
        {"id": "a", "from": PERSON, "to": NUMBER, "message": "ok"},
        {"id": "b", "from": PERSON, "to": "+4711111111", "message": "who?"}]})
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_number"
    assert "+4711111111" in response.json["detail"]
    assert db.session.query(Message).count() == 0


def test_a_shared_number_goes_to_the_account_in_conversation(client, auth, token, account, other_account):
    platform = client.application.config["PLATFORM_SENDER_ID"]
    assert inbound(client, token, "hi", to=platform).json["error"]["code"] == "ambiguous_number"
    other, other_auth = other_account
    client.post("/v1/sms/send", headers=other_auth, json={"to": PERSON, "message": "Hei"})
    item = inbound(client, token, "hi", to=platform, pmid="2").json["messages"][0]
    assert db.session.get(Message, item["message_id"]).account_id == other.id


def test_callback_authentication(client, token, account, reply_profile):
    body = {"id": "x", "from": PERSON, "to": NUMBER, "message": "hi"}
    for headers in ({}, {"X-Callback-Token": "wrong"}, {"Authorization": "Bearer wrong"}):
        response = client.post("/v1/providers/simulator/inbound", headers=headers, json=body)
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized", headers
    bearer = {"Authorization": "Bearer " + token["X-Callback-Token"]}
    assert client.post("/v1/providers/simulator/inbound", headers=bearer, json=body).status_code == 200
    assert client.post("/v1/providers/simulator/dlr", json={"reports": []}).status_code == 401


def test_a_provider_without_a_configured_token_is_refused(client, token, account, reply_profile):
    tokens = client.application.config["PROVIDER_CALLBACK_TOKENS"]
    saved = tokens.pop("simulator")
    try:
        assert inbound(client, {"X-Callback-Token": saved}, "hi").status_code == 401
    finally:
        tokens["simulator"] = saved


def test_unknown_provider_is_401_without_a_token_and_404_with_one(client, token, monkeypatch):
    for path in ("/v1/providers/nope/inbound", "/v1/providers/nope/dlr"):
        assert client.post(path, headers=token, json={}).status_code == 401
    monkeypatch.setitem(client.application.config["PROVIDER_CALLBACK_TOKENS"], "nope", "secret")
    for path in ("/v1/providers/nope/inbound", "/v1/providers/nope/dlr"):
        response = client.post(path, headers={"X-Callback-Token": "secret"}, json={})
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_provider"


def test_oversized_callback_is_413(client, token):
    body = "{" + " " * (client.application.config["MAX_CONTENT_LENGTH"] + 10) + "}"
    response = client.post("/v1/providers/simulator/inbound", headers={**token, "Content-Type": "application/json"},
                           data=body)
    assert response.status_code == 413


@pytest.mark.parametrize("path, body, locs", [
    ("inbound", [1], [["body"]]),
    ("inbound", {"messages": []}, [["body", "messages"]]),
    ("inbound", {"messages": [{"from": PERSON, "to": 5, "message": "x", "received_at": "soon"}, "x"]},
     [["body", "messages", 0, "to"], ["body", "messages", 0, "id"], ["body", "messages", 0, "received_at"],
      ["body", "messages", 1]]),
    ("dlr", {"reports": [{"status": "DELIVERED"}, {"message_id": "m", "status": "LOST"}]},
     [["body", "reports", 0, "message_id"], ["body", "reports", 1, "status"]]),
    ("dlr", {"message_id": "m"}, [["body", "status"]]),
])
def test_malformed_callbacks_are_422_listing_every_problem(client, token, path, body, locs):
    response = client.post(f"/v1/providers/simulator/{path}", headers=token, json=body)
    assert response.status_code == 422, response.json
    assert [e["loc"] for e in response.json.get("errors", [{"loc": ["body"]}])] == locs


def test_invalid_sender_number_is_422(client, token, account, reply_profile):
    response = inbound(client, token, "hi", sender="not a number")
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_phone_number"


def test_delivery_reports_apply_to_sent_messages(client, auth, token, account, run_jobs, monkeypatch):
    # The simulator's own reports must not arrive first: these are the ones under test.
    monkeypatch.setitem(client.application.config, "SIMULATOR_REPORT_LATENCY_MS", 3_600_000)
    sent = client.post("/v1/sms/send", headers=auth, json={"to": [PERSON, "+4798765432"], "message": "Hi"}).json
    run_jobs()
    delivered, failed = sent["message_ids"]
    assert client.get(f"/v1/sms/messages/{failed}", headers=auth).json["status"] == "SENT"
    response = client.post("/v1/providers/simulator/dlr", headers=token, json={"reports": [
        {"message_id": "sim-" + delivered, "status": "delivered"},
        {"reference": failed, "status": "FAILED", "error_code": "ABSENT", "error_message": "Absent subscriber"}]})
    assert response.status_code == 200 and response.json == {"recorded": 2}
    assert client.get(f"/v1/sms/messages/{delivered}", headers=auth).json["status"] == "DELIVERED"
    shown = client.get(f"/v1/sms/messages/{failed}", headers=auth).json
    assert (shown["status"], shown["error_code"]) == ("FAILED", "ABSENT")
    # A late report cannot undo a final state.
    client.post("/v1/providers/simulator/dlr", headers=token, json={"reference": delivered, "status": "FAILED"})
    assert client.get(f"/v1/sms/messages/{delivered}", headers=auth).json["status"] == "DELIVERED"


@pytest.mark.parametrize("path, item", [
    ("dlr", {"reports": [{"reference": "SENT_ID", "status": "FAILED", "message_id": "sim-\x00", "error_code": "E"}]}),
    ("dlr", {"reports": [{"reference": "SENT_ID", "status": "FAILED", "error_message": "\ud800"}]}),
    ("inbound", {"messages": [{"id": "in-1", "from": PERSON, "to": NUMBER, "message": "hi\x00there"}]}),
    ("inbound", {"messages": [{"id": "in-1", "from": PERSON, "to": NUMBER, "message": "hi", "x\x00": 1}]}),
])
def test_text_no_field_can_hold_is_refused_whole(client, auth, token, account, reply_profile, path, item):
    """Found by the schemathesis fuzz: a NUL in a delivery report was a 500 on PostgreSQL (which
    cannot store it); now any callback holding NUL or an unpaired surrogate is 422 and changes nothing."""
    sent = client.post("/v1/sms/send", headers=auth, json={"to": [PERSON], "message": "Hi"}).json["message_ids"][0]
    for report in item.get("reports", []):
        report["reference"] = sent
    response = client.post(f"/v1/providers/simulator/{path}", headers=token, json=item)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_callback", response.json
    assert "must not contain" in response.json["detail"]
    assert client.get(f"/v1/sms/messages/{sent}", headers=auth).json["status"] == "QUEUED"
    assert not db.session.scalars(select(Message).where(Message.direction == "INBOUND")).all()
