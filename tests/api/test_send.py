"""POST /v1/sms/send: recipients, sender selection, response shape, part counting, scheduling,
and the all-or-nothing write of the message rows."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Message, Status

UTC = timezone.utc
OSLO = ZoneInfo("Europe/Oslo")
DEFAULT_SENDER = "+4759440000"  # PLATFORM_SENDER_ID: every new account's default profile

REFERENCE_FIELDS = {"sms_message_id", "to", "status", "scheduled_at", "units_estimate", "customer_ref"}
EXTENSION_FIELDS = {"batch_id", "message_ids", "rejected", "encoding", "parts", "cost", "currency", "schedule_note"}


def send(client, auth, **body):
    return client.post("/v1/sms/send", json=body, headers=auth)


def count_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def numbers(n: int, start: int = 1) -> list[str]:
    """``n`` distinct valid Norwegian mobile numbers (none ends in 0000, the simulator's fail rule)."""
    return [f"+47910{i:05d}" for i in range(start, start + n)]


def create_profile(client, auth, **body) -> dict:
    response = client.post("/v1/sms/sender-profiles", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- recipients -----------------------------------------------------------------------------


@pytest.mark.parametrize("to, expected", [
    ("+4799999999", ["+4799999999"]),  # the official SDK sends one string
    (["+4799999999"], ["+4799999999"]),
    (["+4799999999", "+4798888888", "+4797777777"], ["+4799999999", "+4798888888", "+4797777777"]),
    ("+47 999 99 999", ["+4799999999"]),  # normalised to E.164
], ids=["string", "list-of-one", "list", "spaced"])
def test_to_as_string_or_list(client, auth, to, expected):
    response = send(client, auth, to=to, message="Hello")
    assert response.status_code == 200, response.json
    assert response.json["to"] == expected
    assert response.json["status"] == Status.QUEUED
    assert count_messages() == len(expected)


def test_response_has_exactly_the_reference_fields_plus_extensions(client, auth):
    body = send(client, auth, to=["+4799999999", "+4798888888"], message="Hello", customer_ref="order-1").json
    assert set(body) == REFERENCE_FIELDS | EXTENSION_FIELDS
    assert body["sms_message_id"] == body["message_ids"][0]
    assert body["scheduled_at"] is None
    assert body["customer_ref"] == "order-1"
    assert body["units_estimate"] == 2
    assert (body["encoding"], body["parts"], body["cost"], body["currency"]) == ("GSM-7", 1, 1.98, "NOK")
    assert body["rejected"] == []


def test_message_ids_are_one_per_recipient_in_to_order(client, auth):
    to = ["+4797777777", "+4799999999", "+4798888888"]
    body = send(client, auth, to=to, message="Hi", customer_ref="c1").json
    assert len(set(body["message_ids"])) == 3
    rows = {m.id: m for m in db.session.scalars(select(Message))}
    assert [rows[i].to_number for i in body["message_ids"]] == to
    assert {m.batch_id for m in rows.values()} == {body["batch_id"]}
    assert all(m.customer_ref == "c1" and m.from_number == DEFAULT_SENDER for m in rows.values())


def test_one_bad_number_among_a_thousand_is_rejected_and_the_rest_accepted(client, auth):
    to = numbers(999)
    to.insert(500, "+47123")
    response = send(client, auth, to=to, message="Big batch")
    assert response.status_code == 200, response.json
    body = response.json
    assert len(body["to"]) == len(body["message_ids"]) == 999
    assert body["rejected"] == [{"to": "+47123", "reason": body["rejected"][0]["reason"]}]
    assert "+47123" in body["rejected"][0]["reason"]
    assert body["units_estimate"] == 999
    assert count_messages() == 999
    # every input entry is accounted for
    assert len(body["to"]) + len(body["rejected"]) == len(to)


def test_duplicates_are_listed_as_rejected(client, auth):
    body = send(client, auth, to=["+4799999999", "+47 99 99 99 99", "004799999999", "+4798888888"],
                message="Hi").json
    assert body["to"] == ["+4799999999", "+4798888888"]
    assert [r["to"] for r in body["rejected"]] == ["+47 99 99 99 99", "004799999999"]
    assert all("duplicate" in r["reason"] for r in body["rejected"])
    assert count_messages() == 2


def test_all_invalid_recipients_is_422_naming_each_of_them(client, auth):
    bad = ["12", "+47abc", "+999123456789"]
    response = send(client, auth, to=bad, message="Hi")
    assert response.status_code == 422
    for number in bad:
        assert number in response.json["detail"]
    assert [e["loc"] for e in response.json["errors"]] == [["body", "to", 0], ["body", "to", 1], ["body", "to", 2]]
    assert count_messages() == 0


def test_more_than_a_thousand_valid_recipients_is_422(client, auth):
    response = send(client, auth, to=numbers(1001), message="Too many")
    assert response.status_code == 422
    assert "1000" in response.json["detail"]
    assert count_messages() == 0


def test_exactly_a_thousand_recipients_is_accepted(client, auth):
    response = send(client, auth, to=numbers(1000), message="Just enough")
    assert response.status_code == 200, response.json
    assert count_messages() == 1000


@pytest.mark.parametrize("body, needle", [
    ({"to": [], "message": "Hi"}, "recipient"),
    ({"message": "Hi"}, "recipient"),
    ({"to": "+4799999999", "message": ""}, "empty"),
    ({"to": "+4799999999", "message": "   "}, "empty"),
    ({"to": "+4799999999"}, "message"),
    ({"to": "+4799999999", "message": "a" * 1601}, "1600"),
    ({"to_contacts": ["c1"], "message": "Hi"}, "'c1': contact not found"),
    ({"to_groups": ["g1"], "message": "Hi"}, "'g1': group not found"),
], ids=["empty-to", "no-to", "empty-message", "blank-message", "no-message", "too-long", "unknown-contact",
        "unknown-group"])
def test_invalid_send_is_422_and_writes_nothing(client, auth, body, needle):
    response = send(client, auth, **body)
    assert response.status_code == 422
    assert needle in response.json["detail"]
    assert count_messages() == 0


# --- length and units ------------------------------------------------------------------------


@pytest.mark.parametrize("text, encoding, parts", [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
    ("€" * 81, "GSM-7", 2),
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),  # 306 septets, but the € may not straddle parts 1/2
    ("€" * 153, "GSM-7", 3),  # 306 septets: pairs straddle both boundaries
    ("Hei 😀", "UCS-2", 1),
    ("😀" * 35, "UCS-2", 1),  # 70 UTF-16 units
    ("😀" * 35 + "a", "UCS-2", 2),
    ("a" * 66 + "😀" + "a" * 66, "UCS-2", 3),  # 134 units, but the emoji may not straddle
    ("a" * 1600, "GSM-7", 11),  # the documented "10 parts" cannot hold: 1600 characters are allowed
    ("😀" * 1600, "UCS-2", 49),  # 33 emoji per part
], ids=["gsm-160", "gsm-161", "euro-80", "euro-81", "euro-straddle", "euros-straddle", "emoji",
        "emoji-70-units", "emoji-71-units", "emoji-straddle", "gsm-1600", "emoji-1600"])
def test_units_estimate_is_parts_times_recipients(client, auth, text, encoding, parts):
    body = send(client, auth, to=["+4799999999", "+4798888888"], message=text).json
    assert (body["encoding"], body["parts"]) == (encoding, parts)
    assert body["units_estimate"] == parts * 2
    assert body["cost"] == round(parts * 2 * 0.99, 2)
    assert {m.units for m in db.session.scalars(select(Message))} == {parts}


# --- sender selection ------------------------------------------------------------------------


def test_neither_sender_field_uses_the_default_profile(client, auth):
    body = send(client, auth, to="+4799999999", message="Hi").json
    assert db.session.get(Message, body["sms_message_id"]).from_number == DEFAULT_SENDER


def test_sender_id_selects_the_approved_profile_with_that_sender_id(client, auth):
    create_profile(client, auth, name="support", sender_id="+4791234567")
    body = send(client, auth, to="+4799999999", message="Hi", sender_id="+4791234567").json
    message = db.session.get(Message, body["sms_message_id"])
    assert message.from_number == "+4791234567"


@pytest.mark.parametrize("stored, asked", [("+4791234567", "4791234567"), ("4791234567", "+4791234567"),
                                           ("MyNumber", "mynumber")])
def test_sender_id_matches_other_spellings(ctx, client, auth, stored, asked):
    profile = create_profile(client, auth, name="n", sender_id=stored, brand_confirmation=True)
    if profile["approval_status"] != "approved":
        ctx.test_cli_runner().invoke(args=["sender-profiles", "approve", profile["id"]])
    body = send(client, auth, to="+4799999999", message="Hi", sender_id=asked).json
    assert db.session.get(Message, body["sms_message_id"]).from_number == stored


def test_sender_profile_id_wins_over_sender_id(client, auth):
    create_profile(client, auth, name="a", sender_id="+4791234567")
    chosen = create_profile(client, auth, name="b", sender_id="+4791234568")
    body = send(client, auth, to="+4799999999", message="Hi", sender_id="+4791234567",
                sender_profile_id=chosen["id"]).json
    message = db.session.get(Message, body["sms_message_id"])
    assert (message.from_number, message.sender_profile_id) == ("+4791234568", chosen["id"])


def test_unknown_sender_id_is_422(client, auth):
    response = send(client, auth, to="+4799999999", message="Hi", sender_id="Nobody")
    assert response.status_code == 422
    assert "Nobody" in response.json["detail"]
    assert count_messages() == 0


@pytest.mark.parametrize("select_by", ["sender_profile_id", "sender_id"])
@pytest.mark.parametrize("decision", [None, "reject"], ids=["pending", "rejected"])
def test_pending_or_rejected_profile_cannot_send(ctx, client, auth, select_by, decision):
    profile = create_profile(client, auth, name="brand", sender_id="MyBrand", brand_confirmation=True)
    assert profile["approval_status"] == "pending"
    if decision:
        result = ctx.test_cli_runner().invoke(args=["sender-profiles", decision, profile["id"]])
        assert result.exit_code == 0, result.output
    value = profile["id"] if select_by == "sender_profile_id" else "MyBrand"
    response = send(client, auth, to="+4799999999", message="Hi", **{select_by: value})
    assert response.status_code == 422
    assert ("rejected" if decision else "pending") in response.json["detail"]
    assert count_messages() == 0


def test_unknown_sender_profile_id_is_422(client, auth):
    response = send(client, auth, to="+4799999999", message="Hi", sender_profile_id="no-such-profile")
    assert response.status_code == 422
    assert count_messages() == 0


# --- scheduling --------------------------------------------------------------------------------


def local_in_days(days: int, hour: int = 9) -> datetime:
    """A naive wall time ``days`` from now in Oslo at ``hour``:00."""
    day = datetime.now(OSLO).date() + timedelta(days=days)
    return datetime.combine(day, time(hour))


def test_naive_scheduled_at_is_read_in_the_given_timezone(client, auth, run_jobs):
    local = local_in_days(5)
    response = send(client, auth, to="+4799999999", message="Later", scheduled_at=local.isoformat(),
                    timezone="Europe/Oslo")
    assert response.status_code == 200, response.json
    body = response.json
    expected = local.replace(tzinfo=OSLO).astimezone(UTC)
    assert body["status"] == Status.SCHEDULED
    assert body["scheduled_at"] == iso_z(expected)
    run_jobs()
    message = db.session.get(Message, body["sms_message_id"])
    assert message.status == Status.SCHEDULED
    assert message.scheduled_at == expected


def test_naive_scheduled_at_without_timezone_is_utc(client, auth):
    local = local_in_days(3)
    body = send(client, auth, to="+4799999999", message="Later", scheduled_at=local.isoformat()).json
    assert body["scheduled_at"] == local.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("suffix, offset", [("Z", timedelta(0)), ("+02:00", timedelta(hours=2)),
                                            ("-05:30", timedelta(hours=-5, minutes=-30))])
def test_explicit_offset_is_absolute_whatever_the_timezone(client, auth, suffix, offset):
    local = local_in_days(4)
    body = send(client, auth, to="+4799999999", message="Later", scheduled_at=local.isoformat() + suffix,
                timezone="America/New_York").json
    assert body["scheduled_at"] == iso_z(local.replace(tzinfo=UTC) - offset)


def test_slightly_past_time_within_grace_is_sent_now(client, auth):
    moment = datetime.now(UTC) - timedelta(seconds=60)
    body = send(client, auth, to="+4799999999", message="Now", scheduled_at=moment.isoformat()).json
    assert body["status"] == Status.QUEUED


def _next_spring_forward_gap() -> str:
    """02:30 on the last Sunday of March next year: a wall time Europe/Oslo skips."""
    year = date.today().year + 1
    day = date(year, 3, 31)
    day -= timedelta(days=(day.weekday() - 6) % 7)
    return f"{day.isoformat()}T02:30:00"


@pytest.mark.parametrize("fields, needle", [
    ({"scheduled_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat()}, "in the past"),
    ({"scheduled_at": "2025-12-17T09:00:00", "timezone": "Europe/Oslo"}, "in the past"),
    ({"scheduled_at": (datetime.now(UTC) + timedelta(days=31)).isoformat()}, "30 days"),
    ({"scheduled_at": _next_spring_forward_gap(), "timezone": "Europe/Oslo"}, "does not exist"),
    ({"scheduled_at": local_in_days(2).isoformat(), "timezone": "Mars/Olympus"}, "Unknown time zone"),
    ({"timezone": "Europe/Nowhere"}, "Unknown time zone"),
    ({"scheduled_at": "tomorrow at nine"}, "ISO 8601"),
    ({"scheduled_at": local_in_days(2).date().isoformat()}, "no time of day"),
], ids=["past", "reference-example-date", "too-far", "dst-gap", "unknown-zone", "zone-without-time",
        "not-iso", "date-only"])
def test_bad_schedule_is_422_and_writes_nothing(client, auth, fields, needle):
    response = send(client, auth, to=["+4799999999", "+4798888888"], message="Later", **fields)
    assert response.status_code == 422
    assert needle in response.json["detail"]
    assert count_messages() == 0


# --- callback_url --------------------------------------------------------------------------------


@pytest.mark.parametrize("url, ok", [
    ("https://example.com/webhooks/sms", True),
    ("https://example.com:8443/hook?x=1", True),
    ("http://example.com/webhooks/sms", False),
    ("ftp://example.com/x", False),
    ("https://", False),
    ("not a url", False),
    ("https://example.com/" + "a" * 2100, False),
    ("https://[::1", False),
    ("https://[not-ipv6]/hook", False),
    ("https://exa mple.com/hook", False),
    ("https://example.com:99999/hook", False),
    ("HTTPS://Example.com/hook", True),
], ids=["https", "https-port-query", "http", "ftp", "no-host", "garbage", "too-long", "broken-ipv6",
        "bad-ipv6", "space-in-host", "bad-port", "upper-case-scheme"])
def test_callback_url_must_be_https(client, auth, url, ok):
    response = send(client, auth, to="+4799999999", message="Hi", callback_url=url)
    assert response.status_code == (200 if ok else 422), response.json
    assert count_messages() == (1 if ok else 0)
    if ok:
        assert db.session.get(Message, response.json["sms_message_id"]).callback_url == url
    else:
        assert "https" in response.json["detail"]


def test_customer_ref_longer_than_255_is_422(client, auth):
    response = send(client, auth, to="+4799999999", message="Hi", customer_ref="x" * 256)
    assert response.status_code == 422
    assert count_messages() == 0


def test_queued_send_is_dispatched_and_delivered(client, auth, run_jobs):
    body = send(client, auth, to=["+4799999999", "+4798888888"], message="Hi").json
    run_jobs()
    statuses = {m.id: m.status for m in db.session.scalars(select(Message))}
    assert statuses == {i: Status.DELIVERED for i in body["message_ids"]}


def test_cost_is_rounded_to_cents_like_the_bill(app, client, auth, monkeypatch):
    from decimal import Decimal

    monkeypatch.setitem(app.config, "SMS_PRICES", {**app.config["SMS_PRICES"], "NOK": Decimal("0.995")})
    body = send(client, auth, to="+4799999999", message="Hi").json
    assert body["cost"] == 1.0


def test_blank_schedule_fields_mean_unset(client, auth):
    # form-backed clients send "" for fields the user left empty
    response = send(client, auth, to="+4799999999", message="Hi", scheduled_at="", timezone=" ")
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["scheduled_at"]) == (Status.QUEUED, None)


@pytest.fixture
def frozen_now(monkeypatch):
    """Freeze the send service's clock (only the validation and stamping in send.py)."""
    def freeze(moment: datetime) -> None:
        monkeypatch.setattr("app.services.send.utcnow", lambda: moment)
    return freeze


@pytest.mark.parametrize("now, local, expected", [
    # fall-back overlap: 02:30 happens twice in Oslo on 25 October 2026; the first (CEST) is taken
    (datetime(2026, 10, 20, 12, tzinfo=UTC), "2026-10-25T02:30:00", "2026-10-25T00:30:00Z"),
    # just before and after the spring-forward gap
    (datetime(2026, 3, 20, 12, tzinfo=UTC), "2026-03-29T01:59:00", "2026-03-29T00:59:00Z"),
    (datetime(2026, 3, 20, 12, tzinfo=UTC), "2026-03-29T03:00:00", "2026-03-29T01:00:00Z"),
    # exactly 30 days ahead is still allowed
    (datetime(2026, 3, 1, 8, tzinfo=UTC), "2026-03-31T10:00:00", "2026-03-31T08:00:00Z"),
], ids=["overlap-first", "before-gap", "after-gap", "exactly-30-days"])
def test_schedule_around_dst_with_a_fixed_clock(client, auth, frozen_now, now, local, expected):
    frozen_now(now)
    response = send(client, auth, to="+4799999999", message="Hi", scheduled_at=local, timezone="Europe/Oslo")
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["scheduled_at"]) == (Status.SCHEDULED, expected)
    # Only the time that occurs twice is noted (DESIGN §7: "takes the first occurrence and says so").
    note = response.json["schedule_note"]
    assert (note is not None) == (local == "2026-10-25T02:30:00")
    if note:
        assert "occurs twice in Europe/Oslo" in note and "2026-10-25T00:30:00Z" in note


def test_dst_gap_with_a_fixed_clock(client, auth, frozen_now):
    frozen_now(datetime(2026, 3, 20, 12, tzinfo=UTC))
    response = send(client, auth, to="+4799999999", message="Hi", scheduled_at="2026-03-29T02:30:00",
                    timezone="Europe/Oslo")
    assert response.status_code == 422
    assert "2026-03-29 02:30 does not exist in Europe/Oslo" in response.json["detail"]
    assert count_messages() == 0


def test_allow_reply_needs_a_number_sender(ctx, client, auth):
    brand = create_profile(client, auth, name="brand", sender_id="MyBrand", brand_confirmation=True)
    ctx.test_cli_runner().invoke(args=["sender-profiles", "approve", brand["id"]])
    refused = send(client, auth, to="+4799999999", message="Reply?", sender_id="MyBrand", allow_reply=True)
    assert refused.status_code == 422
    assert "cannot receive replies" in refused.json["detail"]
    assert send(client, auth, to="+4799999999", message="Reply?", allow_reply=True).status_code == 200
    assert count_messages() == 1
