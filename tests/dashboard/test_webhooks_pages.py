"""The Webhooks pages: endpoint health and the deliveries log (page and fragment, filters, paging),
one delivery with its request and attempts, replay (which really sends again), the signing secret
(admins: hidden until revealed, rotated with the old one still signing), the webhook events on a
message's page, roles, CSRF and tenant isolation."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.models import Account, WebhookDelivery, new_id, utcnow
from app.models.webhook import MAX_ATTEMPTS
from app.services import webhook_signing, webhooks
from tests.api.test_webhooks_api import add_delivery, receiver, send_with_callback  # noqa: F401 - fixtures
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

VIEWERS = ["admin", "manager", "marketer"]
OSLO = ZoneInfo("Europe/Oslo")
ROW = re.compile(r'<tr id="delivery-(evt_[0-9a-f]+)"')
SECRET = re.compile(r'value="(whsec_[^"]+)"')


def listed(html: str) -> list[str]:
    return ROW.findall(html)


def deliveries_part(html: str) -> str:
    return html.split('<section id="webhook-deliveries">')[1].split("</section>")[0]


def local(moment: datetime, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return moment.astimezone(OSLO).strftime(fmt)


# -- who may do what --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", VIEWERS)
def test_the_log_is_a_page_and_its_list_a_fragment(login_as, account, role):
    made = add_delivery(account)
    browser = login_as(role)
    page = full_page(browser.get("/webhooks"))
    assert '<section id="webhook-endpoints">' in page and listed(page) == [made["id"]]
    assert 'href="/webhooks"' in page.split('<ul class="nav">')[1].split("</ul>")[0]
    fragment = browser.get("/webhooks", htmx=True)
    assert fragment.status_code == 200
    html = htmx_fragment(fragment)
    assert html.lstrip().startswith('<section id="webhook-deliveries">') and listed(html) == [made["id"]]
    assert "webhook-endpoints" not in html
    assert browser.get(f"/webhooks/{made['id']}").status_code == 200


def test_viewers_may_not_see_webhooks(login_as, account):
    made = add_delivery(account)
    viewer = login_as("viewer")
    nav = viewer.get("/").get_data(as_text=True).split('<ul class="nav">')[1].split("</ul>")[0]
    assert 'href="/webhooks"' not in nav
    for path in ("/webhooks", f"/webhooks/{made['id']}", "/webhooks/secret"):
        assert viewer.get(path).status_code == 403, path
        assert viewer.get(path, htmx=True).status_code == 403, path
    for path in (f"/webhooks/{made['id']}/replay", "/webhooks/secret/rotate"):
        assert viewer.post(path).status_code == 403, path


def test_managers_read_but_do_not_replay_and_only_admins_hold_the_secret(login_as, account):
    made = add_delivery(account)
    secret = account.webhook_secret
    manager, marketer, admin = login_as("manager"), login_as("marketer"), login_as("admin")
    for who in (manager, marketer):
        page = who.get("/webhooks").get_data(as_text=True)
        assert 'id="webhook-secret"' not in page and secret not in page
        assert who.get("/webhooks/secret").status_code == 403
        assert who.post("/webhooks/secret/rotate").status_code == 403
        assert who.post("/webhooks/secret/rotate", htmx=True).status_code == 403
    assert "/replay" not in manager.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert manager.post(f"/webhooks/{made['id']}/replay").status_code == 403
    assert fresh(WebhookDelivery, made["id"]).state == "DELIVERED"
    assert f"/webhooks/{made['id']}/replay" in marketer.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert f"/webhooks/{made['id']}/replay" in admin.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    assert fresh(Account, account.id).webhook_secret == secret


def test_replay_and_rotate_need_the_csrf_token(login_as, account):
    made = add_delivery(account)
    secret = account.webhook_secret
    admin = login_as("admin")
    for path in (f"/webhooks/{made['id']}/replay", "/webhooks/secret/rotate"):
        assert admin.post(path, csrf=False).status_code == 400, path
        response = admin.request("POST", path, htmx=True)  # no X-CSRFToken header
        assert response.status_code == 400 and 'class="flash error"' in htmx_fragment(response)
    assert fresh(WebhookDelivery, made["id"]).state == "DELIVERED"
    assert fresh(Account, account.id).webhook_secret == secret


def test_another_accounts_deliveries_are_not_found(login_as, account, other_account):
    theirs = add_delivery(other_account[0], state="FAILED", attempts=[500], url="https://globex.example/h")
    mine = add_delivery(account)
    admin = login_as("admin")
    assert listed(admin.get("/webhooks").get_data(as_text=True)) == [mine["id"]]
    assert listed(admin.get("/webhooks", query_string={"message_id": theirs["message_id"]}).get_data(as_text=True)) == []
    assert theirs["endpoint"] not in admin.get("/webhooks").get_data(as_text=True)
    assert admin.get(f"/webhooks/{theirs['id']}").status_code == 404
    assert admin.get(f"/webhooks/{theirs['id']}", htmx=True).status_code == 404
    assert admin.post(f"/webhooks/{theirs['id']}/replay").status_code == 404
    assert admin.post(f"/webhooks/{theirs['id']}/replay", htmx=True).status_code == 404
    assert fresh(WebhookDelivery, theirs["id"]).state == "FAILED"
    assert admin.get(f"/webhooks/{'x' * 300}").status_code == 404


# -- the log ----------------------------------------------------------------------------------------

def test_endpoint_health_table(login_as, account):
    now = utcnow()
    add_delivery(account, url="https://ok.example/h?order=1", attempts=[200], created_at=now - timedelta(hours=2))
    add_delivery(account, url="https://ok.example/h?order=2", attempts=[200], created_at=now - timedelta(hours=1))
    bad = add_delivery(account, url="https://down.example/h", state="PENDING", attempts=[503, "timeout"],
                       created_at=now - timedelta(minutes=30))
    html = login_as("marketer").get("/webhooks").get_data(as_text=True)
    table = html.split('<section id="webhook-endpoints">')[1].split("</section>")[0]
    rows = re.findall(r'<tr data-endpoint="([^"]+)">(.*?)</tr>', table, re.S)
    assert [endpoint for endpoint, _ in rows] == ["https://down.example/h", "https://ok.example/h"]  # worst first
    down, ok = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells)).strip() for _, cells in rows)
    # The attempts: 30 s after the event for the first, 60 s for the second; latency 10 ms per number.
    assert down == (f"https://down.example/h failing 0.0 % 1 0 0 1 15 ms — "
                    f"{local(now - timedelta(minutes=30) + timedelta(seconds=60))}")
    assert ok == (f"https://ok.example/h healthy 100.0 % 2 2 0 0 10 ms "
                  f"{local(now - timedelta(hours=1) + timedelta(seconds=30))} —")
    assert 'data-health="failing"' in table and 'data-health="healthy"' in table
    # An endpoint links to its deliveries.
    assert 'href="/webhooks?url=https://down.example/h"' in table
    filtered = login_as("marketer").get("/webhooks?url=https://down.example/h").get_data(as_text=True)
    assert listed(filtered) == [bad["id"]]
    assert 'value="https://down.example/h"' in filtered  # the filter form shows it


def test_filters_paging_and_the_list_columns(login_as, account):
    base = utcnow() - timedelta(hours=3)
    rows = [{
        "id": f"evt_{i:032x}", "account_id": account.id, "message_id": new_id(), "event": "sms.status", "seq": 2,
        "url": "https://bulk.example/h", "endpoint": "https://bulk.example/h", "payload": '{"status":"SENT"}',
        "state": "DELIVERED", "attempts": 1, "max_attempts": MAX_ATTEMPTS, "replay_requested": False,
        "created_at": base + timedelta(seconds=i), "last_status_code": 200,
    } for i in range(55)]
    db.session.execute(insert(WebhookDelivery.__table__), rows)
    db.session.commit()
    failed = add_delivery(account, state="FAILED", attempts=[500, "connection"], url="https://x.example/h",
                          message_id="m-failed")
    pending = add_delivery(account, state="PENDING", attempts=[503], url="https://x.example/h")
    browser = login_as("admin")

    first = browser.get("/webhooks").get_data(as_text=True)
    assert listed(first)[:2] == [pending["id"], failed["id"]] and len(listed(first)) == 50
    assert "1–50 of 57 events" in first and 'href="/webhooks?page=2"' in first
    second = htmx_fragment(browser.get("/webhooks?page=2", htmx=True))
    assert listed(second) == [f"evt_{i:032x}" for i in (6, 5, 4, 3, 2, 1, 0)]

    def only(**query) -> list[str]:
        response = browser.get("/webhooks", query_string=query, htmx=True)
        assert response.status_code == 200
        return listed(htmx_fragment(response))

    assert only(state="FAILED") == [failed["id"]]
    assert only(state="pending") == [pending["id"]]  # any case, as typed in a link
    assert only(message_id="m-failed") == [failed["id"]]
    assert only(url="https://x.example/h") == [pending["id"], failed["id"]]
    assert only(url="https://x.example/h", state="DELIVERED") == []
    paged = htmx_fragment(browser.get("/webhooks?state=DELIVERED&page=2", htmx=True))
    assert 'href="/webhooks?page=1&amp;state=DELIVERED"' in paged and len(listed(paged)) == 5

    part = deliveries_part(first)
    failed_row = part.split(f'<tr id="delivery-{failed["id"]}"')[1].split("</tr>")[0]
    assert "failed" in failed_row and "2 / 12" in failed_row and "connection" in failed_row
    assert 'href="/messages/m-failed"' in failed_row and 'href="/webhooks?url=https://x.example/h"' in failed_row
    pending_row = part.split(f'<tr id="delivery-{pending["id"]}"')[1].split("</tr>")[0]
    next_at = fresh(WebhookDelivery, pending["id"]).next_attempt_at
    assert "HTTP 503" in pending_row and local(next_at) in pending_row


@pytest.mark.parametrize("query", [{"state": "LOST"}, {"message_id": "x" * 65}, {"url": "h" * 2049}])
def test_bad_filters_are_shown_not_a_500(login_as, account, query):
    add_delivery(account)
    browser = login_as("admin")
    page = browser.get("/webhooks", query_string=query)
    assert page.status_code == 422
    html = full_page(page)
    assert 'class="error" data-field="' + next(iter(query)) + '"' in html and listed(html) == []
    assert "Fix the filters above" in html
    fragment = browser.get("/webhooks", query_string=query, htmx=True)
    assert fragment.status_code == 422 and 'class="error"' in htmx_fragment(fragment)
    # Nonsense paging is the first page, not an error.
    assert browser.get("/webhooks?page=abc").status_code == 200


# -- one delivery ---------------------------------------------------------------------------------

def test_delivery_page_shows_the_request_and_every_attempt(login_as, account):
    payload = {"event": "sms.status", "message_id": "m-7", "status": "FAILED", "to": "+4791000001",
               "error_message": "Ærlig talt"}
    made = add_delivery(account, state="FAILED", attempts=[503, "timeout", 410], payload=payload, message_id="m-7",
                        excerpt="<script>alert('x')</script>")
    fresh(WebhookDelivery, made["id"])
    browser = login_as("marketer")
    html = full_page(browser.get(f"/webhooks/{made['id']}"))
    detail = html.split('<section id="webhook-delivery"')[1]
    assert 'hx-trigger="every' not in detail.split(">")[0]  # a final event does not poll
    # The payload, pretty-printed and escaped.
    shown = unescape(detail.split("<pre class=\"payload\" data-payload>")[1].split("</pre>")[0])
    assert shown.startswith('{\n  "event": "sms.status",\n  "message_id": "m-7",') and "Ærlig talt" in shown
    # The signed headers: the id is fixed, the timestamp and signature are per attempt.
    headers = detail.split('<table class="list webhook-headers">')[1].split("</table>")[0]
    assert f"<code>{made['id']}</code>" in headers and headers.count("per attempt") == 2
    attempts = re.findall(r'<tr data-attempt="(\d)"(.*?)</tr>', detail, re.S)
    assert [n for n, _ in attempts] == ["1", "2", "3"]
    assert "HTTP 503" in attempts[0][1] and "10 ms" in attempts[0][1]
    assert "timeout" in attempts[1][1] and "timeout after 10 s" in attempts[1][1] and "20 ms" in attempts[1][1]
    assert "HTTP 410" in attempts[2][1]
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in attempts[0][1]
    assert "Last attempt: HTTP 410" in detail and 'href="/messages/m-7"' in detail
    fragment = htmx_fragment(browser.get(f"/webhooks/{made['id']}", htmx=True))
    assert fragment.lstrip().startswith('<section id="webhook-delivery"') and 'id="flashes"' in fragment


def test_a_pending_delivery_polls_and_offers_no_replay(login_as, account):
    made = add_delivery(account, state="PENDING", attempts=[500])
    browser = login_as("admin")
    html = browser.get(f"/webhooks/{made['id']}").get_data(as_text=True)
    section = html.split('<section id="webhook-delivery"')[1].split(">")[0]
    assert 'hx-trigger="every 5s"' in section
    assert "/replay" not in html and "once it is delivered or has failed" in html
    poll = browser.get(f"/webhooks/{made['id']}", htmx=True, headers={"HX-Trigger": "webhook-delivery"})
    assert 'id="flashes"' not in htmx_fragment(poll)  # a poll leaves the flash area alone


# -- replay -----------------------------------------------------------------------------------------

def test_replay_from_the_page_sends_the_event_again(receiver, send_with_callback, login_as, account):  # noqa: F811
    send_with_callback(receiver.url())
    [delivered] = [d for d in db.session.query(WebhookDelivery).all() if '"DELIVERED"' in d.payload]
    browser = login_as("marketer")
    page = browser.get(f"/webhooks/{delivered.id}")
    assert "Replay" in page.get_data(as_text=True)

    response = browser.post(f"/webhooks/{delivered.id}/replay", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<section id="webhook-delivery"') and 'hx-trigger="every 5s"' in html
    assert "Replay queued" in html and 'class="flash success"' in html
    assert fresh(WebhookDelivery, delivered.id).state == "PENDING"

    webhooks.pump_once()
    assert [r.id for r in receiver.accepted].count(delivered.id) == 2
    after = browser.get(f"/webhooks/{delivered.id}", htmx=True, headers={"HX-Trigger": "webhook-delivery"})
    detail = htmx_fragment(after)
    assert 'hx-trigger="every' not in detail.split(">")[0]  # delivered again: it stops polling
    attempts = re.findall(r'<tr data-attempt="(\d)"( data-replay)?>', detail)
    assert attempts == [("1", ""), ("2", " data-replay")]
    assert '<span class="badge">replay</span>' in detail


def test_replay_without_javascript_and_the_409_for_a_pending_event(login_as, account):
    done = add_delivery(account, state="FAILED", attempts=[500])
    pending = add_delivery(account, state="PENDING", attempts=[500])
    admin = login_as("admin")
    response = admin.post(f"/webhooks/{done['id']}/replay")
    assert response.status_code == 303 and response.headers["Location"] == f"/webhooks/{done['id']}"
    assert "Replay queued" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert fresh(WebhookDelivery, done["id"]).replay_requested is True

    conflict = admin.post(f"/webhooks/{pending['id']}/replay", htmx=True)
    assert conflict.status_code == 409
    message = htmx_fragment(conflict)
    assert 'class="flash error"' in message and "still being delivered" in message
    plain = admin.post(f"/webhooks/{pending['id']}/replay")
    assert plain.status_code == 303
    assert "still being delivered" in admin.get(plain.headers["Location"]).get_data(as_text=True)
    assert fresh(WebhookDelivery, pending["id"]).replay_requested is False


# -- the signing secret -----------------------------------------------------------------------------

def test_the_secret_is_hidden_until_revealed(login_as, account):
    secret = account.webhook_secret
    admin = login_as("admin")
    page = admin.get("/webhooks").get_data(as_text=True)
    panel = page.split('<section id="webhook-secret"')[1].split("</section>")[0]
    assert secret not in page and secret.removeprefix("whsec_")[:8] not in page
    assert "data-masked" in panel and 'hx-get="/webhooks/secret"' in panel and "<script" not in panel
    revealed = admin.get("/webhooks/secret", htmx=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    assert SECRET.findall(htmx_fragment(revealed)) == [secret]
    whole = admin.get("/webhooks/secret")  # without JavaScript the link opens the page
    assert whole.headers["Cache-Control"] == "no-store" and SECRET.findall(full_page(whole)) == [secret]


def test_the_verification_recipe_is_the_readmes(login_as, account):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("### Verifying webhooks", 1)[1].split("```python", 1)[1].split("```", 1)[0].strip()
    page = login_as("admin").get("/webhooks").get_data(as_text=True)
    recipe = page.split('<details id="verifying-webhooks">')[1].split("</details>")[0]
    assert unescape(recipe.split('<pre class="recipe">')[1].split("</pre>")[0]) == code
    assert "def verify(secret" in code and "Verifying webhooks" in recipe


def test_rotation_shows_the_new_secret_and_the_old_one_still_signs(receiver, send_with_callback, login_as,  # noqa: F811
                                                                  account):
    account_id, old = account.id, account.webhook_secret
    admin = login_as("admin")
    before = utcnow()
    response = admin.post("/webhooks/secret/rotate", htmx=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = htmx_fragment(response)
    [new] = SECRET.findall(html)
    assert new != old and new == fresh(Account, account_id).webhook_secret
    assert "New signing secret" in html and 'class="flash success"' in html
    until = fresh(Account, account_id).webhook_secret_previous_until
    assert timedelta(hours=23, minutes=59) < until - before <= timedelta(hours=24, minutes=1)
    assert f"until\n      <time datetime=\"{until.isoformat()}\">{local(until, '%Y-%m-%d %H:%M')}</time>" in html
    # The page says so too, while the grace lasts.
    page = admin.get("/webhooks").get_data(as_text=True)
    assert f"The previous secret also signs until {local(until, '%Y-%m-%d %H:%M')}" in page and new not in page

    send_with_callback(receiver.url())
    assert receiver.accepted
    for request in receiver.accepted:
        assert webhook_signing.verify(new, request.headers, request.body)
        assert webhook_signing.verify(old, request.headers, request.body)


def test_rotation_without_javascript_answers_the_secret_page(login_as, account):
    old = account.webhook_secret
    admin = login_as("admin")
    response = admin.post("/webhooks/secret/rotate")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    [new] = SECRET.findall(full_page(response))
    assert new != old and "New signing secret" in response.get_data(as_text=True)
    assert old not in response.get_data(as_text=True)


# -- on the message's page ----------------------------------------------------------------------------

def test_the_message_page_lists_its_webhook_events(receiver, send_with_callback, login_as, client, auth):  # noqa: F811
    [message_id] = send_with_callback(receiver.url())
    events = {d.id: d for d in db.session.query(WebhookDelivery).filter_by(message_id=message_id)}
    assert len(events) == 3
    html = login_as("manager").get(f"/messages/{message_id}").get_data(as_text=True)
    section = html.split("<h2>Webhook events</h2>")[1].split("</table>")[0]
    rows = re.findall(r'<tr data-delivery="(evt_[0-9a-f]+)" data-state="(\w+)">(.*?)</tr>', section, re.S)
    assert [events[i].seq for i, _, _ in rows] == sorted(d.seq for d in events.values())  # oldest first
    assert all(state == "DELIVERED" for _, state, _ in rows)
    assert ["SENDING" in rows[0][2], "SENT" in rows[1][2], "DELIVERED" in rows[2][2]] == [True] * 3
    for delivery_id, _, cells in rows:
        assert f'href="/webhooks/{delivery_id}"' in cells and "1 / 12" in cells and "HTTP 200" in cells
    viewer_html = login_as("viewer").get(f"/messages/{message_id}").get_data(as_text=True)
    assert "Webhook events" not in viewer_html

    quiet = client.post("/v1/sms/send", headers=auth, json={"to": "+4791000002", "message": "Hi"}).json
    assert "Webhook events" not in login_as("admin").get(f"/messages/{quiet['sms_message_id']}").get_data(as_text=True)


def test_a_message_with_a_callback_but_no_events_yet_says_so(login_as, client, auth, receiver):  # noqa: F811
    sent = client.post("/v1/sms/send", headers=auth,
                       json={"to": "+4791000003", "message": "Hi", "callback_url": receiver.url()}).json
    html = login_as("marketer").get(f"/messages/{sent['sms_message_id']}").get_data(as_text=True)
    assert "<h2>Webhook events</h2>" in html and "No webhook events yet." in html
