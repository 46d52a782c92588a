"""The one error shape (``detail`` string + ``error.code``) for every kind of bad request, and
no 500 for any of them."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Message


def count_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.data[:300])
    assert response.is_json, response.data[:300]
    body = response.json
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert body["error"]["message"] == body["detail"]
    if code:
        assert body["error"]["code"] == code
    return body


@pytest.mark.parametrize("data, content_type", [
    ("{not json", "application/json"),
    ("", "application/json"),
    ("[]", "application/json"),
    ('[{"to": "+4799999999", "message": "Hi"}]', "application/json"),
    ('"just a string"', "application/json"),
    ("null", "application/json"),
    ("42", "application/json"),
    ("to=%2B4799999999&message=Hi", "application/x-www-form-urlencoded"),
    (b'{"message": "\xff\xfe"}', "application/json"),
    ("[" * 100_000 + "]" * 100_000, "application/json"),
    ('{"a":' * 50_000 + "1" + "}" * 50_000, "application/json"),
    ('{"to": "+4799999999", "message": "Hi", "n": ' + "9" * 5000 + "}", "application/json"),
], ids=["malformed", "empty", "empty-array", "array-of-sends", "string", "null", "number", "form", "bad-utf8",
        "deep-array", "deep-object", "huge-int"])
def test_body_that_is_not_a_json_object_is_422(client, auth, data, content_type):
    response = client.post("/v1/sms/send", data=data, content_type=content_type, headers=auth)
    body = assert_error(response, 422)
    assert "JSON object" in body["detail"]
    assert count_messages() == 0


def test_curl_style_json_without_json_content_type_is_accepted(client, auth):
    # curl -d sends application/x-www-form-urlencoded unless told otherwise
    response = client.post("/v1/sms/send", data='{"to": ["+4799999999"], "message": "Hi"}',
                           content_type="application/x-www-form-urlencoded", headers=auth)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("field, value", [
    ("message", 123),
    ("message", None),
    ("message", ["Hi"]),
    ("to", 5),
    ("to", [4799999999]),
    ("to", {"number": "+4799999999"}),
    ("allow_reply", "maybe"),
    ("allow_reply", 1),
    ("customer_ref", 7),
    ("scheduled_at", 1767225600),
    ("timezone", 1),
    ("sender_profile_id", 3),
    ("callback_url", True),
    ("to_contacts", 5),
    ("to_groups", [1, 2]),
])
def test_wrong_types_are_422_naming_the_field(client, auth, field, value):
    body = {"to": ["+4799999999"], "message": "Hi", field: value}
    response = client.post("/v1/sms/send", json=body, headers=auth)
    error = assert_error(response, 422, "validation_error")
    assert field in error["detail"]
    assert any(e["loc"][:2] == ["body", field] for e in error["errors"])
    assert count_messages() == 0


def test_unknown_fields_are_ignored(client, auth):
    response = client.post("/v1/sms/send", json={"to": ["+4799999999"], "message": "Hi", "priority": "high",
                                                 "flash": True, "nested": {"a": [1, "\x00"]}}, headers=auth)
    assert response.status_code == 200, response.json


def test_null_optional_fields_are_accepted(client, auth):
    body = {"to": ["+4799999999"], "message": "Hi", "sender_profile_id": None, "sender_id": None, "allow_reply": None,
            "customer_ref": None, "callback_url": None, "scheduled_at": None, "timezone": None, "to_contacts": None,
            "to_groups": None}
    response = client.post("/v1/sms/send", json=body, headers=auth)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("path", ["/v1/sms/send", "/v1/sms/sender-profiles", "/v1/sms/estimate"])
def test_oversized_body_is_413_json(app, client, auth, monkeypatch, path):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post(path, json={"to": ["+4799999999"], "message": "a" * 2000, "name": "n"}, headers=auth)
    assert_error(response, 413, "payload_too_large")
    assert count_messages() == 0


def test_body_just_under_the_limit_is_fine(app, client, auth, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = client.post("/v1/sms/send", json={"to": ["+4799999999"], "message": "a" * 900}, headers=auth)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/sms/nope", "/v1/dashboard/sms/nope", "/v1/sms/messages/a/b/c",
                                  "/v1/sms/sender-profiles/x/y", "/v1"])
def test_unknown_route_under_v1_is_404_json(client, auth, path):
    assert_error(client.get(path, headers=auth), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/v1/sms/send", {"POST"}),
    ("PUT", "/v1/sms/messages", {"GET"}),
    ("DELETE", "/v1/sms/messages/abc", {"GET"}),
    ("GET", "/v1/sms/messages/abc/cancel", {"POST"}),
    ("PATCH", "/v1/sms/sender-profiles", {"GET", "POST"}),
    ("POST", "/v1/sms/usage", {"GET"}),
    ("POST", "/v1/dashboard/sms/stats", {"GET"}),
])
def test_wrong_method_is_405_json_with_allow(client, auth, method, path, allowed):
    response = client.open(path, method=method, headers=auth)
    assert_error(response, 405, "method_not_allowed")
    assert allowed <= set(h.strip() for h in response.headers["Allow"].split(","))


@pytest.mark.parametrize("method, path, json, status", [
    ("POST", "/v1/sms/send", {"to": "+4799999999"}, 422),
    ("POST", "/v1/sms/send", {"to": "+1", "message": "Hi"}, 422),
    ("POST", "/v1/sms/send", {"to": "+4799999999", "message": "Hi", "scheduled_at": "2025-12-17T09:00:00"}, 422),
    ("GET", "/v1/sms/messages?page=0", None, 422),
    ("GET", "/v1/sms/messages/nope", None, 404),
    ("POST", "/v1/sms/messages/nope/cancel", None, 404),
    ("POST", "/v1/sms/sender-profiles", {"name": "x", "sender_id": "ÆØÅ"}, 422),
    ("DELETE", "/v1/sms/sender-profiles/nope", None, 404),
    ("GET", "/v1/sms/usage?period=2025-13", None, 422),
    ("POST", "/v1/sms/send", [], 422),
])
def test_every_error_has_detail_and_code(client, auth, method, path, json, status):
    assert_error(client.open(path, method=method, json=json, headers=auth), status)


def test_bad_idempotency_key_is_422(client, auth):
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"},
                           headers={**auth, "Idempotency-Key": "k" * 300})
    assert_error(response, 422)
    assert count_messages() == 0


def test_validation_error_lists_fields_as_loc_msg_type(client, auth):
    body = assert_error(client.post("/v1/sms/send", json={"to": 5, "message": 123}, headers=auth), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "to"), ("body", "message")}
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


@pytest.mark.parametrize("query", [
    {"from": "0001-01-01T00:00:00+01:00"},
    {"to": "9999-12-31T23:59:59-01:00"},
    {"date_from": "9999-12-31"},
    {"from": "x" * 5000},
    {"status": "," * 1000},
    {"customer_ref": "\x00"},
    {"batch_id": "a" * 5000},
], ids=["year-1-offset", "year-9999-offset", "year-9999", "long-from", "commas", "nul", "long-batch"])
def test_extreme_query_values_never_500(client, auth, query):
    response = client.get("/v1/sms/messages", query_string=query, headers=auth)
    assert response.status_code in (200, 422), (response.status_code, response.json)
    if response.status_code == 422:
        assert_error(response, 422)


@pytest.mark.parametrize("path, body", [
    ("/v1/sms/send", {"to": "+4799999999", "message": "Hi\x00there"}),
    ("/v1/sms/send", {"to": "+4799999999", "message": "Hi", "customer_ref": "a\x00"}),
    ("/v1/sms/send", {"to": ["+4799999999\x00"], "message": "Hi"}),
    ("/v1/sms/sender-profiles", {"name": "n\x00", "sender_id": "+4791234567"}),
    ("/v1/sms/estimate", {"message": "\x00"}),
], ids=["message", "customer-ref", "to", "profile-name", "estimate"])
def test_nul_characters_in_the_body_are_422(client, auth, path, body):
    # PostgreSQL cannot store NUL in text; refusing it up front keeps both databases alike
    body = assert_error(client.post(path, json=body, headers=auth), 422)
    assert "NUL" in body["detail"]
    assert count_messages() == 0


@pytest.mark.parametrize("url, status", [
    ("/v1/sms/messages/%00", 404),
    ("/v1/sms/messages/abc%00/cancel", 404),
    ("/v1/sms/sender-profiles/%00", 404),
    ("/v1/sms/messages?customer_ref=%00", 422),
    ("/v1/sms/messages?batch_id=a%00b", 422),
    ("/v1/sms/usage?period=2025-12%00", 422),
    ("/v1/sms/messages?x%00=1", 422),
])
def test_nul_characters_in_the_url_never_500(client, auth, url, status):
    method = "DELETE" if url.startswith("/v1/sms/sender-profiles/") else "POST" if url.endswith("cancel") else "GET"
    assert_error(client.open(url, method=method, headers=auth), status)
