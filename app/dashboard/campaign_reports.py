"""A campaign's report, for everyone who can see campaigns (every role).

``/campaigns/<id>/report`` shows the key figures as plain HTML (useful without JavaScript), the
failure reasons and the recipients. Its recipient list filters by the query string, so a filtered
view is a link; with ``HX-Request`` the same URL answers only the list (and skips the figures).
The charts are drawn by ``static/campaign_report.js`` from ``/campaigns/<id>/report.json``, which
also carries the figures as the page shows them, so while the campaign is live the script
refreshes both every ``REFRESH_SECONDS``. ``/campaigns/<id>/report.csv`` downloads the (filtered)
recipients. Definitions of the figures are in ``services.campaign_report``.
"""
from __future__ import annotations

import re
from decimal import Decimal

from flask import Response, jsonify, request, stream_with_context
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.models import Campaign, utcnow
from app.models.base import iso
from app.services import campaign_report as report_service
from app.services import campaign_recipients
from app.services.campaign_recipients import RecipientFilter
from app.services.campaign_report import STATUSES, Report
from app.services.errors import Invalid

PAGE = "campaigns/report.html"
RECIPIENTS = "campaigns/_report_recipients.html"
PAGE_SIZE = 50
MAX_PAGE = 100_000  # a campaign of a million recipients has 20,000 pages
REFRESH_SECONDS = 5
FILTERS = ("status", "number")


class RecipientFilterForm(FlaskForm):
    """The recipient list's filters: a GET form (no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField("Status", choices=[SelectChoice("", "Any status"), *(SelectChoice(s, s.lower()) for s in STATUSES)], default="",
                         validators=[Optional()], filters=[lambda v: (v or "").strip().upper()])
    number = StringField("Number", validators=[Optional(), Length(max=64)],
                         render_kw={"type": "search", "placeholder": "digits, e.g. 9123", "inputmode": "tel"})


@dashboard.get("/campaigns/<campaign_id>/report")
@role_required(*EVERYONE)
def campaign_report(campaign_id: str):
    campaign = owned_or_404(Campaign, campaign_id)
    form = RecipientFilterForm(formdata=request.args)
    flt = _filter(form)
    context = {"campaign": campaign, "form": form, "list_params": _list_params(campaign, form)}
    http_status = 200 if flt else 422
    if is_htmx():  # only the list changes: the figures are not computed for it
        listing = campaign_recipients.recipients(campaign, flt, _page_number(), PAGE_SIZE) if flt else None
        return render(PAGE, RECIPIENTS, http_status=http_status, listing=listing, **context)
    report = report_service.report(campaign, current_user.account.timezone)
    listing = campaign_recipients.recipients(campaign, flt, _page_number(), PAGE_SIZE, _known_total(report, flt)) \
        if flt else None
    return render(PAGE, RECIPIENTS, http_status=http_status, listing=listing, report=report, figures=figures(report),
                  failures=report_service.failure_reasons(campaign), refresh_seconds=REFRESH_SECONDS, **context)


def _known_total(report: Report, flt: RecipientFilter) -> int | None:
    """How many recipients the list has, when the report's status counts say (no number search)."""
    if flt.digits:
        return None
    return report.statuses[flt.status] if flt.status else report.recipients


@dashboard.get("/campaigns/<campaign_id>/report.json")
@role_required(*EVERYONE)
def campaign_report_json(campaign_id: str):
    campaign = owned_or_404(Campaign, campaign_id)
    account = current_user.account
    report = report_service.report(campaign, account.timezone, timeline=True)
    response = jsonify(_payload(campaign, report, account.timezone))
    response.headers["Cache-Control"] = "no-store"
    return response


@dashboard.get("/campaigns/<campaign_id>/report.csv")
@role_required(*EVERYONE)
def campaign_report_csv(campaign_id: str):
    """The recipients (the list's filters apply) as CSV, streamed."""
    campaign = owned_or_404(Campaign, campaign_id)
    form = RecipientFilterForm(formdata=request.args)
    flt = _filter(form)
    if flt is None:
        raise Invalid("; ".join(e for errors in form.errors.values() for e in errors))
    filename = f"campaign-{_slug(campaign.name)}-recipients-{utcnow().strftime('%Y-%m-%d')}.csv"
    return Response(stream_with_context(campaign_recipients.recipients_csv(campaign, flt)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


# -- the figures as shown ------------------------------------------------------------------------

def figures(report: Report) -> dict[str, str]:
    """Every figure the page shows, formatted; the JSON carries the same, so the page's script
    can refresh them (elements with ``data-figure="<key>"``) without formatting anything itself."""
    shown = {
        "recipients": _count(report.recipients), "delivered": _count(report.delivered),
        "failed": _count(report.failed), "in_flight": _count(report.in_flight),
        "unreported": _count(report.unreported),
        "delivery_rate": _percent(report.delivery_rate),
        "units": _count(report.units), "cost": _money(report.costs),
        "planned_units": _count(report.planned_units), "planned_cost": _money(report.planned_costs),
        "measured": _count(report.latency.measured), "median": duration(report.latency.median),
    }
    shown.update({f"status-{status}": _count(n) for status, n in report.statuses.items()})
    shown.update({f"latency-{i}": _count(n) for i, (_, n) in enumerate(report.latency.buckets)})
    return shown


def _count(n: int) -> str:
    return f"{n:,}"


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f} %"


def _money(costs: list[tuple[str, Decimal]]) -> str:
    return " + ".join(f"{amount:,.2f} {currency}" for currency, amount in costs) or "—"


def duration(seconds: float | None) -> str:
    """A time to delivery as people read it: 4.2 s, 3 min 5 s, 2 h 10 min."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _payload(campaign: Campaign, report: Report, zone: str) -> dict:
    timeline = report.timeline
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "status": campaign.status},
        "live": report.live,
        "refresh_seconds": REFRESH_SECONDS,
        "generated_at": iso(utcnow()),
        "timezone": zone,
        "statuses": [{"status": s, "count": n} for s, n in report.statuses.items()],
        "totals": {
            "recipients": report.recipients, "delivered": report.delivered, "failed": report.failed,
            "sent": report.statuses["SENT"], "in_flight": report.in_flight,
            "delivery_rate": report.delivery_rate,
            "units": report.units, "costs": _amounts(report.costs),
            "planned_units": report.planned_units, "planned_costs": _amounts(report.planned_costs),
        },
        "timeline": {
            "bucket": timeline.unit, "bucket_seconds": timeline.seconds,
            "starts": [iso(s) for s in timeline.starts], "labels": timeline.labels,
            "delivered": timeline.delivered, "failed": timeline.failed,
        },
        "time_to_delivery": {
            "buckets": [{"label": label, "count": n} for label, n in report.latency.buckets],
            "measured": report.latency.measured, "median_seconds": report.latency.median,
        },
        "figures": figures(report),
    }


def _amounts(costs: list[tuple[str, Decimal]]) -> list[dict]:
    # Strings: JSON numbers would turn 0.1 + 0.2 into 0.30000000000000004 somewhere downstream.
    return [{"currency": currency, "amount": str(amount)} for currency, amount in costs]


# -- the recipient list ---------------------------------------------------------------------------

def _filter(form: RecipientFilterForm) -> RecipientFilter | None:
    """The service's filter, or None with the errors on the form."""
    if not form.validate():
        return None
    digits = campaign_recipients.number_digits(form.number.data)
    if digits == "":
        form.number.errors.append("Search by digits of the number, e.g. 9123.")
        return None
    return RecipientFilter(status=form.status.data or None, digits=digits)


def _page_number() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def _list_params(campaign: Campaign, form: RecipientFilterForm) -> dict:
    """What every page link of the list (and the CSV link) carries: the campaign and the filters."""
    params = {"campaign_id": campaign.id}
    params.update({name: form[name].data for name in FILTERS if form[name].data})
    return params


def _slug(name: str) -> str:
    """The name for a file name: ASCII letters, digits and dashes only (a header cannot carry more)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower(), flags=re.ASCII).strip("-")[:40] or "campaign"
