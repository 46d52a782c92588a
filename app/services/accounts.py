"""Creating tenants, their users and their API keys (used by the CLI, the demo seed and tests)."""
from __future__ import annotations

from functools import lru_cache

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import ROLES, Account, ApiKey, SenderProfile, User, utcnow
from app.services import audit
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.passwords import check_password_policy, hash_password, needs_rehash
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
    check_password_policy(password, email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with email '{email}' already exists")
    user = User(account=account, email=email, role=role)
    user.set_password(password)
    db.session.add(user)
    audit.record(account.id, "user.created", "user", user, email=email, role=role)
    db.session.commit()
    return user


def create_api_key(account: Account, name: str = "") -> tuple[ApiKey, str]:
    """A new key and its full text, which is shown once and never stored."""
    key, text = ApiKey.generate(account, current_app.config["API_KEY_PREFIX"], name)
    db.session.add(key)
    audit.record(account.id, "api_key.created", "api_key", key, name=name, display=key.display)
    db.session.commit()
    return key, text


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password("not a password anyone has")


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
    if needs_rehash(user.password_hash):
        # The only moment the plain password is at hand: move the hash to today's parameters.
        user.set_password(password)
        db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """The user's own change: the current password proves it is them, the new one meets the policy.
    Every session of the user ends with it (the caller renews the one in use)."""
    if not user.check_password(current or ""):
        raise Invalid("Current password is not correct")
    if current == new:
        raise Invalid("New password must differ from the current one")
    check_password_policy(new, user.email)
    user.set_password(new)
    end_sessions(user)
    audit.record(user.account_id, "user.password_changed", "user", user.id, email=user.email)
    db.session.commit()


def reset_password(email: str, new: str) -> User:
    """An operator's reset (``flask users set-password``), for a user locked out: the policy still
    applies, and the user's sessions end with the old password."""
    user = db.session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None:
        raise NotFound(f"No user with email '{email}'")
    check_password_policy(new, user.email)
    user.set_password(new)
    end_sessions(user)
    audit.record(user.account_id, "user.password_reset", "user", user.id, email=user.email)
    db.session.commit()
    return user


def end_sessions(user: User) -> None:
    """Every session and remember-me cookie of the user stops working (their token carries the
    version; see ``User.session_token``). Counted in SQL so two bumps at once both count."""
    user.session_version = User.session_version + 1


def sign_out(user: User) -> None:
    """Signing out ends all the user's sessions, not just this browser's: a session is a signed
    cookie, so a copy taken before sign-out would otherwise stay valid."""
    end_sessions(user)
    audit.record(user.account_id, "user.signed_out", "user", user.id)
    db.session.commit()


def sign_out_everywhere_else(user: User) -> None:
    """Ends all the user's sessions; the caller renews the one in use."""
    end_sessions(user)
    audit.record(user.account_id, "user.signed_out_everywhere", "user", user.id)
    db.session.commit()


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    audit.record(user.account_id, "user.signed_in", "user", user.id)
    db.session.commit()


def change_role(actor: User, user: User, role: str) -> None:
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}")
    if user.id == actor.id:
        raise Forbidden("You cannot change your own role; ask another admin")
    if user.role == "admin" and role != "admin":
        _keep_an_active_admin(user)
    user.role = role
    audit.record_changes(user.account_id, "user.role_changed", "user", user, ("role",), email=user.email)
    db.session.commit()


def set_active(actor: User, user: User, active: bool) -> None:
    if not active and user.id == actor.id:
        raise Forbidden("You cannot deactivate yourself")
    if not active and user.role == "admin":
        _keep_an_active_admin(user)
    user.is_active = active
    if not active:
        end_sessions(user)  # so reactivating does not bring the old sessions back
    audit.record_changes(user.account_id, f"user.{'reactivated' if active else 'deactivated'}", "user", user,
                         ("is_active",), email=user.email)
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
    audit.record_changes(key.account_id, "api_key.revoked", "api_key", key, ("revoked_at",), display=key.display)
    db.session.commit()
