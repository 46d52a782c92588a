"""Sender ID rules: numeric (3-15 digits, optional +) or alphanumeric
(1-11 of ASCII letters, digits, space, '-', '.', with at least one letter)."""

from __future__ import annotations

import pytest

from app.sms.errors import InvalidSenderId
from app.sms.sender import SenderId, parse_sender_id


@pytest.mark.parametrize(
    "value,kind",
    [
        ("123", "number"),  # 3 digits: the minimum
        ("2222", "number"),  # short code
        ("4799999999", "number"),  # national format, as in the docs
        ("+4799999999", "number"),
        ("+123", "number"),
        ("123456789012345", "number"),  # 15 digits: the maximum
        ("+123456789012345", "number"),
        ("A", "alphanumeric"),  # 1 character: the minimum
        ("Smsdesk", "alphanumeric"),
        ("smsdesk", "alphanumeric"),  # case is kept, never normalised
        ("My Shop", "alphanumeric"),
        ("ACME-2.0", "alphanumeric"),
        ("A2345678901", "alphanumeric"),  # 11 characters: the maximum
        ("Hello World", "alphanumeric"),  # 11 with a space
        ("1 Shop", "alphanumeric"),
        ("12345678-A", "alphanumeric"),
    ],
    ids=[
        "3-digits",
        "short-code",
        "national",
        "e164",
        "plus-3-digits",
        "15-digits",
        "plus-15-digits",
        "one-letter",
        "name",
        "lowercase-kept",
        "inner-space",
        "dash-and-dot",
        "11-chars",
        "11-chars-with-space",
        "starts-with-digit",
        "digits-and-one-letter",
    ],
)
def test_parse_sender_id_valid(value: str, kind: str) -> None:
    assert parse_sender_id(value) == SenderId(value=value, kind=kind)


NUMBER_RULE = "must be 3 to 15 digits, optionally with a leading +"
CHARSET_RULE = "Sender ID may only contain letters A-Z, digits, spaces, '-' and '.'; "


@pytest.mark.parametrize(
    "value,message",
    [
        (None, "Sender ID must be a string, not NoneType"),
        (2222, "Sender ID must be a string, not int"),
        ("", "Sender ID must not be empty"),
        ("   ", "Sender ID must not be empty"),
        (" ACME", "Sender ID must not start or end with spaces"),
        ("ACME ", "Sender ID must not start or end with spaces"),
        ("ACME\n", "Sender ID must not start or end with spaces"),
        ("12", f"Numeric sender ID '12' {NUMBER_RULE}"),
        ("+12", f"Numeric sender ID '+12' {NUMBER_RULE}"),
        ("1234567890123456", f"Numeric sender ID '1234567890123456' {NUMBER_RULE}"),
        ("+1234567890123456", f"Numeric sender ID '+1234567890123456' {NUMBER_RULE}"),
        ("+47 999", f"Numeric sender ID '+47 999' {NUMBER_RULE}"),
        ("++47999", f"Numeric sender ID '++47999' {NUMBER_RULE}"),
        ("+ACME", f"Numeric sender ID '+ACME' {NUMBER_RULE}"),
        ("\u00c5lesund", "Sender ID may not contain \u00c6, \u00d8 or \u00c5; use AE, O or A instead"),
        ("BL\u00c5B\u00c6R", "Sender ID may not contain \u00c6, \u00d8 or \u00c5; use AE, O or A instead"),
        ("\u00f8l", "Sender ID may not contain \u00c6, \u00d8 or \u00c5; use AE, O or A instead"),
        ("Caf\u00e9", CHARSET_RULE + "'\u00e9' is not allowed"),
        ("\uff21\uff23\uff2d\uff25", CHARSET_RULE + "'\uff21' is not allowed"),  # fullwidth ACME
        ("ACME!", CHARSET_RULE + "'!' is not allowed"),
        ("ACME_SMS", CHARSET_RULE + "'_' is not allowed"),
        ("A&B", CHARSET_RULE + "'&' is not allowed"),
        ("A\tB", CHARSET_RULE + "'\\t' is not allowed"),
        ("ABCDEFGHIJKL", "Alphanumeric sender ID may be at most 11 characters; 'ABCDEFGHIJKL' has 12"),
        ("Hello World!", CHARSET_RULE + "'!' is not allowed"),
        ("Hello Worlds", "Alphanumeric sender ID may be at most 11 characters; 'Hello Worlds' has 12"),
        ("123-456", "Alphanumeric sender ID '123-456' must contain at least one letter"),
        ("12.34", "Alphanumeric sender ID '12.34' must contain at least one letter"),
        ("- .", "Alphanumeric sender ID '- .' must contain at least one letter"),
    ],
    ids=[
        "none",
        "int",
        "empty",
        "blank",
        "leading-space",
        "trailing-space",
        "trailing-newline",
        "2-digits",
        "plus-2-digits",
        "16-digits",
        "plus-16-digits",
        "number-with-space",
        "double-plus",
        "plus-then-letters",
        "aa-ring",
        "ae-and-aa",
        "lowercase-o-slash",
        "other-accent",
        "fullwidth",
        "exclamation",
        "underscore",
        "ampersand",
        "tab",
        "12-chars",
        "12-chars-bad-char-reported-first",
        "12-chars-with-space",
        "digits-and-dash",
        "digits-and-dot",
        "punctuation-only",
    ],
)
def test_parse_sender_id_invalid(value: object, message: str) -> None:
    with pytest.raises(InvalidSenderId) as info:
        parse_sender_id(value)
    assert info.value.message == message
    assert info.value.code == "invalid_sender_id"


def test_sender_id_is_frozen() -> None:
    sender = parse_sender_id("ACME")
    with pytest.raises(AttributeError):
        sender.value = "OTHER"  # type: ignore[misc]
