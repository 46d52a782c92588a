"""``Idempotency-Key``: the same key and body within the TTL replays the first response."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.models import IdempotencyKey, utcnow
from app.services.errors import Conflict, Invalid


def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str) -> str:
    # Control characters are refused too: the key is stored as text (PostgreSQL rejects NUL) and
    # the IETF draft defines it as a string of printable characters.
    if (not isinstance(key, str) or not key.strip() or len(key) > 255
            or any(ord(c) < 32 or ord(c) == 127 for c in key)):
        raise Invalid("Idempotency-Key must be 1 to 255 printable characters", code="invalid_idempotency_key")
    return key.strip()


def replay(account_id: str, key: str, body_hash: str) -> dict | None:
    """The stored response for this key, None if the key is new (or expired), Conflict if the key
    was used for a different request."""
    row = db.session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
    )
    if row is None:
        return None
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    if row.created_at < utcnow() - ttl:
        db.session.delete(row)
        db.session.flush()
        return None
    if row.request_hash != body_hash:
        raise Conflict("This Idempotency-Key was already used with a different request body",
                       code="idempotency_key_reused")
    return json.loads(row.response_json)


def remember(account_id: str, key: str, body_hash: str, response: dict) -> None:
    """Stage the response in the caller's transaction, so it exists exactly when the send does."""
    db.session.add(IdempotencyKey(account_id=account_id, key=key, request_hash=body_hash,
                                  response_json=json.dumps(response)))


def purge_expired() -> int:
    cutoff = utcnow() - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return result.rowcount
