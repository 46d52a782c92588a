"""Inbound keywords: create, list, get, change, delete, and "is this keyword free?".

The spelling and reserved-word rules live in ``app.sms.keywords`` (shared with the inbound
handler); this module adds what needs the database (one keyword per account, ignoring case) and
the checks of the other fields. The keyword itself never changes after creation: texts already
sent out ("reply JOIN to ...") name it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Account, Keyword, get_owned, scoped
from app.services import audit
from app.services.errors import Conflict, Invalid, NotFound
from app.services.webhook_urls import check_callback_url
from app.sms import InvalidMessage, validate_message
from app.sms.keywords import InvalidKeyword, ReservedKeyword, keyword_key, parse_keyword

MAX_DESCRIPTION = 500
# The fields a client may set; ``keyword`` only at creation.
FIELDS = ("description", "webhook_url", "auto_reply_message", "auto_reply_enabled", "is_active")


@dataclass(frozen=True)
class Availability:
    keyword: str
    available: bool
    reason: str | None = None  # invalid, reserved or taken
    message: str | None = None


def list_keywords(account: Account) -> list[Keyword]:
    return list(db.session.scalars(scoped(Keyword, account.id).order_by(Keyword.keyword_key)))


def get_keyword(account: Account, keyword_id: str) -> Keyword:
    keyword = get_owned(Keyword, account.id, keyword_id)
    if keyword is None:
        raise NotFound(f"Keyword '{str(keyword_id)[:64]}' not found")
    return keyword


def create_keyword(account: Account, keyword: object, **fields) -> Keyword:
    word = _parse(keyword)
    values = {"description": None, "webhook_url": None, "auto_reply_message": None,
              "auto_reply_enabled": False, "is_active": True}
    values.update(_clean(fields))
    _check_reply(values)
    _check_free(account, word)
    row = Keyword(account_id=account.id, keyword=word, **values)
    db.session.add(row)
    audit.record(account.id, "keyword.created", "keyword", row, keyword=word)
    _commit(word)
    return row


def update_keyword(account: Account, keyword_id: str, changes: dict) -> Keyword:
    """Only the fields given change; null clears description, webhook_url and auto_reply_message.
    ``keyword`` may be sent (clients echo the whole object) but must be unchanged."""
    row = get_keyword(account, keyword_id)
    if "keyword" in changes:
        sent = changes["keyword"]
        if not isinstance(sent, str) or sent.strip() != row.keyword:
            raise Invalid(f"keyword cannot be changed after creation (it is '{row.keyword}'); delete this "
                          "keyword and create a new one instead", code="keyword_immutable",
                          fields=[_field("keyword", "keyword is immutable")])
    values = {name: getattr(row, name) for name in FIELDS}
    values.update(_clean({k: v for k, v in changes.items() if k in FIELDS}))
    _check_reply(values)
    for name, value in values.items():
        setattr(row, name, value)
    audit.record_changes(account.id, "keyword.changed", "keyword", row, FIELDS, keyword=row.keyword)
    db.session.commit()
    return row


def delete_keyword(account: Account, keyword_id: str) -> None:
    row = get_keyword(account, keyword_id)
    db.session.delete(row)
    audit.record(account.id, "keyword.deleted", "keyword", row.id, keyword=row.keyword)
    db.session.commit()


def check_availability(account: Account, keyword: str) -> Availability:
    """Whether ``keyword`` could be created now, and if not why (never an error: a form asks this
    while the user types)."""
    try:
        word = parse_keyword(keyword)
    except ReservedKeyword as exc:
        return Availability(keyword, False, "reserved", exc.message)
    except InvalidKeyword as exc:
        return Availability(keyword, False, "invalid", exc.message)
    existing = _existing(account, word)
    if existing is not None:
        return Availability(word, False, "taken", f"You already have the keyword '{existing.keyword}'")
    return Availability(word, True)


# -- checks -------------------------------------------------------------------------------------

def _parse(keyword: object) -> str:
    try:
        return parse_keyword(keyword)
    except (InvalidKeyword, ReservedKeyword) as exc:
        raise Invalid(exc.message, code=exc.code, fields=[_field("keyword", exc.message)]) from None


def _clean(fields: dict) -> dict:
    """The given fields checked and normalised: blank text is "none"; a null flag is "unchanged"."""
    clean: dict = {}
    for name in ("description", "webhook_url", "auto_reply_message"):
        if name in fields:
            value = fields[name]
            clean[name] = value if isinstance(value, str) and value.strip() else None
    for name in ("auto_reply_enabled", "is_active"):
        if fields.get(name) is not None:
            clean[name] = bool(fields[name])
    if clean.get("description") and len(clean["description"]) > MAX_DESCRIPTION:
        raise Invalid(f"description may be at most {MAX_DESCRIPTION} characters",
                      fields=[_field("description", f"at most {MAX_DESCRIPTION} characters")])
    if clean.get("webhook_url"):
        _check_webhook_url(clean["webhook_url"])
    if clean.get("auto_reply_message"):
        try:
            validate_message(clean["auto_reply_message"])
        except InvalidMessage as exc:
            message = f"auto_reply_message: {exc.message}"
            raise Invalid(message, code=exc.code, fields=[_field("auto_reply_message", exc.message)]) from None
    return clean


def _check_webhook_url(url: str) -> None:
    config = current_app.config
    try:
        check_callback_url(url, allow_http=config["ALLOW_HTTP_CALLBACKS"],
                           allowed_hosts=config["WEBHOOK_ALLOWED_HOSTS"])
    except Invalid as exc:
        message = exc.message.replace("callback_url", "webhook_url")
        raise Invalid(message, code="invalid_webhook_url", fields=[_field("webhook_url", message)]) from None


def _check_reply(values: dict) -> None:
    if values["auto_reply_enabled"] and not values["auto_reply_message"]:
        message = "auto_reply_enabled needs an auto_reply_message (the text to send back)"
        raise Invalid(message, code="auto_reply_message_required",
                      fields=[_field("auto_reply_message", message)])


def _existing(account: Account, word: str) -> Keyword | None:
    return db.session.scalar(scoped(Keyword, account.id).where(Keyword.keyword_key == keyword_key(word)))


def _check_free(account: Account, word: str) -> None:
    existing = _existing(account, word)
    if existing is not None:
        raise _taken(existing.keyword)


def _taken(word: str) -> Conflict:
    return Conflict(f"You already have the keyword '{word}' (keywords ignore case)", code="keyword_taken")


def _commit(word: str) -> None:
    # Two requests may pass _check_free at once; the unique key decides, and the loser gets 409.
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _taken(word) from None


def _field(name: str, msg: str) -> dict:
    return {"loc": ["body", name], "msg": msg, "type": "value_error"}
