"""The account's budget: this month's committed spend against the monthly spending limit, where
admins and managers set that limit, and the banner every page shows while a budget stops sending.

``/budget`` is the page; with ``HX-Request`` it answers the standing and the form only (the form
swaps them in place). The rules are ``services.budgets``'; this module reads and renders them.
"""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user
from app.dashboard import dashboard
from app.dashboard.access import role_required
from app.dashboard.budget_forms import BudgetForm, CapForm
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.models import Campaign
from app.services import budgets
from app.services import campaigns as campaign_service
from app.services.errors import ServiceError
from app.sms.budget import money

BUDGET_KEEPERS = ("admin", "manager")
# Who sees the banner: the people whose sending it stops, and those who can lift it.
BANNER_ROLES = ("admin", "manager", "marketer")
# Who may change a campaign's cap: its editors, and the managers who keep the budget.
CAP_SETTERS = ("admin", "manager", "marketer")


def _context(form: BudgetForm) -> dict:
    account = current_user.account
    return {"form": form, "standing": budgets.standing(account), "currency": account.currency,
            "paused": budgets.paused_by_budget(account.id, limit=20), "money": money}


@dashboard.get("/budget")
@role_required(*BUDGET_KEEPERS)
def budget():
    form = BudgetForm(formdata=None, data={"monthly_spend_limit": current_user.account.monthly_spend_limit})
    return render("budget/index.html", "budget/_budget.html", **_context(form))


@dashboard.post("/budget")
@role_required(*BUDGET_KEEPERS)
def set_budget():
    form = BudgetForm()
    if not form.validate_on_submit():
        return render("budget/index.html", "budget/_budget.html", http_status=422, **_context(form))
    account = current_user.account
    limit = form.monthly_spend_limit.data
    budgets.set_limit(account, limit)
    flash("The monthly spending limit was removed." if limit is None else
          f"The monthly spending limit is now {money(limit, account.currency)}.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.budget"), 303)
    fresh = BudgetForm(formdata=None, data={"monthly_spend_limit": limit})
    return render("budget/index.html", "budget/_budget.html", **_context(fresh))


@dashboard.app_context_processor
def _budget_banner():
    """``budget_notices()`` for ``templates/budget/_banner.html``: derived from the state (the
    month's committed figure, campaigns a budget paused), so there is nothing to dismiss or to
    forget to clear — a raised limit or a resumed campaign ends its notice by itself."""
    return {"budget_notices": budget_notices, "cap_form_for": _cap_form_for, "cap_released": budgets.released_cost,
            "cap_money": lambda amount: money(amount, current_user.account.currency)}


def _cap_form_for(campaign: Campaign) -> CapForm:
    return CapForm(formdata=None, data={"spend_cap": campaign.spend_cap}, prefix="cap")


@dashboard.post("/campaigns/<campaign_id>/cap")
@role_required(*CAP_SETTERS)
def set_campaign_cap(campaign_id: str):
    """Change a campaign's cap until it is over; a campaign the cap paused goes on when resumed."""
    campaign = owned_or_404(Campaign, campaign_id)
    form = CapForm(prefix="cap")
    if form.validate_on_submit():
        try:
            campaign_service.change_cap(current_user.account, campaign, form.spend_cap.data)
        except ServiceError as exc:
            form.form_errors.append(exc.message)
        else:
            cap = form.spend_cap.data
            flash("The campaign has no spending cap now." if cap is None else
                  f"The campaign's spending cap is now {money(cap, current_user.account.currency)}.", "success")
            if not is_htmx():
                return redirect(url_for("dashboard.campaign", campaign_id=campaign.id), 303)
            return render("budget/campaign_cap.html", "budget/_campaign_cap.html", campaign=campaign)
    return render("budget/campaign_cap.html", "budget/_campaign_cap.html", http_status=422, campaign=campaign,
                  cap_form=form)


def budget_notices() -> list[dict]:
    if not current_user.is_authenticated or current_user.role not in BANNER_ROLES:
        return []
    account = current_user.account
    notices = []
    # Without a limit there is no standing to warn about (and no month's sum to pay for per page).
    if account.monthly_spend_limit is None:
        standing = None
    else:
        standing = budgets.standing(account)
    fix = url_for("dashboard.budget") if current_user.role in BUDGET_KEEPERS else None
    limit = standing and money(standing.limit, account.currency)
    if standing is None:
        pass
    elif standing.level.state == "reached":
        notices.append({"kind": "error", "link": fix, "link_text": "Raise the limit",
                        "text": f"Sending is paused: the account reached its monthly spending limit of {limit} "
                                f"({money(standing.committed, account.currency)} committed this month)."})
    elif standing.level.state == "warning":
        notices.append({"kind": "info", "link": fix, "link_text": "Review the budget",
                        "text": f"{standing.percent} % of the monthly spending limit of {limit} is committed "
                                f"({money(standing.committed, account.currency)}); sending stops at the limit."})
    for campaign in budgets.paused_by_budget(account.id):
        notices.append({"kind": "error", "link": url_for("dashboard.campaign", campaign_id=campaign.id),
                        "link_text": "Open the campaign", "text": f"Campaign “{campaign.name}” is paused: {campaign.note}"})
    return notices
