"""The messages log and one message: everyone reads; filters by the query string (dates in the
account's zone); rows on their way poll until final; marketers and admins cancel; one account never
sees another's messages."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Message, Status, utcnow
from app.services.messages import cancel_message
from app.services.send import SendRequest, send
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
UTC = timezone.utc
OSLO = ZoneInfo("Europe/Oslo")
ROW = re.compile(r'<tr id="message-([0-9a-f-]{36})"')
POLLING = 'hx-trigger="every 2s"'


def sent(account, *numbers: str, message: str = "Hello", **options) -> dict:
    response, _ = send(account, SendRequest(message=message, to=numbers or ("+4799999999",), **options))
    return response


def inbound(account, sender: str = "+4799999999", text: str = "STOP") -> str:
    row = Message(account_id=account.id, direction="INBOUND", message_type="PLAIN", from_number=sender,
                  to_number="+4759440000", body=text, status=Status.RECEIVED, units=1, received_at=utcnow(),
                  currency="NOK")
    db.session.add(row)
    db.session.commit()
    return row.id


def created_at(ids, moment: datetime) -> None:
    db.session.execute(update(Message).where(Message.id.in_(list(ids))).values(created_at=moment))
    db.session.commit()


def listed(html: str) -> list[str]:
    return ROW.findall(html)


def rows_part(html: str) -> str:
    return html.split('<tbody id="message-rows"')[1].split("</tbody>")[0]


def future(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- who may read -----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_log_is_a_page_and_its_rows_a_fragment_for_everyone(login_as, account, role):
    ids = sent(account, "+4799999999", "+4798888888")["message_ids"]
    browser = login_as(role)
    html = full_page(browser.get("/messages"))
    assert '<form id="message-filters"' in html and sorted(listed(html)) == sorted(ids)
    fragment = htmx_fragment(browser.get("/messages", htmx=True))
    assert fragment.lstrip().startswith('<tbody id="message-rows"')
    assert sorted(listed(fragment)) == sorted(ids)
    assert '<nav id="message-pager" class="pager" aria-label="Pages" hx-swap-oob="true">' in fragment
    assert "message-filters" not in fragment


@pytest.mark.parametrize("role", ROLES)
def test_detail_is_a_page_and_a_fragment_for_everyone(login_as, account, role):
    message_id = sent(account)["message_ids"][0]
    browser = login_as(role)
    html = full_page(browser.get(f"/messages/{message_id}"))
    assert "<h1>Message to +4799999999</h1>" in html and '<section id="message-detail"' in html
    fragment = htmx_fragment(browser.get(f"/messages/{message_id}", htmx=True))
    assert fragment.lstrip().startswith('<section id="message-detail"') and "<h1>" not in fragment


def test_anonymous_is_sent_to_sign_in(browser, account):
    message_id = sent(account)["message_ids"][0]
    for path in ("/messages", f"/messages/{message_id}"):
        response = browser.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
        assert browser.get(path, htmx=True).headers.get("HX-Redirect") == "/login"


# -- one account never sees another's ------------------------------------------------------------------

def test_another_accounts_messages_are_not_listed_nor_shown(login_as, account, other_account):
    mine = sent(account)["message_ids"]
    theirs = sent(other_account[0], "+4797777777", scheduled_at=future())
    browser = login_as("admin")
    assert listed(browser.get("/messages").get_data(as_text=True)) == mine
    assert listed(browser.get(f"/messages?batch_id={theirs['batch_id']}").get_data(as_text=True)) == []
    assert listed(browser.get("/messages?number=%2B4797777777").get_data(as_text=True)) == []
    their_id = theirs["message_ids"][0]
    assert browser.get(f"/messages/{their_id}").status_code == 404
    assert browser.get(f"/messages/{their_id}", htmx=True).status_code == 404
    assert browser.post(f"/messages/{their_id}/cancel").status_code == 404
    assert browser.post(f"/messages/{their_id}/cancel", htmx=True).status_code == 404
    assert fresh(Message, their_id).status == Status.SCHEDULED
    # And the other way round.
    other = login_as("viewer", of_account=other_account[0])
    assert listed(other.get("/messages").get_data(as_text=True)) == [their_id]
    assert other.get(f"/messages/{mine[0]}").status_code == 404


# -- the rows ---------------------------------------------------------------------------------------------

def test_rows_show_local_time_status_units_and_cost(login_as, account):
    text = "Hello 😀 " + "x" * 80  # UCS-2, two parts
    message_id = sent(account, message=text)["message_ids"][0]
    created_at([message_id], datetime(2026, 7, 1, 10, 5, tzinfo=UTC))  # 12:05 in Oslo (summer time)
    html = login_as("viewer").get("/messages").get_data(as_text=True)
    row = html.split(f'<tr id="message-{message_id}"')[1].split("</tr>")[0]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[0] == "2026-07-01 12:05"
    assert cells[1:4] == ["outbound", "+4759440000", "+4799999999"]
    assert cells[4].startswith("Hello 😀 xxx") and cells[4].endswith("...") and len(cells[4]) <= 60
    assert cells[5:] == ["queued", "2", "1.98 NOK"]
    assert '<span class="badge status queued">queued</span>' in row
    assert f'href="/messages/{message_id}"' in row


def test_inbound_rows(login_as, account):
    inbound(account, "+4791234567", "STOP")
    html = login_as("viewer").get("/messages").get_data(as_text=True)
    assert '<span class="badge status received">received</span>' in html
    assert "<td>inbound</td>" in html and "<td>+4791234567</td>" in html


# -- filters --------------------------------------------------------------------------------------------------

@pytest.fixture
def mixed(account):
    """Two outbound batches (one cancelled row), a scheduled row and an inbound one."""
    first = sent(account, "+4799999999", "+4798888888")
    second = sent(account, "+4797777777")
    cancel_message(account, second["message_ids"][0])
    scheduled = sent(account, "+4796666666", scheduled_at=future())
    received = inbound(account, "+4799999999")
    return {"first": first, "second": second, "scheduled": scheduled["message_ids"][0], "inbound": received}


def test_filter_by_status_several_at_once(login_as, mixed):
    browser = login_as("viewer")
    html = browser.get("/messages?status=CANCELLED&status=SCHEDULED").get_data(as_text=True)
    assert sorted(listed(html)) == sorted([mixed["second"]["message_ids"][0], mixed["scheduled"]])
    assert re.search(r'value="CANCELLED" checked', html) and re.search(r'value="SCHEDULED" checked', html)
    html = browser.get("/messages?status=received").get_data(as_text=True)  # any case
    assert listed(html) == [mixed["inbound"]]


def test_filter_by_direction(login_as, mixed):
    browser = login_as("viewer")
    assert listed(browser.get("/messages?direction=INBOUND").get_data(as_text=True)) == [mixed["inbound"]]
    assert mixed["inbound"] not in listed(browser.get("/messages?direction=OUTBOUND").get_data(as_text=True))


def test_filter_by_number_as_typed(login_as, mixed):
    """A number in the account's national form matches both directions."""
    html = login_as("viewer").get("/messages?number=99+99+99+99").get_data(as_text=True)
    assert sorted(listed(html)) == sorted([mixed["first"]["message_ids"][0], mixed["inbound"]])


def test_filter_by_batch(login_as, mixed):
    batch = mixed["first"]["batch_id"]
    html = login_as("viewer").get(f"/messages?batch_id={batch}").get_data(as_text=True)
    assert sorted(listed(html)) == sorted(mixed["first"]["message_ids"])
    assert f'value="{batch}"' in html


def test_filter_by_dates_in_the_account_zone(login_as, account):
    """Oslo is UTC+2 in July: 1 July there runs from 30 June 22:00 to 1 July 21:59:59 UTC."""
    ids = sent(account, "+4791000001", "+4791000002", "+4791000003", "+4791000004")["message_ids"]
    moments = [datetime(2026, 6, 30, 21, 59, 59, tzinfo=UTC), datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
               datetime(2026, 7, 1, 21, 59, 59, tzinfo=UTC), datetime(2026, 7, 1, 22, 0, tzinfo=UTC)]
    for message_id, moment in zip(ids, moments, strict=True):
        created_at([message_id], moment)
    browser = login_as("viewer")
    html = browser.get("/messages?date_from=2026-07-01&date_to=2026-07-01").get_data(as_text=True)
    assert sorted(listed(html)) == sorted(ids[1:3])
    assert sorted(listed(browser.get("/messages?date_from=2026-07-02").get_data(as_text=True))) == [ids[3]]
    assert sorted(listed(browser.get("/messages?date_to=2026-06-30").get_data(as_text=True))) == [ids[0]]


def test_filters_combine(login_as, mixed):
    batch = mixed["first"]["batch_id"]
    html = login_as("viewer").get(f"/messages?batch_id={batch}&number=%2B4798888888&status=QUEUED&direction=OUTBOUND")
    assert listed(html.get_data(as_text=True)) == [mixed["first"]["message_ids"][1]]


@pytest.mark.parametrize("query, field", [("number=12", "number"), ("status=BOGUS", "status"),
                                          ("date_from=yesterday", "date_from"), ("direction=SIDEWAYS", "direction")])
def test_invalid_filters_say_so_and_list_nothing(login_as, mixed, query, field):
    browser = login_as("viewer")
    response = browser.get(f"/messages?{query}")
    assert response.status_code == 422
    html = full_page(response)
    assert f'<p class="error" data-field="{field}">' in html
    assert listed(html) == [] and "Fix the filters above" in html
    fragment = browser.get(f"/messages?{query}", htmx=True)
    assert fragment.status_code == 422
    html = htmx_fragment(fragment)
    assert '<div id="filter-errors" hx-swap-oob="true">' in html and f'data-field="{field}"' in html


def test_filter_form_works_with_and_without_javascript(login_as):
    html = login_as("viewer").get("/messages").get_data(as_text=True)
    form = re.search(r'<form id="message-filters"[^>]*>', html).group(0)
    assert 'method="get" action="/messages"' in form
    assert 'hx-get="/messages"' in form and 'hx-target="#message-rows"' in form and 'hx-push-url="true"' in form


def test_pages_keep_the_filters(login_as, account):
    batch = sent(account, *[f"+479100{i:04d}" for i in range(1, 56)])["batch_id"]
    sent(account, "+4799999999")  # another batch, filtered out
    browser = login_as("viewer")
    html = browser.get(f"/messages?batch_id={batch}").get_data(as_text=True)
    assert len(listed(html)) == 50 and "1–50 of 55" in html
    older = re.search(r'<a href="([^"]+)"[^>]*>Older</a>', html).group(1).replace("&amp;", "&")
    assert older == f"/messages?batch_id={batch}&page=2"
    html = browser.get(older).get_data(as_text=True)
    assert len(listed(html)) == 5 and "51–55 of 55" in html
    assert re.search(r'<a href="/messages\?batch_id=[^"]+"[^>]*>Newer</a>', html)
    assert ">Older</a>" not in html


# -- rows on their way poll until final -------------------------------------------------------------------

def test_rows_poll_while_in_flight_and_stop_once_delivered(login_as, account, run_jobs):
    batch = sent(account, "+4799999999", "+4798888888")["batch_id"]
    browser = login_as("viewer")
    path = f"/messages?batch_id={batch}"
    html = browser.get(path).get_data(as_text=True)
    tbody = re.search(r'<tbody id="message-rows"[^>]*>', html).group(0)
    assert POLLING in tbody and f'hx-get="{path}"' in tbody and 'hx-swap="outerHTML"' in tbody

    run_jobs()

    poll = browser.get(path, htmx=True, headers={"HX-Trigger": "message-rows"})
    html = htmx_fragment(poll)
    assert html.count('<span class="badge status delivered">delivered</span>') == 2
    assert POLLING not in html


def test_no_polling_when_every_row_in_view_is_final(login_as, mixed):
    browser = login_as("viewer")
    assert POLLING in browser.get("/messages").get_data(as_text=True)  # queued rows in view
    html = browser.get("/messages?status=CANCELLED&status=RECEIVED").get_data(as_text=True)
    assert POLLING not in html and len(listed(html)) == 2


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.SENT])
def test_each_in_flight_status_polls(login_as, account, status):
    message_id = sent(account)["message_ids"][0]
    db.session.execute(update(Message).where(Message.id == message_id).values(status=status))
    db.session.commit()
    browser = login_as("viewer")
    assert POLLING in rows_part(browser.get("/messages").get_data(as_text=True)).split(">")[0]
    assert POLLING in browser.get(f"/messages/{message_id}", htmx=True).get_data(as_text=True).split(">")[0]


def test_a_poll_leaves_the_flash_area_alone(login_as, account):
    sent(account)
    browser = login_as("viewer")
    assert 'id="flashes"' in browser.get("/messages", htmx=True).get_data(as_text=True)
    poll = browser.get("/messages", htmx=True, headers={"HX-Trigger": "message-rows"}).get_data(as_text=True)
    assert 'id="flashes"' not in poll and 'id="message-pager"' in poll


def test_send_then_watch_the_batch_deliver(login_as, account, run_jobs):
    from tests.dashboard.test_send import submit

    browser = login_as("marketer")
    response = submit(browser, to="+4799999999\n+4798888888")
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sent to 2 recipients." in html and rows_part(html).count("badge status queued") == 2
    run_jobs()
    html = browser.get(response.headers["Location"], htmx=True, headers={"HX-Trigger": "message-rows"})
    assert html.get_data(as_text=True).count("badge status delivered") == 2


# -- one message ---------------------------------------------------------------------------------------------

def test_timeline_of_a_delivered_message(login_as, account, run_jobs):
    message_id = sent(account)["message_ids"][0]
    run_jobs()
    row = fresh(Message, message_id)
    html = login_as("viewer").get(f"/messages/{message_id}").get_data(as_text=True)
    steps = re.findall(r'<li(?: data-status="(\w+)")?[^>]*>\s*<time datetime="([^"]+)">([^<]+)</time> ([^<]+)</li>',
                       html)
    assert [(status, label.strip()) for status, _, _, label in steps] == [
        ("", "Created"), ("QUEUED", "Queued"), ("SENDING", "Sending"), ("SENT", "Sent"), ("DELIVERED", "Delivered")]
    assert steps[-1][2] == row.delivered_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M:%S")
    assert '<span class="badge status delivered">delivered</span>' in html
    assert POLLING not in html and ">Cancel sending<" not in html
    assert f"sim-{message_id}" in html  # the provider's id


def test_failed_message_shows_the_error(login_as, account, run_jobs):
    message_id = sent(account, "+4791230000")["message_ids"][0]  # the simulator fails numbers ending 0000
    run_jobs()
    html = login_as("viewer").get(f"/messages/{message_id}").get_data(as_text=True)
    assert '<span class="badge status failed">failed</span>' in html
    assert "<code>UNKNOWN_SUBSCRIBER</code> Unknown subscriber" in html
    assert 'data-status="FAILED"' in html


def test_scheduled_message_shows_when_and_polls(login_as, account):
    day = (datetime.now(OSLO) + timedelta(days=5)).date()
    message_id = sent(account, scheduled_at=f"{day}T09:00:00", timezone="Europe/Oslo")["message_ids"][0]
    html = login_as("viewer").get(f"/messages/{message_id}").get_data(as_text=True)
    assert re.search(rf'<li data-status="SCHEDULED" class="planned">\s*<time[^>]*>{day} 09:00:00</time> '
                     r"Scheduled for</li>", html)
    assert POLLING in html.split('<section id="message-detail"')[1].split(">")[0]


@pytest.mark.parametrize("role, allowed", [("admin", True), ("marketer", True), ("manager", False), ("viewer", False)])
def test_cancel_button_only_for_those_who_may(login_as, account, role, allowed):
    message_id = sent(account, scheduled_at=future())["message_ids"][0]
    html = login_as(role).get(f"/messages/{message_id}").get_data(as_text=True)
    assert (">Cancel sending</button>" in html) == allowed
    assert (f'action="/messages/{message_id}/cancel"' in html) == allowed


@pytest.mark.parametrize("role", ["admin", "marketer"])
def test_cancel_without_javascript(login_as, account, role):
    message_id = sent(account, scheduled_at=future())["message_ids"][0]
    browser = login_as(role)
    response = browser.post(f"/messages/{message_id}/cancel")
    assert response.status_code == 303 and response.headers["Location"] == f"/messages/{message_id}"
    assert fresh(Message, message_id).status == Status.CANCELLED
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Cancelled the message to +4799999999." in html
    assert '<span class="badge status cancelled">cancelled</span>' in html and 'data-status="CANCELLED"' in html


def test_cancel_with_htmx_redraws_the_detail(login_as, account):
    message_id = sent(account)["message_ids"][0]  # QUEUED: cancellable too
    response = login_as("marketer").post(f"/messages/{message_id}/cancel", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<section id="message-detail"')
    assert '<span class="badge status cancelled">cancelled</span>' in html
    assert "Cancelled the message to +4799999999." in html and 'hx-swap-oob="true"' in html
    assert POLLING not in html and ">Cancel sending<" not in html


def test_cancelling_a_message_already_on_its_way_flashes_why(login_as, account, run_jobs):
    message_id = sent(account)["message_ids"][0]
    run_jobs()
    browser = login_as("admin")
    response = browser.post(f"/messages/{message_id}/cancel")
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="flash error">Message cannot be cancelled: its status is DELIVERED' in html
    response = browser.post(f"/messages/{message_id}/cancel", htmx=True)
    assert response.status_code == 409
    assert 'class="flash error"' in htmx_fragment(response) and "cannot be cancelled" in response.get_data(as_text=True)
    assert fresh(Message, message_id).status == Status.DELIVERED


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_read_only_roles_cannot_cancel(login_as, account, role):
    message_id = sent(account, scheduled_at=future())["message_ids"][0]
    browser = login_as(role)
    assert browser.post(f"/messages/{message_id}/cancel").status_code == 403
    assert browser.post(f"/messages/{message_id}/cancel", htmx=True).status_code == 403
    assert fresh(Message, message_id).status == Status.SCHEDULED


def test_cancel_needs_the_csrf_token(login_as, account):
    message_id = sent(account, scheduled_at=future())["message_ids"][0]
    assert login_as("admin").post(f"/messages/{message_id}/cancel", csrf=False).status_code == 400
    assert fresh(Message, message_id).status == Status.SCHEDULED


def test_unknown_message_is_404(login_as):
    browser = login_as("viewer")
    assert browser.get("/messages/00000000-0000-0000-0000-000000000000").status_code == 404
    assert browser.get("/messages/nope", htmx=True).status_code == 404


@pytest.mark.parametrize("query", ["batch_id=a%00b", "number=%00", "status=%00"])
def test_nul_in_a_filter_is_refused_not_a_server_error(login_as, query):
    assert login_as("viewer").get(f"/messages?{query}").status_code in (400, 422)
