"""Sending to contacts and groups, and skipping opted-out numbers (API.md: recipients are expanded,
de-duplicated, opted-out numbers skipped and reported)."""
import pytest

from app.services import contacts, groups, optouts


def _contact(account, name, phone):
    return contacts.create_contact(account, {"name": name, "phone_number": phone})


@pytest.fixture
def team(account):
    """Two groups sharing one member, and a contact without a phone number."""
    ada = _contact(account, "Ada", "+4791000001")
    bo = _contact(account, "Bo", "+4791000002")
    cy = _contact(account, "Cy", "+4791000003")
    nobody = contacts.create_contact(account, {"name": "No Phone"})
    red = groups.create_group(account, "Red")
    blue = groups.create_group(account, "Blue")
    groups.add_members(account, red.id, [ada.id, bo.id])
    groups.add_members(account, blue.id, [bo.id, cy.id, nobody.id])
    return {"ada": ada.id, "bo": bo.id, "cy": cy.id, "nobody": nobody.id, "red": red.id, "blue": blue.id}


def _send(client, auth, **body):
    return client.post("/v1/sms/send", json={"message": "Hi", **body}, headers=auth)


def test_groups_are_expanded_once_per_number(client, auth, team):
    response = _send(client, auth, to_groups=[team["red"], team["blue"]])
    assert response.status_code == 200, response.json
    assert sorted(response.json["to"]) == ["+4791000001", "+4791000002", "+4791000003"]
    assert response.json["rejected"] == [{"contact_id": team["nobody"], "reason": "has no phone number"}]
    assert response.json["units_estimate"] == 3


def test_contacts_and_numbers_merge_without_duplicates(client, auth, team):
    response = _send(client, auth, to=["+4791000001", "+4799999999"], to_contacts=[team["ada"], team["cy"]])
    assert response.status_code == 200, response.json
    assert response.json["to"] == ["+4791000001", "+4799999999", "+4791000003"]
    assert response.json["rejected"] == []


def test_opted_out_numbers_are_skipped_and_reported(client, auth, account, team):
    optouts.add_optout(account, "+4791000002", "sms")
    response = _send(client, auth, to_groups=[team["red"]], to=["+4799999999"])
    assert response.status_code == 200, response.json
    assert response.json["to"] == ["+4799999999", "+4791000001"]
    assert {"to": "+4791000002", "reason": "opted out"} in response.json["rejected"]


def test_only_opted_out_recipients_is_refused(client, auth, account):
    optouts.add_optout(account, "+4799999999", "api")
    response = _send(client, auth, to=["+4799999999"])
    assert response.status_code == 422
    assert "opted out" in response.json["detail"]


def test_another_accounts_group_is_not_found(client, auth, other_account, team):
    _, other_auth = other_account
    response = _send(client, other_auth, to_groups=[team["red"]], to=["+4799999999"])
    assert response.status_code == 200
    assert response.json["to"] == ["+4799999999"]
    assert response.json["rejected"] == [{"group_id": team["red"], "reason": "group not found"}]


def test_unknown_contacts_only_is_422_pointing_at_the_field(client, auth):
    response = _send(client, auth, to_contacts=["nope"])
    assert response.status_code == 422
    assert response.json["errors"][0]["loc"] == ["body", "to_contacts"]
