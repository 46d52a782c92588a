"""/v1/sms/sender-profiles: list, create (per the reference), delete, approval via the CLI."""
from __future__ import annotations

import re

import pytest

PROFILE_FIELDS = {"id", "name", "sender_id", "is_default", "allow_reply", "is_custom_sender", "approval_status",
                  "monthly_price", "created_at"}
PATH = "/v1/sms/sender-profiles"


def create(client, auth, **body):
    return client.post(PATH, json=body, headers=auth)


def profiles(client, auth) -> list[dict]:
    response = client.get(PATH, headers=auth)
    assert response.status_code == 200
    return response.json


def default_of(client, auth) -> dict:
    (default,) = [p for p in profiles(client, auth) if p["is_default"]]
    return default


def approve(ctx, profile_id: str, decision: str = "approve"):
    result = ctx.test_cli_runner().invoke(args=["sender-profiles", decision, profile_id])
    assert result.exit_code == 0, result.output
    return result


def test_list_is_a_bare_array_with_the_reference_fields(client, auth):
    body = profiles(client, auth)
    assert isinstance(body, list)
    (default,) = body
    assert set(default) == PROFILE_FIELDS
    assert (default["name"], default["sender_id"], default["is_default"], default["approval_status"]) == (
        "default", "+4759440000", True, "approved")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", default["created_at"])


def test_create_custom_sender_as_in_the_reference(client, auth):
    response = create(client, auth, name="marketing", sender_id="MyBrand", allow_reply=False, brand_confirmation=True)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == PROFILE_FIELDS
    assert (body["name"], body["sender_id"], body["is_default"], body["allow_reply"]) == ("marketing", "MyBrand", False, False)
    assert body["is_custom_sender"] is True
    assert body["approval_status"] == "pending"
    assert body["monthly_price"] > 0
    assert body in profiles(client, auth)


@pytest.mark.parametrize("confirmation", [None, False])
def test_custom_sender_requires_brand_confirmation(client, auth, confirmation):
    body = {"name": "marketing", "sender_id": "MyBrand"}
    if confirmation is not None:
        body["brand_confirmation"] = confirmation
    response = create(client, auth, **body)
    assert response.status_code == 422
    assert "brand_confirmation" in response.json["detail"]
    assert len(profiles(client, auth)) == 1


@pytest.mark.parametrize("sender_id", ["+4791234567", "4791234567", "1963"])
def test_number_sender_is_approved_at_once_and_free(client, auth, sender_id):
    body = create(client, auth, name="numbers", sender_id=sender_id).json
    assert (body["sender_id"], body["is_custom_sender"], body["approval_status"], body["monthly_price"]) == (
        sender_id, False, "approved", 0.0)


@pytest.mark.parametrize("sender_id", ["MyBrand", "my brand", "A-B.C 123", "X", "ABCDEFGHIJK", "wayscloud"])
def test_sender_id_is_echoed_exactly_as_sent(client, auth, sender_id):
    body = create(client, auth, name="n", sender_id=sender_id, brand_confirmation=True).json
    assert body["sender_id"] == sender_id
    assert [p["sender_id"] for p in profiles(client, auth) if p["id"] == body["id"]] == [sender_id]


@pytest.mark.parametrize("name", ["marketing", " spaced name ", "Ærlig navn"])
def test_name_is_echoed_exactly_as_sent(client, auth, name):
    # Terraform compares what it sent with what it reads back
    body = create(client, auth, name=name, sender_id="+4791234567").json
    assert body["name"] == name


@pytest.mark.parametrize("body, needle", [
    ({"name": "x", "sender_id": "ABCDEFGHIJKL"}, "at most 11"),
    ({"name": "x", "sender_id": "BlåBær"}, "Æ, Ø or Å"),
    ({"name": "x", "sender_id": "ÆØÅ"}, "Æ, Ø or Å"),
    ({"name": "x", "sender_id": ""}, "empty"),
    ({"name": "x", "sender_id": "   "}, "empty"),
    ({"name": "x", "sender_id": " MyBrand"}, "spaces"),
    ({"name": "x", "sender_id": "12"}, "3 to 15 digits"),  # digits-only is judged as a number
    ({"name": "x", "sender_id": "1234567890123456"}, "3 to 15 digits"),
    ({"name": "x", "sender_id": "+47 999"}, "3 to 15 digits"),
    ({"name": "x", "sender_id": "My_Brand"}, "'_' is not allowed"),
    ({"name": "x", "sender_id": "123-456"}, "at least one letter"),
    ({"name": "", "sender_id": "+4791234567"}, "name"),
    ({"name": "   ", "sender_id": "+4791234567"}, "name"),
    ({"sender_id": "+4791234567"}, "name"),
    ({"name": "x"}, "sender_id"),
    ({"name": "x" * 121, "sender_id": "+4791234567"}, "120"),
    ({"name": 5, "sender_id": "+4791234567"}, "name"),
    ({"name": "x", "sender_id": 4791234567}, "sender_id"),
    ({"name": "x", "sender_id": "+4791234567", "is_default": "yes"}, "is_default"),
], ids=["12-chars", "norwegian-letters", "only-aeoeaa", "empty", "blank", "leading-space", "short-number",
        "long-number", "spaced-number", "underscore", "no-letter", "empty-name", "blank-name", "no-name",
        "no-sender-id", "long-name", "name-not-string", "sender-id-not-string", "is-default-not-bool"])
def test_invalid_profile_is_422(client, auth, body, needle):
    response = create(client, auth, brand_confirmation=True, **body)
    assert response.status_code == 422, response.json
    assert needle in response.json["detail"]
    assert len(profiles(client, auth)) == 1


def test_null_optional_flags_take_their_defaults(client, auth):
    # clients (Terraform) send null for attributes the user did not set
    response = create(client, auth, name="n", sender_id="+4791234567", allow_reply=None, is_default=None,
                      brand_confirmation=None)
    assert response.status_code == 201, response.json
    assert (response.json["allow_reply"], response.json["is_default"]) == (False, False)


def test_a_pending_profile_cannot_be_the_default(client, auth):
    response = create(client, auth, name="brand", sender_id="MyBrand", brand_confirmation=True, is_default=True)
    assert response.status_code == 422
    assert "approval" in response.json["detail"]
    assert [p["name"] for p in profiles(client, auth)] == ["default"]


def test_the_default_cannot_go_while_only_pending_profiles_remain(client, auth):
    create(client, auth, name="brand", sender_id="MyBrand", brand_confirmation=True)
    (default,) = [p for p in profiles(client, auth) if p["is_default"]]
    response = client.delete(f"/v1/sms/sender-profiles/{default['id']}", headers=auth)
    assert response.status_code == 409
    assert "approved" in response.json["detail"]


def test_is_default_moves_the_default(client, auth):
    old = default_of(client, auth)
    new = create(client, auth, name="n", sender_id="+4791234567", is_default=True).json
    assert new["is_default"] is True
    assert default_of(client, auth)["id"] == new["id"]
    assert [p["is_default"] for p in profiles(client, auth) if p["id"] == old["id"]] == [False]
    sent = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers=auth).json
    message = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json
    assert message["from_number"] == "+4791234567"


def test_creating_without_is_default_keeps_the_default(client, auth):
    old = default_of(client, auth)
    create(client, auth, name="n", sender_id="+4791234567")
    assert default_of(client, auth)["id"] == old["id"]


def test_delete_the_only_profile_is_409(client, auth):
    only = default_of(client, auth)
    response = client.delete(f"{PATH}/{only['id']}", headers=auth)
    assert response.status_code == 409
    assert response.json["detail"]
    assert profiles(client, auth) == [only]


def test_delete_the_default_hands_the_default_to_another(client, auth):
    old = default_of(client, auth)
    other = create(client, auth, name="n", sender_id="+4791234567").json
    response = client.delete(f"{PATH}/{old['id']}", headers=auth)
    assert response.status_code == 200, response.json
    remaining = profiles(client, auth)
    assert [p["id"] for p in remaining] == [other["id"]]
    assert remaining[0]["is_default"] is True
    # and sending without a sender still works
    sent = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers=auth)
    assert sent.status_code == 200, sent.json


def test_delete_the_default_prefers_an_approved_successor(client, auth):
    old = default_of(client, auth)
    create(client, auth, name="brand", sender_id="MyBrand", brand_confirmation=True)  # pending, older
    approved = create(client, auth, name="n", sender_id="+4791234567").json
    client.delete(f"{PATH}/{old['id']}", headers=auth)
    assert default_of(client, auth)["id"] == approved["id"]


def test_delete_a_non_default_profile(client, auth):
    other = create(client, auth, name="n", sender_id="+4791234567").json
    assert client.delete(f"{PATH}/{other['id']}", headers=auth).status_code == 200
    assert other["id"] not in [p["id"] for p in profiles(client, auth)]
    assert client.delete(f"{PATH}/{other['id']}", headers=auth).status_code == 404


def test_delete_a_profile_that_has_sent_keeps_its_messages(client, auth, run_jobs):
    other = create(client, auth, name="n", sender_id="+4791234567").json
    sent = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi", "sender_profile_id": other["id"]},
                       headers=auth).json
    run_jobs()
    assert client.delete(f"{PATH}/{other['id']}", headers=auth).status_code == 200
    message = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json
    assert (message["status"], message["from_number"]) == ("DELIVERED", "+4791234567")


def test_approve_via_cli_then_the_profile_can_send(ctx, client, auth, run_jobs):
    profile = create(client, auth, name="marketing", sender_id="MyBrand", brand_confirmation=True).json
    send = {"to": "+4799999999", "message": "Hi", "sender_id": "MyBrand"}
    assert client.post("/v1/sms/send", json=send, headers=auth).status_code == 422
    result = approve(ctx, profile["id"])
    assert "approved" in result.output
    assert [p["approval_status"] for p in profiles(client, auth) if p["id"] == profile["id"]] == ["approved"]
    response = client.post("/v1/sms/send", json=send, headers=auth)
    assert response.status_code == 200, response.json
    run_jobs()
    message = client.get(f"/v1/sms/messages/{response.json['sms_message_id']}", headers=auth).json
    assert (message["from_number"], message["status"]) == ("MyBrand", "DELIVERED")


def test_reject_via_cli(ctx, client, auth):
    profile = create(client, auth, name="marketing", sender_id="MyBrand", brand_confirmation=True).json
    approve(ctx, profile["id"], "reject")
    assert [p["approval_status"] for p in profiles(client, auth) if p["id"] == profile["id"]] == ["rejected"]


def test_cli_approve_unknown_profile_fails_cleanly(ctx):
    result = ctx.test_cli_runner().invoke(args=["sender-profiles", "approve", "nope"])
    assert result.exit_code != 0
    assert "No sender profile" in result.output
