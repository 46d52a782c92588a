"""The audit log (admins only): who created, changed, dispatched or approved what, newest first.

Filters live in the query string, so a filtered view is a link and ``/audit/export.csv`` exports
exactly the list on screen; with ``HX-Request`` ``/audit`` answers the list alone. Events are read
through ``services.audit``, scoped to the admin's account like every other list.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import Response, request, stream_with_context, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import role_required
from app.dashboard.audit_forms import AuditFilterForm
from app.dashboard.contacts import page_number
from app.dashboard.pages import localtime, render
from app.models import utcnow
from app.services import audit as audit_service
from app.services.export import csv_lines
from app.sms import get_zone

PAGE_SIZE = 50
AUDITORS = ("admin",)
# Where an object of each type is opened: its own page (by id), or the list it is kept in.
_PAGES = {
    "campaign": ("dashboard.campaign", "campaign_id"), "contact": ("dashboard.contact", "contact_id"),
    "group": ("dashboard.group", "group_id"), "contact_import": ("dashboard.contact_import", "import_id"),
    "webhook_delivery": ("dashboard.webhook_delivery", "delivery_id"), "keyword": ("dashboard.edit_keyword", "keyword_id"),
    "sender_profile": ("dashboard.sender_profiles", None), "user": ("dashboard.users", None),
    "api_key": ("dashboard.api_keys", None), "optout": ("dashboard.optouts", None),
}


@dashboard.get("/audit")
@role_required(*AUDITORS)
def audit():
    form = AuditFilterForm(formdata=request.args)
    listing = None
    existing: set = set()
    if form.validate():
        listing = audit_service.list_events(current_user.account_id, _filter(form), page_number(), PAGE_SIZE)
        existing = audit_service.existing_objects(current_user.account_id, listing.items)
    return render("audit/index.html", "audit/_events.html", http_status=200 if listing else 422, form=form,
                  listing=listing, filters=form.query() if listing else {}, link=lambda e: _link(e, existing))


@dashboard.get("/audit/export.csv")
@role_required(*AUDITORS)
def export_audit():
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        problems = "; ".join(f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items())
        return Response(f"Fix the filters: {problems}\n", status=422, mimetype="text/plain")
    rows = audit_service.event_rows(current_user.account_id, _filter(form))
    filename = f"audit-{localtime(utcnow(), '%Y-%m-%d')}.csv"
    return Response(stream_with_context(csv_lines(audit_service.CSV_COLUMNS, rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _filter(form: AuditFilterForm) -> audit_service.AuditFilter:
    """The form's values; dates are whole days in the account's time zone."""
    zone = get_zone(current_user.account.timezone)
    return audit_service.AuditFilter(
        actor=form.actor.data or None, action=form.action.data or None, object_type=form.object_type.data or None,
        object_id=form.object_id.data or None, since=_start_of(form.since.data, zone),
        until=_start_of(form.until.data + timedelta(days=1), zone) if form.until.data else None,
    )


def _start_of(day: date | None, zone) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(timezone.utc) if day else None


def _link(event, existing: set) -> str | None:
    """The page of the event's object, while it still exists."""
    page = _PAGES.get(event.object_type)
    if page is None or (event.object_type, event.object_id) not in existing:
        return None
    endpoint, argument = page
    return url_for(endpoint, **({argument: event.object_id} if argument else {}))


@dashboard.app_template_filter("audit_details")
def audit_details(details: dict | None) -> str:
    """An event's details as one line: ``name: Spring sale · role: manager → viewer``."""
    parts = []
    for key, value in (details or {}).items():
        if key == "changes" and isinstance(value, dict):
            parts += [f"{field}: {_change(change)}" for field, change in value.items()]
        else:
            parts.append(f"{key}: {_text(value)}")
    return " · ".join(parts)


def _change(change) -> str:
    if isinstance(change, dict) and "from" in change:
        return f"{_text(change['from'])} → {_text(change.get('to'))}"
    return "changed"


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(_text, value)) or "—"
    return str(value)
