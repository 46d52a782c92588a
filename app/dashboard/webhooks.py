"""Webhooks: the health of each receiving endpoint, the log of every event with its attempts, replay,
and (admins only) the signing secret with its rotation. Reads go through ``webhook_log`` and
changes through ``webhooks``, the same services as ``/v1/webhooks``.

``/webhooks`` filters by the query string, so a filtered view is a link; with ``HX-Request`` it
answers the deliveries list. ``/webhooks/<id>`` polls for itself while the event is pending, so a
replay's attempt shows up on its own. The secret never appears on a page unless an admin asks for
it (``/webhooks/secret``), and those answers are not cached.
"""
from __future__ import annotations

import json
from functools import cache

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.config import PROJECT_ROOT
from app.dashboard import dashboard
from app.dashboard.access import SENDER_EDITORS, can, role_required
from app.dashboard.contacts import page_number
from app.dashboard.pages import is_htmx, render
from app.dashboard.webhook_forms import DeliveryFilterForm
from app.models import Message, WebhookDelivery, utcnow
from app.models.webhook import DeliveryState
from app.services import webhook_log, webhooks as webhook_service
from app.services.errors import Conflict
from app.services.paging import Page

VIEWERS = ("admin", "manager", "marketer")
REPLAYERS = SENDER_EDITORS
SECRET_KEEPERS = ("admin",)
PAGE_SIZE = 50
MESSAGE_EVENTS = 50  # a message has a handful (one per status change); this is a safety cap
# The element that polls: its requests must leave the flash area alone (a replay's message).
POLLER = "webhook-delivery"
NO_STORE = {"Cache-Control": "no-store"}


# -- the log ----------------------------------------------------------------------------------------

@dashboard.get("/webhooks")
@role_required(*VIEWERS)
def webhooks():
    form = DeliveryFilterForm(formdata=request.args)
    listing = _listing(form) if form.validate() else None
    context = {"form": form, "listing": listing, "filters": form.query() if listing else {}}
    if not is_htmx():
        context.update(health=webhook_log.endpoint_health(current_user.account),
                       window_hours=int(webhook_log.HEALTH_WINDOW.total_seconds() // 3600))
        if can("dashboard.webhook_secret"):
            context.update(_secret_context(revealed=False))
    return render("webhooks/index.html", "webhooks/_deliveries.html", http_status=200 if listing else 422, **context)


def _listing(form: DeliveryFilterForm) -> Page:
    page = page_number()
    rows, total = webhook_log.list_deliveries(current_user.account, page=page, per_page=PAGE_SIZE, **form.values())
    return Page(list(rows), total, page, PAGE_SIZE)


# -- one delivery --------------------------------------------------------------------------------

@dashboard.get("/webhooks/<delivery_id>")
@role_required(*VIEWERS)
def webhook_delivery(delivery_id: str):
    context = _detail(delivery_id)
    if is_htmx() and request.headers.get("HX-Trigger") == POLLER:
        # A poll answers only the fragment: the flash area it would carry is empty by now and would
        # wipe a message not yet read.
        return render_template("webhooks/_delivery.html", **context)
    return render("webhooks/show.html", "webhooks/_delivery.html", **context)


@dashboard.post("/webhooks/<delivery_id>/replay")
@role_required(*REPLAYERS)
def replay_webhook(delivery_id: str):
    detail_url = url_for("dashboard.webhook_delivery", delivery_id=delivery_id)
    try:
        delivery = webhook_service.replay(current_user.account, delivery_id)
    except Conflict as exc:
        if is_htmx():
            raise  # the error handler answers the message for the flash area; the page stays
        flash(exc.message, "error")
        return redirect(detail_url, 303)
    flash(f"Replay queued: the event goes to {delivery.endpoint} again within seconds, with the same "
          "webhook-id and body.", "success")
    if not is_htmx():
        return redirect(detail_url, 303)
    return render("webhooks/show.html", "webhooks/_delivery.html", **_detail(delivery_id))


def _detail(delivery_id: str) -> dict:
    delivery, attempts = webhook_log.get_delivery(current_user.account, delivery_id)
    return {"delivery": delivery, "attempts": attempts, "payload": _pretty(delivery.payload),
            "pending": delivery.state == DeliveryState.PENDING}


def _pretty(payload: str) -> str:
    """The payload indented for reading (it is sent compact, exactly as stored)."""
    try:
        return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        return payload


def message_events(message: Message) -> list[WebhookDelivery]:
    """The webhook events of one message, oldest first, for its page; none for a role that may
    not read the webhook log."""
    if not can("dashboard.webhook_delivery"):
        return []
    rows, _ = webhook_log.list_deliveries(current_user.account, message_id=message.id, per_page=MESSAGE_EVENTS)
    return list(reversed(rows))


@dashboard.app_template_filter("webhook_subject")
def webhook_subject(delivery: WebhookDelivery) -> str:
    """What an event is about, in a word: the status it reports, or the keyword of an inbound text."""
    try:
        payload = json.loads(delivery.payload)
    except ValueError:
        return ""
    return str(payload.get("status") or payload.get("keyword") or "") if isinstance(payload, dict) else ""


# -- the signing secret (admins) ----------------------------------------------------------------------

@dashboard.get("/webhooks/secret")
@role_required(*SECRET_KEEPERS)
def webhook_secret():
    body, status = render("webhooks/secret.html", "webhooks/_secret.html", **_secret_context(revealed=True))
    return body, status, NO_STORE


@dashboard.post("/webhooks/secret/rotate")
@role_required(*SECRET_KEEPERS)
def rotate_webhook_secret():
    webhook_service.rotate_secret(current_user.account)
    flash("The webhook signing secret was rotated.", "success")
    # Rendered straight into this response and never flashed: the session cookie must not carry it.
    body, status = render("webhooks/secret.html", "webhooks/_secret.html",
                          **_secret_context(revealed=True, rotated=True))
    return body, status, NO_STORE


def _secret_context(*, revealed: bool, rotated: bool = False) -> dict:
    account = current_user.account
    # The previous secret is worth naming only while it still signs.
    still_signing = len(webhook_service.signing_secrets(account, utcnow())) > 1
    return {"secret": account.webhook_secret if revealed else None, "revealed": revealed, "rotated": rotated,
            "previous_until": account.webhook_secret_previous_until if still_signing else None,
            "grace_hours": current_app.config["WEBHOOK_SECRET_GRACE_HOURS"], "recipe": verification_recipe()}


@cache
def verification_recipe() -> str | None:
    """The code of the README's "Verifying webhooks" section, shown beside the secret. Read from the
    README rather than copied, so the page shows exactly the recipe that tests/jobs/test_webhooks.py
    runs against real webhooks. None when the README is not deployed."""
    try:
        readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    except OSError:
        return None
    section = readme.partition("### Verifying webhooks")[2].split("\n## ", 1)[0]
    return section.partition("```python")[2].partition("```")[0].strip() or None
