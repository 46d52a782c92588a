"""The overview after sign-in: the account and its figures, in full and as a fragment."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Message, Status, utcnow
from tests.dashboard.conftest import full_page, htmx_fragment


def _sent(account, when, n=1):
    for _ in range(n):
        db.session.add(Message(account_id=account.id, direction="OUTBOUND", to_number="+4799999999",
                               body="hi", status=Status.SENT, sent_at=when))
    db.session.commit()


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "viewer"])
def test_overview_for_every_role(login_as, account, role):
    html = full_page(login_as(role).get("/"))
    assert "<h1>Acme</h1>" in html
    assert "NOK" in html and "Europe/Oslo" in html
    assert '<section id="overview"' in html


def test_counts_todays_messages(login_as, account):
    _sent(account, utcnow(), 3)
    _sent(account, utcnow() - timedelta(days=40), 2)
    html = login_as("viewer").get("/").get_data(as_text=True)
    today = html.split("<dt>Sent today</dt>")[1].split("</dd>")[0]
    assert today.endswith(">3")


def test_htmx_returns_the_overview_fragment(login_as, account):
    response = login_as("viewer").get("/", htmx=True)
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<section id="overview"')
    assert "Sent today" in html


def test_hints_point_admins_to_a_missing_api_key(login_as):
    assert 'href="/api-keys">Create one</a>' in login_as("admin").get("/").get_data(as_text=True)
    assert "Ask an admin to create one." in login_as("viewer").get("/").get_data(as_text=True)


def test_times_are_shown_in_the_account_zone(login_as, account):
    from datetime import datetime, timezone

    from app.services.accounts import create_api_key

    key, _ = create_api_key(account, "k")
    key.created_at = datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc)  # 00:30 next day in Oslo
    db.session.commit()
    assert "2026-01-16 00:30" in login_as("admin").get("/api-keys").get_data(as_text=True)


def test_a_history_restore_gets_the_whole_page(login_as):
    response = login_as("viewer").get("/", htmx=True, headers={"HX-History-Restore-Request": "true"})
    full_page(response)
