"""Sender ID ("from") rules.

Operators accept two kinds of sender ID:

* numeric: a phone number or short code, optionally with a leading '+',
  3-15 digits (E.164 maximum). National formats such as "4799999999"
  appear in our public docs, so the '+' is optional;
* alphanumeric: at most 11 characters (the GSM TP-OA field holds 11 packed
  septets), restricted to ASCII letters, digits, space, '-' and '.', with
  at least one letter so it cannot be mistaken for a number. Many networks
  mangle or reject anything else, Norwegian Æ/Ø/Å included.

The value is validated, never rewritten: clients compare the stored sender
ID with what they sent, so trimming or re-casing would break them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidSenderId

ALPHANUMERIC = "alphanumeric"
NUMBER = "number"
MAX_ALPHANUMERIC_LENGTH = 11

_NUMBER = re.compile(r"\+?[0-9]{3,15}", re.ASCII)
_ALL_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -.")
_NORWEGIAN = frozenset("ÆØÅæøå")


@dataclass(frozen=True)
class SenderId:
    """A validated sender ID: ``value`` exactly as given, and its ``kind``."""

    value: str
    kind: str


def parse_sender_id(value: object) -> SenderId:
    """Validate a sender ID, raising ``InvalidSenderId`` with the broken rule."""
    if not isinstance(value, str):
        raise InvalidSenderId(f"Sender ID must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidSenderId("Sender ID must not be empty")
    if value != value.strip():
        raise InvalidSenderId("Sender ID must not start or end with spaces")
    # A leading '+' or only digits means the client meant a number; judge it
    # by the number rules so "+47 999" or "12" get a message about numbers.
    if value.startswith("+") or _ALL_DIGITS.fullmatch(value):
        return _numeric(value)
    return _alphanumeric(value)


def _numeric(value: str) -> SenderId:
    if _NUMBER.fullmatch(value) is None:
        raise InvalidSenderId(
            f"Numeric sender ID {value!r} must be 3 to 15 digits, optionally with a leading +"
        )
    return SenderId(value=value, kind=NUMBER)


def _alphanumeric(value: str) -> SenderId:
    if not _NORWEGIAN.isdisjoint(value):
        raise InvalidSenderId("Sender ID may not contain Æ, Ø or Å; use AE, O or A instead")
    bad = next((c for c in value if c not in _ALLOWED), None)
    if bad is not None:
        raise InvalidSenderId(
            f"Sender ID may only contain letters A-Z, digits, spaces, '-' and '.'; {bad!r} is not allowed"
        )
    if len(value) > MAX_ALPHANUMERIC_LENGTH:
        raise InvalidSenderId(
            f"Alphanumeric sender ID may be at most {MAX_ALPHANUMERIC_LENGTH} characters; "
            f"{value!r} has {len(value)}"
        )
    if not any(c.isalpha() for c in value):
        raise InvalidSenderId(
            f"Alphanumeric sender ID {value!r} must contain at least one letter"
        )
    return SenderId(value=value, kind=ALPHANUMERIC)
