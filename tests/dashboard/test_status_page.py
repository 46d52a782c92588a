"""The operator status page: admins only, the installation's figures, a fragment that polls itself,
and Redis being down shown rather than failing."""
from __future__ import annotations

import html as html_lib
import re
import socket
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import update

from app.dashboard.status import age
from app.extensions import db
from app.models import Message, Status, utcnow
from app.services.webhooks import pump_once
from tests.dashboard.conftest import full_page, htmx_fragment
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture
def live(ctx, monkeypatch):
    monkeypatch.setitem(ctx.config, "METRICS_CACHE_SECONDS", 0)
    return ctx


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cell(html: str, attribute: str) -> str:
    found = re.search(rf"<td[^>]* {re.escape(attribute)}[^>]*>([^<]*)</td>", html)
    assert found, attribute
    return found.group(1).strip()


@pytest.mark.parametrize("role", ["manager", "marketer", "viewer"])
def test_only_admins_may_open_it(live, login_as, role):
    browser = login_as(role)
    assert browser.get("/status").status_code == 403
    assert browser.get("/status", htmx=True).status_code == 403
    assert 'href="/status"' not in browser.get("/").get_data(as_text=True)


def test_with_operators_named_only_those_admins_may_open_it(live, login_as, monkeypatch):
    operator, other_admin = login_as("admin"), login_as("admin")
    monkeypatch.setitem(live.config, "OPERATOR_EMAILS", frozenset({operator.user.email}))
    assert operator.get("/status").status_code == 200
    assert 'href="/status"' in operator.get("/").get_data(as_text=True)
    assert other_admin.get("/status").status_code == 403
    assert other_admin.get("/status", htmx=True).status_code == 403
    assert 'href="/status"' not in other_admin.get("/").get_data(as_text=True)


def test_signed_out_goes_to_the_sign_in_page(live, browser):
    response = browser.get("/status")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_shows_stores_queue_workers_tick_and_messages(live, login_as, auth, client, run_jobs):
    from app.jobs.ticker import run_tick

    admin = login_as("admin")
    assert 'href="/status"' in admin.get("/").get_data(as_text=True)
    run_tick()  # before the stuck row below, which a tick would settle
    for to in ("+4791000001", "+4791000002"):
        assert client.post("/v1/sms/send", json={"to": to, "message": "Hi"}, headers=auth).status_code == 200
    ids = [row.id for row in db.session.query(Message.id).filter(Message.status == Status.QUEUED)]
    db.session.execute(update(Message).where(Message.id == ids[0])
                       .values(status=Status.SENDING, sending_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    connection = Redis.from_url(live.config["REDIS_URL"])
    worker = Worker([Queue(live.config["RQ_QUEUE"], connection=connection)], connection=connection,
                    name="status-page-worker")
    worker.register_birth()
    try:
        response = admin.get("/status")
    finally:
        worker.register_death()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = full_page(response)
    assert "<h1>Status</h1>" in html
    assert html.count(">reachable<") == 2
    assert 'data-worker="status-page-worker"' in html
    assert 'data-queue="smsdesk-test"' in html
    assert re.search(r'id="status-tick">Tick:\s*<span class="badge active">running</span>', html)
    assert cell(html, 'data-status="QUEUED"') == "1"
    assert cell(html, 'data-status="SENDING"') == "1"
    assert cell(html, "data-stuck") == "1"
    assert "1 h" in html  # the stuck row's age


def test_the_fragment_is_served_from_the_same_url_and_polls_itself(live, login_as):
    admin = login_as("admin")
    fragment = htmx_fragment(admin.get("/status", htmx=True))
    assert fragment.lstrip().startswith("<div id=\"status\"")
    assert 'hx-get="/status"' in fragment and 'hx-trigger="every 5s"' in fragment
    assert "<h1>" not in fragment


def test_failing_receivers_are_shown_without_credentials_or_query(live, login_as, client, auth, run_jobs, monkeypatch):
    for name, value in (("ALLOW_HTTP_CALLBACKS", True), ("WEBHOOK_ALLOWED_HOSTS", frozenset({"127.0.0.1"})),
                        ("WEBHOOK_TIMEOUT_SECONDS", 5.0)):
        monkeypatch.setitem(live.config, name, value)
    receiver = WebhookReceiver()
    try:
        receiver.status = 500
        port = receiver.server.server_port
        url = f"http://hook-user:hook-pass@127.0.0.1:{port}/hooks/sms?order=991&token=abc"
        response = client.post("/v1/sms/send", headers=auth,
                               json={"to": ["+4791000001", "+4791000002"], "message": "Hi", "callback_url": url})
        assert response.status_code == 200, response.json
        run_jobs()
        assert pump_once() == 2
    finally:
        receiver.stop()
    html = admin_page(login_as)
    endpoint = f"http://127.0.0.1:{port}/hooks/sms"
    assert f'data-endpoint="{endpoint}"' in html
    row = html.split(f'data-endpoint="{endpoint}"')[1].split("</tr>")[0]
    assert re.search(r'class="number">2</td>', row) and "HTTP 500" in row
    for secret in ("hook-pass", "hook-user", "order=991", "token=abc"):
        assert secret not in html
    assert '<span class="badge inactive">http_5xx 2</span>' in html


def admin_page(login_as) -> str:
    return html_lib.unescape(full_page(login_as("admin").get("/status")))


def test_redis_down_shows_unreachable_instead_of_failing(live, login_as, monkeypatch, auth, client):
    admin = login_as("admin")
    assert client.post("/v1/sms/send", json={"to": "+4791000001", "message": "Hi"}, headers=auth).status_code == 200
    monkeypatch.setitem(live.extensions, "redis", Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0"))
    for response in (admin.get("/status"), admin.get("/status", htmx=True)):
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        store = html.split('data-store="redis"')[1].split("</tr>")[0]
        assert ">unreachable<" in store and "ConnectionError" in store
        assert "Redis is unreachable" in html
        assert cell(html, 'data-status="QUEUED"') == "1"  # the database still answers


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (125, "2 min 5 s"), (3600, "1 h"), (3 * 3600 + 20 * 60 + 9, "3 h 20 min"),
    (86400 * 2 + 3600 * 4, "2 d 4 h"), (-5, "0 s"),
])
def test_ages_read_like_a_person_would_say_them(seconds, shown):
    now = utcnow()
    assert age(now - timedelta(seconds=seconds), now) == shown


def test_no_time_is_a_dash():
    assert age(None, utcnow()) == "—"
