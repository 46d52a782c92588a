"""Creating tenants, their users and their API keys (used by the CLI, the demo seed and tests)."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import ROLES, Account, ApiKey, SenderProfile, User
from app.services.errors import Conflict, Invalid, NotFound
from app.sms import CURRENCIES, get_zone, normalize_number
from app.sms.errors import SmsError


def create_account(name: str, currency: str = "NOK", timezone: str = "Europe/Oslo") -> Account:
    """A new tenant, with an approved default sender profile so it can send at once."""
    name = (name or "").strip()
    currency = (currency or "").upper()
    if not name:
        raise Invalid("Account name must not be empty")
    if currency not in CURRENCIES:
        raise Invalid(f"Currency must be one of {', '.join(CURRENCIES)}")
    get_zone(timezone)
    if db.session.scalar(select(Account.id).where(func.lower(Account.name) == name.lower())):
        raise Conflict(f"An account named '{name}' already exists")
    account = Account(name=name, currency=currency, timezone=timezone,
                      default_region=current_app.config["DEFAULT_REGION"])
    db.session.add(account)
    db.session.flush()  # assigns the id the default profile refers to
    db.session.add(SenderProfile(
        account_id=account.id, name="default", sender_id=current_app.config["PLATFORM_SENDER_ID"],
        is_default=True, approval_status="approved", is_custom_sender=False,
    ))
    db.session.commit()
    return account


def find_account(name: str) -> Account:
    account = db.session.scalar(select(Account).where(func.lower(Account.name) == name.strip().lower()))
    if account is None:
        raise NotFound(f"No account named '{name}'")
    return account


def create_user(account: Account, email: str, password: str, role: str = "viewer") -> User:
    email = (email or "").strip().lower()
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise Invalid(f"'{email}' is not an email address")
    if len(password or "") < 10:
        raise Invalid("Password must be at least 10 characters")
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with email '{email}' already exists")
    user = User(account=account, email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def create_api_key(account: Account, name: str = "") -> tuple[ApiKey, str]:
    """A new key and its full text, which is shown once and never stored."""
    key, text = ApiKey.generate(account, current_app.config["API_KEY_PREFIX"], name)
    db.session.add(key)
    db.session.commit()
    return key, text
