"""API key authentication: X-API-Key or Authorization: Bearer, on every /v1/sms and
/v1/dashboard/sms endpoint; anything else is a JSON 401, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, new_id

# Every endpoint with a path that resolves (ids need not exist: authentication comes first).
ENDPOINTS = [
    ("POST", "/send"),
    ("POST", "/estimate"),
    ("GET", "/messages"),
    ("GET", "/messages/{id}"),
    ("POST", "/messages/{id}/cancel"),
    ("GET", "/sender-profiles"),
    ("POST", "/sender-profiles"),
    ("DELETE", "/sender-profiles/{id}"),
    ("GET", "/status"),
    ("GET", "/usage"),
    ("GET", "/stats"),
    ("GET", "/pricing"),
    ("GET", "/pricing/messages"),
]
PREFIXES = ["/v1/sms", "/v1/dashboard/sms"]


def call(client, method, path, headers, json=None):
    return client.open(path.replace("{id}", new_id()), method=method, headers=headers, json=json)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("method, path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_every_endpoint_requires_a_key(client, account, prefix, method, path):
    response = call(client, method, prefix + path, {})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "API key" in response.json["detail"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("method, path", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_every_endpoint_accepts_a_key_under_both_prefixes(client, api_key, prefix, method, path):
    for headers in ({"X-API-Key": api_key}, {"Authorization": f"Bearer {api_key}"}):
        response = call(client, method, prefix + path, headers, json={})
        # a good key passes authentication; what follows depends on the (empty) input
        assert response.status_code in (200, 404, 422), (response.status_code, response.json)
        assert response.status_code != 401


@pytest.mark.parametrize("headers", [
    lambda key: {"X-API-Key": key},
    lambda key: {"Authorization": f"Bearer {key}"},
    lambda key: {"Authorization": f"bearer  {key} "},
    lambda key: {"X-API-Key": f"  {key}  "},
    lambda key: {"X-API-Key": key, "Authorization": f"Bearer {key}"},
    lambda key: {"X-API-Key": key, "Authorization": "Bearer garbage"},
    lambda key: {"X-API-Key": "garbage", "Authorization": f"Bearer {key}"},
    lambda key: {"X-API-Key": key, "Authorization": "Basic dXNlcjpwYXNz"},
], ids=["x-api-key", "bearer", "bearer-lowercase-spaces", "x-api-key-spaces", "both", "good-x-bad-bearer",
        "bad-x-good-bearer", "x-api-key-and-basic"])
def test_accepted_key_forms(client, api_key, headers):
    response = client.get("/v1/sms/messages", headers=headers(api_key))
    assert response.status_code == 200, response.json


def test_the_key_selects_its_account(client, auth, other_account):
    _, other_auth = other_account
    assert client.get("/v1/sms/pricing", headers=auth).json["currency"] == "NOK"
    assert client.get("/v1/sms/pricing", headers=other_auth).json["currency"] == "EUR"
    bearer = {"Authorization": "Bearer " + other_auth["X-API-Key"]}
    assert client.get("/v1/dashboard/sms/pricing", headers=bearer).json["currency"] == "EUR"


def _tamper(key: str, part: str) -> str:
    prefix, rest = key[: len("wayscloud_sms")], key[len("wayscloud_sms_"):]
    key_id, secret = rest[:10], rest[11:]
    if part == "secret":
        return f"{prefix}_{key_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    if part == "key_id":
        return f"{prefix}_zzzzzzzzzz_{secret}"
    if part == "prefix":
        return f"wayscloud_api_{key_id}_{secret}"
    if part == "no_secret":
        return f"{prefix}_{key_id}_"
    return f"{prefix}_{key_id}"


@pytest.mark.parametrize("part", ["secret", "key_id", "prefix", "no_secret", "truncated"])
def test_wrong_key_is_401(client, api_key, part):
    for headers in ({"X-API-Key": _tamper(api_key, part)}, {"Authorization": f"Bearer {_tamper(api_key, part)}"}):
        response = client.get("/v1/sms/messages", headers=headers)
        assert response.status_code == 401
        assert response.json["detail"] == "Invalid or revoked API key"


def test_revoked_key_is_401(client, api_key):
    assert client.get("/v1/sms/messages", headers={"X-API-Key": api_key}).status_code == 200
    key = db.session.scalar(select(ApiKey))
    key.revoke()
    db.session.commit()
    response = client.get("/v1/sms/messages", headers={"X-API-Key": api_key})
    assert response.status_code == 401
    assert "revoked" in response.json["detail"]


def test_inactive_account_is_401(client, account, api_key):
    account.is_active = False
    db.session.commit()
    assert client.get("/v1/sms/messages", headers={"X-API-Key": api_key}).status_code == 401


@pytest.mark.parametrize("headers", [
    {"X-API-Key": ""},
    {"X-API-Key": "   "},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Token abc"},
    {"X-API-Key": "x" * 100_000},
    {"X-API-Key": "wayscloud_sms_" + "abcdefghij_" * 5000},
    {"Authorization": "Bearer " + "_" * 10_000},
    {"X-API-Key": "wayscloud_sms_abcdefghij_\u00e6\u00f8\u00e5\u00ff"},
    {"X-API-Key": "ключ_abcdefghij_секрет".encode().decode("latin-1")},
    {"X-API-Key": "\x00\x01\x02"},
    {"X-API-Key": "wayscloud_sms_abcdefghij_" + "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")},
    {"Authorization": "Bearer \u00e6\u00f8\u00e5"},
], ids=["empty", "blank", "bearer-no-token", "bearer-blank", "basic", "token-scheme", "very-long", "many-key-ids",
        "underscores", "latin1", "utf8-bytes", "control", "surrogate-bytes", "bearer-latin1"])
def test_garbage_credentials_are_401_not_500(client, account, headers):
    response = client.get("/v1/sms/messages", headers=headers)
    assert response.status_code == 401, response.data[:200]
    assert response.json["detail"]
    assert response.json["error"]["code"] == "unauthorized"


def test_missing_key_detail_says_where_to_put_it(client):
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"})
    assert response.status_code == 401
    assert "X-API-Key" in response.json["detail"]


def test_a_request_without_a_key_creates_nothing(client, account):
    from sqlalchemy import func

    from app.models import Message

    client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers={"X-API-Key": "nope"})
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_last_used_is_recorded(client, api_key):
    assert db.session.scalar(select(ApiKey)).last_used_at is None
    client.get("/v1/sms/messages", headers={"X-API-Key": api_key})
    db.session.expire_all()
    assert db.session.scalar(select(ApiKey)).last_used_at is not None
