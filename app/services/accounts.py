"""Creating tenants, their users and their API keys (used by the CLI, the demo seed and tests)."""
from __future__ import annotations

from functools import lru_cache

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ROLES, Account, ApiKey, SenderProfile, User, utcnow
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.sms import CURRENCIES, get_zone


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


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return generate_password_hash("not a password anyone has")


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials sign in, or None: unknown email, wrong password, deactivated user
    or deactivated account all look the same to the caller."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        # Spend the same time hashing as for a real user, so timing does not reveal which emails exist.
        check_password_hash(_decoy_hash(), password or "")
        return None
    if not user.check_password(password or ""):
        return None
    if not (user.is_active and user.account.is_active):
        return None
    return user


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def change_role(actor: User, user: User, role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}")
    if user.id == actor.id:
        raise Forbidden("You cannot change your own role; ask another admin")
    if user.role == "admin" and role != "admin":
        _keep_an_active_admin(user)
    user.role = role
    db.session.commit()


def set_active(actor: User, user: User, active: bool) -> None:
    if not active and user.id == actor.id:
        raise Forbidden("You cannot deactivate yourself")
    if not active and user.role == "admin":
        _keep_an_active_admin(user)
    user.is_active = active
    db.session.commit()


def _keep_an_active_admin(leaving: User) -> None:
    """Refuse a change that would leave the account without an active admin. The other admins'
    rows are locked (PostgreSQL) so two admins demoting each other at once cannot both succeed."""
    others = db.session.scalars(
        select(User.id).where(
            User.account_id == leaving.account_id, User.role == "admin", User.is_active.is_(True),
            User.id != leaving.id,
        ).with_for_update()
    ).all()
    if not others:
        raise Conflict("The account must keep at least one active admin")


def revoke_api_key(key: ApiKey) -> None:
    key.revoke()
    db.session.commit()
