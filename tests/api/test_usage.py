"""/status, /usage, /stats, /pricing, /pricing/messages and /estimate: shapes exactly as the
reference examples, figures equal to a count over the messages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Message, Status

UTC = timezone.utc
OSLO = ZoneInfo("Europe/Oslo")

USAGE_FIELDS = {"period", "period_start", "period_end", "messages_sent", "messages_received", "messages_failed",
                "units_used", "cost", "currency", "price_per_unit", "outbound_cost", "inbound_cost"}
STATS_PERIOD_FIELDS = {"messages_sent", "messages_received", "units_used", "delivery_rate"}
STATUS_FIELDS = {"active", "has_sender_profiles", "has_api_key", "default_sender", "messages_today",
                 "messages_this_month", "messages_sent_30d", "messages_received_30d"}


def send(client, auth, to, message="Hello", **extra) -> dict:
    response = client.post("/v1/sms/send", json={"to": to, "message": message, **extra}, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def get(client, auth, path, **query):
    response = client.get(f"/v1/sms/{path}", query_string=query, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def all_messages(client, auth) -> list[dict]:
    return get(client, auth, "messages", page_size=500)["messages"]


def add_inbound(account_id: str, when: datetime) -> None:
    db.session.add(Message(account_id=account_id, direction="INBOUND", message_type="PLAIN", from_number="+4799999999",
                           to_number="+4759440000", body="HELLO", status=Status.RECEIVED, units=1,
                           received_at=when, created_at=when))
    db.session.commit()


def move(message_ids, **values) -> None:
    db.session.execute(update(Message).where(Message.id.in_(message_ids)).values(**values))
    db.session.commit()


def this_period() -> str:
    return datetime.now(OSLO).strftime("%Y-%m")


@pytest.fixture
def traffic(client, auth, account, run_jobs):
    """Delivered messages of 1, 2 and 3 parts, one failed by the carrier after sending, one
    scheduled, one cancelled, one inbound: a bit of everything usage must tell apart."""
    account_id = account.id
    send(client, auth, ["+4799999999", "+4798888888"], "short")
    send(client, auth, "+4797777777", "a" * 200)  # 2 parts
    send(client, auth, "+4796666666", "😀" * 80)  # 3 parts, UCS-2
    send(client, auth, "+4791230000", "will fail")  # the simulator fails numbers ending 0000
    run_jobs()
    send(client, auth, "+4795555555", "later", scheduled_at=(datetime.now(UTC) + timedelta(days=3)).isoformat())
    cancelled = send(client, auth, "+4794444444", "never")["sms_message_id"]
    client.post(f"/v1/sms/messages/{cancelled}/cancel", headers=auth)
    add_inbound(account_id, datetime.now(UTC))
    return account_id


def expected_figures(messages: list[dict]) -> dict:
    """Usage computed independently from the messages as the API lists them."""
    sent = [m for m in messages if m["direction"] == "OUTBOUND" and m["sent_at"]]
    return {
        "messages_sent": len(sent),
        "units_used": sum(m["units_count"] for m in sent),
        "messages_failed": sum(1 for m in messages if m["failed_at"]),
        "messages_received": sum(1 for m in messages if m["direction"] == "INBOUND"),
        "delivered": sum(1 for m in sent if m["status"] == Status.DELIVERED),
    }


# --- usage -------------------------------------------------------------------------------------


def test_usage_shape_and_figures_equal_a_count_over_the_messages(client, auth, traffic):
    usage = get(client, auth, "usage")
    assert set(usage) == USAGE_FIELDS
    expected = expected_figures(all_messages(client, auth))
    assert (expected["messages_sent"], expected["units_used"], expected["messages_failed"]) == (5, 2 + 2 + 3 + 1, 1)
    for key in ("messages_sent", "units_used", "messages_failed", "messages_received"):
        assert usage[key] == expected[key], key
    assert usage["period"] == this_period()
    assert (usage["currency"], usage["price_per_unit"]) == ("NOK", 0.99)
    assert usage["cost"] == usage["outbound_cost"] == round(8 * 0.99, 2) == 7.92
    assert usage["inbound_cost"] == 0.0


def test_usage_cost_rounds_to_two_decimals(client, auth, run_jobs):
    send(client, auth, [f"+47910000{i:02d}" for i in range(1, 8)], "Hi")  # 7 units
    run_jobs()
    usage = get(client, auth, "usage")
    assert (usage["units_used"], usage["cost"]) == (7, 6.93)


def test_eur_account_pays_ten_cents_a_unit(client, other_account, run_jobs):
    _, auth = other_account
    send(client, auth, ["+4799999999", "+4798888888", "+4797777777"], "a" * 161)  # 2 parts each
    run_jobs()
    usage = get(client, auth, "usage", period=datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m"))
    assert (usage["currency"], usage["price_per_unit"], usage["units_used"], usage["cost"]) == ("EUR", 0.1, 6, 0.6)


def test_unsent_messages_cost_nothing(client, auth):
    send(client, auth, "+4799999999", "queued, not yet sent")
    usage = get(client, auth, "usage")
    assert (usage["messages_sent"], usage["units_used"], usage["cost"]) == (0, 0, 0.0)


@pytest.mark.parametrize("period, start, end", [
    ("2025-12", "2025-12-01", "2025-12-31"),
    ("2028-02", "2028-02-01", "2028-02-29"),
    ("2026-02", "2026-02-01", "2026-02-28"),
    ("2026-04", "2026-04-01", "2026-04-30"),
])
def test_period_param(client, auth, period, start, end):
    usage = get(client, auth, "usage", period=period)
    assert (usage["period"], usage["period_start"], usage["period_end"], usage["messages_sent"]) == (period, start, end, 0)


def test_empty_period_is_the_current_month(client, auth):
    assert get(client, auth, "usage", period="")["period"] == this_period()


def test_usage_counts_by_month_in_the_account_zone(client, auth, run_jobs):
    early = send(client, auth, "+4799999999", "Hi")["sms_message_id"]
    late = send(client, auth, "+4798888888", "Hi")["sms_message_id"]
    run_jobs()
    # 23:30 UTC on 31 October is already 1 November in Oslo
    move([early], sent_at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    move([late], sent_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    assert get(client, auth, "usage", period="2026-10")["messages_sent"] == 1
    assert get(client, auth, "usage", period="2026-11")["messages_sent"] == 1


@pytest.mark.parametrize("period", ["2025-13", "2025-00", "2025", "abc", "2025-1-1", "12-2025", "9999-12",
                                    "0001-01", "2025-12-01", "2025/12", "x" * 300])
def test_bad_period_is_422(client, auth, period):
    response = client.get("/v1/sms/usage", query_string={"period": period}, headers=auth)
    assert response.status_code == 422, response.json
    assert "YYYY-MM" in response.json["detail"]


# --- stats -------------------------------------------------------------------------------------


def test_stats_shape_and_windows(client, auth, traffic):
    # one more message, sent 40 days ago: only in status_breakdown, in no window
    old = send(client, auth, "+4793333333", "old")["sms_message_id"]
    long_ago = datetime.now(UTC) - timedelta(days=40)
    move([old], status=Status.DELIVERED, sent_at=long_ago, delivered_at=long_ago, created_at=long_ago)
    stats = get(client, auth, "stats")
    assert set(stats) == {"today", "this_week", "this_month", "last_30_days", "status_breakdown"}
    recent = [m for m in all_messages(client, auth) if m["id"] != old]
    expected = expected_figures(recent)
    for window in ("today", "this_week", "this_month", "last_30_days"):
        assert set(stats[window]) == STATS_PERIOD_FIELDS
        figures = stats[window]
        assert (figures["messages_sent"], figures["messages_received"], figures["units_used"]) == (
            expected["messages_sent"], expected["messages_received"], expected["units_used"]), window
        assert figures["delivery_rate"] == round(expected["delivered"] / expected["messages_sent"], 4) == 0.8
    counted = {}
    for m in all_messages(client, auth):
        counted[m["status"]] = counted.get(m["status"], 0) + 1
    assert stats["status_breakdown"] == counted
    assert counted == {"DELIVERED": 5, "FAILED": 1, "SCHEDULED": 1, "CANCELLED": 1, "RECEIVED": 1}


def test_stats_yesterday_is_in_the_right_windows(client, auth, run_jobs):
    sent = send(client, auth, "+4799999999", "Hi")["sms_message_id"]
    run_jobs()
    today = datetime.now(OSLO).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), datetime.min.time().replace(hour=12), OSLO)
    move([sent], sent_at=yesterday_noon.astimezone(UTC))
    stats = get(client, auth, "stats")
    monday = today - timedelta(days=today.weekday())
    assert stats["today"]["messages_sent"] == 0
    assert stats["this_week"]["messages_sent"] == (1 if yesterday_noon.date() >= monday else 0)
    assert stats["this_month"]["messages_sent"] == (1 if yesterday_noon.month == today.month else 0)
    assert stats["last_30_days"]["messages_sent"] == 1


def test_empty_stats(client, auth):
    stats = get(client, auth, "stats")
    assert stats["today"] == {"messages_sent": 0, "messages_received": 0, "units_used": 0, "delivery_rate": 0.0}
    assert stats["status_breakdown"] == {}


# --- status ------------------------------------------------------------------------------------


def test_status_shape(client, auth, traffic):
    status = get(client, auth, "status")
    assert set(status) == STATUS_FIELDS
    assert (status["active"], status["has_sender_profiles"], status["has_api_key"]) == (True, True, True)
    assert set(status["default_sender"]) == {"id", "name", "sender_id", "is_default"}
    default = [p for p in get(client, auth, "sender-profiles") if p["is_default"]][0]
    assert status["default_sender"] == {k: default[k] for k in ("id", "name", "sender_id", "is_default")}
    expected = expected_figures(all_messages(client, auth))
    assert status["messages_today"] == status["messages_this_month"] == status["messages_sent_30d"] == expected["messages_sent"]
    assert status["messages_received_30d"] == expected["messages_received"] == 1


def test_status_follows_the_default(client, auth):
    new = client.post("/v1/sms/sender-profiles", json={"name": "n", "sender_id": "+4791234567", "is_default": True},
                      headers=auth).json
    assert get(client, auth, "status")["default_sender"]["id"] == new["id"]


# --- pricing and estimate ----------------------------------------------------------------------


def test_pricing(client, auth):
    body = get(client, auth, "pricing")
    assert (body["currency"], body["price_per_unit"], body["inbound_price_per_unit"]) == ("NOK", 0.99, 0.0)
    assert {p["currency"]: p["price_per_unit"] for p in body["prices"]} == {
        "NOK": 0.99, "SEK": 0.99, "DKK": 0.79, "EUR": 0.10, "USD": 0.10}


def test_pricing_in_the_account_currency(client, other_account):
    _, auth = other_account
    assert get(client, auth, "pricing")["price_per_unit"] == 0.1
    assert get(client, auth, "pricing/messages")["currency"] == "EUR"


def test_message_pricing_table(client, auth):
    body = get(client, auth, "pricing/messages")
    assert (body["currency"], body["price_per_unit"]) == ("NOK", 0.99)
    tiers = {(m["encoding"], m["parts"]): m for m in body["messages"]}
    assert tiers[("GSM-7", 1)]["max_characters"] == 160
    assert tiers[("GSM-7", 2)]["max_characters"] == 306
    assert tiers[("UCS-2", 1)]["max_characters"] == 70
    assert tiers[("UCS-2", 2)]["max_characters"] == 134
    assert all(m["price"] == round(m["parts"] * 0.99, 2) for m in body["messages"])


def count_messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


@pytest.mark.parametrize("text, recipients", [("Hello", 1), ("a" * 161, 3), ("😀" * 80, 2), ("€" * 153, 5)])
def test_estimate_agrees_with_send_and_creates_nothing(client, auth, text, recipients):
    to = [f"+47910000{i:02d}" for i in range(1, recipients + 1)]
    response = client.post("/v1/sms/estimate", json={"message": text, "to": to}, headers=auth)
    assert response.status_code == 200, response.json
    estimate = response.json
    assert count_messages() == 0
    by_count = client.post("/v1/sms/estimate", json={"message": text, "recipients": recipients}, headers=auth).json
    assert by_count["units"] == estimate["units"]
    sent = send(client, auth, to, text)
    assert (estimate["encoding"], estimate["parts"], estimate["units"], estimate["cost"], estimate["currency"]) == (
        sent["encoding"], sent["parts"], sent["units_estimate"], sent["cost"], sent["currency"])
    assert estimate["recipients"] == recipients


def test_estimate_suggests_gsm_replacements(client, auth):
    body = client.post("/v1/sms/estimate", json={"message": "It\u2019s \u201cfine\u201d"}, headers=auth).json
    assert body["encoding"] == "UCS-2"
    assert body["suggestions"] == {"\u2019": "'", "\u201c": '"', "\u201d": '"'}


@pytest.mark.parametrize("body", [{"message": ""}, {"message": "a" * 1601}, {}, {"message": "x", "recipients": 0},
                                  {"message": "x", "recipients": True}, {"message": 5}])
def test_bad_estimate_is_422(client, auth, body):
    response = client.post("/v1/sms/estimate", json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["detail"]
