"""The official WAYSCloud Python SDK, unchanged, against smsdesk served over real HTTP.

The app runs in a werkzeug server thread on 127.0.0.1 (same app, same database); only the SDK's
base URL differs from production use.
"""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

# A test dependency (pyproject's test extra): missing, the suite must fail, not skip.
from wayscloud import WaysCloudClient
from wayscloud.exceptions import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ValidationError,
)


@pytest.fixture
def base_url(ctx):
    server = make_server("127.0.0.1", 0, ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sdk-test-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sdk(base_url, api_key):
    with WaysCloudClient(api_key=api_key, base_url=base_url) as client:
        yield client


def test_send_with_a_string_recipient(sdk):
    result = sdk.sms.send(to="+4799999999", message="Hi")
    assert result["to"] == ["+4799999999"]
    assert result["status"] == "QUEUED"
    assert result["units_estimate"] == 1
    assert result["sms_message_id"]


def test_send_then_get_reaches_delivered(sdk, run_jobs):
    sent = sdk.sms.send(to="+4799999999", message="Your order has shipped.")
    assert sdk.sms.get(sent["sms_message_id"])["status"] == "QUEUED"
    run_jobs()
    message = sdk.sms.get_message(sent["sms_message_id"])
    assert (message["status"], message["body"], message["to_number"]) == ("DELIVERED", "Your order has shipped.",
                                                                           "+4799999999")


def test_send_with_sender_id(sdk):
    profile = sdk.post("/v1/sms/sender-profiles", json={"name": "support", "sender_id": "+4791234567"})
    assert profile["approval_status"] == "approved"
    sent = sdk.sms.send(to="+4799999999", message="Hi", sender_id="+4791234567")
    assert sdk.sms.get(sent["sms_message_id"])["from_number"] == "+4791234567"


def test_send_with_a_pending_sender_id_surfaces_our_detail(sdk):
    sdk.post("/v1/sms/sender-profiles", json={"name": "brand", "sender_id": "MyBrand", "brand_confirmation": True})
    with pytest.raises(ValidationError) as raised:
        sdk.sms.send(to="+4799999999", message="Hi", sender_id="MyBrand")
    assert raised.value.status_code == 422
    assert "pending" in raised.value.detail


def test_list(sdk):
    ids = {sdk.sms.send(to=number, message="Hi")["sms_message_id"] for number in ("+4799999999", "+4798888888")}
    listed = sdk.sms.list()
    assert isinstance(listed, list)
    assert {m["id"] for m in listed} == ids
    assert {m["id"] for m in sdk.sms.messages()} == ids


def test_invalid_number_is_a_validation_error_with_our_detail(sdk):
    with pytest.raises(ValidationError) as raised:
        sdk.sms.send(to="+47123", message="Hi")
    assert raised.value.status_code == 422
    assert "'+47123' is too short" in raised.value.detail
    assert "+47123" in str(raised.value)


def test_empty_message_is_a_validation_error(sdk):
    with pytest.raises(ValidationError) as raised:
        sdk.sms.send(to="+4799999999", message="")
    assert "empty" in raised.value.detail


def test_unknown_message_is_not_found(sdk):
    with pytest.raises(NotFoundError) as raised:
        sdk.sms.get("no-such-message")
    assert "no-such-message" in raised.value.detail


def test_cancel_delivered_is_a_conflict(sdk, run_jobs):
    sent = sdk.sms.send(to="+4799999999", message="Hi")
    run_jobs()
    with pytest.raises(ConflictError) as raised:
        sdk.post(f"/v1/sms/messages/{sent['sms_message_id']}/cancel")
    assert "DELIVERED" in raised.value.detail


def test_wrong_key_is_an_authentication_error(base_url, api_key):
    with WaysCloudClient(api_key=api_key[:-2] + "xx", base_url=base_url) as client:
        with pytest.raises(AuthenticationError) as raised:
            client.sms.list()
    assert raised.value.status_code == 401
    assert raised.value.detail == "Invalid or revoked API key"


def test_token_auth_uses_bearer(base_url, api_key):
    # the SDK sends a non-"wayscloud_api_" token as Authorization: Bearer
    with WaysCloudClient(token=api_key, base_url=base_url) as client:
        assert client.sms.list() == []
