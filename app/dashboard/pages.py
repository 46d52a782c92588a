"""Rendering shared by the dashboard's views: page or HTMX fragment, times in the account's zone,
tenant rows by id, service errors shown next to form fields."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm

from app.dashboard import dashboard
from app.models import get_owned
from app.services.errors import ServiceError
from app.sms import get_zone
from app.sms.errors import SmsError


def is_htmx() -> bool:
    # A history-restore request wants the whole page even when htmx marks it as its own.
    return request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in request.headers


def render(page: str, fragment: str, *, oob: tuple[str, ...] = (), http_status: int = 200, **context):
    """The full page, or for an HTMX request only its fragment, followed by ``oob`` fragments and the
    flash messages, both swapped out of band. Same URL, same context: the fragment is the part of the
    page that changes."""
    if not is_htmx():
        return render_template(page, **context), http_status
    # Each out-of-band part goes in a <template>: the HTML parser drops a <tbody> or <tr> that follows
    # a <form>, and mangles a <div> that follows a <tr>; htmx takes out-of-band parts out of templates.
    parts = [render_template(fragment, **context)]
    parts += [f"<template>{render_template(name, oob=True, **context)}</template>" for name in oob]
    parts.append(f"<template>{render_template('_flashes.html', oob=True)}</template>")
    return "".join(parts), http_status


@dashboard.after_request
def _vary_on_htmx(response):
    # Pages and fragments share URLs, so caches (the browser's included) must key on the header.
    response.vary.add("HX-Request")
    return response


def owned_or_404(model, object_id: str):
    """The current account's row with this id; another tenant's id is as unknown as a made-up one."""
    row = get_owned(model, current_user.account_id, object_id)
    if row is None:
        abort(404)
    return row


def show_error(form: FlaskForm, exc: ServiceError | SmsError, field: str | None) -> None:
    """Put a service's message next to ``field``, or above the form when it names no field."""
    target = getattr(form, field, None) if field else None
    if target is None:
        form.form_errors.append(exc.message)
    else:
        target.errors = [*target.errors, exc.message]


@dashboard.app_template_filter("localtime")
def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in the account's time zone."""
    if value is None:
        return "—"
    zone = get_zone(current_user.account.timezone) if current_user.is_authenticated else timezone.utc
    return value.astimezone(zone).strftime(fmt)
