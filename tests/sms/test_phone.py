"""E.164 normalisation and the syntactic E.164 check."""

from __future__ import annotations

import pytest

from app.sms.errors import InvalidNumber
from app.sms.phone import is_e164, masked, normalize_number


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("+4799999999", None, "+4799999999"),
        ("+47 999 99 999", None, "+4799999999"),
        ("+47-999-99-999", None, "+4799999999"),
        ("(+47) 999.99.999", None, "+4799999999"),
        (" +4799999999 ", None, "+4799999999"),
        ("\u00a0+47\u00a099999999", None, "+4799999999"),
        ("004799999999", None, "+4799999999"),
        ("0047 999 99 999", None, "+4799999999"),
        ("99999999", "NO", "+4799999999"),
        ("999 99 999", "no", "+4799999999"),
        ("+46701234567", "NO", "+46701234567"),
        ("0046701234567", "NO", "+46701234567"),
        ("07400 123456", "GB", "+447400123456"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("+1 201 555 0123", None, "+12015550123"),
    ],
    ids=[
        "e164",
        "spaces",
        "dashes",
        "parens-and-dots",
        "surrounding-whitespace",
        "no-break-spaces",
        "00-prefix",
        "00-prefix-spaced",
        "national-with-region",
        "national-lowercase-region",
        "international-ignores-region",
        "00-prefix-ignores-region",
        "gb-trunk-zero-dropped",
        "us-national",
        "nanp-international",
    ],
)
def test_normalize_number_valid(raw: str, region: str | None, expected: str) -> None:
    assert normalize_number(raw, region) == expected


@pytest.mark.parametrize(
    "raw,region,code,message",
    [
        (None, None, "invalid_number", "Phone number must be a string, not NoneType"),
        (4799999999, None, "invalid_number", "Phone number must be a string, not int"),
        ("", None, "invalid_number", "Phone number must not be empty"),
        ("   ", None, "invalid_number", "Phone number must not be empty"),
        ("( ) - .", None, "invalid_number", "Phone number must not be empty"),
        ("+", None, "invalid_number", "'+' contains no digits"),
        ("00", None, "invalid_number", "'00' contains no digits"),
        ("+47abc", None, "invalid_number", "'+47abc' contains letters; a phone number may only contain digits"),
        ("+1 800 FLOWERS", None, "invalid_number", "'+1 800 FLOWERS' contains letters; a phone number may only contain digits"),
        ("+47#999", None, "invalid_number", "'+47#999' contains invalid characters; use digits with an optional leading +"),
        ("++4799999999", None, "invalid_number", "'++4799999999' contains invalid characters; use digits with an optional leading +"),
        ("+\u0664\u0667\u0669\u0669", None, "invalid_number", "'+\u0664\u0667\u0669\u0669' contains invalid characters; use digits with an optional leading +"),
        ("99999999", None, "invalid_number", "'99999999' must be in E.164 format: start with + and the country code, e.g. +4799999999"),
        ("+47123", None, "invalid_number", "'+47123' is too short"),
        ("+12", None, "invalid_number", "'+12' is too short"),
        ("123", "NO", "invalid_number", "'123' is too short"),
        ("+471234567890123", None, "invalid_number", "'+471234567890123' is too long"),
        ("+4712345678901234", None, "invalid_number", "'+4712345678901234' is too long; a phone number has at most 15 digits"),
        ("+999 12345678", None, "invalid_number", "'+999 12345678' has an unknown country code"),
        ("+4712345678", None, "invalid_number", "'+4712345678' is not a valid phone number"),
        ("99999999", "XX", "invalid_region", "Unknown default region 'XX'; use an ISO 3166 code such as NO"),
        ("+4799999999", "XX", "invalid_region", "Unknown default region 'XX'; use an ISO 3166 code such as NO"),
    ],
    ids=[
        "none",
        "int",
        "empty",
        "blank",
        "separators-only",
        "plus-only",
        "00-only",
        "letters",
        "vanity-letters",
        "symbol",
        "double-plus",
        "arabic-indic-digits",
        "national-without-region",
        "too-short-international",
        "country-code-only",
        "too-short-national",
        "15-digits-too-long-for-no",
        "16-digits-over-e164",
        "unknown-country-code",
        "unassigned-range",
        "unknown-region",
        "unknown-region-with-international",
    ],
)
def test_normalize_number_invalid(raw: object, region: str | None, code: str, message: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize_number(raw, region)  # type: ignore[arg-type]
    assert info.value.code == code
    assert info.value.message == message


def test_long_input_is_not_echoed_in_full() -> None:
    raw = "+47" + "x" * 1000
    with pytest.raises(InvalidNumber) as info:
        normalize_number(raw)
    assert len(info.value.message) < 120
    assert info.value.message.startswith("'+47xxx")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("+4799999999", True),
        ("+1234567", True),  # 7 digits: the minimum
        ("+123456", False),  # 6 digits
        ("+123456789012345", True),  # 15 digits: the maximum
        ("+1234567890123456", False),  # 16 digits
        ("+0123456789", False),  # country codes never start with 0
        ("4799999999", False),
        ("004799999999", False),
        ("+47 99999999", False),
        ("+4799999999\n", False),
        ("+\u0664\u0667\u0669\u0669\u0669\u0669\u0669\u0669", False),  # Arabic-Indic digits
        ("", False),
        (None, False),
    ],
    ids=[
        "norwegian",
        "7-digits",
        "6-digits",
        "15-digits",
        "16-digits",
        "leading-zero",
        "no-plus",
        "00-prefix",
        "space",
        "trailing-newline",
        "non-ascii-digits",
        "empty",
        "none",
    ],
)
def test_is_e164(value: object, expected: bool) -> None:
    assert is_e164(value) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("number, shown", [
    ("+4791000009", "+47•••••009"),
    ("+12025550123", "+12••••••123"),
    ("+4712", "•••••"),
    ("", ""),
])
def test_masked_keeps_the_country_code_and_the_last_three_digits(number, shown):
    assert masked(number) == shown
