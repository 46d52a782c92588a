"""Tenants and the people and keys that act for them."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models.base import UTCDateTime, created_column, id_column, utcnow
from app.services.passwords import hash_password, session_token
from app.services.webhook_signing import new_secret

ROLES = ("admin", "manager", "marketer", "viewer")


class Account(db.Model):
    """A tenant. Every other row belongs to exactly one account."""

    __tablename__ = "accounts"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(120), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="NOK")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Oslo")
    # Region used to read phone numbers written without a country code.
    default_region: Mapped[str] = mapped_column(String(2), default="NO")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Signs the account's webhooks. After a rotation the previous secret keeps signing too, until
    # ``webhook_secret_previous_until``, so receivers can switch over without losing events.
    webhook_secret: Mapped[str] = mapped_column(String(64), default=new_secret)
    webhook_secret_previous: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The most the account may commit to messages in a calendar month (its own zone), in its
    # currency; None: no limit. Enforced by ``services.budgets`` (never exceeded).
    monthly_spend_limit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    created_at: Mapped[datetime] = created_column()


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every session's token (``get_id``): raising it ends all the user's sessions and
    # remember-me cookies at once, copies included (``services.accounts.end_sessions``).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    account: Mapped[Account] = relationship()

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def get_id(self) -> str:
        # Flask-Login keeps this in the session and in the remember-me cookie.
        return f"{self.id}:{self.session_token()}"

    def session_token(self) -> str:
        """What a session must carry to be this user's now: it comes from the password hash and the
        session version, so a new password or a raised version ends every session issued before."""
        # Version 0 leaves the hash alone so the sessions issued before versions existed live on.
        versioned = self.password_hash if not self.session_version else f"{self.password_hash}#{self.session_version}"
        return session_token(versioned)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


def hash_secret(secret: str) -> str:
    # API key secrets are 256-bit random strings, so a fast hash is as strong as a slow one here
    # and keeps authentication cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(db.Model):
    """A service API key, ``<prefix>_<key_id>_<secret>``. Only a hash of the secret is stored;
    the full key is shown once, when it is created."""

    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    prefix: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()

    KEY_ID_LENGTH = 10
    KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

    @classmethod
    def generate(cls, account: Account, prefix: str, name: str = "") -> tuple["ApiKey", str]:
        """A new key and its full text; the text is not recoverable afterwards."""
        key_id = "".join(secrets.choice(cls.KEY_ID_ALPHABET) for _ in range(cls.KEY_ID_LENGTH))
        secret = secrets.token_urlsafe(32)
        key = cls(account=account, name=name, prefix=prefix, key_id=key_id, secret_hash=hash_secret(secret))
        return key, f"{prefix}_{key_id}_{secret}"

    def matches(self, prefix: str, secret: str) -> bool:
        return self.revoked_at is None and prefix == self.prefix and hmac.compare_digest(
            self.secret_hash, hash_secret(secret)
        )

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = utcnow()

    @property
    def display(self) -> str:
        """What may be shown after creation: enough to recognise the key, nothing to use it."""
        return f"{self.prefix}_{self.key_id}_…"
