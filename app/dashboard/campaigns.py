"""Campaigns in the dashboard: the list, the composer with its live preview, one campaign with its
dispatch (send now, schedule) and live progress, and the changes marketers make to it.

URLs, each page serving its fragment to ``HX-Request`` from the same URL:

- ``/campaigns``: the list (fragment: the table, for the status filter and the pager).
- ``/campaigns/new`` and ``/campaigns/<id>/edit``: the composer. A POST with ``intent=save`` saves the
  draft; ``intent=test`` sends a test; any other POST is a preview (fragment: the preview), posted
  rather than got for the reason the send page gives: the text does not belong in a URL.
- ``/campaigns/<id>``: the campaign (fragment: its progress, which polls itself while it can change;
  when the poll finds the campaign in another status than the page shows, the page reloads).
- POSTs to ``/campaigns/<id>/send|schedule|unschedule|pause|resume|cancel|resend|test``.

Dispatch forms carry the recipients and units their button showed; the service refuses them if
the audience has changed since (``Commitment``), and the page then shows the fresh numbers.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, SENDER_EDITORS, role_required
from app.dashboard.campaign_forms import (
    MERGE_BUTTONS,
    CampaignForm,
    DispatchForm,
    ScheduleForm,
    TestSendForm,
    field_for,
    schedule_message,
)
from app.dashboard.contacts import follow, page_number
from app.dashboard.pages import is_htmx, owned_or_404, render, show_error
from app.dashboard.send_forms import timezone_choices
from app.extensions import db
from app.models import Campaign, CampaignStatus, Group, SenderProfile, Status, get_owned, scoped
from app.services import budgets, campaigns as campaign_service
from app.services import groups as group_service
from app.services import senders
from app.services.campaign_audience import SKIP_REASONS
from app.services.campaigns import CampaignSpec, spec_of
from app.services.errors import Conflict, ServiceError
from app.sms import parse_template, parse_window, to_local, validate_message
from app.sms.errors import SmsError

EDITORS = SENDER_EDITORS  # admins and marketers; managers and viewers look
_S = CampaignStatus
PAGE_SIZE = 25
GROUPS_SHOWN = 500
POLLER = "campaign-progress"  # the id of the element that polls (htmx sends it as HX-Trigger)
# How often the campaign page asks for news: often while sending, less while waiting for its time.
POLL = {_S.SENDING: "every 2s", _S.PAUSED: "every 2s", _S.SCHEDULED: "every 5s"}
SETTLED = (Status.DELIVERED, Status.FAILED, Status.CANCELLED)


@dashboard.app_template_filter("in_zone")
def in_zone(value: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as wall time in ``zone`` (a campaign's zone, or "UTC")."""
    return "—" if value is None else to_local(value, zone).strftime(fmt)


# -- the list ------------------------------------------------------------------------------------

@dashboard.get("/campaigns")
@role_required(*EVERYONE)
def campaigns():
    status = (request.args.get("status") or "").upper()
    status = status if status in _S.ALL else ""  # a mistyped link shows them all
    result = campaign_service.list_campaigns(current_user.account, page_number(), PAGE_SIZE, status or None)
    progress = campaign_service.progress_of(current_user.account_id, [c.id for c in result.items])
    return render("campaigns/index.html", "campaigns/_list.html", result=result, progress=progress, status=status,
                  statuses=_S.ALL)


# -- the composer --------------------------------------------------------------------------------

@dashboard.get("/campaigns/new")
@role_required(*EDITORS)
def new_campaign():
    form = CampaignForm(formdata=None)
    form.sender_profile_id.data = next(
        (p.id for p in senders.list_profiles(current_user.account) if p.is_default and p.can_send), None)
    form.timezone.data = current_user.account.timezone
    return _compose(form, None)


@dashboard.post("/campaigns/new")
@role_required(*EDITORS)
def create_campaign():
    return _posted(None, lambda spec: campaign_service.create(current_user.account, spec, current_user.id))


@dashboard.get("/campaigns/<campaign_id>/edit")
@role_required(*EDITORS)
def edit_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    if not found.is_editable:
        flash(_not_editable(found), "error")
        return redirect(_detail_url(found), 303)
    form = CampaignForm(formdata=None)
    form.fill_from(found)
    return _compose(form, found)


@dashboard.post("/campaigns/<campaign_id>/edit")
@role_required(*EDITORS)
def update_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    if request.form.get("intent") == "save" and not found.is_editable:
        flash(_not_editable(found), "error")
        return follow(_detail_url(found))
    return _posted(found, lambda spec: campaign_service.update(current_user.account, found, spec))


def _not_editable(campaign: Campaign) -> str:
    if campaign.status == _S.SCHEDULED:
        return "A scheduled campaign cannot be edited; take it off the schedule first."
    return f"Only a draft can be edited; this campaign is {campaign.status.lower()}."


def _posted(campaign: Campaign | None, save):
    """The composer posted: a test, a save (``save(spec)`` returns the campaign), else a preview."""
    form = CampaignForm()
    intent = request.form.get("intent")
    if intent == "test":
        return _compose_test(form, campaign)
    if intent != "save":
        return _compose(form, campaign)
    saved = _save(form, save, campaign)
    if saved is not None:
        flash(f"Saved the draft {saved.name}.", "success")
        return redirect(_detail_url(saved), 303)
    _show_other_problems(form)
    return _compose(form, campaign, http_status=422)


def _save(form: CampaignForm, save, campaign: Campaign | None) -> Campaign | None:
    """Save through the service; a refusal goes next to the field it is about. When the form
    itself is refused (the name), the service still checks the rest, so its problem shows too."""
    spec = _spec(form, campaign)
    try:
        if form.validate_on_submit():
            return save(spec)
        campaign_service.check(current_user.account, replace(spec, name="draft"))
    except (ServiceError, SmsError) as exc:
        show_error(form, exc, field_for(form, exc))
    return None


def _show_other_problems(form: CampaignForm) -> None:
    """The service stops at its first refusal; the text and the window, which the SMS core checks
    on their own, get theirs too, so one round shows every problem that can be seen at once."""
    checks = {"message": lambda: _check_text(form.message.data or ""),
              "window_start": lambda: parse_window(form.window_start.data, form.window_end.data)}
    for name, check in checks.items():
        if form[name].errors:
            continue
        try:
            check()
        except SmsError as exc:
            show_error(form, exc, name)


def _check_text(text: str) -> None:
    validate_message(text)
    parse_template(text)


def _spec(form: CampaignForm, campaign: Campaign | None) -> CampaignSpec:
    source = campaign.source_campaign_id if campaign else None
    return form.spec(source, campaign.body if source else None)


def _compose(form: CampaignForm, campaign: Campaign | None, fragment: str = "campaigns/_preview.html",
             http_status: int = 200, **context):
    account = current_user.account
    url = url_for("dashboard.update_campaign", campaign_id=campaign.id) if campaign else \
        url_for("dashboard.create_campaign")
    form.enable_preview(url)
    page = group_service.list_groups(account, 1, GROUPS_SHOWN)
    form.offer(page.items, group_service.member_counts(page.items), senders.list_profiles(account))
    source = _source_of(campaign)
    if source is not None:  # its recipients get the text they missed: shown, not edited
        form.message.data = campaign.body
        form.message.render_kw = {**form.message.render_kw, "readonly": True}
    needs_preview = not (is_htmx() and fragment != "campaigns/_preview.html")
    return render("campaigns/compose.html", fragment, http_status=http_status, form=form, campaign=campaign,
                  url=url, merge_buttons=MERGE_BUTTONS, source=source,
                  preview=_preview(_spec(form, campaign)) if needs_preview else None, **context)


def _preview(spec: CampaignSpec) -> dict:
    """What the composed campaign would commit to now, or why it cannot be counted yet."""
    if not spec.message.strip():
        return {"hint": "Type a message to see its recipients, parts and cost."}
    try:
        # The name plays no part in what a campaign costs: an unnamed draft previews too.
        found = campaign_service.preview(current_user.account, replace(spec, name="preview"))
    except (ServiceError, SmsError) as exc:
        return {"error": exc.message}
    return {"figures": found, "reasons": SKIP_REASONS,
            "budget_warnings": budgets.preview_warnings(current_user.account, spec.spend_cap, found.cost[1])}


def _compose_test(form: CampaignForm, campaign: Campaign | None):
    test, status = _test_send(form.test_number, _spec(form, campaign))
    return _compose(form, campaign, "campaigns/_test_result.html", http_status=status, test=test)


def _test_send(number_field, spec: CampaignSpec) -> tuple[dict, int]:
    number = number_field.data
    if not number or len(number) > 32:
        return {"error": "Enter the number to send the test to (at most 32 characters)."}, 422
    try:
        response = campaign_service.test_send(current_user.account, replace(spec, name="test"), number)
    except (ServiceError, SmsError) as exc:
        return {"error": exc.message}, 422
    return {"response": response}, 200


# -- one campaign --------------------------------------------------------------------------------

@dashboard.get("/campaigns/<campaign_id>")
@role_required(*EVERYONE)
def campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    seen = request.args.get("seen")
    if is_htmx() and seen and seen != found.status:
        # The campaign moved on (the tick started it, it completed, someone paused it): more than
        # the progress changed, so the whole page is loaded again.
        return "", 200, {"HX-Refresh": "true"}
    return _show(found)


def _show(campaign: Campaign, fragment: str = "campaigns/_progress.html", http_status: int = 200, **context):
    # The dispatch area counts the whole audience: only pages and its own fragment need it, never a poll.
    counted = not is_htmx() or fragment == "campaigns/_dispatch.html"
    context = {**_details(campaign, counted), **context}
    if is_htmx() and request.headers.get("HX-Trigger") == POLLER:
        # A poll answers only the progress: the flash area it would send along is empty by then and
        # would wipe a message not yet read.
        return render_template(fragment, **context), http_status
    return render("campaigns/show.html", fragment, http_status=http_status, **context)


def _details(campaign: Campaign, counted: bool) -> dict:
    account = current_user.account
    names = dict(db.session.execute(scoped(Group, account.id).where(
        Group.id.in_([*campaign.group_ids, *campaign.excluded_group_ids])).with_only_columns(Group.id, Group.name)
    ).all()) if (campaign.group_ids or campaign.excluded_group_ids) else {}
    context = {
        "campaign": campaign, "group_names": names, "source": _source_of(campaign),
        "profile": get_owned(SenderProfile, account.id, campaign.sender_profile_id or ""),
        "reasons": SKIP_REASONS, "poll": POLL.get(campaign.status), "poller": POLLER,
        "schedule_form": ScheduleForm.for_campaign(campaign), "test_form": TestSendForm(formdata=None), "dispatch": None,
        "progress": None, "resend_possible": False,
    }
    if counted and campaign.status in (_S.DRAFT, _S.SCHEDULED):
        context["dispatch"] = _preview(spec_of(campaign))
    if campaign.started_at:
        context["progress"] = _progress(campaign)
        context["resend_possible"] = (campaign.status in (_S.COMPLETED, _S.CANCELLED, _S.PAUSED)
                                      and context["progress"]["counts"][Status.FAILED] > 0)
    return context


def _progress(campaign: Campaign) -> dict:
    counts = campaign_service.progress(campaign)
    total = campaign.recipients if campaign.recipients is not None else sum(counts.values())
    settled = sum(counts[s] for s in SETTLED)
    if campaign.status == _S.COMPLETED:  # its SENT ones were waited for long enough (REPORT_WAIT_HOURS)
        settled += counts[Status.SENT]
    return {"counts": counts, "total": total, "settled": settled,
            "percent": round(100 * settled / total) if total else (100 if campaign.is_final else 0)}


def _source_of(campaign: Campaign | None) -> Campaign | None:
    if campaign is None or not campaign.source_campaign_id:
        return None
    return get_owned(Campaign, campaign.account_id, campaign.source_campaign_id)


def _detail_url(campaign: Campaign) -> str:
    return url_for("dashboard.campaign", campaign_id=campaign.id)


# -- dispatch ------------------------------------------------------------------------------------

@dashboard.post("/campaigns/<campaign_id>/send")
@role_required(*EDITORS)
def send_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    form = DispatchForm()
    if not form.validate_on_submit():
        return _show(found, "campaigns/_dispatch.html", http_status=422, dispatch_errors=form.stale_errors())
    try:
        campaign_service.send_now(current_user.account, found, form.commitment())
    except (ServiceError, SmsError) as exc:
        return _refused(found, exc)
    flash(f"Sending {found.name} to {form.commitment().recipients:,} recipients.", "success")
    return follow(_detail_url(found))


@dashboard.post("/campaigns/<campaign_id>/schedule")
@role_required(*EDITORS)
def schedule_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    form = ScheduleForm()
    form.timezone.choices = timezone_choices()  # shown again when refused
    if form.validate_on_submit():
        try:
            _, note = campaign_service.schedule(current_user.account, found, form.local_time.data,
                                                form.timezone.data or None, form.commitment())
        except (ServiceError, SmsError) as exc:
            field = field_for(form, exc)
            if field is None:
                return _refused(found, exc, schedule_form=form)
            form[field].errors = [*form[field].errors, schedule_message(exc)]
        else:
            flash(f"Scheduled {found.name} for {scheduled_text(found)}.", "success")
            if note:
                flash(note[0].upper() + note[1:] + ".", "info")
            return follow(_detail_url(found))
    return _show(found, "campaigns/_dispatch.html", http_status=422, schedule_form=form,
                 dispatch_errors=form.stale_errors())


def scheduled_text(campaign: Campaign) -> str:
    """"2026-03-10 09:00 Europe/Oslo (08:00 UTC)": the wall time chosen, and the instant."""
    at = campaign.scheduled_at
    same_day = in_zone(at, "UTC", "%Y-%m-%d") == in_zone(at, campaign.timezone, "%Y-%m-%d")
    utc = in_zone(at, "UTC", "%H:%M" if same_day else "%Y-%m-%d %H:%M")
    return f"{in_zone(at, campaign.timezone)} {campaign.timezone} ({utc} UTC)"


def _refused(campaign: Campaign, exc: ServiceError | SmsError, **context):
    """The campaign page again, with the refusal in the dispatch area and numbers counted afresh
    (after a changed audience, the buttons show the new ones)."""
    db.session.expire(campaign)
    if campaign.status not in (_S.DRAFT, _S.SCHEDULED):  # it moved on (sent twice, say): nothing to dispatch
        flash(exc.message, "error")
        return follow(_detail_url(campaign))
    status = exc.status if isinstance(exc, ServiceError) else 422
    return _show(campaign, "campaigns/_dispatch.html", http_status=status, dispatch_errors=[exc.message], **context)


# -- changes while it waits or sends -------------------------------------------------------------

def _change(campaign_id: str, action, done: str):
    found = owned_or_404(Campaign, campaign_id)
    try:
        action(found)
    except Conflict as exc:
        if is_htmx():
            raise  # the error handler answers a message for the flash area
        flash(exc.message, "error")
        return redirect(_detail_url(found), 303)
    flash(done.format(name=found.name), "success")
    return follow(_detail_url(found))


@dashboard.post("/campaigns/<campaign_id>/unschedule")
@role_required(*EDITORS)
def unschedule_campaign(campaign_id: str):
    return _change(campaign_id, campaign_service.unschedule,
                   "Took {name} off the schedule; it is a draft again.")


@dashboard.post("/campaigns/<campaign_id>/pause")
@role_required(*EDITORS)
def pause_campaign(campaign_id: str):
    return _change(campaign_id, campaign_service.pause,
                   "Paused {name}. Messages already handed to the carrier are still delivered.")


@dashboard.post("/campaigns/<campaign_id>/resume")
@role_required(*EDITORS)
def resume_campaign(campaign_id: str):
    return _change(campaign_id, campaign_service.resume, "Resumed {name}.")


@dashboard.post("/campaigns/<campaign_id>/cancel")
@role_required(*EDITORS)
def cancel_campaign(campaign_id: str):
    return _change(campaign_id, campaign_service.cancel,
                   "Cancelled {name}. Messages not yet handed to the carrier will not be sent.")


@dashboard.post("/campaigns/<campaign_id>/resend")
@role_required(*EDITORS)
def resend_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    try:
        draft = campaign_service.resend_failed(current_user.account, found, current_user.id)
    except (ServiceError, SmsError) as exc:
        flash(exc.message, "error")
        return follow(_detail_url(found))
    flash(f"Created the draft {draft.name}: it reaches only the recipients {found.name} failed to reach.",
          "success")
    return follow(_detail_url(draft))


@dashboard.post("/campaigns/<campaign_id>/test")
@role_required(*EDITORS)
def test_campaign(campaign_id: str):
    found = owned_or_404(Campaign, campaign_id)
    form = TestSendForm()
    test, status = _test_send(form.test_number, spec_of(found))
    return _show(found, "campaigns/_test_result.html", http_status=status, test=test, test_form=form)
