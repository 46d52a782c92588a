"""Writing and reading the audit log: who created, changed, dispatched or approved what.

``record`` only adds the event to the session: it is committed with the change it describes, so a
change that is rolled back (a refused transition, a failed validation, a crash) leaves no event,
and a committed change never lacks one. The only events committed on their own are the ones that
are the whole change (a sign-in that failed, a sign-out): ``record_alone``.

The actor is read from the context, never passed around: the API key that authenticated the
request, else the person signed in to the dashboard, else the system (the engine in a worker, or
the CLI command that ran). The key comes first because a request made with a key acts as that
key even when the browser also holds a session cookie.

Details never hold a secret: values under names that sound like one (password, secret, token,
key text) are dropped, message texts are noted as changed without their words, and every string
is cut short. Sends are deliberately not audited per message (the message rows are their own
record, and the send path must stay cheap); a campaign's dispatch is.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Iterator

import click
from flask import g, has_request_context, request
from flask_login import current_user
from rq import get_current_job
from sqlalchemy import func, inspect, or_, select

from app.extensions import db
from app.logs import current_request_id
from app.models import (
    ApiKey, Campaign, Contact, ContactImport, Group, Keyword, OptOut, SenderProfile, User, WebhookDelivery, scoped,
)
from app.models.audit import AuditEvent
from app.models.base import iso, new_id
from app.services.paging import Page, paginate

SYSTEM_LABEL = "smsdesk"
TEXT_MAX = 120  # a name, an email, a number: enough to recognise, never a message text
# Detail names whose values are never stored: secrets, and message texts (personal content).
_SECRET_NAME = re.compile(r"password|secret|token|api_key_text|key_text|credential", re.IGNORECASE)
# URLs too: a receiver's URL may carry its own token in the query string.
WITHHELD = {"body", "message", "auto_reply_message", "text", "webhook_url", "callback_url"}


@dataclass(frozen=True)
class Actor:
    type: str  # "user", "api_key" or "system"
    id: str | None
    label: str


def current_actor() -> Actor:
    if has_request_context():
        if (key := g.get("api_key")) is not None:
            return Actor("api_key", key.id, key.display)
        if current_user and current_user.is_authenticated:
            return Actor("user", current_user.id, current_user.email)
    return Actor("system", None, _system_label())


def _system_label() -> str:
    """The engine (a worker's job) or the CLI command that is running."""
    if get_current_job() is None and (ctx := click.get_current_context(silent=True)) is not None:
        return ctx.command_path[:254]
    return SYSTEM_LABEL


def by_person() -> bool:
    """True when someone (a person or a client's key) made this change, not the engine."""
    return current_actor().type != "system"


def record(account_id: str, action: str, object_type: str, object_id=None, *,
           actor: Actor | None = None, **details) -> AuditEvent:
    """Add one event to the session (the caller's commit writes it). ``object_id`` may be the row
    itself, even one not flushed yet (it gets its id now). ``details``: short facts, e.g.
    ``name="Spring sale"``, ``count=120``, ``changes=changes(row, fields)``."""
    who = actor or current_actor()
    event = AuditEvent(
        account_id=account_id, actor_type=who.type, actor_id=who.id, actor_label=(who.label or "")[:254],
        action=action[:60], object_type=object_type[:30], object_id=_id_of(object_id), details=clean(details),
        ip=_client_ip(), request_id=(current_request_id() or "")[:64] or None,
    )
    db.session.add(event)
    return event


def record_changes(account_id: str, action: str, object_type: str, row, fields, *, values: bool = True,
                   **details) -> AuditEvent | None:
    """``record`` with the ``changes`` of ``row``'s ``fields``, when there are any: saving a form
    unchanged changes nothing worth a line."""
    if found := changes(row, fields, values=values):
        return record(account_id, action, object_type, row, changes=found, **details)
    return None


def record_alone(account_id: str, action: str, object_type: str, object_id=None, *,
                 actor: Actor | None = None, **details) -> None:
    """``record`` and commit: for an event that is itself the whole change (a sign-out)."""
    record(account_id, action, object_type, object_id, actor=actor, **details)
    db.session.commit()


def sign_in_failed(email: str) -> None:
    """A failed sign-in, in the log of the account whose user has that email. An email nobody has
    belongs to no account, so it leaves no event (the login throttle still counts it)."""
    given = (email or "").strip().lower()[:254]
    user = db.session.scalar(select(User).where(User.email == given))
    if user is not None:
        record_alone(user.account_id, "user.sign_in_failed", "user", user.id, actor=Actor("user", None, given))


def _id_of(object_id) -> str | None:
    if object_id is None or isinstance(object_id, str):
        return object_id
    if object_id.id is None:  # a new row: the id its insert would draw anyway
        object_id.id = new_id()
    return object_id.id


def _client_ip() -> str | None:
    # ``remote_addr`` is the client's address: ProxyFix rewrites it for TRUSTED_PROXY_HOPS proxies.
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


# -- details -------------------------------------------------------------------------------------

def changes(row, fields, *, values: bool = True) -> dict:
    """``{field: {"from": old, "to": new}}`` for the ``fields`` of ``row`` changed since it was
    loaded (read from SQLAlchemy's attribute history, so call it after setting and before the
    commit). Message texts, and with ``values=False`` every field (a person's details, which a
    GDPR erasure must be able to remove), show as ``{"changed": true}`` without their values."""
    state = inspect(row)
    found = {}
    for field in fields:
        history = state.attrs[field].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old != new:
            found[field] = {"from": old, "to": new} if values and field not in WITHHELD else {"changed": True}
    return found


def clean(details: dict) -> dict:
    """Details as they may be stored: JSON values, short strings, no secrets, no message texts."""
    return {key: _plain(value) for key, value in details.items()
            if value is not None and not _SECRET_NAME.search(key) and key not in WITHHELD}


def _plain(value, depth: int = 0):
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= TEXT_MAX else value[:TEXT_MAX - 1] + "…"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date | Decimal):
        return str(value)
    if depth < 3 and isinstance(value, dict):
        return {str(k): ({"changed": True} if k in WITHHELD and not isinstance(v, dict) else _plain(v, depth + 1))
                for k, v in list(value.items())[:50] if not _SECRET_NAME.search(str(k))}
    if depth < 3 and isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in list(value)[:50]]
    return _plain(str(value), depth)


# -- reading -------------------------------------------------------------------------------------

OBJECT_TYPES = ("campaign", "sender_profile", "user", "api_key", "contact", "group", "contact_import", "optout",
                "keyword", "webhook_delivery", "account")
CSV_COLUMNS = ("time", "actor_type", "actor", "actor_id", "action", "object_type", "object_id", "details", "ip",
               "request_id")


@dataclass(frozen=True)
class AuditFilter:
    """The audit page's filters. ``actor``: part of the actor's label (an email, a key's display)
    or an exact actor id; ``action``: a prefix (``campaign.`` for everything about campaigns);
    ``since``/``until``: UTC bounds, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def events_query(account_id: str, flt: AuditFilter):
    query = scoped(AuditEvent, account_id)
    if flt.actor:
        query = query.where(or_(AuditEvent.actor_id == flt.actor,
                                func.lower(AuditEvent.actor_label).contains(flt.actor.lower(), autoescape=True)))
    if flt.action:
        query = query.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.object_type:
        query = query.where(AuditEvent.object_type == flt.object_type)
    if flt.object_id:
        query = query.where(AuditEvent.object_id == flt.object_id)
    if flt.since:
        query = query.where(AuditEvent.created_at >= flt.since)
    if flt.until:
        query = query.where(AuditEvent.created_at < flt.until)
    return query


NEWEST_FIRST = (AuditEvent.created_at.desc(), AuditEvent.id.desc())


def list_events(account_id: str, flt: AuditFilter, page: int, page_size: int) -> Page:
    return paginate(events_query(account_id, flt), *NEWEST_FIRST, page=page, page_size=page_size)


def event_rows(account_id: str, flt: AuditFilter) -> Iterator[tuple]:
    """The filtered events as CSV rows (``CSV_COLUMNS``), newest first, read a batch at a time."""
    query = events_query(account_id, flt).order_by(*NEWEST_FIRST).execution_options(yield_per=500)
    for event in db.session.scalars(query):
        yield (iso(event.created_at), event.actor_type, event.actor_label, event.actor_id, event.action,
               event.object_type, event.object_id, json.dumps(event.details or {}, ensure_ascii=False, sort_keys=True),
               event.ip, event.request_id)


def existing_objects(account_id: str, events: list[AuditEvent]) -> set[tuple[str, str]]:
    """Which ``(object_type, object_id)`` of these events still exist in the account (one query per
    type on the page), so the page links only to objects that can be opened."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        if event.object_id and event.object_type in _MODELS:
            wanted.setdefault(event.object_type, set()).add(event.object_id)
    found = set()
    for object_type, ids in wanted.items():
        model = _MODELS[object_type]
        rows = db.session.scalars(scoped(model, account_id).where(model.id.in_(ids)).with_only_columns(model.id))
        found.update((object_type, object_id) for object_id in rows)
    return found


_MODELS = {"campaign": Campaign, "sender_profile": SenderProfile, "user": User, "api_key": ApiKey, "contact": Contact,
           "group": Group, "contact_import": ContactImport, "optout": OptOut, "keyword": Keyword,
           "webhook_delivery": WebhookDelivery}
