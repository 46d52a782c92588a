"""CSV downloads of contacts and groups, for everyone who can see them (every role).

Files are streamed a few hundred rows at a time, so a large directory neither times out nor sits
in the web process's memory. The contact export takes the contact list's filters.
"""
from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.pages import localtime
from app.models import utcnow
from app.services import export
from app.services.contacts import ContactFilter


@dashboard.get("/contacts/export.csv")
@role_required(*EVERYONE)
def export_contacts():
    """?search=...&tag=a&tag=b (or tags=a,b)&group=<id>&type=person|company"""
    tags = [*request.args.getlist("tag"), *request.args.get("tags", "").split(",")]
    flt = ContactFilter(
        type=request.args.get("type") or None,
        search=request.args.get("search") or request.args.get("q") or None,
        tags=tuple(t.strip() for t in tags if t.strip()),
        group_id=request.args.get("group") or request.args.get("group_id") or None,
    )
    rows = export.contact_rows(current_user.account, flt)  # an unknown group is a 404 here, not mid-file
    return _download(export.csv_lines(export.CONTACT_COLUMNS, rows), "contacts")


@dashboard.get("/groups/export.csv")
@role_required(*EVERYONE)
def export_groups():
    return _download(export.groups_csv(current_user.account), "groups")


def _download(lines, what: str) -> Response:
    filename = f"{what}-{localtime(utcnow(), '%Y-%m-%d')}.csv"
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
