"""NUL and unpaired surrogates are refused with a clear 4xx wherever a client can put them
(they cannot be stored, and PostgreSQL errors on NUL in comparisons)."""
import pytest

BAD = ["\x00", "\ud800", "a\udfffb"]


def _raw_json(text: str) -> str:
    # json.dumps would escape these the same way a hostile client does
    import json

    return json.dumps(text)


@pytest.mark.parametrize("bad", BAD, ids=["nul", "high-surrogate", "low-surrogate"])
@pytest.mark.parametrize("path, template", [
    ("/v1/sms/send", '{"to": "+4799999999", "message": %s}'),
    ("/v1/sms/send", '{"to": "+4799999999", "message": "Hi", "customer_ref": %s}'),
    ("/v1/sms/send", '{"to": "+4799999999", "message": "Hi", "sender_id": %s}'),
    ("/v1/sms/send", '{"to": [%s], "message": "Hi"}'),
    ("/v1/sms/sender-profiles", '{"name": %s, "sender_id": "+4799999999"}'),
    ("/v1/contacts", '{"name": %s}'),
    ("/v1/contacts/groups", '{"name": %s}'),
], ids=["message", "customer_ref", "sender_id", "to", "profile-name", "contact-name", "group-name"])
def test_json_fields(client, auth, path, template, bad):
    response = client.post(path, data=template % _raw_json(bad), headers=auth, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "NUL" in response.json["detail"] or "surrogate" in response.json["detail"]


@pytest.mark.parametrize("url", [
    "/v1/sms/messages?customer_ref=%00",
    "/v1/sms/messages?batch_id=a%00b",
    "/v1/contacts?search=%00",
    "/v1/contacts/groups?search=%00",
], ids=["customer_ref", "batch_id", "contact-search", "group-search"])
def test_query_parameters(client, auth, url):
    response = client.get(url, headers=auth)
    assert response.status_code == 422
    assert "NUL" in response.json["detail"]


@pytest.mark.parametrize("url", ["/v1/sms/messages/a%00b", "/v1/contacts/a%00b", "/v1/contacts/groups/a%00b"])
def test_ids_in_paths_are_not_found(client, auth, url):
    assert client.get(url, headers=auth).status_code == 404
