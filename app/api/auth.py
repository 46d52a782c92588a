"""API authentication: a service key in ``X-API-Key`` or as ``Authorization: Bearer <key>``."""
from __future__ import annotations

import re
from datetime import timedelta

from flask import g, request
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Account, ApiKey, utcnow
from app.services.errors import ServiceError


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
    if not keys:
        raise Unauthorized("Missing API key: send it in the X-API-Key header")
    for text in keys:
        key = find_key(text)
        if key is not None and key.account.is_active:
            _touch(key)
            g.api_key, g.account = key, key.account
            return key.account
    raise Unauthorized("Invalid or revoked API key")


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or key.last_used_at < now - TOUCH_EVERY:
        db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()
