"""API keys (admins only): list, create (the full key is shown once, in that response), revoke."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from app.dashboard import dashboard
from app.dashboard.access import role_required
from app.dashboard.forms import ApiKeyForm
from app.dashboard.pages import is_htmx, owned_or_404, render
from app.extensions import db
from app.models import ApiKey, scoped
from app.services import accounts


def _account_keys() -> list[ApiKey]:
    return list(db.session.scalars(
        scoped(ApiKey, current_user.account_id).order_by(ApiKey.created_at.desc(), ApiKey.key_id)))


@dashboard.get("/api-keys")
@role_required("admin")
def api_keys():
    return render("api_keys/index.html", "api_keys/_rows.html", keys=_account_keys(), form=ApiKeyForm())


@dashboard.post("/api-keys")
@role_required("admin")
def create_api_key():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return render("api_keys/index.html", "api_keys/_new.html", http_status=422, keys=_account_keys(), form=form)
    key, text = accounts.create_api_key(current_user.account, (form.name.data or "").strip())
    # Rendered straight into this response and never flashed: the session cookie must not carry it.
    body, status = render("api_keys/index.html", "api_keys/_new.html", oob=("api_keys/_rows.html",),
                          keys=_account_keys(), form=ApiKeyForm(formdata=None), created=key, key_text=text)
    return body, status, {"Cache-Control": "no-store"}


@dashboard.post("/api-keys/<key_id>/revoke")
@role_required("admin")
def revoke_api_key(key_id: str):
    key = owned_or_404(ApiKey, key_id)
    accounts.revoke_api_key(key)
    flash(f"Revoked {key.display}. Clients using it now get 401.", "success")
    if not is_htmx():
        return redirect(url_for("dashboard.api_keys"), 303)
    return render("api_keys/index.html", "api_keys/_row.html", key=key)
