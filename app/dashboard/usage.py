"""Monthly usage for managers and admins: totals and cost, by campaign, by sender profile and by
day (with a chart), compared with the month before, and CSV files of it.

``/usage?month=YYYY-MM`` is the page; with ``HX-Request`` it answers the report only (the month
picker swaps it in place and pushes the URL). The chart reads ``/usage.json`` for the same month
(drawn by ``static/usage.js``); ``/usage.csv?by=day|campaign`` downloads the tables. The figures
are those of ``GET /v1/sms/usage`` and ``/stats`` (``services.usage_report``).
"""
from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import can, role_required
from app.dashboard.pages import render
from app.services import usage_report
from app.services.errors import Invalid

MANAGERS = ("admin", "manager")
# A campaign's page: ``campaign`` in campaigns.py; ``campaign_detail`` is the name it was planned under.
CAMPAIGN_PAGES = ("dashboard.campaign_detail", "dashboard.campaign")


@dashboard.get("/usage")
@role_required(*MANAGERS)
def usage():
    month = request.args.get("month", "")
    try:
        report = usage_report.build(current_user.account, month)
    except Invalid as exc:
        return render("usage/index.html", "usage/_report.html", report=None, month=month[:32], error=exc.message,
                      campaign_link=campaign_link, http_status=422)
    return render("usage/index.html", "usage/_report.html", report=report, month=report.period, error=None,
                  campaign_link=campaign_link)


@dashboard.get("/usage.json")
@role_required(*MANAGERS)
def usage_json():
    try:
        report = usage_report.build(current_user.account, request.args.get("month", ""))
    except Invalid as exc:
        return jsonify({"detail": exc.message}), 422
    return jsonify(usage_report.as_json(report))


@dashboard.get("/usage.csv")
@role_required(*MANAGERS)
def usage_csv():
    """?month=YYYY-MM&by=day|campaign. A wrong value is a 422 page saying which."""
    by = request.args.get("by", "day")
    if by not in usage_report.CSV_KINDS:
        raise Invalid(f"by must be one of {', '.join(usage_report.CSV_KINDS)}, not '{by[:32]}'")
    report = usage_report.build(current_user.account, request.args.get("month", ""))
    filename = f"usage-{report.period}-by-{by}.csv"
    return Response(usage_report.csv_file(report, by), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def campaign_link(campaign_id: str) -> str | None:
    """The campaign's page, when there is one and the reader may open it (the campaign pages are
    another module's: the URL's parameter is read from its rule rather than assumed)."""
    for endpoint in CAMPAIGN_PAGES:
        if not can(endpoint):
            continue
        rules = [rule for rule in current_app.url_map.iter_rules(endpoint) if len(rule.arguments) == 1]
        if rules:
            return url_for(endpoint, **{next(iter(rules[0].arguments)): campaign_id})
    return None
