"""Carrier gateways behind one interface, looked up by code."""
from __future__ import annotations

from flask import current_app

from app.providers.base import Outbound, Provider, Report, SendResult
from app.providers.simulator import SimulatorProvider

REGISTRY: dict[str, type] = {
    SimulatorProvider.code: SimulatorProvider,
}


def get_provider(code: str) -> Provider:
    try:
        provider_class = REGISTRY[code]
    except KeyError:
        raise LookupError(f"Unknown SMS provider '{code}'; known: {', '.join(sorted(REGISTRY))}") from None
    return provider_class(current_app.config)


__all__ = ["Outbound", "Provider", "Report", "SendResult", "get_provider", "REGISTRY"]
