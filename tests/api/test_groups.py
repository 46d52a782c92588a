"""/v1/contacts/groups: CRUD, idempotent membership, isolation, and recipient expansion for sends."""
from __future__ import annotations

import pytest

URL = "/v1/contacts"
GROUPS = f"{URL}/groups"
GROUP_FIELDS = {"id", "name", "description", "member_count", "created_at", "updated_at"}


def create_contact(client, auth, **fields) -> dict:
    response = client.post(URL, json=fields, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def create_group(client, auth, **fields) -> dict:
    response = client.post(GROUPS, json=fields, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def add(client, auth, group_id: str, ids):
    return client.post(f"{GROUPS}/{group_id}/members", json={"contact_ids": ids}, headers=auth)


def member_names(client, auth, group_id: str, query: str = "") -> list[str]:
    response = client.get(f"{GROUPS}/{group_id}/members{query}", headers=auth)
    assert response.status_code == 200, response.json
    return [c["name"] for c in response.json["members"]]


@pytest.fixture
def people(client, auth) -> dict:
    rows = [("Anna", "+4791234567"), ("Bjørn", "+4792345678"), ("Cecilie", "+4741234567"), ("Dag", None)]
    return {name: create_contact(client, auth, name=name, phone_number=phone) for name, phone in rows}


# -- group CRUD -----------------------------------------------------------------------------------

def test_group_crud(client, auth):
    group = create_group(client, auth, name="Oslo office", description="Everyone in Oslo")
    assert set(group) == GROUP_FIELDS
    assert (group["name"], group["description"], group["member_count"]) == ("Oslo office", "Everyone in Oslo", 0)
    url = f"{GROUPS}/{group['id']}"
    assert client.get(url, headers=auth).json == group

    patched = client.patch(url, json={"description": None}, headers=auth)
    assert patched.status_code == 200 and patched.json["description"] is None
    assert patched.json["name"] == "Oslo office"
    renamed = client.patch(url, json={"name": "Oslo"}, headers=auth).json
    assert renamed["name"] == "Oslo"
    replaced = client.put(url, json={"name": "Oslo HQ", "description": "d"}, headers=auth).json
    assert (replaced["name"], replaced["description"]) == ("Oslo HQ", "d")
    assert client.put(url, json={"name": "Oslo HQ"}, headers=auth).json["description"] is None
    assert client.put(url, json={"description": "no name"}, headers=auth).status_code == 422

    deleted = client.delete(url, headers=auth)
    assert deleted.status_code == 200 and deleted.json["id"] == group["id"]
    assert client.get(url, headers=auth).status_code == 404
    assert client.delete(url, headers=auth).status_code == 404


def test_group_list_envelope_order_counts_and_search(client, auth, people):
    for name in ("beta", "Alpha", "gamma"):
        create_group(client, auth, name=name)
    alpha = client.get(f"{GROUPS}?search=ALP", headers=auth).json["groups"][0]
    add(client, auth, alpha["id"], [people["Anna"]["id"], people["Dag"]["id"]])
    body = client.get(GROUPS, headers=auth).json
    assert {"groups", "total", "page", "page_size", "per_page", "has_more"} <= set(body)
    assert [(g["name"], g["member_count"]) for g in body["groups"]] == [("Alpha", 2), ("beta", 0), ("gamma", 0)]
    paged = client.get(f"{GROUPS}?per_page=2&page=2", headers=auth).json
    assert [g["name"] for g in paged["groups"]] == ["gamma"] and paged["total"] == 3 and not paged["has_more"]


@pytest.mark.parametrize("second", ["VIP", "vip", " Vip ", "ViP"])
def test_group_names_are_unique_ignoring_case(client, auth, second):
    first = create_group(client, auth, name="VIP")
    response = client.post(GROUPS, json={"name": second}, headers=auth)
    assert response.status_code == 409
    assert first["id"] in response.json["detail"]


def test_renaming_into_a_taken_name_is_409_but_changing_your_own_case_is_fine(client, auth, other_account):
    vip = create_group(client, auth, name="VIP")
    other = create_group(client, auth, name="Other")
    assert client.patch(f"{GROUPS}/{other['id']}", json={"name": "vip"}, headers=auth).status_code == 409
    assert client.patch(f"{GROUPS}/{vip['id']}", json={"name": "Vip"}, headers=auth).json["name"] == "Vip"
    create_group(client, other_account[1], name="VIP")  # another account may use the name


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "  "}, {"name": None}, {"name": 5}, {"name": ["VIP"]}, {"name": "x" * 101},
    {"name": "ok", "description": 7}, {"name": "ok", "description": "x" * 2001},
])
def test_group_validation(client, auth, body):
    response = client.post(GROUPS, json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["detail"]


@pytest.mark.parametrize("raw", [b"{", b"[]", b"", b"42"])
def test_group_malformed_bodies(client, auth, raw):
    group = create_group(client, auth, name="G")
    for method, url in (("post", GROUPS), ("patch", f"{GROUPS}/{group['id']}"),
                        ("put", f"{GROUPS}/{group['id']}"), ("post", f"{GROUPS}/{group['id']}/members")):
        response = getattr(client, method)(url, data=raw, headers={**auth, "Content-Type": "application/json"})
        assert response.status_code == 422, (method, url)


def test_markup_in_group_names_is_returned_as_is(client, auth):
    name = "<img src=x onerror=alert(1)>"
    group = create_group(client, auth, name=name, description="<b>bold</b>")
    assert client.get(f"{GROUPS}/{group['id']}", headers=auth).json["name"] == name


# -- membership -----------------------------------------------------------------------------------

def test_adding_members_is_idempotent(client, auth, people):
    group = create_group(client, auth, name="G")
    anna, bjorn = people["Anna"]["id"], people["Bjørn"]["id"]

    first = add(client, auth, group["id"], [anna, anna])
    assert first.status_code == 200, first.json
    assert first.json == {"group_id": group["id"], "added": [anna], "already_members": [], "member_count": 1}

    again = add(client, auth, group["id"], [anna, bjorn])
    assert again.json == {"group_id": group["id"], "added": [bjorn], "already_members": [anna], "member_count": 2}

    repeat = add(client, auth, group["id"], [bjorn, anna])
    assert repeat.json["added"] == [] and repeat.json["member_count"] == 2
    assert member_names(client, auth, group["id"]) == ["Anna", "Bjørn"]


def test_a_single_contact_id_string_is_accepted(client, auth, people):
    group = create_group(client, auth, name="G")
    response = client.post(f"{GROUPS}/{group['id']}/members", json={"contact_ids": people["Dag"]["id"]}, headers=auth)
    assert response.status_code == 200 and response.json["member_count"] == 1


def test_unknown_or_foreign_ids_are_named_and_nothing_is_added(client, auth, people, other_account):
    _, other = other_account
    foreign = create_contact(client, other, name="Someone else's")
    group = create_group(client, auth, name="G")
    ids = [people["Anna"]["id"], "no-such-contact", foreign["id"]]
    response = add(client, auth, group["id"], ids)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_contacts"
    assert "no-such-contact" in response.json["detail"] and foreign["id"] in response.json["detail"]
    assert people["Anna"]["id"] not in response.json["detail"]
    assert [e["loc"] for e in response.json["errors"]] == [["body", "contact_ids", 1], ["body", "contact_ids", 2]]
    assert client.get(f"{GROUPS}/{group['id']}", headers=auth).json["member_count"] == 0


def test_many_unknown_ids_are_summarised(client, auth):
    group = create_group(client, auth, name="G")
    response = add(client, auth, group["id"], [f"ghost-{i}" for i in range(30)])
    assert response.status_code == 422
    assert "and 10 more" in response.json["detail"] and len(response.json["errors"]) == 30


@pytest.mark.parametrize("body", [
    {}, {"contact_ids": []}, {"contact_ids": None}, {"contact_ids": [1, 2]}, {"contact_ids": {"a": 1}},
    {"contact_ids": [None]}, {"contact_ids": 5}, {"ids": ["x"]},
])
def test_members_body_validation(client, auth, body):
    group = create_group(client, auth, name="G")
    response = client.post(f"{GROUPS}/{group['id']}/members", json=body, headers=auth)
    assert response.status_code == 422, response.json


def test_members_list_pages_and_filters(client, auth, people):
    group = create_group(client, auth, name="G")
    add(client, auth, group["id"], [c["id"] for c in people.values()])
    response = client.get(f"{GROUPS}/{group['id']}/members?per_page=3", headers=auth)
    body = response.json
    assert body["group_id"] == group["id"]
    assert {"members", "total", "page", "page_size", "per_page", "has_more"} <= set(body)
    assert ([c["name"] for c in body["members"]], body["total"], body["has_more"]) == (["Anna", "Bjørn", "Cecilie"], 4, True)
    assert member_names(client, auth, group["id"], "?per_page=3&page=2") == ["Dag"]
    assert member_names(client, auth, group["id"], "?search=BJØRN") == ["Bjørn"]
    assert client.get(f"{GROUPS}/{group['id']}/members?page=0", headers=auth).status_code == 422


def test_removing_a_member(client, auth, people):
    group = create_group(client, auth, name="G")
    anna, bjorn = people["Anna"]["id"], people["Bjørn"]["id"]
    add(client, auth, group["id"], [anna, bjorn])
    response = client.delete(f"{GROUPS}/{group['id']}/members/{anna}", headers=auth)
    assert response.status_code == 200
    assert response.json["member_count"] == 1 and response.json["contact_id"] == anna
    assert member_names(client, auth, group["id"]) == ["Bjørn"]
    again = client.delete(f"{GROUPS}/{group['id']}/members/{anna}", headers=auth)
    assert again.status_code == 404 and again.json["error"]["code"] == "not_a_member"
    assert client.get(f"{URL}/{anna}", headers=auth).status_code == 200  # the contact stays
    assert client.delete(f"{GROUPS}/{group['id']}/members/no-such", headers=auth).status_code == 404


def test_deleting_a_group_keeps_its_contacts_and_deleting_a_contact_leaves_its_groups(client, auth, people):
    first = create_group(client, auth, name="First")
    second = create_group(client, auth, name="Second")
    ids = [people["Anna"]["id"], people["Bjørn"]["id"]]
    add(client, auth, first["id"], ids)
    add(client, auth, second["id"], ids)
    client.delete(f"{GROUPS}/{first['id']}", headers=auth)
    assert client.get(URL, headers=auth).json["total"] == 4
    client.delete(f"{URL}/{people['Anna']['id']}", headers=auth)
    assert client.get(f"{GROUPS}/{second['id']}", headers=auth).json["member_count"] == 1
    assert member_names(client, auth, second["id"]) == ["Bjørn"]


def test_a_contact_may_be_in_several_groups(client, auth, people):
    groups = [create_group(client, auth, name=f"G{i}") for i in range(3)]
    for g in groups:
        add(client, auth, g["id"], [people["Anna"]["id"]])
    assert [client.get(f"{GROUPS}/{g['id']}", headers=auth).json["member_count"] for g in groups] == [1, 1, 1]


# -- isolation ------------------------------------------------------------------------------------

def test_another_account_cannot_see_or_change_a_group(client, auth, people, other_account):
    _, other = other_account
    group = create_group(client, auth, name="Mine")
    add(client, auth, group["id"], [people["Anna"]["id"]])
    theirs = create_contact(client, other, name="Theirs")
    url = f"{GROUPS}/{group['id']}"
    attempts = [
        ("get", url, None), ("patch", url, {"name": "x"}), ("put", url, {"name": "x"}), ("delete", url, None),
        ("get", f"{url}/members", None), ("post", f"{url}/members", {"contact_ids": [theirs["id"]]}),
        ("delete", f"{url}/members/{people['Anna']['id']}", None),
    ]
    for method, path, body in attempts:
        response = getattr(client, method)(path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.json)
    assert client.get(GROUPS, headers=other).json["total"] == 0
    assert client.get(f"{URL}?group_id={group['id']}", headers=other).status_code == 404
    assert client.get(url, headers=auth).json["member_count"] == 1
    assert client.get(url, headers=auth).json["name"] == "Mine"


def test_cannot_remove_a_foreign_contact_from_own_group(client, auth, other_account):
    _, other = other_account
    theirs = create_contact(client, other, name="Theirs")
    group = create_group(client, auth, name="Mine")
    response = client.delete(f"{GROUPS}/{group['id']}/members/{theirs['id']}", headers=auth)
    assert response.status_code == 404


# -- recipient expansion for sends ----------------------------------------------------------------

@pytest.fixture
def expansion(ctx, account, other_account):
    """Contacts and groups of two accounts, built through the services."""
    from app.services.contacts import create_contact as make
    from app.services.groups import add_members, create_group as make_group

    other, _ = other_account
    c = {name: make(account, {"name": name, "phone_number": phone}) for name, phone in
         [("anna", "+4791234567"), ("bjorn", "+4792345678"), ("cecilie", "+4741234567"), ("dag", None)]}
    c["foreign"] = make(other, {"name": "foreign", "phone_number": "+4799999999"})
    g = {"team": make_group(account, "Team"), "empty": make_group(account, "Empty"),
         "foreign": make_group(other, "Foreign")}
    add_members(account, g["team"].id, [c["cecilie"].id, c["anna"].id, c["dag"].id])
    add_members(other, g["foreign"].id, [c["foreign"].id])
    return account, {k: v.id for k, v in c.items()}, {k: v.id for k, v in g.items()}


@pytest.mark.parametrize("contacts, groups, numbers, rejected", [
    (["anna"], [], ["+4791234567"], []),
    (["bjorn", "anna"], [], ["+4792345678", "+4791234567"], []),
    (["anna", "anna"], [], ["+4791234567"], []),
    ([], ["team"], ["+4791234567", "+4741234567"], [("contact_id", "dag", "has no phone number")]),
    (["anna"], ["team"], ["+4791234567", "+4741234567"], [("contact_id", "dag", "has no phone number")]),
    (["dag"], ["team"], ["+4791234567", "+4741234567"], [("contact_id", "dag", "has no phone number")]),
    (["foreign"], [], [], [("contact_id", "foreign", "contact not found")]),
    (["ghost"], ["ghost"], [], [("contact_id", "ghost", "contact not found"), ("group_id", "ghost", "group not found")]),
    ([], ["foreign"], [], [("group_id", "foreign", "group not found")]),
    ([], ["empty"], [], [("group_id", "empty", "group has no members")]),
    ([], [], [], []),
], ids=["one", "order-kept", "repeat", "group", "direct+group", "no-phone-once", "foreign-contact",
        "unknown", "foreign-group", "empty-group", "nothing"])
def test_expand_recipients(expansion, contacts, groups, numbers, rejected):
    from app.services.contacts import expand_recipients

    account, contact_ids, group_ids = expansion
    got_numbers, got_rejected = expand_recipients(
        account.id, [contact_ids.get(k, k) for k in contacts], [group_ids.get(k, k) for k in groups])
    assert got_numbers == numbers
    ids = {"contact_id": contact_ids, "group_id": group_ids}
    assert got_rejected == [{kind: ids[kind].get(key, key), "reason": reason} for kind, key, reason in rejected]


def test_expand_recipients_rejects_non_string_ids(expansion):
    from app.services.contacts import expand_recipients

    account, contact_ids, _ = expansion
    numbers, rejected = expand_recipients(account.id, [contact_ids["anna"], 42, None], [{"x": 1}])
    assert numbers == ["+4791234567"]
    assert [r["reason"] for r in rejected] == ["contact not found", "contact not found", "group not found"]


def test_expand_recipients_skips_anonymised_contacts(expansion):
    from app.services.contacts import expand_recipients, gdpr_delete

    account, contact_ids, group_ids = expansion
    gdpr_delete(account, contact_ids["anna"])
    numbers, rejected = expand_recipients(account.id, [contact_ids["anna"]], [group_ids["team"]])
    assert numbers == ["+4741234567"]
    assert {"contact_id": contact_ids["anna"], "reason": "has no phone number"} in rejected


def test_expand_recipients_handles_large_groups(ctx, account):
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Contact
    from app.services.contacts import expand_recipients
    from app.services.groups import add_members, create_group as make_group

    rows = [{"account_id": account.id, "name": f"c{i}", "phone_number": f"+4790{i:06d}"} for i in range(1200)]
    db.session.execute(insert(Contact.__table__), rows)  # a Core bulk insert, as an import would do
    db.session.commit()
    ids = list(db.session.scalars(db.select(Contact.id).where(Contact.account_id == account.id)))
    group = make_group(account, "Big")
    assert add_members(account, group.id, ids)["added"] == ids
    numbers, rejected = expand_recipients(account.id, ids[:700], [group.id])
    assert len(numbers) == 1200 and rejected == []
    # The bulk-inserted rows got their search keys from the column defaults.
    from app.services.contacts import ContactFilter, list_contacts
    assert list_contacts(account, ContactFilter(search="C1199"), 1, 10).total == 1
