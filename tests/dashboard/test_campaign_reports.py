"""A campaign's report page, its recipient list (HTMX fragment from the same URL), the JSON its
charts are drawn from and the recipients' CSV: every role reads them, only for the account's own
campaigns. The ledger is the known one of tests/jobs/test_campaign_report.py."""
from __future__ import annotations

import csv
import io
import re

import pytest

from app.dashboard import campaign_reports
from app.models import CampaignStatus
from tests.dashboard.conftest import full_page, htmx_fragment
from tests.jobs.test_campaign_report import FORMULA, add, known_ledger, make_campaign

ROLES = ["admin", "manager", "marketer", "viewer"]
RECIPIENT = re.compile(r'<tr id="recipient-[0-9a-f-]{36}" data-status="(\w+)">\s*<td><a [^>]*>(\+\d+)</a>')


def report_url(campaign, suffix: str = "", **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/campaigns/{campaign.id}/report{suffix}" + (f"?{params}" if params else "")


def recipients_in(html: str) -> list[tuple[str, str]]:
    """(status, number) of each listed recipient, in order."""
    return RECIPIENT.findall(html)


def figure(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{re.escape(key)}">([^<]*)<', html)
    assert found, f"no figure {key}"
    return found.group(1)


@pytest.fixture
def campaign(account, other_account):
    return known_ledger(account, other_account[0])


# -- the page -------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_page_with_its_key_figures(login_as, campaign, role):
    response = login_as(role).get(report_url(campaign))
    assert response.status_code == 200
    html = full_page(response)
    assert {key: figure(html, key) for key in ("recipients", "delivered", "failed", "in_flight", "unreported",
                                               "delivery_rate", "units", "cost", "planned_units", "planned_cost",
                                               "median")} == {
        "recipients": "17", "delivered": "7", "failed": "3", "in_flight": "2", "unreported": "2",
        "delivery_rate": "58.3 %",
        "units": "11", "cost": "5.50 NOK", "planned_units": "17", "planned_cost": "8.50 NOK",
        "median": "1 min 0 s"}
    assert "delivered ÷ (delivered + failed + sent)" in html  # the rate says what it is


def test_page_tables_statuses_latency_and_failure_reasons(login_as, campaign):
    html = full_page(login_as("viewer").get(report_url(campaign)))
    assert [figure(html, f"status-{s}") for s in ("DELIVERED", "SENT", "SENDING", "QUEUED", "SCHEDULED", "FAILED",
                                                  "CANCELLED")] == ["7", "2", "1", "1", "2", "3", "1"]
    assert [figure(html, f"latency-{i}") for i in range(5)] == ["1", "2", "1", "1", "1"]
    assert figure(html, "measured") == "6"
    failures = html.split('class="list report-failures"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>\s*<td class=\"number\">(\d+)</td></tr>", failures)
    assert rows == [("UNKNOWN_SUBSCRIBER", "Unknown subscriber", "2"),
                    ("REJECTED", "=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)", "1")]


def test_page_loads_its_chart_scripts_deferred_and_has_no_inline_script(login_as, campaign):
    html = full_page(login_as("viewer").get(report_url(campaign)))
    head = html.split("</head>")[0]
    assert re.search(r'<script src="/static/vendor/chart.umd.min.js" defer></script>', head)
    assert re.search(r'<script src="/static/campaign_report.js" defer></script>', head)
    assert head.index("chart.umd.min.js") < head.index("campaign_report.js")  # deferred scripts run in order
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert f'data-report-url="/campaigns/{campaign.id}/report.json"' in html
    assert 'data-live="false"' in html
    for chart in ("chart-statuses", "chart-timeline", "chart-latency"):
        assert f'<canvas id="{chart}"' in html


def test_a_sending_campaign_says_it_refreshes(login_as, account):
    campaign = make_campaign(account, CampaignStatus.SENDING)
    add(campaign, "QUEUED")
    html = full_page(login_as("viewer").get(report_url(campaign)))
    assert 'data-live="true"' in html and "refresh every 5 seconds" in html


def test_a_draft_has_an_empty_report(login_as, account):
    campaign = make_campaign(account, CampaignStatus.DRAFT, started_at=None)
    html = full_page(login_as("viewer").get(report_url(campaign)))
    assert "the report fills in once the campaign starts sending" in html
    assert figure(html, "recipients") == "0" and figure(html, "delivery_rate") == "—"
    assert "No recipients match." in html and "No failed messages." in html


# -- the recipient list -----------------------------------------------------------------------------

def test_page_lists_recipients_by_number(login_as, campaign):
    html = full_page(login_as("viewer").get(report_url(campaign)))
    listed = recipients_in(html)
    assert len(listed) == 17 and [n for _, n in listed] == sorted(n for _, n in listed)
    assert "17 recipients" in html


def test_htmx_gets_the_filtered_list_only(login_as, campaign):
    browser = login_as("viewer")
    html = htmx_fragment(browser.get(report_url(campaign, status="failed"), htmx=True))
    assert html.startswith('<div id="report-recipients">')
    assert "report-figures" not in html and "chart-statuses" not in html  # the figures are not recomputed
    listed = recipients_in(html)
    assert len(listed) == 3 and {s for s, _ in listed} == {"FAILED"} and ("FAILED", "+4790000666") in listed
    assert "UNKNOWN_SUBSCRIBER: Unknown subscriber" in html

    searched = htmx_fragment(browser.get(report_url(campaign, number="%2B47%20900%2000"), htmx=True))
    assert [n for _, n in recipients_in(searched)] == ["+4790000005", "+4790000010", "+4790000030", "+4790000090",
                                                       "+4790000400", "+4790000666", "+4790000999"]
    both = htmx_fragment(browser.get(report_url(campaign, status="DELIVERED", number="0999"), htmx=True))
    assert recipients_in(both) == [("DELIVERED", "+4790000999")]
    none = htmx_fragment(browser.get(report_url(campaign, status="CANCELLED", number="0999"), htmx=True))
    assert recipients_in(none) == [] and "No recipients match." in none
    # The download link travels with the list, so it exports what the list shows.
    assert f'href="/campaigns/{campaign.id}/report.csv?status=CANCELLED&amp;number=0999"' in none


def test_list_pages_keep_the_filters(login_as, campaign, monkeypatch):
    monkeypatch.setattr(campaign_reports, "PAGE_SIZE", 2)
    browser = login_as("viewer")
    first = htmx_fragment(browser.get(report_url(campaign, status="DELIVERED"), htmx=True))
    assert len(recipients_in(first)) == 2 and "1–2 of 7 recipients" in first
    next_link = re.search(r'<a href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=DELIVERED" in next_link and "page=2" in next_link
    second = htmx_fragment(browser.get(next_link, htmx=True))
    assert len(recipients_in(second)) == 2 and not set(recipients_in(second)) & set(recipients_in(first))
    assert {s for s, _ in recipients_in(second)} == {"DELIVERED"}
    beyond = browser.get(report_url(campaign, page=99999999999), htmx=True)
    assert beyond.status_code == 200 and recipients_in(beyond.get_data(as_text=True)) == []


@pytest.mark.parametrize("query, message", [
    ({"status": "LOST"}, "Not a valid choice"),
    ({"number": "abc"}, "Search by digits of the number"),
    ({"number": "9" * 65}, "Field cannot be longer than 64 characters"),
])
def test_bad_filters_are_explained_not_500(login_as, campaign, query, message):
    browser = login_as("viewer")
    fragment = browser.get(report_url(campaign, **query), htmx=True)
    assert fragment.status_code == 422 and message in fragment.get_data(as_text=True)
    page = browser.get(report_url(campaign, **query))
    assert page.status_code == 422 and message in full_page(page)
    assert "Fix the filters above to see recipients." in page.get_data(as_text=True)
    assert 'id="report-csv"' not in page.get_data(as_text=True)  # no link to a download that would be refused


# -- report.json ----------------------------------------------------------------------------------

def test_json_for_the_charts(login_as, campaign):
    response = login_as("viewer").get(report_url(campaign, ".json"))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert data["campaign"] == {"id": campaign.id, "name": "Spring sale", "status": "COMPLETED"}
    assert data["live"] is False and data["timezone"] == "Europe/Oslo" and data["refresh_seconds"] == 5
    assert data["statuses"] == [{"status": s, "count": n} for s, n in (
        ("DELIVERED", 7), ("SENT", 2), ("SENDING", 1), ("QUEUED", 1), ("SCHEDULED", 2), ("FAILED", 3),
        ("CANCELLED", 1))]
    assert data["totals"] == {
        "recipients": 17, "delivered": 7, "failed": 3, "sent": 2, "in_flight": 2, "delivery_rate": pytest.approx(7 / 12),
        "units": 11, "costs": [{"currency": "NOK", "amount": "5.5000"}],
        "planned_units": 17, "planned_costs": [{"currency": "NOK", "amount": "8.5000"}]}
    assert data["time_to_delivery"] == {
        "buckets": [{"label": "< 10 s", "count": 1}, {"label": "10 s – 1 min", "count": 2},
                    {"label": "1 – 5 min", "count": 1}, {"label": "5 min – 1 h", "count": 1},
                    {"label": "≥ 1 h", "count": 1}],
        "measured": 6, "median_seconds": pytest.approx(60.0)}
    timeline = data["timeline"]
    assert timeline["bucket"] == "5 minutes" and timeline["bucket_seconds"] == 300  # 09:00 to 10:06:40 UTC
    assert len(timeline["starts"]) == len(timeline["labels"]) == len(timeline["delivered"]) == len(timeline["failed"])
    assert timeline["starts"][0] == "2026-11-20T09:00:00Z" and timeline["labels"][0] == "10:00"
    assert sum(timeline["delivered"]) == 7 and sum(timeline["failed"]) == 3
    # Up to 09:05 five were delivered (one without a send time), at 09:06:40 one, 4,000 s later one.
    assert timeline["delivered"][:2] == [5, 1] and timeline["delivered"][13] == 1 and timeline["failed"][0] == 3
    # The page's figures, formatted as the page shows them, for the script to refresh.
    assert data["figures"]["delivery_rate"] == "58.3 %" and data["figures"]["status-FAILED"] == "3"


def test_json_of_a_live_campaign(login_as, account):
    campaign = make_campaign(account, CampaignStatus.SENDING)
    add(campaign, "SENT")
    data = login_as("viewer").get(report_url(campaign, ".json")).get_json()
    assert data["live"] is True and data["campaign"]["status"] == "SENDING"
    assert data["totals"]["delivery_rate"] == 0.0


# -- CSV --------------------------------------------------------------------------------------------

def csv_rows(response) -> list[dict]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_of_the_recipients_is_formula_safe(login_as, campaign):
    response = login_as("viewer").get(report_url(campaign, ".csv"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="campaign-spring-sale-recipients-')
    rows = csv_rows(response)
    assert len(rows) == 17 and [r["number"] for r in rows] == sorted(r["number"] for r in rows)
    assert list(rows[0]) == ["number", "status", "units", "cost", "currency", "sent_at", "delivered_at", "failed_at",
                             "error_code", "error_message"]
    rejected = next(r for r in rows if r["number"] == "+4790000666")
    assert rejected["error_message"] == "'" + FORMULA  # a spreadsheet shows it, never runs it
    assert rejected == {**rejected, "status": "FAILED", "units": "1", "cost": "0.5000", "sent_at": "",
                        "failed_at": "2026-11-20T09:00:01Z", "error_code": "REJECTED"}
    slow = next(r for r in rows if r["number"] == "+4790004000")
    assert (slow["units"], slow["cost"], slow["sent_at"], slow["delivered_at"]) == (
        "2", "1.0000", "2026-11-20T09:00:00Z", "2026-11-20T10:06:40Z")


def test_csv_takes_the_lists_filters(login_as, campaign):
    browser = login_as("viewer")
    rows = csv_rows(browser.get(report_url(campaign, ".csv", status="FAILED")))
    assert len(rows) == 3 and {r["status"] for r in rows} == {"FAILED"}
    page = full_page(browser.get(report_url(campaign, status="FAILED", number="666")))
    link = re.search(r'id="report-csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert [r["number"] for r in csv_rows(browser.get(link))] == ["+4790000666"]
    refused = browser.get(report_url(campaign, ".csv", status="LOST"))
    assert refused.status_code == 422 and "Not a valid choice" in refused.get_data(as_text=True)


# -- who may see what -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_every_role_gets_the_json_and_the_csv(login_as, campaign, role, suffix):
    assert login_as(role).get(report_url(campaign, suffix)).status_code == 200


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
def test_signed_out_is_sent_to_sign_in(browser, campaign, suffix):
    response = browser.get(report_url(campaign, suffix))
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
@pytest.mark.parametrize("htmx", [False, True])
def test_another_accounts_campaign_is_not_found(login_as, other_account, suffix, htmx):
    theirs = make_campaign(other_account[0])
    add(theirs, "DELIVERED")
    response = login_as("admin").get(report_url(theirs, suffix), htmx=htmx)
    assert response.status_code == 404
    assert theirs.name not in response.get_data(as_text=True)


@pytest.mark.parametrize("campaign_id", ["00000000-0000-0000-0000-000000000000", "nope", "x" * 200])
@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
def test_unknown_campaign_is_not_found(login_as, account, campaign_id, suffix):
    assert login_as("viewer").get(f"/campaigns/{campaign_id}/report{suffix}").status_code == 404


# -- the figures as shown -----------------------------------------------------------------------------

@pytest.mark.parametrize("seconds, shown", [
    (None, "—"), (0, "0.0 s"), (4.24, "4.2 s"), (59.94, "59.9 s"), (60, "1 min 0 s"), (185.4, "3 min 5 s"),
    (3599.6, "1 h 0 min"), (3600, "1 h 0 min"), (7860, "2 h 11 min"), (90061, "25 h 1 min"),
])
def test_duration(seconds, shown):
    assert campaign_reports.duration(seconds) == shown
