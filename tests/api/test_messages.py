"""GET /v1/sms/messages (envelope, paging, filters), GET /messages/{id}, POST /messages/{id}/cancel."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Message, SimulatorSubmission, Status, new_id

UTC = timezone.utc
REFERENCE_FIELDS = {"id", "direction", "message_type", "from_number", "to_number", "body", "status", "units_count",
                    "customer_ref", "created_at", "scheduled_at", "sent_at", "delivered_at", "related_message_id",
                    "error_message"}
EXTENSION_FIELDS = {"batch_id", "campaign_id", "encoding", "cost", "currency", "error_code", "cancelled_at",
                    "failed_at"}
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def send(client, auth, **body) -> dict:
    response = client.post("/v1/sms/send", json={"message": "Hello", **body}, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def listing(client, auth, **query):
    return client.get("/v1/sms/messages", query_string=query, headers=auth)


def ids(response) -> list[str]:
    return [m["id"] for m in response.json["messages"]]


def future(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def set_created(message_ids, moment: datetime) -> None:
    db.session.execute(update(Message).where(Message.id.in_(message_ids)).values(created_at=moment))
    db.session.commit()


def add_inbound(account_id: str, text="STOP", sender="+4799999999") -> str:
    message = Message(account_id=account_id, direction="INBOUND", message_type="PLAIN", from_number=sender,
                      to_number="+4759440000", body=text, status=Status.RECEIVED, units=1,
                      received_at=datetime.now(UTC), currency="NOK")
    db.session.add(message)
    db.session.commit()
    return message.id


# --- the list envelope and paging --------------------------------------------------------------


def test_list_envelope(client, auth):
    sent = send(client, auth, to=["+4799999999", "+4798888888"])
    response = listing(client, auth)
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"messages", "total", "page", "page_size", "per_page", "has_more"}
    assert (body["total"], body["page"], body["page_size"], body["per_page"], body["has_more"]) == (2, 1, 50, 50, False)
    assert sorted(ids(response)) == sorted(sent["message_ids"])
    assert set(body["messages"][0]) == REFERENCE_FIELDS | EXTENSION_FIELDS


def test_empty_list(client, auth):
    body = listing(client, auth).json
    assert (body["messages"], body["total"], body["has_more"]) == ([], 0, False)


@pytest.mark.parametrize("size_param", ["page_size", "per_page"])
def test_paging_walks_every_message_once(client, auth, size_param):
    sent = send(client, auth, to=[f"+479100000{i}" for i in range(1, 8)])["message_ids"]
    seen, page = [], 1
    while True:
        body = listing(client, auth, page=page, **{size_param: 3}).json
        assert (body["page"], body["page_size"], body["per_page"], body["total"]) == (page, 3, 3, 7)
        seen += [m["id"] for m in body["messages"]]
        if not body["has_more"]:
            break
        page += 1
    assert page == 3
    assert sorted(seen) == sorted(sent)


def test_page_beyond_the_end_is_empty(client, auth):
    send(client, auth, to="+4799999999")
    body = listing(client, auth, page=5).json
    assert (body["messages"], body["total"], body["page"], body["has_more"]) == ([], 1, 5, False)


@pytest.mark.parametrize("query, size", [
    ({"page_size": 1000}, 500), ({"per_page": 501}, 500), ({"page_size": 500}, 500), ({}, 50),
    ({"page_size": 7, "per_page": 9}, 7),
])
def test_page_size_is_clamped_to_500(client, auth, query, size):
    body = listing(client, auth, **query).json
    assert (body["page_size"], body["per_page"]) == (size, size)


@pytest.mark.parametrize("query", [
    {"page": 0}, {"page": -1}, {"page": "abc"}, {"page": "1.5"}, {"page_size": 0}, {"per_page": "x"},
    {"page": "9" * 30}, {"page": str(2**63)},
], ids=["page-0", "page-negative", "page-abc", "page-float", "size-0", "per-page-x", "page-huge", "page-2^63"])
def test_bad_paging_is_422(client, auth, query):
    send(client, auth, to="+4799999999")
    response = listing(client, auth, **query)
    assert response.status_code == 422, response.json
    assert response.json["detail"]


# --- filters -----------------------------------------------------------------------------------


@pytest.fixture
def mixed(client, auth, account, run_jobs):
    """One delivered, one failed (simulator fails numbers ending 0000), one scheduled, one queued,
    one inbound."""
    account_id = account.id  # run_jobs() ends the session the fixture's object lives in
    delivered = send(client, auth, to="+4799999999", customer_ref="ref-a")["sms_message_id"]
    failed = send(client, auth, to="+4791230000", customer_ref="ref-b")["sms_message_id"]
    run_jobs()
    scheduled = send(client, auth, to="+4798888888", scheduled_at=future(), customer_ref="ref-a")
    queued = send(client, auth, to="+4797777777")["sms_message_id"]
    inbound = add_inbound(account_id)
    return {"delivered": delivered, "failed": failed, "scheduled": scheduled["sms_message_id"],
            "scheduled_batch": scheduled["batch_id"], "queued": queued, "inbound": inbound}


@pytest.mark.parametrize("status, expected", [
    ("DELIVERED", ["delivered"]),
    ("delivered", ["delivered"]),
    ("Failed", ["failed"]),
    ("DELIVERED,FAILED", ["delivered", "failed"]),
    ("scheduled, queued", ["scheduled", "queued"]),
    ("RECEIVED", ["inbound"]),
    ("SENT", []),
])
def test_status_filter(client, auth, mixed, status, expected):
    response = listing(client, auth, status=status)
    assert sorted(ids(response)) == sorted(mixed[k] for k in expected)
    assert response.json["total"] == len(expected)


@pytest.mark.parametrize("status", ["BOGUS", "DELIVERED,NOPE"])
def test_unknown_status_is_422(client, auth, status):
    response = listing(client, auth, status=status)
    assert response.status_code == 422
    assert "Unknown status" in response.json["detail"]


@pytest.mark.parametrize("direction, expected", [
    ("OUTBOUND", ["delivered", "failed", "scheduled", "queued"]),
    ("inbound", ["inbound"]),
])
def test_direction_filter(client, auth, mixed, direction, expected):
    assert sorted(ids(listing(client, auth, direction=direction))) == sorted(mixed[k] for k in expected)


def test_unknown_direction_is_422(client, auth):
    assert listing(client, auth, direction="sideways").status_code == 422


def test_customer_ref_and_batch_id_filters(client, auth, mixed):
    assert sorted(ids(listing(client, auth, customer_ref="ref-a"))) == sorted([mixed["delivered"], mixed["scheduled"]])
    assert ids(listing(client, auth, batch_id=mixed["scheduled_batch"])) == [mixed["scheduled"]]
    assert ids(listing(client, auth, customer_ref="nope")) == []


@pytest.mark.parametrize("to", ["+4799999999", "99999999", "+47 999 99 999"])
def test_to_as_a_number_filters_by_number(client, auth, mixed, to):
    assert sorted(ids(listing(client, auth, to=to))) == sorted([mixed["delivered"], mixed["inbound"]])


def test_to_number_in_a_raw_query_string_with_unencoded_plus(client, auth, mixed):
    # curl users write ?to=+47...; the '+' arrives as a space
    response = client.get("/v1/sms/messages?to=+4798888888", headers=auth)
    assert ids(response) == [mixed["scheduled"]]


def test_national_number_that_also_reads_as_a_compact_date_is_a_number(client, auth):
    # 40010112 is a valid Norwegian mobile number and also ISO 8601 "basic" for 4001-01-12
    sent = send(client, auth, to=["40010112", "+4799999999"])
    assert ids(listing(client, auth, to="40010112")) == [sent["message_ids"][0]]


def test_date_range_with_from_and_to(client, auth):
    old = send(client, auth, to="+4799999999")["sms_message_id"]
    middle = send(client, auth, to="+4798888888")["sms_message_id"]
    new = send(client, auth, to="+4797777777")["sms_message_id"]
    set_created([old], datetime(2026, 1, 10, 12, tzinfo=UTC))
    set_created([middle], datetime(2026, 2, 15, 23, 30, tzinfo=UTC))
    set_created([new], datetime(2026, 3, 20, 8, tzinfo=UTC))
    # a bare date as "to" is the end of the range and includes that whole day
    assert ids(listing(client, auth, **{"from": "2026-02-01", "to": "2026-02-15"})) == [middle]
    assert sorted(ids(listing(client, auth, **{"from": "2026-02-01"}))) == sorted([middle, new])
    assert sorted(ids(listing(client, auth, to="2026-02-15"))) == sorted([old, middle])
    assert ids(listing(client, auth, **{"from": "2026-02-15T23:00:00Z", "to": "2026-02-16T00:00:00+00:00"})) == [middle]
    assert ids(listing(client, auth, date_from="2026-03-01", date_to="2026-03-31")) == [new]


@pytest.mark.parametrize("query", [{"from": "yesterday"}, {"date_to": "2026-13-45"}, {"to": "+47abc"}])
def test_bad_date_or_number_filter_is_422(client, auth, query):
    assert listing(client, auth, **query).status_code == 422


def test_list_is_newest_first(client, auth):
    first = send(client, auth, to="+4799999999")["sms_message_id"]
    second = send(client, auth, to="+4798888888")["sms_message_id"]
    set_created([first], datetime(2026, 1, 1, tzinfo=UTC))
    assert ids(listing(client, auth)) == [second, first]


# --- get ---------------------------------------------------------------------------------------


def test_get_message_has_every_reference_field_and_z_times(client, auth, run_jobs):
    sent = send(client, auth, to="+4799999999", message="Your order has shipped.", customer_ref="order-1234")
    run_jobs()
    response = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert set(body) == REFERENCE_FIELDS | EXTENSION_FIELDS
    assert body["id"] == sent["sms_message_id"]
    assert (body["direction"], body["message_type"], body["status"]) == ("OUTBOUND", "PLAIN", "DELIVERED")
    assert (body["to_number"], body["from_number"]) == ("+4799999999", "+4759440000")
    assert (body["body"], body["units_count"], body["customer_ref"]) == ("Your order has shipped.", 1, "order-1234")
    assert (body["batch_id"], body["encoding"], body["cost"], body["currency"]) == (sent["batch_id"], "GSM-7", 0.99, "NOK")
    for key in ("created_at", "sent_at", "delivered_at"):
        assert ISO_Z.fullmatch(body[key]), (key, body[key])
    assert body["scheduled_at"] is body["error_message"] is body["related_message_id"] is None


def test_failed_message_carries_the_error(client, auth, run_jobs):
    sent = send(client, auth, to="+4791230000")
    run_jobs()
    body = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json
    assert body["status"] == Status.FAILED
    assert (body["error_code"], body["error_message"]) == ("UNKNOWN_SUBSCRIBER", "Unknown subscriber")
    assert ISO_Z.fullmatch(body["failed_at"])


@pytest.mark.parametrize("message_id", ["no-such-id", new_id(), "x" * 300, "%00", "' OR 1=1 --"])
def test_unknown_message_is_404(client, auth, message_id):
    for path in (f"/v1/sms/messages/{message_id}", f"/v1/sms/messages/{message_id}/cancel"):
        response = client.get(path, headers=auth) if path.endswith(message_id) else client.post(path, headers=auth)
        assert response.status_code == 404, (path, response.json)
        assert response.json["error"]["code"] == "not_found"


# --- cancel ------------------------------------------------------------------------------------


def submissions() -> int:
    return db.session.scalar(select(func.count()).select_from(SimulatorSubmission))


@pytest.mark.parametrize("schedule", [True, False], ids=["scheduled", "queued"])
def test_cancel_then_nothing_is_sent(client, auth, run_jobs, schedule):
    sent = send(client, auth, to="+4799999999", **({"scheduled_at": future()} if schedule else {}))
    assert sent["status"] == (Status.SCHEDULED if schedule else Status.QUEUED)
    response = client.post(f"/v1/sms/messages/{sent['sms_message_id']}/cancel", headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["message"] == "Message cancelled"
    assert response.json["message_id"] == sent["sms_message_id"]
    run_jobs()
    body = client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json
    assert body["status"] == Status.CANCELLED
    assert ISO_Z.fullmatch(body["cancelled_at"])
    assert body["sent_at"] is None
    assert submissions() == 0


def test_cancel_one_of_a_batch_leaves_the_others(client, auth, run_jobs):
    sent = send(client, auth, to=["+4799999999", "+4798888888"])
    client.post(f"/v1/sms/messages/{sent['message_ids'][0]}/cancel", headers=auth)
    run_jobs()
    statuses = [client.get(f"/v1/sms/messages/{i}", headers=auth).json["status"] for i in sent["message_ids"]]
    assert statuses == [Status.CANCELLED, Status.DELIVERED]
    assert submissions() == 1


@pytest.mark.parametrize("final", [Status.DELIVERED, Status.FAILED])
def test_cancel_after_sending_is_409_with_the_status(client, auth, run_jobs, final):
    sent = send(client, auth, to="+4799999999" if final == Status.DELIVERED else "+4791230000")
    run_jobs()
    response = client.post(f"/v1/sms/messages/{sent['sms_message_id']}/cancel", headers=auth)
    assert response.status_code == 409
    assert final in response.json["detail"]
    assert client.get(f"/v1/sms/messages/{sent['sms_message_id']}", headers=auth).json["status"] == final


def test_cancel_twice_is_409_cancelled(client, auth):
    sent = send(client, auth, to="+4799999999", scheduled_at=future())
    path = f"/v1/sms/messages/{sent['sms_message_id']}/cancel"
    assert client.post(path, headers=auth).status_code == 200
    second = client.post(path, headers=auth)
    assert second.status_code == 409
    assert "CANCELLED" in second.json["detail"]


def test_inbound_message_cannot_be_cancelled(client, auth, account):
    inbound = add_inbound(account.id)
    response = client.post(f"/v1/sms/messages/{inbound}/cancel", headers=auth)
    assert response.status_code == 409
    assert "RECEIVED" in response.json["detail"]


@pytest.mark.parametrize("end", ["2026-02-15", "20260215"], ids=["extended", "basic"])
def test_a_bare_end_date_includes_that_whole_day(client, auth, end):
    late = send(client, auth, to="+4799999999")["sms_message_id"]
    set_created([late], datetime(2026, 2, 15, 23, 59, 59, tzinfo=UTC))
    assert ids(listing(client, auth, date_to=end)) == [late]


def test_unencoded_plus_in_to_filter_still_finds_the_number(client, auth):
    client.post("/v1/sms/send", json={"to": ["+46701234567", "+4799999999"], "message": "Hi"}, headers=auth)
    listed = client.get("/v1/sms/messages?to=+46701234567", headers=auth).json
    assert [m["to_number"] for m in listed["messages"]] == ["+46701234567"]


def test_number_in_to_and_a_date_range_are_both_applied(client, auth):
    client.post("/v1/sms/send", json={"to": ["+4791000001", "+4791000002"], "message": "Hi"}, headers=auth)
    listed = client.get("/v1/sms/messages?to=%2B4791000001&date_to=2999-01-01", headers=auth).json
    assert [m["to_number"] for m in listed["messages"]] == ["+4791000001"]
