"""Use-cases the dashboard needs that ``app/services`` does not offer yet.

They hold business rules, so they belong in ``app/services/accounts.py`` (sign-in, users, API keys)
and ``app/services/senders.py`` (default, approval). They are written here, in service form (no
request, no rendering; ``ServiceError`` on refusal), only because this change could not edit
``app/services``; move them there unchanged and import them from there.
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ROLES, Account, ApiKey, SenderProfile, User, utcnow
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.senders import list_profiles


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


def set_default_profile(account: Account, profile: SenderProfile) -> None:
    """Sends without a sender use the default, so only a profile that can send may be it."""
    if not profile.can_send:
        raise Conflict(f"Sender profile '{profile.name}' is {profile.approval_status}; "
                       "only an approved profile can be the default")
    for other in list_profiles(account):
        other.is_default = other.id == profile.id
    db.session.commit()


def review_profile(profile: SenderProfile, approve: bool) -> None:
    if approve:
        profile.approve()
    elif profile.is_default:
        raise Conflict("The default sender profile cannot be rejected; make another profile the default first")
    else:
        profile.reject()
    db.session.commit()

