"""The usage page for managers: figures equal to the usage API for real traffic (API sends and a
campaign through the engine, a failure, an inbound message, traffic in the month before), the page
and its HTMX fragment, the chart's JSON, the CSV files, invalid months, roles and tenants."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from app.extensions import db
from app.models import Account, Contact, Message, group_members, new_id
from app.services import campaign_run, campaigns
from app.services.campaigns import CampaignSpec
from app.services.groups import create_group
from app.services.simulator import deliver_due_reports
from app.dashboard.usage import CAMPAIGN_PAGES
from app.services.usage_report import CAMPAIGN_COLUMNS, DAY_COLUMNS, DIRECT_SENDS
from tests.dashboard.conftest import full_page, htmx_fragment

UTC = timezone.utc
OSLO = ZoneInfo("Europe/Oslo")
CAMPAIGN_NAME = "=HYPERLINK(\"http://evil\") sale"  # also a formula, for the CSV


def send(client, auth, to, message="Hello") -> dict:
    response = client.post("/v1/sms/send", json={"to": to, "message": message}, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def api(client, auth, path, **query) -> dict:
    response = client.get(f"/v1/sms/{path}", query_string=query, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def months() -> tuple[str, str]:
    """This month and the one before, in Oslo (the account's zone)."""
    today = datetime.now(OSLO).date()
    return today.strftime("%Y-%m"), (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), OSLO).astimezone(UTC)


def move(ids, when: datetime) -> None:
    db.session.execute(update(Message).where(Message.id.in_(ids)).values(
        sent_at=when, delivered_at=when, created_at=when - timedelta(seconds=5)))
    db.session.commit()


def run_campaign(account_id: str, run_jobs, name: str, count: int, first: int = 0) -> str:
    account = db.session.get(Account, account_id)  # jobs run here release the session and what it held
    group = create_group(account, f"Group {name[:20]} {first}")
    rows = [{"id": new_id(), "account_id": account.id, "name": f"Ada {i}", "first_name": "Ada",
             "phone_number": f"+479{3000001 + first + i:07d}", "type": "person", "tags": []} for i in range(count)]
    db.session.execute(insert(Contact.__table__), rows)
    db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": r["id"]} for r in rows])
    db.session.commit()
    campaign = campaigns.create(account, CampaignSpec(name=name, message="Hi {first_name}", group_ids=(group.id,)))
    campaign_id = campaign.id
    campaigns.send_now(account, campaign)
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()
    return campaign_id


@pytest.fixture
def traffic(client, auth, account, run_jobs):
    """Acme's traffic: today (API sends of 1 and 2 parts, one the carrier fails, a campaign of 5,
    an inbound message), a day earlier this month when there is one, and the month before (its
    first day and its last evening), all through the real engine. Acme exists since last year, so
    closed days are read from rollups."""
    account_id = account.id
    db.session.execute(update(Account).where(Account.id == account_id)
                       .values(created_at=datetime.now(UTC) - timedelta(days=400)))
    db.session.commit()
    direct = send(client, auth, ["+4799999901", "+4799999902", "+4799999903", "+4799999904"], "short")
    send(client, auth, "+4799999905", "a" * 200)  # 2 parts
    send(client, auth, "+4791230000", "will fail")  # the simulator fails numbers ending 0000
    run_jobs()
    deliver_due_reports()
    campaign_id = run_campaign(account_id, run_jobs, CAMPAIGN_NAME, 5)
    db.session.add(Message(account_id=account_id, direction="INBOUND", message_type="PLAIN", from_number="+4799999999",
                           to_number="+4759440000", body="STOP", status="RECEIVED", units=1,
                           received_at=datetime.now(UTC), created_at=datetime.now(UTC)))
    db.session.commit()

    ids = direct["message_ids"]
    today = datetime.now(OSLO).date()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    move(ids[:1], local(last_month_end.replace(day=1), 10))
    move(ids[1:2], local(last_month_end, 23, 30))  # the last evening: still last month in Oslo
    if today.day > 1:
        move(ids[2:3], local(today.replace(day=1), 0, 10))
    return {"campaign_id": campaign_id, "today": today}


def figures(browser, month: str) -> dict:
    response = browser.get("/usage.json", query_string={"month": month})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def page_totals(html: str) -> dict[str, str]:
    return dict(re.findall(r'<dd class="figure" id="total-([a-z-]+)">([^<]*)</dd>', html))


# -- figures equal the API -----------------------------------------------------------------------

def test_totals_and_days_equal_the_usage_api(client, auth, login_as, traffic):
    manager = login_as("manager")
    this_month, last_month = months()
    for month in (this_month, last_month):
        usage = api(client, auth, "usage", period=month)
        data = figures(manager, month)
        totals = data["totals"]
        assert (totals["sent"], totals["received"], totals["failed"], totals["units"], totals["cost"]) == (
            usage["messages_sent"], usage["messages_received"], usage["messages_failed"], usage["units_used"],
            usage["cost"]), month
        for key in ("sent", "delivered", "failed", "received", "units"):
            assert sum(day[key] for day in data["days"]) == totals[key], (month, key)
        html = full_page(manager.get("/usage", query_string={"month": month}))
        shown = page_totals(html)
        assert shown["sent"] == f"{usage['messages_sent']:,}" and shown["units"] == f"{usage['units_used']:,}"
        assert shown["failed"] == f"{usage['messages_failed']:,}"
        assert shown["received"] == f"{usage['messages_received']:,}"
        assert shown["cost"] == f"{usage['cost']:,.2f}"

    # Counted by hand: 6 direct sends (one failed by the carrier after it accepted it, so sent too)
    # and 5 of the campaign, less the 2 moved to the month before.
    assert figures(manager, this_month)["totals"] == {
        "sent": 9, "delivered": 8, "failed": 1, "received": 1, "units": 10, "cost": 9.90,
        "delivery_rate": round(8 / 9, 4)}
    assert figures(manager, last_month)["totals"] == {
        "sent": 2, "delivered": 2, "failed": 0, "received": 0, "units": 2, "cost": 1.98, "delivery_rate": 1.0}


def test_this_month_equals_the_month_part_of_stats(client, auth, login_as, traffic):
    manager = login_as("manager")
    stats = api(client, auth, "stats")["this_month"]
    totals = figures(manager, months()[0])["totals"]
    assert (totals["sent"], totals["received"], totals["units"], totals["delivery_rate"]) == (
        stats["messages_sent"], stats["messages_received"], stats["units_used"], stats["delivery_rate"])
    assert totals["failed"] == 1 and 0 < totals["delivery_rate"] <= 1


def test_closed_days_are_read_from_rollups(login_as, traffic):
    from app.models import UsageRollup

    figures(login_as("admin"), months()[1])
    stored = db.session.scalars(select(UsageRollup.day)).all()
    last_month_end = traffic["today"].replace(day=1) - timedelta(days=1)
    assert last_month_end.replace(day=1) in stored and traffic["today"] not in stored


# -- the page --------------------------------------------------------------------------------------

def test_full_page_has_every_part(login_as, traffic):
    html = full_page(login_as("manager").get("/usage"))
    this_month, last_month = months()
    assert f'value="{this_month}"' in html and f"<h2>{this_month}</h2>" in html
    assert f"Compared with {last_month}" in html
    assert 'src="/static/vendor/chart.umd.min.js"' in html and 'src="/static/usage.js"' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline scripts
    assert f'data-usage-chart="/usage.json?month={this_month}"' in html
    assert DIRECT_SENDS in html
    assert "&#34;http://evil&#34;" in html or "&quot;http://evil&quot;" in html  # the name, escaped
    costs = re.search(r'<table class="list costs">.*?</table>', html, re.S).group(0)
    assert re.findall(r"<td>([A-Z]{3})", costs) == ["NOK", "SEK", "DKK", "EUR", "USD"]  # account currency first
    assert "(account)" in costs
    assert f"/usage.csv?month={this_month}&amp;by=day" in html and "by=campaign" in html


def test_by_campaign_and_by_sender_tables(login_as, traffic):
    html = full_page(login_as("manager").get("/usage"))
    campaign_table = re.search(r'<table class="list by-campaign">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr><td>(.*?)</td>\s*<td class=\"num\">([\d,]+)</td>", campaign_table, re.S)
    names = [re.sub(r"<[^>]+>", "", name) for name, _ in rows]
    assert DIRECT_SENDS in names and any("http://evil" in n for n in names)
    campaign_sent = dict(zip(names, (int(n.replace(",", "")) for _, n in rows)))
    assert campaign_sent[DIRECT_SENDS] + [v for k, v in campaign_sent.items() if k != DIRECT_SENDS][0] == int(
        page_totals(html)["sent"])
    assert [v for k, v in campaign_sent.items() if k != DIRECT_SENDS] == [5]
    pages = login_as("manager").app.view_functions
    linked = any(endpoint in pages for endpoint in CAMPAIGN_PAGES)
    assert (f'/{traffic["campaign_id"]}"' in campaign_table) is linked  # a link only where the campaign page exists
    sender_table = re.search(r'<table class="list by-sender">.*?</table>', html, re.S).group(0)
    assert "<code>" in sender_table  # the default profile with its sender id


def test_messages_of_a_campaign_that_is_gone(login_as, account):
    now = datetime.now(UTC)
    db.session.add(Message(account_id=account.id, campaign_id=new_id(), direction="OUTBOUND", message_type="PLAIN",
                           to_number="+4791234567", body="Hi", status="DELIVERED", units=1, sent_at=now,
                           delivered_at=now, created_at=now))
    db.session.commit()
    html = full_page(login_as("manager").get("/usage"))
    campaign_table = re.search(r'<table class="list by-campaign">.*?</table>', html, re.S).group(0)
    assert "<tr><td>Deleted campaign</td>" in campaign_table and DIRECT_SENDS not in campaign_table


def test_month_switch_answers_the_fragment(login_as, traffic):
    manager = login_as("manager")
    _, last_month = months()
    html = htmx_fragment(manager.get("/usage", query_string={"month": last_month}, htmx=True))
    assert html.startswith("<section id=\"usage\"") or '<section id="usage"' in html.split("<template>")[0]
    assert f"<h2>{last_month}</h2>" in html and f'value="{last_month}"' in html
    assert page_totals(html)["sent"] == "2"


def test_previous_month_comparison(login_as, traffic):
    html = full_page(login_as("manager").get("/usage"))
    comparison = re.search(r'<table class="list comparison">.*?</table>', html, re.S).group(0)
    sent = re.search(r"<td>Messages sent</td>\s*<td class=\"num\">([\d,]+)</td><td class=\"num\">([\d,]+)</td>\s*"
                     r"<td class=\"num\">([+-][\d,]+)</td>\s*<td class=\"num\">([^<]+)</td>", comparison)
    now, before, change, percent = sent.groups()
    assert int(before) == 2 and int(change) == int(now) - 2
    assert percent == f"{(int(now) - 2) / 2 * 100:+.1f} %"
    received = re.search(r"<td>Messages received</td>.*?</tr>", comparison, re.S).group(0)
    assert "—" in received  # none the month before: no percentage


def test_json_shape(login_as, traffic):
    data = figures(login_as("admin"), months()[0])
    assert set(data) == {"period", "previous_period", "currency", "totals", "previous", "days"}
    assert data["currency"] == "NOK" and data["period"] == months()[0] and data["previous_period"] == months()[1]
    keys = {"sent", "delivered", "failed", "received", "units", "cost", "delivery_rate"}
    assert set(data["totals"]) == set(data["previous"]) == keys
    assert all(set(day) == keys | {"date"} for day in data["days"])
    today = traffic["today"]
    assert [day["date"] for day in data["days"]][0] == today.replace(day=1).isoformat()
    assert len(data["days"]) == len({day["date"] for day in data["days"]}) >= 28


# -- CSV -------------------------------------------------------------------------------------------

def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_by_day(login_as, traffic):
    manager = login_as("manager")
    month = months()[0]
    header, *rows = csv_rows(manager.get("/usage.csv", query_string={"month": month, "by": "day"}))
    assert tuple(header) == DAY_COLUMNS
    data = figures(manager, month)
    assert [r[0] for r in rows] == [d["date"] for d in data["days"]]
    assert sum(int(r[1]) for r in rows) == data["totals"]["sent"]
    assert sum(int(r[5]) for r in rows) == data["totals"]["units"]
    assert {r[7] for r in rows} == {"NOK"}


def test_csv_by_campaign_is_formula_safe(login_as, traffic):
    response = login_as("manager").get("/usage.csv", query_string={"month": months()[0], "by": "campaign"})
    assert f"usage-{months()[0]}-by-campaign.csv" in response.headers["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert tuple(header) == CAMPAIGN_COLUMNS
    by_name = {r[0]: r for r in rows}
    assert "'" + CAMPAIGN_NAME in by_name  # a spreadsheet shows it as text, never runs it
    assert by_name["'" + CAMPAIGN_NAME][1] == traffic["campaign_id"] and by_name["'" + CAMPAIGN_NAME][2] == "5"
    assert by_name[DIRECT_SENDS][1] == ""


def test_csv_of_something_else_is_refused(login_as):
    response = login_as("manager").get("/usage.csv", query_string={"by": "everything"})
    assert response.status_code == 422
    assert "by must be one of day, campaign" in response.get_data(as_text=True)


# -- invalid months --------------------------------------------------------------------------------

@pytest.mark.parametrize("month", ["2025-13", "2025-00", "abc", "2025", "2025-1", "12-2025", "9999-12", "0001-01",
                                   "2025/12", "<script>", "x" * 300])
def test_an_invalid_month_is_a_clear_message(login_as, month):
    manager = login_as("manager")
    page = manager.get("/usage", query_string={"month": month})
    assert page.status_code == 422
    html = full_page(page)
    assert "Month must be YYYY-MM" in html and 'aria-invalid="true"' in html
    assert "<script>'" not in html and "total-sent" not in html
    fragment = manager.get("/usage", query_string={"month": month}, htmx=True)
    assert fragment.status_code == 422 and "Month must be YYYY-MM" in htmx_fragment(fragment)
    data = manager.get("/usage.json", query_string={"month": month})
    assert data.status_code == 422 and "Month must be YYYY-MM" in data.json["detail"]
    download = manager.get("/usage.csv", query_string={"month": month})
    assert download.status_code == 422 and "Month must be YYYY-MM" in download.get_data(as_text=True)


@pytest.mark.parametrize("month", ["", " 2026-03 "])
def test_an_empty_month_is_this_month_and_spaces_are_forgiven(login_as, month):
    response = login_as("manager").get("/usage", query_string={"month": month})
    assert response.status_code == 200
    expected = months()[0] if not month.strip() else "2026-03"
    assert f"<h2>{expected}</h2>" in response.get_data(as_text=True)


# -- who may see it --------------------------------------------------------------------------------

@pytest.mark.parametrize("role, status", [("admin", 200), ("manager", 200), ("marketer", 403), ("viewer", 403)])
def test_roles(login_as, role, status):
    browser = login_as(role)
    for path in ("/usage", "/usage.json", "/usage.csv"):
        assert browser.get(path).status_code == status, path
    assert ('href="/usage"' in browser.get("/").get_data(as_text=True)) is (status == 200)  # the nav entry


def test_signed_out_goes_to_sign_in(browser):
    for path in ("/usage", "/usage.json", "/usage.csv"):
        response = browser.get(path)
        assert response.status_code in (302, 303, 401) and "/login" in response.headers.get("Location", "/login")


def test_each_account_sees_its_own(client, login_as, traffic, other_account, run_jobs):
    globex, globex_auth = other_account
    globex_id = globex.id
    send(client, globex_auth, ["+4798000001", "+4798000002", "+4798000003"], "b" * 161)  # 2 parts each
    run_jobs()
    run_campaign(globex_id, run_jobs, "Globex launch", 2, first=500)
    acme = figures(login_as("manager"), months()[0])
    globex_page = login_as("manager", of_account=db.session.get(Account, globex_id))
    stockholm_month = datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m")
    theirs = figures(globex_page, stockholm_month)
    assert theirs["currency"] == "EUR" and theirs["totals"]["sent"] == 5 and theirs["totals"]["units"] == 8
    html = full_page(globex_page.get("/usage", query_string={"month": stockholm_month}))
    assert "Globex launch" in html and "http://evil" not in html
    costs = re.search(r'<table class="list costs">.*?</table>', html, re.S).group(0)
    assert re.findall(r"<td>([A-Z]{3})", costs)[0] == "EUR"
    assert acme == figures(login_as("manager"), months()[0])  # unchanged by the other tenant's traffic
    assert "Globex launch" not in full_page(login_as("manager").get("/usage"))
