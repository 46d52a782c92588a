"""Send an SMS from the browser, through the same ``services.send`` as ``POST /v1/sms/send``.

One URL, ``/send``:

- GET: the page. With ``HX-Request``, the contact picker's options for ``contact_search`` (the one
  part of the page a GET changes), keeping the contacts already chosen.
- POST with ``intent=send`` (the Send button): sends, then redirects to the batch in the messages log.
- POST with any other intent: a preview, nothing is sent. With ``HX-Request`` the preview fragment
  (the fields post the form as they change), else the whole page ("Update preview" without JavaScript).

Why the preview posts the form to /send rather than GET or a URL of its own: it is the same form
asking "what would this send?", so it is served where the form is, like every fragment here. A GET
would put the message text and up to thousands of numbers in the URL, past request-line limits and
into access logs. Sending needs the explicit Send intent, so any request that lacks it (a forgotten
marker, a new control that posts the form) previews instead of sending.
"""
from __future__ import annotations

import unicodedata
from collections import defaultdict
from datetime import datetime

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app.dashboard import dashboard
from app.dashboard.access import SENDER_EDITORS, role_required
from app.dashboard.pages import is_htmx, render, show_error
from app.dashboard.send_forms import MAX_NUMBERS, SendForm, ids, new_idempotency_key, timezone_choices
from app.extensions import db
from app.models import Contact, scoped
from app.services import groups, senders
from app.services.contacts import ContactFilter, chunks, list_contacts
from app.services.errors import ServiceError
from app.services.pricing import estimate
from app.services.send import SendRequest, preview_recipients, schedule_time, send
from app.sms import get_zone, local_to_utc, to_local, validate_message
from app.sms.errors import InvalidMessage, InvalidTimezone, ScheduleError, SmsError

SENDERS = SENDER_EDITORS  # marketers and admins send
PICKER_SIZE = 50  # contacts offered at once; the search finds the others
GROUPS_SHOWN = 500


@dashboard.get("/send")
@role_required(*SENDERS)
def send_form():
    form = SendForm(formdata=request.args or None)  # a link may prefill the form (?to=...&message=...)
    form.idempotency_key.data = new_idempotency_key()  # one per rendered form, never from the URL
    if not form.sender_profile_id.data:
        form.sender_profile_id.data = _default_profile_id()
    form.timezone.data = form.timezone.data or current_user.account.timezone
    _fill_choices(form)
    return _render(form, "send/_contact_options.html")


@dashboard.post("/send")
@role_required(*SENDERS)
def send_messages():
    form = SendForm()
    _fill_choices(form)
    if request.form.get("intent") != "send":
        return _render(form, "send/_preview.html")
    if not form.validate_on_submit():
        return _render(form, "send/_preview.html", http_status=422)
    send_request = form.send_request()
    try:
        response, replayed = send(current_user.account, send_request, idempotency_key=form.idempotency_key.data)
    except (ServiceError, SmsError) as exc:
        if exc.code == "idempotency_key_reused":
            # The form was sent already, then changed (say, after Back): sending again is a new send.
            form.idempotency_key.data = new_idempotency_key()
        show_error(form, exc, _field_for(form, exc))
        _show_other_problems(form, send_request)
        return _render(form, "send/_preview.html", http_status=422)
    flash(outcome_message(response, replayed, send_request.timezone, _names(form)), "success")
    return redirect(url_for("dashboard.messages", batch_id=response["batch_id"]), 303)


def _render(form: SendForm, fragment: str, http_status: int = 200):
    form.enable_preview(url_for("dashboard.send_messages"))
    # The page shows the preview too; the contact search alone need not compute it.
    preview = None if fragment == "send/_contact_options.html" and is_htmx() else _preview(form)
    return render("send/index.html", fragment, http_status=http_status, form=form, preview=preview)


def _fill_choices(form: SendForm) -> None:
    account = current_user.account
    search = form.contact_search.data or ""
    form.to_contacts.choices = _contact_choices(search, list(ids(form.to_contacts.data)))
    page = groups.list_groups(account, 1, GROUPS_SHOWN)
    counts = groups.member_counts(page.items)
    form.to_groups.choices = [
        SelectChoice(g.id, f"{g.name} ({counts[g.id]} member{'' if counts[g.id] == 1 else 's'})") for g in page.items]
    form.sender_profile_id.choices = [
        SelectChoice(p.id, f"{p.name} ({p.sender_id}){' · default' if p.is_default else ''}")
        for p in senders.list_profiles(account) if p.can_send]
    form.timezone.choices = timezone_choices()


def _contact_choices(search: str | None, chosen: list[str]) -> list:
    """The chosen contacts first (a search must not drop them), then those matching the search."""
    account = current_user.account
    picked = []
    for chunk in chunks([c for c in chosen if isinstance(c, str) and len(c) <= 64]):
        picked += db.session.scalars(scoped(Contact, account.id).where(Contact.id.in_(chunk)))
    order = {contact_id: i for i, contact_id in enumerate(chosen)}
    picked.sort(key=lambda c: order[c.id])
    found = list_contacts(account, ContactFilter(search=search or None), 1, PICKER_SIZE).items
    contacts = picked + [c for c in found if c.id not in order]
    return [SelectChoice(c.id, f"{c.name} ({c.phone_number or 'no phone number'})",
                         {"disabled": True} if not c.phone_number and c.id not in order else {}) for c in contacts]


def _default_profile_id() -> str | None:
    return next((p.id for p in senders.list_profiles(current_user.account) if p.is_default and p.can_send), None)


def _preview(form: SendForm) -> dict:
    """What the send would be: figures from the SMS core (through the pricing service), whom it
    reaches and skips, and when it goes out. Nothing is written."""
    account = current_user.account
    send_request = form.send_request()
    numbers_error = None
    if len(send_request.to) > MAX_NUMBERS:  # a bound on the work a preview does, as on the send
        numbers_error = f"At most {MAX_NUMBERS} numbers per form"
        send_request = SendRequest(message=send_request.message, timezone=send_request.timezone)
    recipients = preview_recipients(account, send_request)
    count = len(recipients.accepted)
    limit = current_app.config["MAX_RECIPIENTS"]
    preview = {"recipients": count, "rejected": rejected_summary(recipients.rejected, _names(form)),
               "too_many": count > limit, "max_recipients": limit, "numbers_error": numbers_error,
               "figures": None, "message_error": None}
    if send_request.message.strip():
        try:
            # Priced for one recipient until there are some, so the cost of the text shows at once.
            preview["figures"] = estimate(account, send_request.message, count or 1)
        except InvalidMessage as exc:
            preview["message_error"] = exc.message
    preview.update(_when(send_request))
    return preview


def _when(send_request: SendRequest) -> dict:
    try:
        resolved = schedule_time(send_request)
    except SmsError as exc:
        return {"schedule_error": exc.message, "send_at": None}
    if resolved is None:
        return {"schedule_error": None, "send_at": None}
    return {"schedule_error": None, "ambiguous": resolved.ambiguous, "zone": resolved.zone,
            "send_at": to_local(resolved.utc, resolved.zone),
            "send_at_account": to_local(resolved.utc, current_user.account.timezone)}


def _show_other_problems(form: SendForm, send_request: SendRequest) -> None:
    """The send stops at its first refusal; the text and the schedule, which the SMS core checks on
    their own, get their errors too, so one round fixes everything that can be seen at once."""
    checks = {"message": lambda: validate_message(send_request.message),
              "scheduled_at": lambda: schedule_time(send_request)}
    for name, check in checks.items():
        try:
            check()
        except SmsError as exc:
            field = _field_for(form, exc) or name
            if not form[field].errors:
                show_error(form, exc, field)


# Service error codes about a field whose name the error does not carry.
FIELD_OF_CODE = {
    "no_recipients": "to", "too_many_recipients": "to",
    "unknown_sender_profile": "sender_profile_id", "unknown_sender_id": "sender_profile_id",
    "sender_not_approved": "sender_profile_id", "no_sender_profile": "sender_profile_id",
    "reply_not_possible": "sender_profile_id",
}


def _field_for(form: SendForm, exc: ServiceError | SmsError) -> str | None:
    """The form field a refusal is about; None puts it above the form."""
    if isinstance(exc, InvalidMessage):
        return "message"
    if isinstance(exc, InvalidTimezone):
        return "timezone"
    if isinstance(exc, ScheduleError):
        return "scheduled_at"
    if isinstance(exc, SmsError):
        return None
    named = [f["loc"][1] for f in exc.fields if len(f.get("loc", [])) > 1 and f["loc"][1] in form]
    return named[0] if named else FIELD_OF_CODE.get(exc.code)


def _names(form: SendForm) -> dict[str, str]:
    """Labels of the contacts and groups on the form, to name them in the outcome."""
    return {choice.value: choice.label for choice in [*form.to_contacts.choices, *form.to_groups.choices]}


@dashboard.app_template_filter("charname")
def charname(char: str) -> str:
    """A character's Unicode name: a no-break space or a tab is invisible in the list otherwise."""
    return unicodedata.name(char, f"U+{ord(char):04X}").lower() if len(char) == 1 else ""


@dashboard.app_template_filter("wall")
def wall(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time already in the zone it is shown in (the schedule's own zone)."""
    return "—" if value is None else value.strftime(fmt)


# -- saying what happened ---------------------------------------------------------------------------

# Why a recipient was skipped, by the reason the send service gives: (singular, plural).
KINDS = {
    "opted out": ("opted out", "opted out"),
    "duplicate": ("duplicate", "duplicates"),
    "invalid": ("invalid number", "invalid numbers"),
    "contact not found": ("unknown contact", "unknown contacts"),
    "has no phone number": ("contact without a phone number", "contacts without a phone number"),
    "group not found": ("unknown group", "unknown groups"),
    "group has no members": ("empty group", "empty groups"),
}
EXAMPLES = 5


def rejected_summary(rejected: list[dict], names: dict[str, str] | None = None) -> list[str]:
    """Skipped recipients grouped by why, each group with a few of them: "2 opted out (+47..., ...)"."""
    names = names or {}
    groups_of: dict[str, list[str]] = defaultdict(list)
    for entry in rejected:
        kind, example = _kind(entry, names)
        groups_of[kind].append(example)
    lines = []
    for kind, examples in sorted(groups_of.items(), key=lambda item: list(KINDS).index(item[0])):
        label = KINDS[kind][0 if len(examples) == 1 else 1]
        shown = ", ".join(examples[:EXAMPLES]) + (", …" if len(examples) > EXAMPLES else "")
        lines.append(f"{len(examples)} {label} ({shown})")
    return lines


def _kind(entry: dict, names: dict[str, str]) -> tuple[str, str]:
    reason = entry.get("reason", "")
    for key in ("contact_id", "group_id"):
        if key in entry:
            return (reason if reason in KINDS else "invalid"), names.get(str(entry[key]), str(entry[key])[:64])
    if reason == "opted out":
        return "opted out", entry["to"]
    if reason.startswith("duplicate of"):
        return "duplicate", entry["to"]
    return "invalid", reason  # the number's own reason quotes it: "'12' is too short"


def outcome_message(response: dict, replayed: bool, zone: str | None, names: dict[str, str]) -> str:
    count = len(response["to"])
    recipients = f"{count} recipient{'' if count == 1 else 's'}"
    if response["status"] == "SCHEDULED":
        text = f"Scheduled for {_scheduled(response['scheduled_at'], zone or 'UTC')} to {recipients}"
    else:
        text = f"Sent to {recipients}"
    if response["rejected"]:
        text += f"; {len(response['rejected'])} skipped ({'; '.join(rejected_summary(response['rejected'], names))})"
    text += "."
    if replayed:
        text = "This form was sent already; nothing was sent again. " + text
    return text


def _scheduled(iso_utc: str, zone: str) -> str:
    local = to_local(datetime.fromisoformat(iso_utc.replace("Z", "+00:00")), zone)
    text = f"{local:%Y-%m-%d %H:%M} {zone}"
    # Said because the person chose a wall time that happens twice: the first one was taken.
    if local_to_utc(local.replace(tzinfo=None), get_zone(zone))[1]:
        text += " (the first of the two, before clocks go back)"
    return text
