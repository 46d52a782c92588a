"""/v1/campaigns: drafts and their validation, list and paging, preview figures for a known
audience, send now through the engine to COMPLETED, schedule (DST gap and overlap included),
pause/resume/cancel and their state errors, tenant isolation and authentication.

Every response is also checked against the OpenAPI document (``check_response``), so these
tests keep the document honest too.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Campaign, Contact, Message, group_members, new_id
from app.services import campaign_run
from app.services import campaigns as campaign_service
from app.services.groups import create_group
from app.services.optouts import add_optout
from app.services.simulator import deliver_due_reports
from tests.api.test_openapi import SPEC, check_response

URL = "/v1/campaigns"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LONG = "x" * 150  # with "Hi <name>! " in front: 1 part for short names, 2 for long ones, 3 in UCS-2
MESSAGE = "Hi {first_name|there}! " + LONG
CAMPAIGN_TEMPLATES = [(re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$"), path)
                      for path in SPEC["paths"] if path.startswith(URL)]


def api(client, method: str, url: str, **kwargs):
    """A request through the test client, its response validated against the document."""
    response = client.open(url, method=method.upper(), **kwargs)
    path = url.split("?", 1)[0]
    template = next(t for pattern, t in CAMPAIGN_TEMPLATES if pattern.match(path))
    check_response(method, template, response)
    return response


def add_contacts(account_id: str, group_ids: list[str], people: list[tuple[str, str | None]]) -> list[str]:
    """Contacts (first name, number) written directly, each a member of every group given."""
    rows = [{"id": new_id(), "account_id": account_id, "name": name, "first_name": name, "phone_number": number,
             "type": "person", "tags": []} for name, number in people]
    db.session.execute(insert(Contact.__table__), rows)
    members = [{"group_id": g, "contact_id": r["id"]} for r in rows for g in group_ids]
    if members:
        db.session.execute(insert(group_members), members)
    db.session.commit()
    return [r["id"] for r in rows]


@pytest.fixture
def audience(account) -> dict:
    """Customers: Ada, Ada, Bartholomew, Zoë, one without a number, one opted out, one also in the
    excluded group Blocked. Newsletter: Kari and the first Ada again. So 5 recipients: 3 texts of
    one GSM-7 part, Bartholomew's of 2, Zoë's of 3 in UCS-2: 8 units."""
    customers, newsletter, blocked = (create_group(account, n) for n in ("Customers", "Newsletter", "Blocked"))
    ids = {"customers": customers.id, "newsletter": newsletter.id, "blocked": blocked.id, "account": account.id}
    (ada,) = add_contacts(account.id, [customers.id, newsletter.id], [("Ada", "+4791000001")])
    add_contacts(account.id, [customers.id], [("Ada", "+4791000002"), ("Bartholomew", "+4791000003"),
                                              ("Zoë", "+4791000004"), ("Nonumber", None), ("Opted", "+4791000005")])
    add_contacts(account.id, [customers.id, blocked.id], [("Blocked", "+4791000006")])
    add_contacts(account.id, [newsletter.id], [("Kari", "+4791000007")])
    add_optout(account, "+4791000005")
    return ids


def draft_body(audience: dict, **changes) -> dict:
    return {"name": "Spring sale", "message": MESSAGE, "group_ids": [audience["customers"], audience["newsletter"]],
            "excluded_group_ids": [audience["blocked"]], **changes}


def create(client, auth, body: dict) -> dict:
    response = api(client, "post", URL, json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def finish(run_jobs) -> None:
    """Run the queued jobs, deliver the carrier's reports, and complete what is settled (the tick's part)."""
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()


# -- create ---------------------------------------------------------------------------------------

def test_create_returns_a_draft_with_every_field(client, auth, audience):
    body = draft_body(audience, timezone="Europe/Stockholm", send_window={"start": "09:00", "end": "20:00"})
    created = create(client, auth, body)
    assert created["status"] == "DRAFT" and created["name"] == "Spring sale" and created["message"] == MESSAGE
    assert created["group_ids"] == [audience["customers"], audience["newsletter"]]
    assert created["excluded_group_ids"] == [audience["blocked"]]
    assert created["timezone"] == "Europe/Stockholm"
    assert created["send_window"] == {"start": "09:00", "end": "20:00"}
    assert created["sender_profile_id"]  # the account's default profile
    assert created["scheduled_at"] is None and created["scheduled_local"] is None
    assert created["recipients"] is None and created["skipped"] == {} and created["note"] is None
    assert set(created["progress"].values()) == {0}
    assert ISO_Z.match(created["created_at"]) and ISO_Z.match(created["updated_at"])
    fetched = api(client, "get", f"{URL}/{created['id']}", headers=auth)
    assert fetched.status_code == 200 and fetched.json == created


def test_create_defaults(client, auth, audience):
    created = create(client, auth, {"name": " Minimal ", "message": "Hi", "group_ids": audience["customers"]})
    assert created["name"] == "Minimal" and created["group_ids"] == [audience["customers"]]
    assert created["excluded_group_ids"] == [] and created["send_window"] is None
    assert created["timezone"] == "Europe/Oslo"  # the account's zone
    profiles = client.get("/v1/sms/sender-profiles", headers=auth).json
    assert created["sender_profile_id"] == next(p["id"] for p in profiles if p["is_default"])


@pytest.mark.parametrize("changes, code", [
    ({"group_ids": []}, "no_groups"),
    ({"group_ids": None}, "validation_error"),
    ({"group_ids": ["no-such-group"]}, "unknown_group"),
    ({"excluded_group_ids": ["no-such-group"]}, "unknown_group"),
    ({"message": "Hi {nickname}"}, "unknown_merge_field"),
    ({"message": " "}, "invalid_message"),
    ({"message": "x" * 1601}, "invalid_message"),
    ({"send_window": {"start": "25:00", "end": "20:00"}}, "invalid_send_window"),
    ({"send_window": {"start": "09:00", "end": "09:00"}}, "invalid_send_window"),
    ({"send_window": {"start": "09:00"}}, "validation_error"),
    ({"send_window": "09:00-20:00"}, "validation_error"),
    ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
    ({"name": " "}, "invalid_name"),
    ({"name": "x" * 201}, "invalid_name"),
    ({"name": 5}, "validation_error"),
    ({"sender_profile_id": "no-such-profile"}, "unknown_sender_profile"),
])
def test_create_refuses_invalid_drafts(client, auth, audience, changes, code):
    response = api(client, "post", URL, json=draft_body(audience, **changes), headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == code, response.json


@pytest.mark.parametrize("cap", [1.3e308, "1e400", 10**40])
def test_a_huge_spend_cap_is_422_not_500(client, auth, audience, cap):
    """Found by the schemathesis fuzz: an amount too large to hold in cents crashed the check for
    decimals (decimal.InvalidOperation, a 500); it is past the maximum, so 422."""
    created = api(client, "post", URL, json=draft_body(audience, spend_cap=cap), headers=auth)
    assert created.status_code == 422 and "at most" in created.json["detail"], created.json
    draft = create(client, auth, draft_body(audience))
    patched = api(client, "patch", f"{URL}/{draft['id']}", json={"spend_cap": cap}, headers=auth)
    assert patched.status_code == 422 and "at most" in patched.json["detail"], patched.json


def test_create_without_groups_or_name(client, auth, audience):
    no_groups = api(client, "post", URL, json={"name": "x", "message": "Hi"}, headers=auth)
    assert no_groups.status_code == 422 and no_groups.json["error"]["code"] == "no_groups"
    assert no_groups.json["errors"][0]["loc"] == ["body", "group_ids"]
    no_name = api(client, "post", URL, json={"message": "Hi", "group_ids": [audience["customers"]]}, headers=auth)
    assert no_name.status_code == 422 and no_name.json["errors"][0]["loc"] == ["body", "name"]
    not_an_object = api(client, "post", URL, json=[1, 2], headers=auth)
    assert not_an_object.status_code == 422 and not_an_object.json["error"]["code"] == "invalid_json"
    assert api(client, "get", URL, headers=auth).json["total"] == 0  # nothing was created


# -- list and get --------------------------------------------------------------------------------

def test_list_pages_newest_first_and_filters_by_status(client, auth, audience):
    ids = [create(client, auth, draft_body(audience, name=f"C{i}"))["id"] for i in range(3)]
    api(client, "post", f"{URL}/{ids[0]}/cancel", headers=auth)

    first = api(client, "get", f"{URL}?page_size=2", headers=auth).json
    assert [c["name"] for c in first["campaigns"]] == ["C2", "C1"]
    assert (first["total"], first["page"], first["page_size"], first["per_page"], first["has_more"]) == \
        (3, 1, 2, 2, True)
    second = api(client, "get", f"{URL}?page=2&per_page=2", headers=auth).json
    assert [c["name"] for c in second["campaigns"]] == ["C0"] and second["has_more"] is False

    drafts = api(client, "get", f"{URL}?status=draft", headers=auth).json  # case-insensitive
    assert {c["id"] for c in drafts["campaigns"]} == set(ids[1:]) and drafts["total"] == 2
    cancelled = api(client, "get", f"{URL}?status=CANCELLED", headers=auth).json
    assert [c["id"] for c in cancelled["campaigns"]] == [ids[0]]
    for query in ("status=LOST", "page=0", "page_size=x"):
        bad = api(client, "get", f"{URL}?{query}", headers=auth)
        assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_query", query


def test_get_unknown_campaign_is_404(client, auth):
    response = api(client, "get", f"{URL}/nope", headers=auth)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


# -- edit ----------------------------------------------------------------------------------------

def test_patch_changes_only_what_is_sent(client, auth, audience):
    campaign = create(client, auth, draft_body(audience, send_window={"start": "09:00", "end": "20:00"}))
    url = f"{URL}/{campaign['id']}"
    renamed = api(client, "patch", url, json={"name": "Summer sale", "timezone": "UTC"}, headers=auth)
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["name"] == "Summer sale" and renamed.json["timezone"] == "UTC"
    assert renamed.json["message"] == MESSAGE and renamed.json["send_window"] == {"start": "09:00", "end": "20:00"}
    cleared = api(client, "patch", url, json={"send_window": None, "excluded_group_ids": None, "timezone": None},
                  headers=auth).json
    assert cleared["send_window"] is None and cleared["excluded_group_ids"] == []
    assert cleared["timezone"] == "Europe/Oslo"

    for body, code in (({"group_ids": []}, "no_groups"), ({"name": None}, "validation_error"),
                       ({"message": "{nope}"}, "unknown_merge_field"), ({"timezone": "Nowhere/Land"},
                                                                         "invalid_timezone")):
        refused = api(client, "patch", url, json=body, headers=auth)
        assert refused.status_code == 422 and refused.json["error"]["code"] == code, body
    assert api(client, "get", url, headers=auth).json == cleared  # a refused change changes nothing
    assert api(client, "patch", f"{URL}/nope", json={"name": "x"}, headers=auth).status_code == 404

    api(client, "post", f"{url}/cancel", headers=auth)
    not_a_draft = api(client, "patch", url, json={"name": "Too late"}, headers=auth)
    assert not_a_draft.status_code == 409 and "CANCELLED" in not_a_draft.json["detail"]


# -- preview -------------------------------------------------------------------------------------

def test_preview_counts_the_known_audience(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    response = api(client, "get", f"{URL}/{campaign['id']}/preview", headers=auth)
    assert response.status_code == 200, response.json
    preview = response.json
    assert preview["campaign_id"] == campaign["id"]
    assert preview["recipients"] == 5
    assert preview["skipped"] == {"no_number": 1, "opted_out": 1, "excluded_group": 1, "in_several_groups": 1}
    assert preview["parts"] == {"1": 3, "2": 1, "3": 1} and preview["worst_parts"] == 3
    assert preview["units"] == 8
    assert preview["encoding"] == "mixed" and preview["encodings"] == {"GSM-7": 4, "UCS-2": 1}
    assert preview["ucs2_characters"] == ["ë"]

    prices = {p["currency"]: p["price_per_unit"] for p in client.get("/v1/sms/pricing", headers=auth).json["prices"]}
    assert preview["currency"] == "NOK" and preview["cost"] == round(8 * prices["NOK"], 2)
    assert preview["costs"] == {c: round(8 * price, 2) for c, price in prices.items()}
    assert len(preview["samples"]) == 3
    assert preview["samples"][0]["message"] == f"Hi {preview['samples'][0]['name']}! {LONG}"


def test_preview_of_a_draft_that_no_longer_checks_out(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    assert client.delete(f"/v1/contacts/groups/{audience['newsletter']}", headers=auth).status_code == 200
    response = api(client, "get", f"{URL}/{campaign['id']}/preview", headers=auth)
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_group"
    assert api(client, "get", f"{URL}/nope/preview", headers=auth).status_code == 404


# -- send now ------------------------------------------------------------------------------------

def test_send_now_runs_to_completed_with_one_message_per_recipient(client, auth, audience, run_jobs):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    sent = api(client, "post", f"{url}/send", headers=auth)
    assert sent.status_code == 200, sent.json
    assert sent.json["status"] == "SENDING" and ISO_Z.match(sent.json["started_at"])

    finish(run_jobs)
    done = api(client, "get", url, headers=auth).json
    assert done["status"] == "COMPLETED" and ISO_Z.match(done["completed_at"])
    assert done["recipients"] == 5
    assert done["skipped"] == {"no_number": 1, "opted_out": 1, "excluded_group": 1, "in_several_groups": 1}
    assert done["progress"]["DELIVERED"] == 5 and sum(done["progress"].values()) == 5

    numbers = db.session.scalars(select(Message.to_number).where(Message.campaign_id == campaign["id"])).all()
    assert sorted(numbers) == ["+4791000001", "+4791000002", "+4791000003", "+4791000004", "+4791000007"]
    listed = client.get(f"/v1/sms/messages?campaign_id={campaign['id']}", headers=auth).json
    assert listed["total"] == 5 and {m["campaign_id"] for m in listed["messages"]} == {campaign["id"]}
    bodies = {m["to_number"]: m["body"] for m in listed["messages"]}
    assert bodies["+4791000007"] == f"Hi Kari! {LONG}" and bodies["+4791000004"] == f"Hi Zoë! {LONG}"
    assert sum(m["units_count"] for m in listed["messages"]) == 8

    again = api(client, "post", f"{url}/send", headers=auth)
    assert again.status_code == 409 and "COMPLETED" in again.json["detail"]


def test_send_with_the_previewed_figures(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    changed = api(client, "post", f"{url}/send", json={"expected_recipients": 4, "expected_units": 8}, headers=auth)
    assert changed.status_code == 409 and changed.json["error"]["code"] == "audience_changed"
    assert "5 recipients" in changed.json["detail"]
    half = api(client, "post", f"{url}/send", json={"expected_recipients": 5}, headers=auth)
    assert half.status_code == 422 and half.json["error"]["code"] == "validation_error"
    assert api(client, "get", url, headers=auth).json["status"] == "DRAFT"
    ok = api(client, "post", f"{url}/send", json={"expected_recipients": 5, "expected_units": 8}, headers=auth)
    assert ok.status_code == 200 and ok.json["status"] == "SENDING"


def test_send_refuses_a_draft_that_no_longer_checks_out(client, auth, audience):
    campaign = create(client, auth, {"name": "x", "message": "Hi", "group_ids": [audience["newsletter"]]})
    client.delete(f"/v1/contacts/groups/{audience['newsletter']}", headers=auth)
    response = api(client, "post", f"{URL}/{campaign['id']}/send", headers=auth)
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_group"
    assert api(client, "post", f"{URL}/nope/send", headers=auth).status_code == 404


# -- schedule ------------------------------------------------------------------------------------

def test_schedule_a_local_wall_time(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    day = (datetime.now(ZoneInfo("Europe/Oslo")) + timedelta(days=2)).date()
    local = datetime(day.year, day.month, day.day, 9, 0)
    response = api(client, "post", f"{url}/schedule", json={"scheduled_at": local.isoformat()}, headers=auth)
    assert response.status_code == 200, response.json
    scheduled = response.json
    expected = local.replace(tzinfo=ZoneInfo("Europe/Oslo"))
    assert scheduled["status"] == "SCHEDULED" and scheduled["schedule_note"] is None
    assert scheduled["scheduled_at"] == expected.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert scheduled["scheduled_local"] == expected.isoformat()
    assert scheduled["timezone"] == "Europe/Oslo"
    assert api(client, "get", url, headers=auth).json == {k: v for k, v in scheduled.items() if k != "schedule_note"}


def test_reschedule_in_another_zone_or_with_an_offset(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    new_york = ZoneInfo("America/New_York")
    day = (datetime.now(new_york) + timedelta(days=3)).date()
    noon = datetime(day.year, day.month, day.day, 12, 0)  # never in a DST gap or overlap
    in_new_york = api(client, "post", f"{url}/schedule", headers=auth,
                      json={"scheduled_at": noon.isoformat(), "timezone": "America/New_York"}).json
    when = noon.replace(tzinfo=new_york).astimezone(timezone.utc)
    assert in_new_york["timezone"] == "America/New_York" and in_new_york["scheduled_local"] == \
        noon.replace(tzinfo=new_york).isoformat()
    assert in_new_york["scheduled_at"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    absolute = api(client, "post", f"{url}/schedule", json={"scheduled_at": (when + timedelta(hours=1)).isoformat()},
                   headers=auth).json
    assert absolute["status"] == "SCHEDULED"
    assert absolute["scheduled_at"] == (when + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert absolute["timezone"] == "America/New_York"  # an absolute time keeps the zone for display


@pytest.mark.parametrize("body, code, words", [
    ({"scheduled_at": "tomorrow"}, "invalid_schedule", "ISO 8601"),
    ({"scheduled_at": "2026-12-01"}, "invalid_schedule", "no time of day"),
    ({"scheduled_at": "2001-01-01T09:00:00"}, "invalid_schedule", "past"),
    ({"scheduled_at": "2999-01-01T09:00:00"}, "invalid_schedule", "at most 30 days"),
    ({"scheduled_at": "2027-01-01T09:00:00", "timezone": "Mars/Olympus"}, "invalid_timezone", "Mars/Olympus"),
    ({}, "validation_error", "scheduled_at"),
    ({"scheduled_at": 1700000000}, "validation_error", "scheduled_at"),
])
def test_schedule_refuses_bad_times(client, auth, audience, body, code, words):
    campaign = create(client, auth, draft_body(audience))
    response = api(client, "post", f"{URL}/{campaign['id']}/schedule", json=body, headers=auth)
    assert response.status_code == 422 and response.json["error"]["code"] == code, response.json
    assert words in response.json["detail"]
    assert api(client, "get", f"{URL}/{campaign['id']}", headers=auth).json["status"] == "DRAFT"


@pytest.fixture
def clock(monkeypatch):
    """Pin the campaigns service's clock, so a DST change lies within the 30 days ahead."""
    def set_now(value: datetime) -> None:
        monkeypatch.setattr(campaign_service, "utcnow", lambda: value)
    return set_now


def test_schedule_in_a_dst_gap_is_refused(client, auth, audience, clock):
    clock(datetime(2027, 3, 20, 12, 0, tzinfo=timezone.utc))  # Oslo springs forward 2027-03-28 02:00 -> 03:00
    campaign = create(client, auth, draft_body(audience))
    response = api(client, "post", f"{URL}/{campaign['id']}/schedule", json={"scheduled_at": "2027-03-28T02:30:00"},
                   headers=auth)
    assert response.status_code == 422 and response.json["error"]["code"] == "invalid_schedule"
    assert "does not exist" in response.json["detail"]
    after = api(client, "post", f"{URL}/{campaign['id']}/schedule", json={"scheduled_at": "2027-03-28T03:30:00"},
                headers=auth).json
    assert after["scheduled_at"] == "2027-03-28T01:30:00Z" and after["schedule_note"] is None


def test_schedule_in_a_dst_overlap_takes_the_first_and_says_so(client, auth, audience, clock):
    clock(datetime(2027, 10, 20, 12, 0, tzinfo=timezone.utc))  # Oslo falls back 2027-10-31 03:00 -> 02:00
    campaign = create(client, auth, draft_body(audience))
    response = api(client, "post", f"{URL}/{campaign['id']}/schedule", json={"scheduled_at": "2027-10-31T02:30:00"},
                   headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["scheduled_at"] == "2027-10-31T00:30:00Z"
    assert response.json["scheduled_local"] == "2027-10-31T02:30:00+02:00"
    assert "occurs twice" in response.json["schedule_note"]


def test_schedule_with_the_previewed_figures(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    when = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    changed = api(client, "post", f"{URL}/{campaign['id']}/schedule", headers=auth,
                  json={"scheduled_at": when, "expected_recipients": 5, "expected_units": 5})
    assert changed.status_code == 409 and changed.json["error"]["code"] == "audience_changed"
    ok = api(client, "post", f"{URL}/{campaign['id']}/schedule", headers=auth,
             json={"scheduled_at": when, "expected_recipients": 5, "expected_units": 8})
    assert ok.status_code == 200 and ok.json["status"] == "SCHEDULED"


def test_unschedule_then_edit_then_send(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    assert api(client, "post", f"{url}/unschedule", headers=auth).status_code == 409  # a draft is not scheduled
    when = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    api(client, "post", f"{url}/schedule", json={"scheduled_at": when}, headers=auth)
    locked = api(client, "patch", url, json={"name": "New"}, headers=auth)
    assert locked.status_code == 409 and "SCHEDULED" in locked.json["detail"]
    back = api(client, "post", f"{url}/unschedule", headers=auth).json
    assert back["status"] == "DRAFT" and back["scheduled_at"] is None and back["scheduled_local"] is None
    assert api(client, "patch", url, json={"name": "New"}, headers=auth).json["name"] == "New"
    api(client, "post", f"{url}/schedule", json={"scheduled_at": when}, headers=auth)
    sent = api(client, "post", f"{url}/send", headers=auth).json  # a scheduled campaign may go now
    assert sent["status"] == "SENDING" and sent["scheduled_at"] is None
    late = api(client, "post", f"{url}/schedule", json={"scheduled_at": when}, headers=auth)
    assert late.status_code == 409 and "SENDING" in late.json["detail"]


# -- pause, resume, cancel ------------------------------------------------------------------------

def test_pause_resume_and_cancel_follow_the_lifecycle(client, auth, audience, run_jobs):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    for verb in ("pause", "resume"):
        refused = api(client, "post", f"{url}/{verb}", headers=auth)
        assert refused.status_code == 409 and "DRAFT" in refused.json["detail"], verb
        assert refused.json["error"]["code"] == "invalid_campaign_status"

    api(client, "post", f"{url}/send", headers=auth)
    paused = api(client, "post", f"{url}/pause", headers=auth).json
    assert paused["status"] == "PAUSED" and ISO_Z.match(paused["paused_at"])
    assert api(client, "post", f"{url}/pause", headers=auth).status_code == 409
    finish(run_jobs)
    assert api(client, "get", url, headers=auth).json["status"] == "PAUSED"

    resumed = api(client, "post", f"{url}/resume", headers=auth).json
    assert resumed["status"] == "SENDING" and resumed["started_at"] == paused["started_at"]
    finish(run_jobs)
    done = api(client, "get", url, headers=auth).json
    assert done["status"] == "COMPLETED" and done["progress"]["DELIVERED"] == 5
    for verb in ("pause", "resume", "cancel", "unschedule"):
        refused = api(client, "post", f"{url}/{verb}", headers=auth)
        assert refused.status_code == 409 and "COMPLETED" in refused.json["detail"], verb


def test_cancel_a_sending_campaign_cancels_what_was_not_sent(client, auth, audience, run_jobs):
    campaign = create(client, auth, draft_body(audience))
    url = f"{URL}/{campaign['id']}"
    api(client, "post", f"{url}/send", headers=auth)
    assert campaign_run.write_ledger(db.session.get(Campaign, campaign["id"]))  # held, not yet released
    cancelled = api(client, "post", f"{url}/cancel", headers=auth).json
    assert cancelled["status"] == "CANCELLED" and ISO_Z.match(cancelled["cancelled_at"])
    assert cancelled["progress"]["CANCELLED"] == 5
    finish(run_jobs)
    assert api(client, "get", url, headers=auth).json["progress"]["CANCELLED"] == 5
    for verb in ("cancel", "send", "resume"):
        refused = api(client, "post", f"{url}/{verb}", headers=auth)
        assert refused.status_code == 409 and "CANCELLED" in refused.json["detail"], verb


def test_cancel_a_draft(client, auth, audience):
    campaign = create(client, auth, draft_body(audience))
    cancelled = api(client, "post", f"{URL}/{campaign['id']}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "CANCELLED"
    for verb in ("pause", "resume", "cancel", "unschedule"):
        assert api(client, "post", f"{URL}/nope/{verb}", headers=auth).status_code == 404, verb


# -- isolation and auth ---------------------------------------------------------------------------

def test_another_accounts_campaigns_are_404_and_never_listed(client, auth, audience, other_account):
    other, other_auth = other_account
    their_group = create_group(other, "Theirs").id
    theirs = create(client, other_auth, {"name": "Theirs", "message": "Hi", "group_ids": [their_group]})
    url = f"{URL}/{theirs['id']}"
    assert api(client, "get", url, headers=auth).status_code == 404
    assert api(client, "get", f"{url}/preview", headers=auth).status_code == 404
    assert api(client, "patch", url, json={"name": "Mine"}, headers=auth).status_code == 404
    when = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    assert api(client, "post", f"{url}/schedule", json={"scheduled_at": when}, headers=auth).status_code == 404
    for verb in ("send", "pause", "resume", "cancel", "unschedule"):
        assert api(client, "post", f"{url}/{verb}", headers=auth).status_code == 404, verb
    assert api(client, "get", URL, headers=auth).json["total"] == 0
    assert api(client, "get", url, headers=other_auth).json == theirs  # untouched

    # Their group cannot be used in my campaign, nor mine in theirs.
    mine = api(client, "post", URL, json=draft_body(audience, group_ids=[their_group]), headers=auth)
    assert mine.status_code == 422 and mine.json["error"]["code"] == "unknown_group"
    other_way = api(client, "post", URL, json=draft_body(audience), headers=other_auth)
    assert other_way.status_code == 422 and other_way.json["error"]["code"] == "unknown_group"


def test_every_campaign_route_needs_a_key(client, audience):
    campaign_id = "00000000-0000-0000-0000-000000000000"
    for path, item in SPEC["paths"].items():
        if not path.startswith(URL):
            continue
        for method in item:
            url = path.replace("{campaign_id}", campaign_id)
            for headers in ({}, {"X-API-Key": "wayscloud_sms_abc12_wrong"}):
                response = api(client, method, url, json={}, headers=headers)
                assert response.status_code == 401, (method, path)


def test_bearer_key_works(client, api_key, audience):
    created = create(client, {"Authorization": f"Bearer {api_key}"}, draft_body(audience))
    assert created["status"] == "DRAFT"
