"""/audit: the admins' view of the audit log. Full page and HTMX fragment from the same URL, the
filters (actor, action prefix, object type and id, days in the account's zone), paging, links to
objects that still exist, the CSV export (formula-safe, same filters), roles, and tenant isolation."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Group
from app.models.audit import AuditEvent
from app.services import groups as group_service
from tests.dashboard.conftest import full_page, htmx_fragment

ROW = re.compile(r'<tr id="audit-([0-9a-f-]{36})" data-action="([^"]+)"')


def rows(html: str) -> list[str]:
    return [action for _, action in ROW.findall(html)]


def add_event(account, action: str, *, at: datetime | None = None, label: str = "someone@example.com",
              object_type: str = "campaign", object_id: str | None = None, **details) -> AuditEvent:
    event = AuditEvent(account_id=account.id, actor_type="user", actor_id=None, actor_label=label, action=action,
                       object_type=object_type, object_id=object_id, details=details,
                       created_at=at or datetime.now(timezone.utc))
    db.session.add(event)
    db.session.commit()
    return event


@pytest.fixture
def admin(login_as):
    return login_as("admin")


def test_admin_sees_the_log_newest_first_as_page_and_fragment(admin, account):
    now = datetime.now(timezone.utc)
    add_event(account, "campaign.created", at=now - timedelta(minutes=5), name="Spring sale")
    add_event(account, "campaign.dispatched", at=now - timedelta(minutes=1))
    page = full_page(admin.get("/audit"))
    assert 'href="/audit"' in page and ">Audit log<" in page  # in the nav
    assert rows(page)[0] == "user.signed_in"  # the admin's own sign-in, a moment ago
    assert [a for a in rows(page) if not a.startswith("user.")] == ["campaign.dispatched", "campaign.created"]
    assert "name: Spring sale" in page
    fragment = htmx_fragment(admin.get("/audit?action=campaign.", htmx=True))
    assert fragment.lstrip().startswith('<section id="audit-events">')
    assert rows(fragment) == ["campaign.dispatched", "campaign.created"]


@pytest.mark.parametrize("role", ["manager", "marketer", "viewer"])
def test_other_roles_are_refused(login_as, role):
    browser = login_as(role)
    assert browser.get("/audit").status_code == 403
    assert browser.get("/audit", htmx=True).status_code == 403
    assert browser.get("/audit/export.csv").status_code == 403
    assert 'href="/audit"' not in browser.get("/").get_data(as_text=True)


def test_signed_out_goes_to_sign_in(browser):
    response = browser.get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("query, expected", [
    ("actor=ADA@", ["group.created", "campaign.created"]),  # part of the label, any case
    ("actor=key-id-1", ["api_key.revoked"]),  # an exact actor id
    ("action=campaign.", ["campaign.paused", "campaign.created"]),  # a prefix
    ("action=campaign.paused", ["campaign.paused"]),
    ("action=campaign_", []),  # the prefix is literal: _ is no wildcard
    ("object_type=group", ["group.created"]),
    ("object_type=campaign&object_id=c-1", ["campaign.paused", "campaign.created"]),
    ("since=2026-03-02", ["api_key.revoked", "campaign.paused"]),
    ("until=2026-03-01", ["group.created", "campaign.created"]),
    # Days are the account's (Europe/Oslo): 23:30 UTC on 1 March is already 2 March there.
    ("since=2026-03-02&until=2026-03-02", ["campaign.paused"]),
    ("action=campaign.&since=2026-03-01&until=2026-03-01", ["campaign.created"]),
])
def test_filters(admin, account, query, expected):
    utc = timezone.utc
    add_event(account, "campaign.created", at=datetime(2026, 3, 1, 9, tzinfo=utc), label="ada@example.com",
              object_id="c-1")
    add_event(account, "group.created", at=datetime(2026, 3, 1, 10, tzinfo=utc), label="Ada@Example.com",
              object_type="group", object_id="g-1")
    add_event(account, "campaign.paused", at=datetime(2026, 3, 1, 23, 30, tzinfo=utc), label="smsdesk",
              object_id="c-1")
    event = add_event(account, "api_key.revoked", at=datetime(2026, 3, 3, 9, tzinfo=utc), label="wayscloud_x_…",
                      object_type="api_key", object_id="k-1")
    event.actor_id = "key-id-1"
    db.session.commit()
    page = rows(full_page(admin.get(f"/audit?{query}")))
    fragment = rows(htmx_fragment(admin.get(f"/audit?{query}", htmx=True)))
    # The admin's creation and sign-in are today, after every date here; leave them out.
    assert [a for a in fragment if not a.startswith("user.")] == expected
    assert [a for a in page if not a.startswith("user.")] == expected


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"),
    ("since=2026-03-05&until=2026-03-01", "until"),
    ("until=9999-12-31", "until"),
    ("since=0001-01-01", "since"),
    ("object_type=spaceship", "object_type"),
    ("object_id=" + "x" * 65, "object_id"),
])
def test_bad_filters_say_what_is_wrong(admin, query, field):
    response = admin.get(f"/audit?{query}", htmx=True)
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.get_data(as_text=True)
    assert admin.get(f"/audit/export.csv?{query}").status_code == 422


def test_paging(admin, account):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(60):
        add_event(account, f"contact.n{n:02d}", at=start + timedelta(minutes=n), object_type="contact")
    first = rows(full_page(admin.get("/audit?object_type=contact")))
    second_response = admin.get("/audit?object_type=contact&page=2", htmx=True)
    second = rows(htmx_fragment(second_response))
    assert first == [f"contact.n{n:02d}" for n in range(59, 9, -1)]
    assert second == [f"contact.n{n:02d}" for n in range(9, -1, -1)]
    assert "1–50 of 60 events" in admin.get("/audit?object_type=contact").get_data(as_text=True)


def test_rows_link_to_objects_that_still_exist(admin, account):
    kept = group_service.create_group(account, "Kept")
    gone = group_service.create_group(account, "Gone")
    group_service.delete_group(account, gone.id)  # as the system: both events are there
    html = full_page(admin.get("/audit?object_type=group"))
    assert f'href="/groups/{kept.id}" class="audit-object"' in html
    assert f'href="/groups/{gone.id}"' not in html
    assert f'object_id={gone.id}' in html  # its history is still a filter away
    assert rows(html) == ["group.deleted", "group.created", "group.created"]


def test_another_accounts_events_never_show(admin, account, other_account, make_user):
    other, _ = other_account
    theirs = add_event(other, "campaign.created", object_id="their-campaign", name="Their secret plan")
    group_service.create_group(other, "Their group")
    for query in ("", "?action=campaign.", "?object_id=their-campaign", f"?actor={theirs.actor_label}",
                  "?object_type=group"):
        html = admin.get(f"/audit{query}").get_data(as_text=True).split("<tbody>", 1)[1]  # the rows
        assert theirs.id not in html and "Their secret plan" not in html and "Their group" not in html
        assert "their-campaign" not in html
    exported = admin.get("/audit/export.csv").get_data(as_text=True)
    assert theirs.id not in exported and "Their" not in exported


def test_csv_export_is_formula_safe_and_takes_the_filters(admin, account):
    add_event(account, "group.created", label='=HYPERLINK("http://evil.example","click")', object_type="group",
              object_id="g-1", name="@SUM(1+1)")
    add_event(account, "campaign.created", label="-2+3", object_id="c-1")
    response = admin.get("/audit/export.csv?object_type=group")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == ["time", "actor_type", "actor", "actor_id", "action", "object_type", "object_id", "details",
                        "ip", "request_id"]
    assert len(table) == 2  # the filter applies: only the group's event
    row = dict(zip(table[0], table[1]))
    assert row["actor"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["action"] == "group.created" and row["object_id"] == "g-1"
    assert row["details"] == '{"name": "@SUM(1+1)"}'  # JSON: starts with "{", never a formula
    everything = list(csv.reader(io.StringIO(admin.get("/audit/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert "'-2+3" in [r[2] for r in everything]
    for cells in everything[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_the_page_shows_what_the_services_wrote(admin, account):
    """End to end: an admin's own change shows up with the admin as actor."""
    admin.post("/groups", {"name": "Newsletter"})
    group = db.session.scalar(select(Group).where(Group.name == "Newsletter"))
    assert group is not None
    html = full_page(admin.get("/audit?action=group."))
    assert rows(html) == ["group.created"]
    assert admin.user.email in html and "name: Newsletter" in html
