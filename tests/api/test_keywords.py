"""/v1/sms/keywords (and its /v1/dashboard/sms mirror): inbound keyword CRUD and the availability
check. The spelling rules themselves are tested table-driven in tests/sms/test_keywords.py."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Keyword

URL = "/v1/sms/keywords"


def _create(client, auth, **body):
    return client.post(URL, json={"keyword": "PROMO", **body}, headers=auth)


def test_create_get_list_patch_delete(client, auth):
    created = _create(client, auth, keyword="Promo", description="Spring sale",
                      webhook_url="https://example.com/hooks/sms", auto_reply_message="Thanks, you are in!",
                      auto_reply_enabled=True, unknown_field="ignored")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["keyword"] == "Promo"  # as written
    assert body["description"] == "Spring sale" and body["webhook_url"] == "https://example.com/hooks/sms"
    assert body["auto_reply_message"] == "Thanks, you are in!" and body["auto_reply_enabled"] is True
    assert body["is_active"] is True and body["messages_received"] == 0 and body["last_message_at"] is None
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")

    assert client.get(f"{URL}/{body['id']}", headers=auth).json == body
    _create(client, auth, keyword="alpha")
    listed = client.get(URL, headers=auth)
    assert listed.status_code == 200 and isinstance(listed.json, list)  # a bare array
    assert [k["keyword"] for k in listed.json] == ["alpha", "Promo"]

    changed = client.patch(f"{URL}/{body['id']}", json={"description": None, "is_active": False,
                                                        "auto_reply_enabled": None}, headers=auth)
    assert changed.status_code == 200, changed.json
    assert changed.json["description"] is None and changed.json["is_active"] is False
    assert changed.json["auto_reply_enabled"] is True  # null for a flag leaves it alone
    assert changed.json["webhook_url"] == "https://example.com/hooks/sms"  # not sent: unchanged

    deleted = client.delete(f"{URL}/{body['id']}", headers=auth)
    assert deleted.status_code == 200 and deleted.json == {"message": "Keyword deleted", "id": body["id"]}
    assert client.get(f"{URL}/{body['id']}", headers=auth).status_code == 404
    assert _create(client, auth, keyword="PROMO").status_code == 201  # the word is free again


def test_defaults(client, auth):
    body = _create(client, auth).json
    assert body["description"] is None and body["webhook_url"] is None and body["auto_reply_message"] is None
    assert body["auto_reply_enabled"] is False and body["is_active"] is True


@pytest.mark.parametrize("body,status,code", [
    ({"keyword": "A"}, 422, "invalid_keyword"),
    ({"keyword": "A" * 21}, 422, "invalid_keyword"),
    ({"keyword": "two words"}, 422, "invalid_keyword"),
    ({"keyword": "BLÅ"}, 422, "invalid_keyword"),
    ({"keyword": "promo!"}, 422, "invalid_keyword"),
    ({"keyword": ""}, 422, "invalid_keyword"),
    ({}, 422, "validation_error"),
    ({"keyword": 42}, 422, "validation_error"),
    ({"keyword": "PROMO", "is_active": "yes"}, 422, "validation_error"),
    ({"keyword": "PROMO", "webhook_url": "http://example.com/hook"}, 422, "invalid_webhook_url"),
    ({"keyword": "PROMO", "webhook_url": "https://127.0.0.1/hook"}, 422, "invalid_webhook_url"),
    ({"keyword": "PROMO", "webhook_url": "https://169.254.169.254/latest"}, 422, "invalid_webhook_url"),
    ({"keyword": "PROMO", "webhook_url": "not a url"}, 422, "invalid_webhook_url"),
    ({"keyword": "PROMO", "auto_reply_enabled": True}, 422, "auto_reply_message_required"),
    ({"keyword": "PROMO", "auto_reply_message": "x" * 1601}, 422, "invalid_message"),
    ({"keyword": "PROMO", "description": "x" * 501}, 422, "validation_error"),
])
def test_validation(client, auth, body, status, code):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["detail"]
    assert client.get(URL, headers=auth).json == []


def test_webhook_error_names_the_field(client, auth):
    response = _create(client, auth, webhook_url="http://example.com/")
    assert "webhook_url" in response.json["detail"] and "callback_url" not in response.json["detail"]
    assert response.json["errors"][0]["loc"] == ["body", "webhook_url"]


def test_not_a_json_object(client, auth):
    for data in ("[1]", "nope", ""):
        response = client.post(URL, data=data, headers={**auth, "Content-Type": "application/json"})
        assert response.status_code == 422 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("word", ["STOP", "stop", "Stopp", "SLUTT", "AVSLUTT", "UNSUBSCRIBE", "END", "CANCEL",
                                  "QUIT", "STOPALL", "START", "STARTIGJEN", "UNSTOP", "HELP", "HJELP", "INFO"])
def test_reserved_words_are_refused(client, auth, word):
    response = _create(client, auth, keyword=word)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "reserved_keyword"
    assert "reserved" in response.json["detail"] and word in response.json["detail"]


@pytest.mark.parametrize("second", ["PROMO", "promo", "Promo", " promo "])
def test_duplicates_ignore_case(client, auth, second):
    assert _create(client, auth, keyword="PROMO").status_code == 201
    response = _create(client, auth, keyword=second)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "keyword_taken" and "PROMO" in response.json["detail"]
    assert len(client.get(URL, headers=auth).json) == 1


def test_the_database_enforces_one_keyword_per_account(client, auth, account):
    """Two requests racing past the check: the unique key still refuses the second."""
    from sqlalchemy.exc import IntegrityError

    db.session.add(Keyword(account_id=account.id, keyword="Promo"))
    db.session.commit()
    db.session.add(Keyword(account_id=account.id, keyword="PROMO"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_keyword_is_immutable(client, auth):
    kid = _create(client, auth, keyword="Promo").json["id"]
    for sent in ("OTHER", "PROMO", "promo", None, 5):
        response = client.patch(f"{URL}/{kid}", json={"keyword": sent}, headers=auth)
        assert response.status_code == 422, sent
        if sent is not None and not isinstance(sent, int):
            assert response.json["error"]["code"] == "keyword_immutable"
            assert "cannot be changed" in response.json["detail"]
    # Echoing the current keyword (clients that send the whole object) is fine.
    same = client.patch(f"{URL}/{kid}", json={"keyword": "Promo", "description": "x"}, headers=auth)
    assert same.status_code == 200 and same.json["keyword"] == "Promo" and same.json["description"] == "x"


@pytest.mark.parametrize("changes,code", [
    ({"webhook_url": "https://10.1.2.3/x"}, "invalid_webhook_url"),
    ({"auto_reply_enabled": True}, "auto_reply_message_required"),
    ({"auto_reply_message": None, "auto_reply_enabled": True}, "auto_reply_message_required"),
    ({"is_active": "no"}, "validation_error"),
])
def test_patch_validation(client, auth, changes, code):
    kid = _create(client, auth).json["id"]
    response = client.patch(f"{URL}/{kid}", json=changes, headers=auth)
    assert response.status_code == 422 and response.json["error"]["code"] == code
    assert client.get(f"{URL}/{kid}", headers=auth).json["webhook_url"] is None


def test_auto_reply_message_cannot_be_cleared_while_enabled(client, auth):
    kid = _create(client, auth, auto_reply_message="Hi", auto_reply_enabled=True).json["id"]
    assert client.patch(f"{URL}/{kid}", json={"auto_reply_message": ""}, headers=auth).status_code == 422
    both = client.patch(f"{URL}/{kid}", json={"auto_reply_message": None, "auto_reply_enabled": False}, headers=auth)
    assert both.status_code == 200 and both.json["auto_reply_message"] is None


@pytest.mark.parametrize("word,available,reason", [
    ("JOIN", True, None),
    ("join", True, None),
    ("promo", False, "taken"),
    ("PROMO", False, "taken"),
    ("STOP", False, "reserved"),
    ("hjelp", False, "reserved"),
    ("A", False, "invalid"),
    ("BLÅ", False, "invalid"),
    ("two words", False, "invalid"),
    ("x" * 300, False, "invalid"),
])
def test_check(client, auth, word, available, reason):
    _create(client, auth, keyword="Promo")
    response = client.get(f"{URL}/check/{word}", headers=auth)
    assert response.status_code == 200
    assert response.json["available"] is available and response.json["reason"] == reason
    assert response.json["keyword"] == word
    assert (response.json["message"] is None) is available
    if reason == "taken":
        assert "Promo" in response.json["message"]


def test_tenant_isolation(client, auth, other_account):
    _, other_auth = other_account
    mine = _create(client, auth, keyword="Promo").json["id"]
    # The same word is free in another account, and each sees only its own.
    assert client.get(f"{URL}/check/PROMO", headers=other_auth).json["available"] is True
    theirs = _create(client, other_auth, keyword="PROMO")
    assert theirs.status_code == 201
    assert [k["id"] for k in client.get(URL, headers=other_auth).json] == [theirs.json["id"]]
    for method, json in (("get", None), ("patch", {"description": "x"}), ("delete", None)):
        response = client.open(f"{URL}/{mine}", method=method.upper(), json=json, headers=other_auth)
        assert response.status_code == 404, method
        assert "Promo" not in response.get_data(as_text=True)
    assert client.get(f"{URL}/{mine}", headers=auth).json["description"] is None


@pytest.mark.parametrize("method,path", [("get", URL), ("post", URL), ("get", URL + "/check/PROMO"),
                                         ("get", URL + "/x"), ("patch", URL + "/x"), ("delete", URL + "/x")])
def test_auth_required(client, account, method, path):
    for headers in ({}, {"X-API-Key": "wayscloud_sms_nope_secret"}):
        response = client.open(path, method=method.upper(), json={"keyword": "PROMO"}, headers=headers)
        assert response.status_code == 401
    assert db.session.query(Keyword).count() == 0


def test_both_prefixes_serve_the_same_keywords(client, auth, api_key):
    bearer = {"Authorization": f"Bearer {api_key}"}
    created = client.post("/v1/dashboard/sms/keywords", json={"keyword": "Join"}, headers=bearer)
    assert created.status_code == 201
    kid = created.json["id"]
    assert client.get(f"{URL}/{kid}", headers=auth).json == created.json
    assert client.get("/v1/dashboard/sms/keywords", headers=bearer).json == client.get(URL, headers=auth).json
    assert client.get("/v1/dashboard/sms/keywords/check/JOIN", headers=bearer).json["reason"] == "taken"
    assert client.patch(f"/v1/dashboard/sms/keywords/{kid}", json={"is_active": False},
                        headers=bearer).json["is_active"] is False
    assert client.delete(f"/v1/dashboard/sms/keywords/{kid}", headers=bearer).status_code == 200
    assert client.get(f"{URL}/{kid}", headers=auth).status_code == 404
