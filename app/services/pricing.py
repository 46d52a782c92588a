"""What a message costs, before it is sent: the estimate and the published price tables."""
from __future__ import annotations

from flask import current_app

from app.models import Account
from app.sms import CURRENCIES, cost, costs_in_all_currencies, price_per_unit, suggest_gsm_replacements, validate_message


def estimate(account: Account, text: str, recipients: int) -> dict:
    """Encoding, parts, units and cost for ``recipients`` copies of ``text``; creates nothing."""
    prices = current_app.config["SMS_PRICES"]
    seg = validate_message(text)
    units = seg.parts * recipients
    return {
        "encoding": seg.encoding,
        "characters": seg.characters,
        "length": seg.length,
        "parts": seg.parts,
        "per_part": seg.per_part,
        "remaining": seg.remaining,
        "recipients": recipients,
        "units": units,
        "cost": float(cost(units, account.currency, prices)),
        "currency": account.currency,
        "costs": {currency: float(amount)
                  for currency, amount in costs_in_all_currencies(units, prices, first=account.currency)},
        "ucs2_characters": list(seg.ucs2_characters),
        "suggestions": suggest_gsm_replacements(seg.ucs2_characters),
    }


def price_list(account: Account, prices) -> dict:
    return {
        "currency": account.currency,
        "price_per_unit": float(price_per_unit(account.currency, prices)),
        "inbound_price_per_unit": 0.0,
        "prices": [{"currency": c, "price_per_unit": float(price_per_unit(c, prices))} for c in CURRENCIES],
    }


# (encoding, parts, characters that fit) — the published table of what a message costs by length.
_TIERS = [("GSM-7", 1, 160), ("GSM-7", 2, 306), ("GSM-7", 3, 459), ("UCS-2", 1, 70), ("UCS-2", 2, 134),
          ("UCS-2", 3, 201)]


def message_price_table(account: Account, prices) -> dict:
    unit = price_per_unit(account.currency, prices)
    return {
        "currency": account.currency,
        "price_per_unit": float(unit),
        "messages": [
            {"encoding": enc, "parts": parts, "max_characters": chars, "units": parts,
             "price": float(cost(parts, account.currency, prices))}
            for enc, parts, chars in _TIERS
        ],
    }
