"""Sender profiles: create with the API's rules, pick one for a send, delete safely."""
from __future__ import annotations

from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, SenderProfile, get_owned, scoped
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.sms import parse_sender_id


def list_profiles(account: Account) -> list[SenderProfile]:
    return list(db.session.scalars(scoped(SenderProfile, account.id).order_by(SenderProfile.created_at)))


def create_profile(account: Account, name: str, sender_id: str, *, allow_reply: bool = False,
                   is_default: bool = False, brand_confirmation: bool = False) -> SenderProfile:
    """Phone-number senders are approved at once; a custom alphanumeric (brand) sender needs the
    client to confirm it owns the brand, then waits for an admin's approval and costs a monthly fee."""
    # Checked stripped, stored as sent: clients (Terraform) compare what they read back byte for byte.
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must be a non-empty string", fields=[_field("name", "Field required")])
    if len(name) > 120:
        raise Invalid("name may be at most 120 characters")
    parsed = parse_sender_id(sender_id)
    custom = parsed.kind == "alphanumeric"
    if custom and not brand_confirmation:
        raise Invalid("A custom alphanumeric sender ID requires brand_confirmation: true "
                      "(confirm that you own or may use the brand)", code="brand_confirmation_required")
    approved = not custom or current_app.config["AUTO_APPROVE_SENDERS"]
    if is_default and not approved:
        # Sends without a sender use the default, so it must be able to send (set_default_profile).
        raise Invalid("A sender profile that waits for approval cannot be the default; create it "
                      "without is_default and make it the default once approved",
                      code="sender_not_approved")
    profile = SenderProfile(
        account_id=account.id, name=name, sender_id=parsed.value, is_custom_sender=custom,
        allow_reply=bool(allow_reply), approval_status="approved" if approved else "pending",
        monthly_price=Decimal(str(current_app.config["CUSTOM_SENDER_MONTHLY_PRICE"])) if custom else Decimal("0"),
    )
    db.session.add(profile)
    if is_default or not _has_default(account):
        _make_default(account, profile)
    audit.record(account.id, "sender_profile.created", "sender_profile", profile, name=name, sender_id=profile.sender_id,
                 approval_status=profile.approval_status, is_default=profile.is_default)
    db.session.commit()
    return profile


def delete_profile(account: Account, profile_id: str) -> None:
    profile = get_owned(SenderProfile, account.id, profile_id)
    if profile is None:
        raise NotFound(f"Sender profile '{profile_id}' not found")
    others = [p for p in list_profiles(account) if p.id != profile.id]
    if not others:
        raise Conflict("The only sender profile cannot be deleted; create another one first")
    if profile.is_default:
        # The account must always have a default that can send; hand it to the oldest approved one.
        successor = next((p for p in others if p.can_send), None)
        if successor is None:
            raise Conflict("The default sender profile cannot be deleted while no other profile is "
                           "approved to take its place")
        successor.is_default = True
    db.session.delete(profile)
    audit.record(account.id, "sender_profile.deleted", "sender_profile", profile.id, name=profile.name,
                 sender_id=profile.sender_id)
    db.session.commit()


def resolve_for_send(account: Account, profile_id: str | None, sender_id: str | None) -> SenderProfile:
    """The profile a send uses: ``sender_profile_id`` wins, else the approved profile with that
    ``sender_id`` (the SDK sends a name), else the account's default. It must be approved."""
    if profile_id:
        profile = get_owned(SenderProfile, account.id, profile_id)
        if profile is None:
            raise Invalid(f"Sender profile '{profile_id}' not found", code="unknown_sender_profile")
    elif sender_id:
        profile = _by_sender_id(account, sender_id)
        if profile is None:
            raise Invalid(f"No approved sender profile with sender_id '{sender_id}'; create one first",
                          code="unknown_sender_id")
    else:
        profile = db.session.scalar(scoped(SenderProfile, account.id).where(SenderProfile.is_default.is_(True)))
        if profile is None:
            raise Invalid("The account has no default sender profile", code="no_sender_profile")
    if not profile.can_send:
        raise Invalid(f"Sender profile '{profile.name}' is {profile.approval_status} and cannot send",
                      code="sender_not_approved")
    return profile


def _by_sender_id(account: Account, sender_id: str) -> SenderProfile | None:
    """Case-insensitive; a number matches with or without its '+' (the reference's own examples
    write sender numbers both ways). Approved profiles first, then the oldest."""
    wanted = sender_id.strip().lower()
    spellings = {wanted, wanted.removeprefix("+"), "+" + wanted} if wanted.lstrip("+").isdigit() else {wanted}
    candidates = db.session.scalars(
        scoped(SenderProfile, account.id)
        .where(func.lower(SenderProfile.sender_id).in_(spellings))
        .order_by(SenderProfile.approval_status != "approved", SenderProfile.created_at)
    )
    return next(iter(candidates), None)


def _has_default(account: Account) -> bool:
    return db.session.scalar(
        select(func.count()).select_from(SenderProfile)
        .where(SenderProfile.account_id == account.id, SenderProfile.is_default.is_(True))
    ) > 0


def _make_default(account: Account, profile: SenderProfile) -> None:
    for other in list_profiles(account):
        other.is_default = False
    profile.is_default = True


def _field(name: str, msg: str) -> dict:
    return {"loc": ["body", name], "msg": msg, "type": "value_error"}


def set_default_profile(account: Account, profile: SenderProfile) -> None:
    """Sends without a sender use the default, so only a profile that can send may be it."""
    if not profile.can_send:
        raise Conflict(f"Sender profile '{profile.name}' is {profile.approval_status}; "
                       "only an approved profile can be the default")
    for other in list_profiles(account):
        other.is_default = other.id == profile.id
    audit.record(account.id, "sender_profile.default_changed", "sender_profile", profile.id, name=profile.name)
    db.session.commit()


def review_profile(profile: SenderProfile, approve: bool) -> None:
    if approve:
        profile.approve()
    elif profile.is_default:
        raise Conflict("The default sender profile cannot be rejected; make another profile the default first")
    else:
        profile.reject()
    audit.record(profile.account_id, f"sender_profile.{profile.approval_status}", "sender_profile", profile.id,
                 name=profile.name, sender_id=profile.sender_id)
    db.session.commit()
