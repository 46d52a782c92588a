"""Carrier gateways behind one interface, looked up by code.

A code is a registered provider's name (``simulator``, ``wayscloud``) or, for a provider with
several connections (``labelled``), ``<name>.<label>``: ``wayscloud.nordic`` is another WAYSCloud
account. Which codes exist depends on the configuration: a class may list its own with
``codes(config)`` (WAYSCloud: the connections that have an API key) and check its settings at
start-up with ``check(config)``.

A class that builds its instances from hashable ``settings(config, code)`` gets one instance per
application and code, kept while those settings stay the same: the WAYSCloud provider keeps its
HTTP connections open from batch to batch. A class without ``settings`` (the simulator, which holds
nothing worth keeping) is built from the config on every call, as before.
"""
from __future__ import annotations

import threading

from flask import current_app

from app.providers.base import Outbound, Provider, Report, SendResult
from app.providers.simulator import SimulatorProvider
from app.providers.wayscloud import WaysCloudProvider

REGISTRY: dict[str, type] = {
    SimulatorProvider.code: SimulatorProvider,
    WaysCloudProvider.code: WaysCloudProvider,
}
_CACHE_KEY = "smsdesk.providers"
_LOCK = threading.Lock()


def provider_class(code: str) -> type | None:
    """The class serving ``code`` (known or not to this configuration); None if no class does."""
    name, dot, label = code.partition(".")
    found = REGISTRY.get(name)
    if found is None or (dot and not (label and getattr(found, "labelled", False))):
        return None
    return found


def known_codes(config) -> tuple[str, ...]:
    """Every code this configuration can send through."""
    found: set[str] = set()
    for name, cls in REGISTRY.items():
        lister = getattr(cls, "codes", None)
        found.update(lister(config) if lister else (name,))
    return tuple(sorted(found))


def check_configuration(config) -> None:
    """At start-up: every provider's own settings, then ``SMS_PROVIDER`` and the routes name
    providers that exist (see ``app.services.provider_routes``)."""
    from app.services.provider_routes import check_routes

    for cls in REGISTRY.values():
        if checker := getattr(cls, "check", None):
            checker(config)
    known = known_codes(config)
    if config["SMS_PROVIDER"] not in known:
        raise RuntimeError(f"SMS_PROVIDER={config['SMS_PROVIDER']!r} is not a known provider; use one of "
                           f"{', '.join(known)}{_hint(config['SMS_PROVIDER'])}")
    check_routes(config["PROVIDER_ROUTES"], known, _hint)


def _hint(code: str) -> str:
    cls = provider_class(code)
    if cls is WaysCloudProvider:
        prefix = "WAYSCLOUD_" + (code.partition(".")[2].upper() + "_" if "." in code else "")
        return f" ({code} needs {prefix}API_KEY)"
    return ""


def get_provider(code: str) -> Provider:
    config = current_app.config
    cls = provider_class(code)
    if cls is None or code not in known_codes(config):
        raise LookupError(f"Unknown SMS provider '{code}'; known: {', '.join(known_codes(config))}{_hint(code)}")
    settings = getattr(cls, "settings", None)
    if settings is None:
        return cls(config)
    wanted = settings(config, code)
    with _LOCK:
        cache = current_app.extensions.setdefault(_CACHE_KEY, {})
        kept = cache.get(code)
        if kept is not None and kept[0] == wanted:
            return kept[1]
        provider = cls(wanted)
        cache[code] = (wanted, provider)
    if kept is not None and hasattr(kept[1], "close"):  # the settings changed: let its connections go
        kept[1].close()
    return provider


__all__ = ["Outbound", "Provider", "Report", "SendResult", "get_provider", "known_codes", "provider_class",
           "check_configuration", "REGISTRY"]
