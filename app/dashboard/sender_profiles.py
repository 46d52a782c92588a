"""Sender profiles: everyone sees them; admins and marketers add, pick the default and delete;
admins approve or reject custom (brand) senders."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import EVERYONE, SENDER_EDITORS, role_required
from app.dashboard.forms import SenderProfileForm
from app.dashboard.pages import is_htmx, owned_or_404, render, show_error
from app.models import SenderProfile
from app.services import senders
from app.services.errors import ServiceError
from app.sms.errors import SmsError


def _list(**context):
    return {"profiles": senders.list_profiles(current_user.account), **context}


@dashboard.get("/sender-profiles")
@role_required(*EVERYONE)
def sender_profiles():
    return render("sender_profiles/index.html", "sender_profiles/_rows.html", **_list(form=SenderProfileForm()))


@dashboard.post("/sender-profiles")
@role_required(*SENDER_EDITORS)
def create_sender_profile():
    form = SenderProfileForm()
    if form.validate_on_submit():
        try:
            profile = senders.create_profile(
                current_user.account, form.name.data, form.sender_id.data, allow_reply=form.allow_reply.data,
                is_default=form.is_default.data, brand_confirmation=form.brand_confirmation.data,
            )
        except (ServiceError, SmsError) as exc:
            show_error(form, exc, _field_for(exc))
        else:
            flash(_created_message(profile), "success")
            if not is_htmx():
                return redirect(url_for("dashboard.sender_profiles"), 303)
            return render("sender_profiles/index.html", "sender_profiles/_form.html",
                          oob=("sender_profiles/_rows.html",), **_list(form=SenderProfileForm(formdata=None)))
    return render("sender_profiles/index.html", "sender_profiles/_form.html", http_status=422, **_list(form=form))


def _field_for(exc: ServiceError | SmsError) -> str | None:
    """Which form field the service's refusal is about."""
    if isinstance(exc, SmsError):
        return "sender_id"  # the SMS core parses only the sender id here
    if exc.code == "brand_confirmation_required":
        return "brand_confirmation"
    # Field problems are listed with their location; a bare message starts with the field's name.
    named = [f["loc"][-1] for f in exc.fields if f.get("loc")] or [exc.message.split(" ", 1)[0]]
    return named[0] if named[0] in {"name", "sender_id"} else None


def _created_message(profile: SenderProfile) -> str:
    if profile.can_send:
        return f"Added sender profile {profile.name} ({profile.sender_id})."
    return f"Added sender profile {profile.name} ({profile.sender_id}); it can send once an admin approves it."


@dashboard.post("/sender-profiles/<profile_id>/default")
@role_required(*SENDER_EDITORS)
def set_default_sender_profile(profile_id: str):
    profile = owned_or_404(SenderProfile, profile_id)
    return _change(lambda: senders.set_default_profile(current_user.account, profile),
                   f"{profile.name} is now the default sender.")


@dashboard.post("/sender-profiles/<profile_id>/delete")
@role_required(*SENDER_EDITORS)
def delete_sender_profile(profile_id: str):
    profile = owned_or_404(SenderProfile, profile_id)
    name = profile.name
    return _change(lambda: senders.delete_profile(current_user.account, profile.id), f"Deleted {name}.")


@dashboard.post("/sender-profiles/<profile_id>/approve")
@role_required("admin")
def approve_sender_profile(profile_id: str):
    profile = owned_or_404(SenderProfile, profile_id)
    return _change(lambda: senders.review_profile(profile, approve=True), f"Approved {profile.name}.")


@dashboard.post("/sender-profiles/<profile_id>/reject")
@role_required("admin")
def reject_sender_profile(profile_id: str):
    profile = owned_or_404(SenderProfile, profile_id)
    return _change(lambda: senders.review_profile(profile, approve=False), f"Rejected {profile.name}.")


def _change(action, done: str):
    """Run a change; flash its outcome; redraw the rows (a default moving or a row leaving touches
    more than one row), or go back to the list without JavaScript."""
    try:
        action()
    except ServiceError as exc:
        flash(exc.message, "error")
        status = 422
    else:
        flash(done, "success")
        status = 200
    if not is_htmx():
        return redirect(url_for("dashboard.sender_profiles"), 303)
    return render("sender_profiles/index.html", "sender_profiles/_rows.html", http_status=status, **_list())
