"""Signatures on outgoing webhooks, as the Standard Webhooks scheme defines them (standardwebhooks.com).

A webhook carries three headers: ``webhook-id`` (the event's id, the same on every retry so the
receiver can de-duplicate), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. While a secret is
being rotated the old and the new secret both sign, giving several space-separated signatures; a
receiver accepts the request when any one of them matches a secret it knows.

Secrets look like ``whsec_<base64>``; the HMAC key is the base64-decoded part, exactly as the Standard
Webhooks (and Svix) libraries decode it, so a receiver can use those libraries unchanged.
Pure: the standard library only — no Flask, no database.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
import time
from collections.abc import Iterable, Mapping
from datetime import datetime

PREFIX = "whsec_"
VERSION = "v1"
TOLERANCE_SECONDS = 300
SECRET_BYTES = 32  # the scheme asks for 24 to 64 bytes of key

Secret = str | bytes


class WebhookVerificationError(ValueError):
    """Why a webhook was not accepted. ``reason`` is a stable code, the message is for people."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def new_secret(nbytes: int = SECRET_BYTES) -> str:
    if not 24 <= nbytes <= 64:
        raise ValueError("a webhook secret has 24 to 64 random bytes")
    return PREFIX + base64.b64encode(_random.token_bytes(nbytes)).decode("ascii")


def decode_secret(secret: Secret) -> bytes:
    """The HMAC key of ``secret``: bytes are the key itself; a string is base64, with or without
    the ``whsec_`` prefix (as the Standard Webhooks libraries read it)."""
    if isinstance(secret, bytes):
        key = secret
    elif isinstance(secret, str):
        encoded = secret.removeprefix(PREFIX)
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    else:
        raise TypeError("a webhook secret is a str or bytes")
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: Secret, msg_id: str, timestamp: int | datetime, body: bytes | str) -> str:
    digest = hmac.new(decode_secret(secret), _signed_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def headers(secrets: Secret | Iterable[Secret], msg_id: str, timestamp: int | datetime,
            body: bytes | str) -> dict[str, str]:
    """The three headers for one attempt; one signature per secret (rotation: new and old)."""
    keys = _secret_list(secrets)
    if not keys:
        raise ValueError("at least one webhook secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(_seconds(timestamp)),
        "webhook-signature": " ".join(sign(key, msg_id, timestamp, body) for key in keys),
    }


def verify(secrets: Secret | Iterable[Secret], headers: Mapping[str, str], body: bytes | str,
           now: float | datetime | None = None, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when a signature in ``headers`` matches one of ``secrets`` for ``body`` and the timestamp
    is within ``tolerance`` seconds of ``now``; otherwise raises WebhookVerificationError."""
    found = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (found.get(n) for n in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing_headers", "webhook-id, webhook-timestamp and "
                                       "webhook-signature headers are required")
    timestamp = _check_time(stamp, now, tolerance)
    keys = [decode_secret(key) for key in _secret_list(secrets)]
    content = _signed_content(msg_id, timestamp, body)
    expected = [base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()) for key in keys]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == VERSION and any(hmac.compare_digest(value.encode(), e) for e in expected):
            return True
    raise WebhookVerificationError("no_matching_signature", "no signature matches: wrong secret or altered body")


def _check_time(stamp: str, now: float | datetime | None, tolerance: int) -> int:
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("invalid_timestamp", "webhook-timestamp is not Unix seconds")
    timestamp = int(stamp)
    current = time.time() if now is None else (now.timestamp() if isinstance(now, datetime) else now)
    if timestamp < current - tolerance:
        raise WebhookVerificationError("timestamp_too_old", "webhook-timestamp is too old (replayed?)")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("timestamp_too_new", "webhook-timestamp is too far in the future")
    return timestamp


def _signed_content(msg_id: str, timestamp: int | datetime, body: bytes | str) -> bytes:
    if not msg_id or not msg_id.isascii() or not msg_id.isprintable() or " " in msg_id:
        raise ValueError("a webhook id is printable ASCII without spaces")
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return f"{msg_id}.{_seconds(timestamp)}.".encode("ascii") + payload


def _seconds(timestamp: int | datetime) -> int:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("a webhook timestamp needs a time zone (use UTC)")
        return int(timestamp.timestamp())
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("a webhook timestamp is whole Unix seconds")
    return timestamp


def _secret_list(secrets: Secret | Iterable[Secret]) -> list[Secret]:
    if isinstance(secrets, (str, bytes)):
        return [secrets]
    return list(secrets)
