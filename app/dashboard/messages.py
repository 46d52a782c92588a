"""The messages log (everyone) and one message with its timeline; marketers and admins cancel.

``/messages`` filters by the query string, so a filtered view is a link and works without
JavaScript; with ``HX-Request`` it answers the rows (the pager goes along out of band). While any
row in view is still on its way, the rows poll themselves; ``/messages/<id>`` does the same for one
message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, SENDER_EDITORS, role_required
from app.dashboard.pages import is_htmx, render
from app.dashboard.send_forms import MessageFilterForm
from app.dashboard.webhooks import message_events
from app.models import Message, Status
from app.models.message import STAMPS
from app.services import messages as message_service
from app.services.errors import Conflict
from app.services.messages import MessageFilter
from app.sms import get_zone, normalize_number
from app.sms.errors import InvalidNumber

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # far beyond any log; keeps the offset a sane number
# Elements that poll: their requests must leave the flash area alone (see _respond).
POLLERS = {"message-rows", "message-detail"}
FILTERS = ("status", "direction", "date_from", "date_to", "number", "batch_id")


@dashboard.get("/messages")
@role_required(*EVERYONE)
def messages():
    form = MessageFilterForm(formdata=request.args)
    flt = _filter(form) if form.validate() else None
    listing = message_service.list_messages(current_user.account, flt, _page_number(), PAGE_SIZE) if flt else None
    rows = listing.items if listing else []
    context = {"form": form, "listing": listing, "rows": rows, "pages": _pager(listing),
               "in_flight": any(not m.is_final for m in rows)}
    return _respond("messages/index.html", "messages/_rows.html",
                    oob=("messages/_pager.html", "messages/_filter_errors.html"),
                    http_status=200 if flt else 422, **context)


@dashboard.get("/messages/<message_id>")
@role_required(*EVERYONE)
def message(message_id: str):
    found = message_service.get_message(current_user.account, message_id)
    return _respond("messages/show.html", "messages/_detail.html", **_detail(found))


@dashboard.post("/messages/<message_id>/cancel")
@role_required(*SENDER_EDITORS)
def cancel_message(message_id: str):
    try:
        cancelled = message_service.cancel_message(current_user.account, message_id)
    except Conflict as exc:
        if is_htmx():
            raise  # the error handler answers a message for the flash area; the detail keeps polling
        flash(exc.message, "error")
        return redirect(url_for("dashboard.message", message_id=message_id), 303)
    flash(f"Cancelled the message to {cancelled.to_number}.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.message", message_id=cancelled.id), 303)
    return render("messages/show.html", "messages/_detail.html", **_detail(cancelled))


def _respond(page_template: str, fragment: str, *, oob: tuple[str, ...] = (), http_status: int = 200, **context):
    """``render``, except for a poll: it answers only the fragment (and out-of-band parts), because
    the flash area it would send along is empty by then and would wipe a message not yet read."""
    if is_htmx() and request.headers.get("HX-Trigger") in POLLERS:
        parts = [render_template(fragment, **context)]
        parts += [f"<template>{render_template(name, oob=True, **context)}</template>" for name in oob]
        return "".join(parts), http_status
    return render(page_template, fragment, oob=oob, http_status=http_status, **context)


# -- the log's filters ------------------------------------------------------------------------------

def _filter(form: MessageFilterForm) -> MessageFilter | None:
    """The service's filter from the form; dates are whole days in the account's zone. None (with
    the error on the form) when the number is not one."""
    account = current_user.account
    number = None
    if form.number.data and form.number.data.strip():
        try:
            number = normalize_number(form.number.data, account.default_region)
        except InvalidNumber as exc:
            form.number.errors.append(exc.message)
            return None
    zone = get_zone(account.timezone)
    return MessageFilter(
        statuses=tuple(form.status.data or ()),
        direction=form.direction.data or None,
        batch_id=(form.batch_id.data or "").strip() or None,
        number=number,
        created_from=_day_start(form.date_from.data, zone),
        created_to=_day_end(form.date_to.data, zone),
    )


def _day_start(day: date | None, zone) -> datetime | None:
    """Midnight starting ``day`` in ``zone``, in UTC (None: no bound, also at the calendar's ends)."""
    try:
        return None if day is None else datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)
    except OverflowError:
        return None


def _day_end(day: date | None, zone) -> datetime | None:
    """The last instant of ``day`` in ``zone`` (the filter's upper bound is inclusive)."""
    if day is None or day == date.max:
        return None
    start_of_next = _day_start(day + timedelta(days=1), zone)
    return None if start_of_next is None else start_of_next - timedelta(microseconds=1)


def _page_number() -> int:
    number = request.args.get("page", 1, type=int)
    return min(max(number, 1), MAX_PAGE)


@dataclass(frozen=True)
class Pager:
    first: int
    last: int
    total: int
    previous_url: str | None
    next_url: str | None


def _pager(listing) -> Pager | None:
    if listing is None:
        return None
    # Only the filters travel on: other keys (say "_external") would mean something to url_for.
    query = {key: values for key, values in request.args.to_dict(flat=False).items() if key in FILTERS}

    def link(number: int) -> str:
        return url_for("dashboard.messages", **query, **({"page": number} if number > 1 else {}))

    first = (listing.page - 1) * listing.page_size + 1
    return Pager(first=min(first, listing.total), last=min(first + len(listing.items) - 1, listing.total),
                 total=listing.total, previous_url=link(listing.page - 1) if listing.page > 1 else None,
                 next_url=link(listing.page + 1) if listing.has_more else None)


# -- one message -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    label: str
    at: datetime
    status: str | None = None
    planned: bool = False


def timeline(message: Message) -> list[Step]:
    """What happened to the message, in lifecycle order, from the time each status stamped."""
    steps = [Step("Created", message.created_at)]
    if message.scheduled_at is not None:
        steps.append(Step("Scheduled for", message.scheduled_at, Status.SCHEDULED,
                          planned=message.status == Status.SCHEDULED))
    for status in Status.ALL:
        stamp = STAMPS.get(status)
        at = getattr(message, stamp) if stamp else None
        if at is not None:
            steps.append(Step(status.capitalize(), at, status))
    return steps


def _detail(message: Message) -> dict:
    return {"message": message, "timeline": timeline(message), "in_flight": not message.is_final,
            "cancellable": message.can_move_to(Status.CANCELLED), "webhook_events": message_events(message)}
