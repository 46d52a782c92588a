"""/v1/contacts: CRUD, filters, validation, GDPR erasure, tenant isolation, and the opt-out list."""
from __future__ import annotations

import re

import pytest

URL = "/v1/contacts"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CONTACT_FIELDS = {"id", "type", "contact_type", "name", "first_name", "last_name", "company_name",
                  "phone_number", "email", "tags", "notes", "created_at", "updated_at", "anonymised_at"}


def create(client, auth, **fields) -> dict:
    response = client.post(URL, json=fields, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def names(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [c["name"] for c in response.json["contacts"]]


# -- create and read ------------------------------------------------------------------------------

def test_create_returns_every_field_and_get_returns_the_same(client, auth):
    body = {"type": "person", "name": "Kari Nordmann", "first_name": "Kari", "last_name": "Nordmann",
            "company_name": "Acme AS", "phone_number": "+47 912 34 567", "email": "kari@example.no",
            "tags": ["vip", "oslo"], "notes": "Prefers SMS after 10:00"}
    created = create(client, auth, **body)
    assert set(created) == CONTACT_FIELDS
    assert created["phone_number"] == "+4791234567"
    assert created["contact_type"] == created["type"] == "person"
    assert created["tags"] == ["vip", "oslo"]
    assert ISO_Z.match(created["created_at"]) and ISO_Z.match(created["updated_at"])
    assert created["anonymised_at"] is None
    for field in ("name", "first_name", "last_name", "company_name", "email", "notes"):
        assert created[field] == body[field]
    fetched = client.get(f"{URL}/{created['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.json == created


def test_create_with_only_a_name_has_defaults(client, auth):
    created = create(client, auth, name="Ola")
    assert created["type"] == "person"
    assert created["tags"] == []
    assert all(created[f] is None for f in ("first_name", "last_name", "company_name", "phone_number",
                                             "email", "notes"))


@pytest.mark.parametrize("body, name, kind", [
    ({"first_name": "Ola", "last_name": "Nordmann"}, "Ola Nordmann", "person"),
    ({"first_name": "Ola"}, "Ola", "person"),
    ({"last_name": "Nordmann"}, "Nordmann", "person"),
    ({"name": "Explicit", "first_name": "Ola", "last_name": "Nordmann"}, "Explicit", "person"),
    ({"type": "company", "company_name": "Acme AS"}, "Acme AS", "company"),
    ({"contact_type": "company", "company_name": "Acme AS"}, "Acme AS", "company"),
    ({"type": "COMPANY", "contact_type": "company", "name": "Acme"}, "Acme", "company"),
    ({"name": "  Padded  "}, "Padded", "person"),
    ({"name": "Ærlig Østby Åsen 李"}, "Ærlig Østby Åsen 李", "person"),
], ids=["first+last", "first", "last", "name-wins", "company", "contact_type-alias", "both-types",
        "trimmed", "unicode"])
def test_name_and_type_rules(client, auth, body, name, kind):
    created = create(client, auth, **body)
    assert (created["name"], created["type"], created["contact_type"]) == (name, kind, kind)


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "O'Brien & \"Sons\" <b>", "Robert'); DROP TABLE contacts;--"])
def test_markup_and_quotes_are_stored_and_returned_as_is(client, auth, text):
    created = create(client, auth, name=text, notes=text, company_name=text, tags=[text])
    again = client.get(f"{URL}/{created['id']}", headers=auth).json
    assert (again["name"], again["notes"], again["company_name"], again["tags"]) == (text, text, text, [text])


@pytest.mark.parametrize("phone", ["91234567", "912 34 567", "+47 912-34-567", "004791234567", "(+47) 91234567"])
def test_national_and_formatted_numbers_become_e164(client, auth, phone):
    assert create(client, auth, name="N", phone_number=phone)["phone_number"] == "+4791234567"


def test_blank_optional_strings_mean_none(client, auth):
    created = create(client, auth, name="N", phone_number="  ", email="", notes=" ", company_name="")
    assert created["phone_number"] is created["email"] is created["notes"] is created["company_name"] is None


@pytest.mark.parametrize("tags, stored", [
    (["vip", " oslo ", "VIP", ""], ["vip", "oslo"]),
    ("vip, oslo,,", ["vip", "oslo"]),
    ([], []),
    (None, []),
])
def test_tags_are_cleaned(client, auth, tags, stored):
    assert create(client, auth, name="N", tags=tags)["tags"] == stored


# -- validation: always a 4xx with a detail, never a 500 -------------------------------------------

@pytest.mark.parametrize("body, needle", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"type": "company"}, "name"),
    ({"name": 123}, "name"),
    ({"name": ["a"]}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "N", "first_name": "x" * 101}, "first_name"),
    ({"name": "N", "type": "robot"}, "type"),
    ({"name": "N", "contact_type": "robot"}, "type"),
    ({"name": "N", "type": 1}, "type"),
    ({"name": "N", "type": "person", "contact_type": "company"}, "disagree"),
    ({"name": "N", "phone_number": "abc"}, "phone_number"),
    ({"name": "N", "phone_number": "+47 123"}, "phone_number"),
    ({"name": "N", "phone_number": "+999 1234567"}, "phone_number"),
    ({"name": "N", "phone_number": "1" * 40}, "phone_number"),
    ({"name": "N", "phone_number": 4791234567}, "phone_number"),
    ({"name": "N", "email": "not-an-email"}, "email"),
    ({"name": "N", "email": "a@b"}, "email"),
    ({"name": "N", "email": "a b@example.com"}, "email"),
    ({"name": "N", "email": 5}, "email"),
    ({"name": "N", "tags": [1, 2]}, "tags"),
    ({"name": "N", "tags": {"a": 1}}, "tags"),
    ({"name": "N", "tags": ["x" * 51]}, "tags"),
    ({"name": "N", "tags": [f"t{i}" for i in range(51)]}, "tags"),
    ({"name": "N", "tags": ["a,b"]}, "comma"),
    ({"name": "N", "notes": 7}, "notes"),
    ({"name": "N", "notes": "x" * 10_001}, "notes"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_invalid_fields_are_422_naming_the_field(client, auth, body, needle):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert needle in response.json["detail"]
    assert response.json["error"]["code"]


def test_invalid_phone_message_names_the_value(client, auth):
    response = client.post(URL, json={"name": "N", "phone_number": "12ab"}, headers=auth)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_phone_number"
    assert "phone_number" in response.json["detail"] and "'12ab'" in response.json["detail"]
    assert response.json["errors"][0]["loc"] == ["body", "phone_number"]


@pytest.mark.parametrize("method", ["post", "patch", "put"])
@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"null", b"\"text\"", b"", b"\xff\xfe"])
def test_malformed_bodies_are_422(client, auth, method, raw):
    contact = create(client, auth, name="Target")
    url = URL if method == "post" else f"{URL}/{contact['id']}"
    response = getattr(client, method)(url, data=raw, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.json
    assert response.json["detail"]


def test_unknown_fields_are_ignored(client, auth):
    created = create(client, auth, name="N", favourite_colour="blue", id="chosen-by-client")
    assert "favourite_colour" not in created and created["id"] != "chosen-by-client"


def test_form_content_type_is_read_as_json(client, auth):
    response = client.post(URL, data='{"name": "curl -d"}', headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 201 and response.json["name"] == "curl -d"


# -- one contact per number -----------------------------------------------------------------------

def test_duplicate_phone_is_409_naming_the_existing_contact(client, auth):
    first = create(client, auth, name="First", phone_number="+4791234567")
    response = client.post(URL, json={"name": "Second", "phone_number": "912 34 567"}, headers=auth)
    assert response.status_code == 409
    assert first["id"] in response.json["detail"]
    assert response.json["error"]["code"] == "duplicate_phone_number"


def test_changing_to_a_taken_number_is_409_but_keeping_your_own_is_fine(client, auth):
    first = create(client, auth, name="First", phone_number="+4791234567")
    second = create(client, auth, name="Second", phone_number="+4792345678")
    taken = client.patch(f"{URL}/{second['id']}", json={"phone_number": "+4791234567"}, headers=auth)
    assert taken.status_code == 409 and first["id"] in taken.json["detail"]
    same = client.put(f"{URL}/{first['id']}", json={"name": "First", "phone_number": "91234567"}, headers=auth)
    assert same.status_code == 200, same.json


def test_contacts_without_numbers_do_not_collide(client, auth):
    create(client, auth, name="A")
    create(client, auth, name="B")


def test_the_same_number_may_be_a_contact_in_two_accounts(client, auth, other_account):
    _, other = other_account
    create(client, auth, name="Mine", phone_number="+4791234567")
    create(client, other, name="Theirs", phone_number="+4791234567")


# -- list, paging and filters ---------------------------------------------------------------------

@pytest.fixture
def directory(client, auth):
    """Five contacts with varied fields; returns them by name."""
    rows = [
        {"name": "Øystein Ås", "phone_number": "+4791234567", "email": "oy@example.no", "tags": ["VIP", "oslo"]},
        {"name": "anna berg", "phone_number": "+4792345678", "tags": ["oslo"], "company_name": "Fjord AS"},
        {"type": "company", "name": "Acme AS", "phone_number": "+4741234567", "tags": ["vip", "b2b"]},
        {"name": "Carl 100%_off", "email": "carl@shop.example", "tags": ["b2b"]},
        {"name": "Berit", "phone_number": "+46701234567"},
    ]
    return {r["name"]: create(client, auth, **r) for r in rows}


def test_list_envelope_and_alphabetical_order(client, auth, directory):
    response = client.get(URL, headers=auth)
    body = response.json
    assert {"contacts", "total", "page", "per_page", "page_size", "has_more"} <= set(body)
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == body["page_size"] == 50
    assert body["has_more"] is False
    assert names(response) == ["Acme AS", "anna berg", "Berit", "Carl 100%_off", "Øystein Ås"]
    assert all(set(c) == CONTACT_FIELDS for c in body["contacts"])


@pytest.mark.parametrize("query, page, expected, has_more", [
    ("per_page=2", 1, ["Acme AS", "anna berg"], True),
    ("per_page=2&page=2", 2, ["Berit", "Carl 100%_off"], True),
    ("page_size=2&page=3", 3, ["Øystein Ås"], False),
    ("per_page=2&page=9", 9, [], False),
])
def test_paging(client, auth, directory, query, page, expected, has_more):
    response = client.get(f"{URL}?{query}", headers=auth)
    assert names(response) == expected
    assert (response.json["page"], response.json["page_size"], response.json["total"], response.json["has_more"]) \
        == (page, 2, 5, has_more)


@pytest.mark.parametrize("query, expected", [
    ("type=company", ["Acme AS"]),
    ("type=PERSON", ["anna berg", "Berit", "Carl 100%_off", "Øystein Ås"]),
    ("contact_type=company", ["Acme AS"]),
    ("search=ANNA", ["anna berg"]),
    ("search=øystein", ["Øystein Ås"]),  # case-insensitive beyond ASCII, on SQLite too
    ("search=fjord", ["anna berg"]),  # company name
    ("search=shop.example", ["Carl 100%_off"]),  # email
    ("search=912 34", ["Øystein Ås"]),  # phone, typed with a space
    ("search=%2B4741", ["Acme AS"]),  # +4741...
    ("search=100%25_", ["Carl 100%_off"]),  # % and _ are literal characters, not wildcards
    ("search=%25", ["Carl 100%_off"]),
    ("search=_", ["Carl 100%_off"]),
    ("search=nobody", []),
    ("tags=vip", ["Acme AS", "Øystein Ås"]),  # case-insensitive
    ("tags=VIP,oslo", ["Øystein Ås"]),  # ALL of them
    ("tags=oslo&tags=vip", ["Øystein Ås"]),
    ("tag=b2b", ["Acme AS", "Carl 100%_off"]),
    ("tags=vi", []),  # whole tags only
    ("tags=oslo,nope", []),
    ("tags=,", ["Acme AS", "anna berg", "Berit", "Carl 100%_off", "Øystein Ås"]),
    ("type=company&tags=b2b&search=acme", ["Acme AS"]),
])
def test_filters(client, auth, directory, query, expected):
    assert names(client.get(f"{URL}?{query}", headers=auth)) == expected


def test_group_id_filter(client, auth, directory):
    group = client.post(f"{URL}/groups", json={"name": "Oslo"}, headers=auth).json
    ids = [directory["anna berg"]["id"], directory["Berit"]["id"]]
    client.post(f"{URL}/groups/{group['id']}/members", json={"contact_ids": ids}, headers=auth)
    assert names(client.get(f"{URL}?group_id={group['id']}", headers=auth)) == ["anna berg", "Berit"]
    assert names(client.get(f"{URL}?group_id={group['id']}&search=ber", headers=auth)) == ["anna berg", "Berit"]
    assert names(client.get(f"{URL}?group_id={group['id']}&search=berit", headers=auth)) == ["Berit"]


@pytest.mark.parametrize("query, status", [
    ("type=robot", 422),
    ("page=0", 422),
    ("page=abc", 422),
    ("per_page=-1", 422),
    ("search=" + "x" * 201, 422),
    ("group_id=no-such-group", 404),
    ("group_id=" + "x" * 500, 404),
])
def test_bad_list_queries(client, auth, query, status):
    response = client.get(f"{URL}?{query}", headers=auth)
    assert response.status_code == status
    assert response.json["detail"]


def test_per_page_is_capped(client, auth):
    assert client.get(f"{URL}?per_page=100000", headers=auth).json["page_size"] == 500


# -- change ---------------------------------------------------------------------------------------

def test_patch_changes_only_given_fields_and_null_clears(client, auth):
    contact = create(client, auth, name="Kari", email="kari@example.no", notes="n", tags=["a"],
                     phone_number="+4791234567")
    response = client.patch(f"{URL}/{contact['id']}", json={"email": None, "tags": ["b"], "notes": "new"}, headers=auth)
    assert response.status_code == 200, response.json
    changed = response.json
    assert (changed["email"], changed["tags"], changed["notes"]) == (None, ["b"], "new")
    assert (changed["name"], changed["phone_number"]) == ("Kari", "+4791234567")
    assert changed["created_at"] == contact["created_at"]
    assert client.get(f"{URL}/{contact['id']}", headers=auth).json == changed


def test_patch_name_follows_first_and_last_name_when_it_was_derived(client, auth):
    derived = create(client, auth, first_name="Ola", last_name="Nordmann")
    explicit = create(client, auth, name="Boss", first_name="Ola", last_name="Nordmann")
    for contact, expected in ((derived, "Ola Hansen"), (explicit, "Boss")):
        response = client.patch(f"{URL}/{contact['id']}", json={"last_name": "Hansen"}, headers=auth)
        assert response.status_code == 200
        assert (response.json["name"], response.json["last_name"]) == (expected, "Hansen")


@pytest.mark.parametrize("body", [{"name": None}, {"name": ""}, {"type": "robot"}, {"phone_number": "x"},
                                  {"email": "@"}, {"tags": ["x" * 60]}, {"name": 1}])
def test_patch_validation(client, auth, body):
    contact = create(client, auth, name="Only a name")
    response = client.patch(f"{URL}/{contact['id']}", json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert client.get(f"{URL}/{contact['id']}", headers=auth).json == contact


def test_patch_with_contact_type_alias(client, auth):
    contact = create(client, auth, name="Acme")
    assert client.patch(f"{URL}/{contact['id']}", json={"contact_type": "company"}, headers=auth).json["type"] == "company"


def test_put_replaces_the_whole_contact(client, auth):
    contact = create(client, auth, name="Kari", email="kari@example.no", notes="n", tags=["a"], type="company")
    response = client.put(f"{URL}/{contact['id']}", json={"first_name": "Kari", "last_name": "Berg"}, headers=auth)
    assert response.status_code == 200, response.json
    replaced = response.json
    assert replaced["id"] == contact["id"]
    assert (replaced["name"], replaced["type"], replaced["email"], replaced["notes"], replaced["tags"]) == \
        ("Kari Berg", "person", None, None, [])
    assert client.put(f"{URL}/{contact['id']}", json={"notes": "no name"}, headers=auth).status_code == 422


def test_delete(client, auth):
    contact = create(client, auth, name="Gone", phone_number="+4791234567")
    response = client.delete(f"{URL}/{contact['id']}", headers=auth)
    assert response.status_code == 200 and response.json["id"] == contact["id"]
    assert client.get(f"{URL}/{contact['id']}", headers=auth).status_code == 404
    assert client.delete(f"{URL}/{contact['id']}", headers=auth).status_code == 404
    create(client, auth, name="Number is free again", phone_number="+4791234567")


# -- GDPR erasure ---------------------------------------------------------------------------------

def test_gdpr_delete_anonymises_and_keeps_the_id(client, auth):
    contact = create(client, auth, first_name="Kari", last_name="Berg", company_name="Acme AS",
                     phone_number="+4791234567", email="kari@example.no", tags=["vip"], notes="allergic to nuts")
    group = client.post(f"{URL}/groups", json={"name": "VIP"}, headers=auth).json
    client.post(f"{URL}/groups/{group['id']}/members", json={"contact_ids": [contact["id"]]}, headers=auth)

    response = client.post(f"{URL}/{contact['id']}/gdpr-delete", headers=auth)
    assert response.status_code == 200, response.json
    erased = response.json
    assert erased["id"] == contact["id"]
    assert erased["name"] == "Anonymised"
    assert all(erased[f] is None for f in ("first_name", "last_name", "company_name", "phone_number", "email", "notes"))
    assert erased["tags"] == [] and ISO_Z.match(erased["anonymised_at"])
    assert client.get(f"{URL}/{contact['id']}", headers=auth).json == erased
    # Nothing that identifies the person is searchable any more.
    for term in ("kari", "berg", "acme", "9123", "example.no", "nuts"):
        assert names(client.get(f"{URL}?search={term}", headers=auth)) == []
    assert names(client.get(f"{URL}?tags=vip", headers=auth)) == []
    # Out of its groups, and its number can belong to a new contact.
    fetched_group = client.get(f"{URL}/groups/{group['id']}", headers=auth)
    assert fetched_group.json.get("member_count") == 0, (group, fetched_group.json)
    create(client, auth, name="New owner of the number", phone_number="+4791234567")


def test_gdpr_delete_is_repeatable_and_freezes_the_contact(client, auth):
    contact = create(client, auth, name="Kari")
    first = client.post(f"{URL}/{contact['id']}/gdpr-delete", headers=auth).json
    second = client.post(f"{URL}/{contact['id']}/gdpr-delete", headers=auth)
    assert second.status_code == 200 and second.json == first
    for method in ("patch", "put"):
        response = getattr(client, method)(f"{URL}/{contact['id']}", json={"name": "Kari again"}, headers=auth)
        assert response.status_code == 409 and response.json["error"]["code"] == "contact_anonymised"
    assert client.delete(f"{URL}/{contact['id']}", headers=auth).status_code == 200


def test_gdpr_delete_leaves_messages_and_opt_outs_alone(client, auth, account):
    from app.services.optouts import add_optout, suppressed_numbers

    contact = create(client, auth, name="Kari", phone_number="+4791234567")
    sent = client.post("/v1/sms/send", json={"to": "+4791234567", "message": "Hei"}, headers=auth)
    assert sent.status_code == 200, sent.json
    add_optout(account, "+4791234567", "sms")
    client.post(f"{URL}/{contact['id']}/gdpr-delete", headers=auth)
    message = client.get(f"/v1/sms/messages/{sent.json['sms_message_id']}", headers=auth).json
    assert message["to_number"] == "+4791234567" and message["body"] == "Hei"
    assert suppressed_numbers(account.id, ["+4791234567"]) == {"+4791234567"}


# -- tenant isolation and authentication ----------------------------------------------------------

def test_another_account_cannot_see_or_touch_a_contact(client, auth, other_account):
    _, other = other_account
    contact = create(client, auth, name="Private", phone_number="+4791234567")
    url = f"{URL}/{contact['id']}"
    attempts = [("get", url, None), ("patch", url, {"name": "x"}), ("put", url, {"name": "x"}),
                ("delete", url, None), ("post", f"{url}/gdpr-delete", None)]
    for method, path, body in attempts:
        response = getattr(client, method)(path, json=body, headers=other)
        assert response.status_code == 404, (method, path)
        assert contact["id"] in response.json["detail"]
    assert client.get(URL, headers=other).json["total"] == 0
    assert client.get(f"{URL}?search=private", headers=other).json["contacts"] == []
    assert client.get(url, headers=auth).json == contact


@pytest.mark.parametrize("method, path", [
    ("get", URL), ("post", URL), ("get", f"{URL}/x"), ("patch", f"{URL}/x"), ("put", f"{URL}/x"),
    ("delete", f"{URL}/x"), ("post", f"{URL}/x/gdpr-delete"), ("get", f"{URL}/groups"),
    ("post", f"{URL}/groups"), ("get", f"{URL}/groups/x"), ("patch", f"{URL}/groups/x"),
    ("put", f"{URL}/groups/x"), ("delete", f"{URL}/groups/x"), ("get", f"{URL}/groups/x/members"),
    ("post", f"{URL}/groups/x/members"), ("delete", f"{URL}/groups/x/members/y"),
])
def test_every_endpoint_needs_a_key(client, method, path):
    response = getattr(client, method)(path, json={"name": "x"})
    assert response.status_code == 401
    bad = getattr(client, method)(path, json={"name": "x"}, headers={"X-API-Key": "wayscloud_sms_abcdefghij_nope"})
    assert bad.status_code == 401


def test_bearer_key_works_too(client, api_key):
    assert client.post(URL, json={"name": "B"}, headers={"Authorization": f"Bearer {api_key}"}).status_code == 201


def test_groups_path_is_not_a_contact_id(client, auth):
    response = client.get(f"{URL}/groups", headers=auth)
    assert response.status_code == 200 and "groups" in response.json


def test_unknown_method_is_405_json(client, auth):
    response = client.delete(URL, headers=auth)
    assert response.status_code == 405 and response.json["detail"]


# -- opt-outs (service only; no routes yet) -------------------------------------------------------

def test_optouts_add_is_idempotent_and_keeps_the_first_source(ctx, account):
    from app.services.optouts import add_optout, list_optouts

    first = add_optout(account, "912 34 567", "sms")
    again = add_optout(account, "+4791234567", "dashboard")
    assert first.id == again.id and again.source == "sms" and again.number == "+4791234567"
    page = list_optouts(account, 1, 50)
    assert page.total == 1 and [o.number for o in page.items] == ["+4791234567"]


@pytest.mark.parametrize("number, source, needle", [
    ("abc", "api", "number"),
    ("+4791234567", "carrier-pigeon", "source"),
])
def test_optouts_validation(ctx, account, number, source, needle):
    from app.services.errors import Invalid
    from app.services.optouts import add_optout

    with pytest.raises(Invalid, match=needle):
        add_optout(account, number, source)


def test_optouts_remove_and_suppressed_numbers(ctx, account, other_account):
    from app.services.optouts import add_optout, remove_optout, suppressed_numbers

    other, _ = other_account
    add_optout(account, "+4791234567", "api")
    add_optout(account, "+4792345678", "import")
    add_optout(other, "+4741234567", "api")
    asked = ["+4791234567", "+4792345678", "+4741234567", "+4799999999", "+4791234567"]
    assert suppressed_numbers(account.id, asked) == {"+4791234567", "+4792345678"}
    assert suppressed_numbers(other.id, asked) == {"+4741234567"}
    assert suppressed_numbers(account.id, []) == set()
    assert remove_optout(account, "91234567") is True
    assert remove_optout(account, "91234567") is False
    assert suppressed_numbers(account.id, asked) == {"+4792345678"}


def test_suppressed_numbers_handles_many_numbers(ctx, account):
    from app.services.optouts import add_optout, suppressed_numbers

    add_optout(account, "+4791234567")
    many = [f"+4790{i:06d}" for i in range(1200)] + ["+4791234567"]
    assert suppressed_numbers(account.id, many) == {"+4791234567"}
