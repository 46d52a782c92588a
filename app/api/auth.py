"""API authentication: a service key in ``X-API-Key`` or as ``Authorization: Bearer <key>``."""
from __future__ import annotations

import re
from datetime import timedelta

from flask import g, request
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.extensions import csrf, db
from app.models import Account, ApiKey, utcnow
from app.services.errors import Forbidden, ServiceError


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"


# Writing last_used_at on every request would turn every read into a write; once a minute is
# precise enough for "last used" and keeps sends cheap.
TOUCH_EVERY = timedelta(minutes=1)


KEY_ID_SHAPE = re.compile(f"[a-z0-9]{{{ApiKey.KEY_ID_LENGTH}}}")


def presented_keys() -> list[str]:
    keys = []
    if header := request.headers.get("X-API-Key", "").strip():
        keys.append(header)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        keys.append(token.strip())
    return keys


def find_key(text: str) -> ApiKey | None:
    """The active key ``<prefix>_<key id>_<secret>`` names, if the secret matches. The prefix and
    the secret may both contain ``_``, so every segment of key-id shape is a candidate."""
    segments = text.split("_")
    candidates = {
        i: seg for i, seg in enumerate(segments[1:-1], start=1)
        if KEY_ID_SHAPE.fullmatch(seg)
    }
    if not candidates or len(text) > 512:
        return None
    # The account comes in the same query: every authenticated request needs it.
    query = select(ApiKey).options(joinedload(ApiKey.account)).where(ApiKey.key_id.in_(candidates.values()))
    keys = {k.key_id: k for k in db.session.scalars(query)}
    for i, key_id in candidates.items():
        key = keys.get(key_id)
        if key and key.matches("_".join(segments[:i]), "_".join(segments[i + 1:])):
            return key
    return None


def authenticate() -> Account:
    """Sets ``g.account`` and ``g.api_key`` from the request, or raises 401."""
    keys = presented_keys()
    if not keys and request.blueprint == "dashboard_sms" and current_user.is_authenticated:
        return _session_account()
    if not keys:
        raise Unauthorized("Missing API key: send it in the X-API-Key header")
    for text in keys:
        key = find_key(text)
        if key is not None and key.account.is_active:
            _touch(key)
            g.api_key, g.account = key, key.account
            return key.account
    raise Unauthorized("Invalid or revoked API key")


# Roles that may change things through the API with their dashboard session.
SESSION_WRITERS = ("admin", "marketer")


def _session_account() -> Account:
    """The guide's /v1/dashboard/sms paths for a person signed in to the dashboard: their account,
    read-only for managers and viewers. A session cookie is sent by the browser on its own, so a
    change must also carry the page's CSRF token (X-CSRFToken), as every dashboard form does."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if current_user.role not in SESSION_WRITERS:
            raise Forbidden(f"A {current_user.role} may not change anything")
        csrf.protect()
    g.api_key, g.account = None, current_user.account
    return current_user.account


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()
