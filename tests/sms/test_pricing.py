"""Prices per SMS part, price overrides from config, and cost rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.sms.errors import UnknownCurrency
from app.sms.pricing import (
    CURRENCIES,
    DEFAULT_PRICES,
    cost,
    costs_in_all_currencies,
    parse_prices,
    price_per_unit,
)

D = Decimal
DEFAULTS = {"NOK": D("0.99"), "SEK": D("0.99"), "DKK": D("0.79"), "EUR": D("0.10"), "USD": D("0.10")}


def test_defaults() -> None:
    assert CURRENCIES == ("NOK", "SEK", "DKK", "EUR", "USD")
    assert dict(DEFAULT_PRICES) == DEFAULTS


def test_defaults_are_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_PRICES["NOK"] = D("0")  # type: ignore[index]


@pytest.mark.parametrize(
    "spec,overrides",
    [
        (None, {}),
        ("", {}),
        ("   ", {}),
        ("NOK=0.89", {"NOK": D("0.89")}),
        ("NOK=0.89,EUR=0.09", {"NOK": D("0.89"), "EUR": D("0.09")}),
        (" nok = 0.89 ,  Eur=0.09 ", {"NOK": D("0.89"), "EUR": D("0.09")}),
        ("NOK=0.89,", {"NOK": D("0.89")}),
        ("NOK=0.89,,SEK=1", {"NOK": D("0.89"), "SEK": D("1")}),
        ("USD=0", {"USD": D("0")}),
        ("DKK=0.125", {"DKK": D("0.125")}),
    ],
    ids=[
        "none",
        "empty",
        "blank",
        "one",
        "two",
        "whitespace-and-case",
        "trailing-comma",
        "double-comma",
        "zero-is-free",
        "sub-cent-precision",
    ],
)
def test_parse_prices_overrides_defaults(spec: str | None, overrides: dict[str, Decimal]) -> None:
    assert parse_prices(spec) == {**DEFAULTS, **overrides}


@pytest.mark.parametrize(
    "spec,error,message",
    [
        ("GBP=1", UnknownCurrency, "Unknown currency 'GBP'; supported currencies are NOK, SEK, DKK, EUR, USD"),
        ("=0.5", UnknownCurrency, "Unknown currency ''; supported currencies are NOK, SEK, DKK, EUR, USD"),
        ("NOK", ValueError, "Invalid SMS price entry 'NOK'; expected CURRENCY=PRICE, e.g. NOK=0.89"),
        ("NOK=0,89", ValueError, "Invalid SMS price entry '89'; expected CURRENCY=PRICE, e.g. NOK=0.89"),
        ("NOK=", ValueError, "Invalid SMS price '' for NOK; use a non-negative decimal number such as 0.89"),
        ("NOK=abc", ValueError, "Invalid SMS price 'abc' for NOK; use a non-negative decimal number such as 0.89"),
        ("NOK=-0.01", ValueError, "Invalid SMS price '-0.01' for NOK; use a non-negative decimal number such as 0.89"),
        ("NOK=NaN", ValueError, "Invalid SMS price 'NaN' for NOK; use a non-negative decimal number such as 0.89"),
        ("NOK=Infinity", ValueError, "Invalid SMS price 'Infinity' for NOK; use a non-negative decimal number such as 0.89"),
        ("NOK=1,nok=2", ValueError, "Currency NOK is given twice in SMS prices 'NOK=1,nok=2'"),
    ],
    ids=["unknown", "missing-currency", "no-equals", "decimal-comma", "no-price", "not-a-number", "negative", "nan", "infinity", "duplicate"],
)
def test_parse_prices_rejects(spec: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        parse_prices(spec)
    assert str(info.value) == message


def test_parse_prices_returns_a_fresh_dict() -> None:
    prices = parse_prices(None)
    prices["NOK"] = D("5")
    assert DEFAULT_PRICES["NOK"] == D("0.99")


@pytest.mark.parametrize(
    "currency,expected",
    [("NOK", D("0.99")), ("nok", D("0.99")), ("Dkk", D("0.79")), ("EUR", D("0.10")), ("usd", D("0.10"))],
    ids=["upper", "lower", "mixed", "eur", "usd"],
)
def test_price_per_unit(currency: str, expected: Decimal) -> None:
    assert price_per_unit(currency) == expected


@pytest.mark.parametrize(
    "currency,prices,message",
    [
        ("GBP", DEFAULT_PRICES, "Unknown currency 'GBP'; supported currencies are NOK, SEK, DKK, EUR, USD"),
        ("", DEFAULT_PRICES, "Unknown currency ''; supported currencies are NOK, SEK, DKK, EUR, USD"),
        (" NOK", DEFAULT_PRICES, "Unknown currency ' NOK'; supported currencies are NOK, SEK, DKK, EUR, USD"),
        (None, DEFAULT_PRICES, "Unknown currency None; supported currencies are NOK, SEK, DKK, EUR, USD"),
        ("SEK", {"NOK": D("1")}, "Unknown currency 'SEK'; supported currencies are NOK"),
    ],
    ids=["unknown", "empty", "leading-space", "none", "not-in-given-prices"],
)
def test_price_per_unit_unknown(currency: object, prices: dict[str, Decimal], message: str) -> None:
    with pytest.raises(UnknownCurrency) as info:
        price_per_unit(currency, prices)  # type: ignore[arg-type]
    assert info.value.code == "unknown_currency"
    assert info.value.message == message


@pytest.mark.parametrize(
    "units,currency,prices,expected",
    [
        (0, "NOK", DEFAULT_PRICES, "0.00"),
        (1, "NOK", DEFAULT_PRICES, "0.99"),
        (3, "nok", DEFAULT_PRICES, "2.97"),
        (3, "EUR", DEFAULT_PRICES, "0.30"),
        (11, "DKK", DEFAULT_PRICES, "8.69"),
        (1000, "SEK", DEFAULT_PRICES, "990.00"),
        # Half-up, not banker's rounding: 0.125 -> 0.13 (banker's: 0.12).
        (1, "NOK", {"NOK": D("0.125")}, "0.13"),
        (3, "NOK", {"NOK": D("0.125")}, "0.38"),
        (1, "NOK", {"NOK": D("0.005")}, "0.01"),
        (1, "NOK", {"NOK": D("0.0049")}, "0.00"),
        # Rounded once at the end, not per unit: 7 x 0.0049 = 0.0343.
        (7, "NOK", {"NOK": D("0.0049")}, "0.03"),
    ],
    ids=[
        "zero-units",
        "one-nok",
        "three-nok",
        "three-eur-two-decimals",
        "eleven-dkk",
        "bulk",
        "half-up-single",
        "half-up-total",
        "exact-half-cent",
        "just-below-half-cent",
        "round-total-not-unit",
    ],
)
def test_cost(units: int, currency: str, prices: dict[str, Decimal], expected: str) -> None:
    result = cost(units, currency, prices)
    assert isinstance(result, Decimal)
    assert str(result) == expected  # exactly two decimals, e.g. "0.30" not "0.3"


@pytest.mark.parametrize("units", [-1, 1.5, True, "3", None], ids=["negative", "float", "bool", "str", "none"])
def test_cost_rejects_bad_units(units: object) -> None:
    with pytest.raises(ValueError, match="units must be a non-negative integer"):
        cost(units, "NOK")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "first,prices,expected",
    [
        (None, DEFAULT_PRICES, ["NOK", "SEK", "DKK", "EUR", "USD"]),
        ("NOK", DEFAULT_PRICES, ["NOK", "SEK", "DKK", "EUR", "USD"]),
        ("EUR", DEFAULT_PRICES, ["EUR", "NOK", "SEK", "DKK", "USD"]),
        ("usd", DEFAULT_PRICES, ["USD", "NOK", "SEK", "DKK", "EUR"]),
        (None, {"USD": D("1"), "NOK": D("2")}, ["NOK", "USD"]),
    ],
    ids=["default-order", "first-already-first", "eur-first", "lowercase-first", "mapping-order-ignored"],
)
def test_costs_in_all_currencies_order(first: str | None, prices: dict[str, Decimal], expected: list[str]) -> None:
    assert [c for c, _ in costs_in_all_currencies(2, prices, first)] == expected


def test_costs_in_all_currencies_amounts() -> None:
    assert costs_in_all_currencies(3, parse_prices("NOK=0.89"), first="SEK") == [
        ("SEK", D("2.97")),
        ("NOK", D("2.67")),
        ("DKK", D("2.37")),
        ("EUR", D("0.30")),
        ("USD", D("0.30")),
    ]


def test_costs_in_all_currencies_unknown_first() -> None:
    with pytest.raises(UnknownCurrency):
        costs_in_all_currencies(1, DEFAULT_PRICES, first="GBP")
