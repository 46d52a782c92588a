"""Which provider sends a message: ``PROVIDER_ROUTES``, then ``SMS_PROVIDER``.

``PROVIDER_ROUTES="account:<account id>=wayscloud.nordic,sender:<sender profile id>=wayscloud"``:
a sender profile's route beats its account's, which beats ``SMS_PROVIDER``. The choice is made
once, when a message row is written (``send.outbound_values``: sends, campaigns, automatic
answers), and stored in ``messages.provider``; the dispatcher sends each row through its own.

Read at start-up: a malformed entry or one naming a provider this configuration does not have
stops the process with the entry named, rather than leaving its messages QUEUED forever.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from flask import current_app

KINDS = ("account", "sender")
_CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)?")  # simulator, wayscloud, wayscloud.nordic


@dataclass(frozen=True)
class Route:
    kind: str  # account or sender
    key: str  # the account's or the sender profile's id
    provider: str
    entry: str  # as written, for error messages


@dataclass(frozen=True)
class Routes:
    entries: tuple[Route, ...] = ()
    accounts: dict[str, str] = field(default_factory=dict)
    senders: dict[str, str] = field(default_factory=dict)


NO_ROUTES = Routes()


def parse_routes(spec: str | None) -> Routes:
    """``kind:id=provider`` entries separated by commas; RuntimeError naming a bad entry."""
    entries: list[Route] = []
    chosen: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    for raw in (part.strip() for part in (spec or "").split(",")):
        if not raw:
            continue
        route = _entry(raw)
        if route.key in chosen[route.kind]:
            raise RuntimeError(f"PROVIDER_ROUTES: {route.kind} '{route.key}' has two routes ('{raw}' and an "
                               f"earlier one); keep one")
        chosen[route.kind][route.key] = route.provider
        entries.append(route)
    return Routes(tuple(entries), chosen["account"], chosen["sender"])


def _entry(raw: str) -> Route:
    target, sep, provider = raw.partition("=")
    kind, colon, key = target.partition(":")
    kind, key, provider = kind.strip().lower(), key.strip(), provider.strip()
    if not (sep and colon and kind in KINDS and key and _CODE.fullmatch(provider)):
        raise RuntimeError(f"PROVIDER_ROUTES: cannot read '{raw}'; write account:<account id>=<provider> or "
                           "sender:<sender profile id>=<provider>, separated by commas")
    return Route(kind, key, provider, raw)


def check_routes(routes: Routes, known: Iterable[str], hint: Callable[[str], str] = lambda code: "") -> None:
    """Every route names a provider in ``known``; RuntimeError naming the first that does not."""
    known = tuple(known)
    for route in routes.entries:
        if route.provider not in known:
            raise RuntimeError(f"PROVIDER_ROUTES: '{route.entry}' names provider '{route.provider}', which is not "
                               f"known; use one of {', '.join(known)}{hint(route.provider)}")


def choose(routes: Routes, default: str, account_id: str, sender_profile_id: str | None) -> str:
    return routes.senders.get(sender_profile_id or "") or routes.accounts.get(account_id) or default


def provider_for(account_id: str, sender_profile_id: str | None) -> str:
    """The provider a new message of this account and sender profile goes through."""
    config = current_app.config
    return choose(config["PROVIDER_ROUTES"], config["SMS_PROVIDER"], account_id, sender_profile_id)
