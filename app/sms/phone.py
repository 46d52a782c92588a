"""Phone number normalisation to E.164 using Google's libphonenumber rules.

Numbers are stored and sent in E.164 ("+4799999999") only, so duplicates
("+47 999 99 999", "004799999999", "99999999" with region NO) collapse to
one recipient and providers receive a format they all accept.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, ValidationResult

from .errors import InvalidNumber

# Visual separators people type or paste; removed before parsing.
_SEPARATORS = re.compile(r"[\s\-.()]")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
# E.164 allows at most 15 digits including the country code.
_MAX_DIGITS = 15

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "has an unknown country code",
    # Input reaching libphonenumber is digits-only, so "not a number" can
    # only mean too few digits to be one.
    NumberParseException.NOT_A_NUMBER: "is too short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    NumberParseException.TOO_SHORT_NSN: "is too short",
    NumberParseException.TOO_LONG: "is too long",
}
_POSSIBILITY_ERRORS = {
    ValidationResult.TOO_SHORT: "is too short",
    ValidationResult.TOO_LONG: "is too long",
    ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
}


def is_e164(value: str) -> bool:
    """Syntactic E.164 check: '+', a non-zero digit, 7-15 digits in total.

    Purely syntactic (no numbering-plan lookup), for cheap checks of values
    that should already have been normalised. ASCII digits only: Python's
    ``\\d`` would also accept e.g. Arabic-Indic digits.
    """
    return isinstance(value, str) and _E164.fullmatch(value) is not None


def normalize_number(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 string, or raise ``InvalidNumber``.

    A leading ``00`` is read as the international prefix. Without ``+``/``00``
    the number is read as a national number of ``default_region`` (ISO 3166
    alpha-2, e.g. "NO"); without a region that is an error, because guessing
    a country would send SMS to the wrong person.
    """
    if not isinstance(raw, str):
        raise InvalidNumber(f"Phone number must be a string, not {type(raw).__name__}")
    cleaned = _SEPARATORS.sub("", raw)
    if not cleaned:
        raise InvalidNumber("Phone number must not be empty")
    # Validate the region even when the number is international, so a
    # misconfigured default surfaces on the first request, not by chance.
    region = None if default_region is None else _region(default_region)
    international, digits = _split_prefix(cleaned)
    _check_digits(raw, digits)
    if international:
        return _parse(raw, "+" + digits, None)
    if region is None:
        raise InvalidNumber(
            f"{_show(raw)} must be in E.164 format: start with + and the country code, "
            "e.g. +4799999999"
        )
    return _parse(raw, digits, region)


def _show(raw: str) -> str:
    """Quote ``raw`` for an error message, shortened so huge input is not echoed."""
    shown = raw if len(raw) <= 32 else raw[:32] + "\u2026"
    return f"'{shown}'"


def _split_prefix(cleaned: str) -> tuple[bool, str]:
    """Split off an international prefix ('+' or '00'); True if present."""
    if cleaned.startswith("+"):
        return True, cleaned[1:]
    if cleaned.startswith("00"):
        return True, cleaned[2:]
    return False, cleaned


def _check_digits(raw: str, digits: str) -> None:
    """Reject letters/symbols and over-long input before libphonenumber.

    libphonenumber would happily map letters to keypad digits
    ("+1 800 FLOWERS"), which is never what an SMS API client means.
    """
    if not digits:
        raise InvalidNumber(f"{_show(raw)} contains no digits")
    if _DIGITS.fullmatch(digits) is None:
        if any(c.isalpha() for c in digits):
            raise InvalidNumber(f"{_show(raw)} contains letters; a phone number may only contain digits")
        raise InvalidNumber(
            f"{_show(raw)} contains invalid characters; use digits with an optional leading +"
        )
    if len(digits) > _MAX_DIGITS:
        raise InvalidNumber(f"{_show(raw)} is too long; a phone number has at most 15 digits")


def _region(default_region: str) -> str:
    """Validate and upper-case an ISO 3166 alpha-2 region code."""
    region = default_region.upper() if isinstance(default_region, str) else ""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidNumber(
            f"Unknown default region {default_region!r}; use an ISO 3166 code such as NO",
            code="invalid_region",
        )
    return region


def _parse(raw: str, candidate: str, region: str | None) -> str:
    """Parse with libphonenumber and insist on a valid (assigned-range) number."""
    try:
        number = phonenumbers.parse(candidate, region)
    except NumberParseException as exc:
        reason = _PARSE_ERRORS.get(exc.error_type, "is not a valid phone number")
        raise InvalidNumber(f"{_show(raw)} {reason}") from None
    if not phonenumbers.is_valid_number(number):
        possibility = phonenumbers.is_possible_number_with_reason(number)
        reason = _POSSIBILITY_ERRORS.get(possibility, "is not a valid phone number")
        raise InvalidNumber(f"{_show(raw)} {reason}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(number: str) -> str:
    """A number as a record that must outlive the person's erasure may keep it: the country code
    and the last three digits, enough to tell numbers apart in an audit trail, not to call one."""
    if len(number) <= 6:
        return "•" * len(number)
    return number[:3] + "•" * (len(number) - 6) + number[-3:]
