"""Opt-outs: the account's suppression list. Everyone sees which numbers are suppressed, since when
and why (a STOP reply, the API, an import, this page); admins and marketers add and remove them."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, role_required
from app.dashboard.contact_forms import OptOutForm
from app.dashboard.contacts import CONTACT_EDITORS, page_number, show_field_error
from app.dashboard.pages import is_htmx, localtime, owned_or_404, render
from app.models import OptOut
from app.services import optouts as optout_service
from app.services.errors import ServiceError

PAGE_SIZE = 50


def _list(page: int, **context) -> dict:
    return {"result": optout_service.list_optouts(current_user.account, page, PAGE_SIZE), **context}


@dashboard.get("/opt-outs")
@role_required(*EVERYONE)
def optouts():
    return render("optouts/index.html", "optouts/_list.html", **_list(page_number(), form=OptOutForm(formdata=None)))


@dashboard.post("/opt-outs")
@role_required(*CONTACT_EDITORS)
def create_optout():
    form = OptOutForm()
    if form.validate_on_submit():
        account = current_user.account
        try:
            existing = optout_service.find_optout(account, form.number.data)
            if existing is None:
                added = optout_service.add_optout(account, form.number.data, source="dashboard")
                flash(f"{added.number} will not be messaged any more.", "success")
            else:
                flash(f"{existing.number} has been on the list since {localtime(existing.created_at)} "
                      f"({existing.source}).", "info")
        except ServiceError as exc:
            show_field_error(form, exc, {"number": "Phone number"}, default="number")
        else:
            if not is_htmx():
                return redirect(url_for("dashboard.optouts"), 303)
            return render("optouts/index.html", "optouts/_form.html", oob=("optouts/_list.html",),
                          **_list(1, form=OptOutForm(formdata=None)))
    context = {"form": form} if is_htmx() else _list(1, form=form)
    return render("optouts/index.html", "optouts/_form.html", http_status=422, **context)


@dashboard.post("/opt-outs/<optout_id>/remove")
@role_required(*CONTACT_EDITORS)
def remove_optout(optout_id: str):
    row = owned_or_404(OptOut, optout_id)
    optout_service.remove_optout(current_user.account, row.number)
    flash(f"{row.number} may be messaged again.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.optouts"), 303)
    return render("optouts/index.html", "contacts/_gone.html")
