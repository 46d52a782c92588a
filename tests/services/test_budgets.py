"""Budget rules: the pure ones table-driven (months in a zone, amounts as typed, what fits, how
close a limit is), then the committed figure against a real database (reserve, give back, rebuild)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AccountSpend, Message
from app.services import budgets, messages
from app.services.budgets import SpendingLimitReached
from app.services.send import SendRequest, send
from app.sms.budget import fitting, level, money, month_bounds, month_of, parse_amount

UTC = timezone.utc
D = Decimal


@pytest.mark.parametrize("moment, zone, month", [
    (datetime(2026, 1, 31, 22, 59, tzinfo=UTC), "Europe/Oslo", "2026-01"),
    (datetime(2026, 1, 31, 23, 0, tzinfo=UTC), "Europe/Oslo", "2026-02"),  # local midnight, 1 Feb
    (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "America/New_York", "2025-12"),
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "UTC", "2026-12"),
    (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), "Europe/Oslo", "2026-04"),  # summer time: UTC+2
])
def test_month_of_is_the_local_calendar_month(moment, zone, month):
    assert month_of(moment, zone) == month


@pytest.mark.parametrize("month, zone, start, end", [
    ("2026-01", "Europe/Oslo", datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 31, 23, tzinfo=UTC)),
    ("2026-03", "Europe/Oslo", datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC)),
    ("2026-12", "UTC", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
])
def test_month_bounds_in_utc(month, zone, start, end):
    assert month_bounds(month, zone) == (start, end)


@pytest.mark.parametrize("bad", ["2026-1", "26-01", "", "2026-01-01"])
def test_month_bounds_refuses_what_is_not_a_month(bad):
    with pytest.raises(ValueError):
        month_bounds(bad, "UTC")


@pytest.mark.parametrize("typed, amount", [
    ("", None), ("  ", None), (None, None), ("500", D("500.00")), (" 499.5 ", D("499.50")), ("0", D("0.00")),
    (12, D("12.00")), (12.25, D("12.25")), ("9999999999.99", D("9999999999.99")),
])
def test_parse_amount_accepts(typed, amount):
    assert parse_amount(typed) == amount


@pytest.mark.parametrize("typed, message", [
    ("abc", "Enter an amount"), ("-1", "zero or more"), ("1.234", "two decimals"), ("NaN", "zero or more"),
    ("Infinity", "zero or more"), ("10000000000", "at most"), ("1e3x", "Enter an amount"),
])
def test_parse_amount_refuses_with_a_reason(typed, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(typed)


@pytest.mark.parametrize("costs, room, expected", [
    ([D("1"), D("1"), D("1")], None, (3, D("3"))),
    ([D("1"), D("1"), D("1")], D("2"), (2, D("2"))),
    ([D("1"), D("1"), D("1")], D("2.5"), (2, D("2"))),
    ([D("2"), D("1")], D("1.5"), (0, D("0"))),  # a prefix: the cheaper one behind does not jump the line
    ([], D("0"), (0, D("0"))),
    ([D("0.99")] * 10, D("9.90"), (10, D("9.90"))),
])
def test_fitting_takes_the_prefix_that_fits(costs, room, expected):
    assert fitting(costs, room) == expected


@pytest.mark.parametrize("committed, limit, state", [
    (D("0"), None, "none"),
    (D("0"), D("100"), "ok"),
    (D("79.99"), D("100"), "ok"),
    (D("80"), D("100"), "warning"),
    (D("99.01"), D("100"), "warning"),  # one more part (0.99) still fits
    (D("99.02"), D("100"), "reached"),  # it does not
    (D("0"), D("0"), "reached"),
])
def test_level(committed, limit, state):
    assert level(committed, limit, D("0.99")).state == state


def test_money():
    assert money(D("500"), "NOK") == "500.00 NOK"
    assert money(D("3.965"), "EUR") == "3.97 EUR"


# -- against the database --------------------------------------------------------------------------

def to(n: int) -> tuple:
    return tuple(f"+4790{i:06d}" for i in range(1, n + 1))


def committed_row(account) -> Decimal | None:
    return db.session.scalar(select(AccountSpend.committed).where(AccountSpend.account_id == account.id))


def message_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def test_without_a_limit_nothing_is_kept(account):
    send(account, SendRequest(message="hi", to=to(3)))
    assert db.session.scalar(select(func.count()).select_from(AccountSpend)) == 0
    assert budgets.standing(account).committed == D("2.97")  # counted from the ledger for the page


def test_setting_a_limit_rebuilds_the_month_from_the_ledger(account):
    send(account, SendRequest(message="hi", to=to(3)))
    assert budgets.set_limit(account, D("10")) == D("2.97")
    assert committed_row(account) == D("2.97")
    send(account, SendRequest(message="hi", to=to(2)))
    assert committed_row(account) == D("4.95")
    # A figure that drifted (say, edited by hand) is put right when the limit changes.
    db.session.execute(AccountSpend.__table__.update().values(committed=D("1")))
    db.session.commit()
    budgets.set_limit(account, D("20"))
    assert committed_row(account) == D("4.95")


def test_removing_the_limit_drops_the_figure_and_counts_from_the_ledger(account):
    budgets.set_limit(account, D("10"))
    send(account, SendRequest(message="hi", to=to(1)))
    budgets.set_limit(account, None)
    assert committed_row(account) is None
    send(account, SendRequest(message="hi", to=to(2)))  # not reserved: there is no limit
    assert budgets.standing(account).committed == D("2.97") and budgets.standing(account).level.state == "none"


def test_a_send_past_the_limit_is_refused_whole_and_writes_nothing(account):
    budgets.set_limit(account, D("3"))
    with pytest.raises(SpendingLimitReached) as refused:
        send(account, SendRequest(message="hi", to=to(4)))
    assert refused.value.status == 402 and refused.value.code == "spending_limit_reached"
    assert "3.00 NOK" in refused.value.message and "3.96 NOK" in refused.value.message
    assert message_count() == 0 and committed_row(account) == D("0")
    send(account, SendRequest(message="hi", to=to(3)))  # 2.97 fits
    assert committed_row(account) == D("2.97")


def test_exactly_the_limit_fits(account):
    budgets.set_limit(account, D("3.96"))
    send(account, SendRequest(message="hi", to=to(4)))
    assert committed_row(account) == D("3.96")
    with pytest.raises(SpendingLimitReached):
        send(account, SendRequest(message="hi", to=to(1)))


def test_cancelling_gives_the_cost_back(account):
    budgets.set_limit(account, D("1.98"))
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response, _ = send(account, SendRequest(message="hi", to=to(2), scheduled_at=when))  # SCHEDULED: charged now
    with pytest.raises(SpendingLimitReached):
        send(account, SendRequest(message="hi", to=to(1)))
    messages.cancel_message(account, response["message_ids"][0])
    assert committed_row(account) == D("0.99")
    send(account, SendRequest(message="hi", to=to(1)))
    assert committed_row(account) == D("1.98")


def test_a_new_month_starts_from_the_ledger_of_that_month(account):
    budgets.set_limit(account, D("5"))
    send(account, SendRequest(message="hi", to=to(2)))
    later = datetime(2099, 5, 3, tzinfo=UTC)  # nothing was charged in that month
    assert budgets.committed(account, later) == D("0")
    budgets.reserve(account, D("4.5"), later)
    db.session.commit()
    assert budgets.committed(account, later) == D("4.5")
    assert budgets.committed(account) == D("1.98")


def test_two_sessions_cannot_both_squeeze_past(account, app):
    """The conditional UPDATE holds under concurrency: two transactions that each fit but not
    together, the second one waiting on the first's row lock (PostgreSQL) or write lock (SQLite)."""
    import threading

    from app.models import Account

    budgets.set_limit(account, D("3"))
    account_id = account.id
    results, barrier = [], threading.Barrier(2)

    def attempt() -> None:
        with app.app_context():
            mine = db.session.get(Account, account_id)
            barrier.wait()
            try:
                budgets.reserve(mine, D("2"))
                db.session.commit()
                results.append("accepted")
            except SpendingLimitReached:
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["accepted", "refused"]
    db.session.expire_all()
    assert committed_row(account) == D("2")


@pytest.mark.parametrize("limit", [D("10"), D("0")])
def test_an_opt_out_confirmation_is_always_sent_and_counted(account, limit):
    """The person who texted STOP is owed the confirmation whatever the budget; the month's figure
    counts it once, also when it was first counted from the ledger in the same step."""
    from app.services import senders
    from app.services.simulator_inbound import simulate_inbound

    senders.create_profile(account, "Two-way", "+4759440009", allow_reply=True)
    budgets.set_limit(account, limit)
    db.session.execute(AccountSpend.__table__.delete())  # a new month: no row yet
    db.session.commit()
    received = simulate_inbound(account, "+4790000001", "STOP")
    confirmation = db.session.get(Message, received.reply_message_id)
    assert confirmation is not None and confirmation.cost > 0
    assert committed_row(account) == confirmation.cost == budgets.ledger_total(account, budgets.current_month(account))
