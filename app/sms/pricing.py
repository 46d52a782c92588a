"""Per-SMS-part prices and cost calculation.

Money is ``Decimal`` throughout (never float) and rounded once, at the end,
to whole cents with ROUND_HALF_UP — the rounding customers expect on an
invoice — so that "3 parts x 0.99" is exactly 2.97.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Iterable, Mapping

from .errors import UnknownCurrency

CURRENCIES: tuple[str, ...] = ("NOK", "SEK", "DKK", "EUR", "USD")

# Read-only so no caller can change the defaults for everybody else.
DEFAULT_PRICES: Mapping[str, Decimal] = MappingProxyType(
    {
        "NOK": Decimal("0.99"),
        "SEK": Decimal("0.99"),
        "DKK": Decimal("0.79"),
        "EUR": Decimal("0.10"),
        "USD": Decimal("0.10"),
    }
)

_CENT = Decimal("0.01")


def parse_prices(spec: str | None) -> dict[str, Decimal]:
    """Apply an override such as ``"NOK=0.89, EUR=0.09"`` to the defaults.

    Meant for a config environment variable: None or blank means "defaults".
    Mistakes raise at start-up with a message naming the bad entry, rather
    than silently billing a wrong price.
    """
    prices = dict(DEFAULT_PRICES)
    if spec is None or not spec.strip():
        return prices
    seen: set[str] = set()
    for item in spec.split(","):
        if not item.strip():
            continue  # tolerate "NOK=0.89," and doubled commas
        currency, price = _parse_item(item)
        if currency in seen:
            raise ValueError(f"Currency {currency} is given twice in SMS prices {spec!r}")
        seen.add(currency)
        prices[currency] = price
    return prices


def _parse_item(item: str) -> tuple[str, Decimal]:
    """Parse one ``CURRENCY=PRICE`` entry."""
    name, sep, amount = item.partition("=")
    if not sep:
        raise ValueError(f"Invalid SMS price entry {item.strip()!r}; expected CURRENCY=PRICE, e.g. NOK=0.89")
    currency = _normalize_currency(name.strip())
    try:
        price = Decimal(amount.strip())
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price < 0:
        raise ValueError(
            f"Invalid SMS price {amount.strip()!r} for {currency}; "
            "use a non-negative decimal number such as 0.89"
        )
    return currency, price


def _normalize_currency(currency: object, known: Iterable[str] = CURRENCIES) -> str:
    """Upper-case ``currency`` and check it is one of ``known``."""
    code = currency.upper() if isinstance(currency, str) else None
    known = tuple(known)
    if code not in known:
        raise UnknownCurrency(
            f"Unknown currency {currency!r}; supported currencies are {', '.join(known)}"
        )
    return code


def price_per_unit(currency: str, prices: Mapping[str, Decimal] = DEFAULT_PRICES) -> Decimal:
    """Price of one SMS part in ``currency`` (case-insensitive)."""
    return prices[_normalize_currency(currency, prices)]


def cost(units: int, currency: str, prices: Mapping[str, Decimal] = DEFAULT_PRICES) -> Decimal:
    """Cost of ``units`` SMS parts, rounded half-up to whole cents."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 0:
        raise ValueError(f"units must be a non-negative integer, not {units!r}")
    return (units * price_per_unit(currency, prices)).quantize(_CENT, rounding=ROUND_HALF_UP)


def costs_in_all_currencies(
    units: int,
    prices: Mapping[str, Decimal] = DEFAULT_PRICES,
    first: str | None = None,
) -> list[tuple[str, Decimal]]:
    """Cost in every priced currency; ``first`` (the account currency) leads.

    The rest follow in ``CURRENCIES`` order (then any other priced currency),
    so the list is stable for display regardless of mapping order.
    """
    order = [c for c in CURRENCIES if c in prices] + sorted(c for c in prices if c not in CURRENCIES)
    if first is not None:
        lead = _normalize_currency(first, order)
        order.remove(lead)
        order.insert(0, lead)
    return [(currency, cost(units, currency, prices)) for currency in order]
