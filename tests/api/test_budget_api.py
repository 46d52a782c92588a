"""Budgets through the API: a send past the monthly limit is refused whole (402), also when two
arrive at once; campaigns take, return and keep a spend_cap. Responses are checked against the
OpenAPI document."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccountSpend, Campaign, CampaignStatus, IdempotencyKey, Message
from app.services import budgets, campaigns
from app.services.groups import create_group
from tests.api.test_openapi import check_response

SEND = "/v1/sms/send"


def send(client, auth, recipients: int, **headers):
    response = client.post(SEND, json={"to": [f"+4790{i:06d}" for i in range(1, recipients + 1)], "message": "hi"},
                           headers={**auth, **headers})
    check_response("post", SEND, response)
    return response


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_send_past_the_limit_is_refused_whole_with_402(client, auth, account):
    budgets.set_limit(account, Decimal("3.00"))
    assert send(client, auth, 2).status_code == 200  # 1.98 NOK
    refused = send(client, auth, 2, **{"Idempotency-Key": "budget-1"})  # another 1.98 would be 3.96
    assert refused.status_code == 402
    assert refused.json["error"]["code"] == "spending_limit_reached"
    detail = refused.json["detail"]
    assert "monthly spending limit of 3.00 NOK" in detail
    assert "1.98 NOK is spent" in detail and "1.02 NOK is left" in detail and "costs 1.98 NOK" in detail
    # Nothing of it was written: no message, no remembered answer, no charge.
    assert count(Message) == 2 and count(IdempotencyKey) == 0
    assert db.session.scalar(select(AccountSpend.committed)) == Decimal("1.98")
    assert send(client, auth, 1).status_code == 200  # 0.99 still fits


def test_an_account_without_a_limit_sends_as_before(client, auth, account):
    assert send(client, auth, 5).status_code == 200
    assert count(AccountSpend) == 0


def test_two_parallel_sends_that_each_fit_but_not_together(ctx, auth, account):
    """Each thread its own client and session, released together: exactly one is accepted."""
    budgets.set_limit(account, Decimal("3.00"))
    barrier, answers = threading.Barrier(4), []

    def attempt() -> None:
        client = ctx.test_client()
        barrier.wait()
        with ctx.app_context():
            answers.append(client.post(SEND, json={"to": ["+4790000001", "+4790000002"], "message": "hi"},
                                       headers=auth).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200, 402, 402, 402]
    assert count(Message) == 2
    assert db.session.scalar(select(AccountSpend.committed)) == Decimal("1.98")


def test_cancel_through_the_api_gives_the_cost_back(client, auth, account):
    budgets.set_limit(account, Decimal("0.99"))
    first = send(client, auth, 1).json["message_ids"][0]
    assert send(client, auth, 1).status_code == 402
    assert client.post(f"/v1/sms/messages/{first}/cancel", headers=auth).status_code == 200
    assert send(client, auth, 1).status_code == 200


# -- campaigns' spend_cap --------------------------------------------------------------------------

@pytest.fixture
def group(account):
    return create_group(account, "Customers")


def test_campaign_spend_cap_is_taken_returned_and_changed(client, auth, group):
    body = {"name": "Sale", "message": "Hi", "group_ids": [group.id], "spend_cap": "500.5"}
    created = client.post("/v1/campaigns", json=body, headers=auth)
    check_response("post", "/v1/campaigns", created)
    assert created.status_code == 201 and created.json["spend_cap"] == 500.5
    cid = created.json["id"]
    patched = client.patch(f"/v1/campaigns/{cid}", json={"spend_cap": 20}, headers=auth)
    check_response("patch", "/v1/campaigns/{campaign_id}", patched)
    assert patched.json["spend_cap"] == 20 and patched.json["name"] == "Sale"
    cleared = client.patch(f"/v1/campaigns/{cid}", json={"spend_cap": None}, headers=auth)
    assert cleared.json["spend_cap"] is None
    plain = client.post("/v1/campaigns", json={"name": "x", "message": "Hi", "group_ids": [group.id]}, headers=auth)
    assert plain.json["spend_cap"] is None


@pytest.mark.parametrize("cap, message", [
    (-1, "zero or more"), ("1.234", "two decimals"), (True, "must be a number"), ("lots", "Enter an amount"),
    ([5], "must be a number"),
])
def test_a_bad_spend_cap_is_422(client, auth, group, cap, message):
    response = client.post("/v1/campaigns", json={"name": "Sale", "message": "Hi", "group_ids": [group.id],
                                                  "spend_cap": cap}, headers=auth)
    check_response("post", "/v1/campaigns", response)
    assert response.status_code == 422 and message in response.json["detail"]
    assert response.json["errors"][0]["loc"] == ["body", "spend_cap"]


def test_only_the_cap_may_change_once_the_campaign_left_draft(client, auth, account, group):
    campaign = campaigns.create(account, campaigns.CampaignSpec(name="Sale", message="Hi", group_ids=(group.id,)))
    db.session.execute(Campaign.__table__.update().values(status=CampaignStatus.PAUSED))
    db.session.commit()
    url = f"/v1/campaigns/{campaign.id}"
    assert client.patch(url, json={"spend_cap": "12.00"}, headers=auth).json["spend_cap"] == 12
    refused = client.patch(url, json={"spend_cap": "15", "name": "Other"}, headers=auth)
    assert refused.status_code == 409
    db.session.execute(Campaign.__table__.update().values(status=CampaignStatus.COMPLETED))
    db.session.commit()
    assert client.patch(url, json={"spend_cap": "15"}, headers=auth).status_code == 409


def test_another_account_cannot_see_or_set_a_cap(client, auth, account, other_account, group):
    _, other_auth = other_account
    created = client.post("/v1/campaigns", json={"name": "Sale", "message": "Hi", "group_ids": [group.id],
                                                 "spend_cap": 10}, headers=auth).json
    assert client.get(f"/v1/campaigns/{created['id']}", headers=other_auth).status_code == 404
    assert client.patch(f"/v1/campaigns/{created['id']}", json={"spend_cap": 999},
                        headers=other_auth).status_code == 404
    assert client.get(f"/v1/campaigns/{created['id']}", headers=auth).json["spend_cap"] == 10
