"""WAYSCloud connections: which exist, their settings, and the start-up checks.

``wayscloud`` is the account configured by ``WAYSCLOUD_API_KEY`` (+ ``WAYSCLOUD_BASE_URL``,
``WAYSCLOUD_WEBHOOK_SECRET``); each ``WAYSCLOUD_<LABEL>_API_KEY`` (+ ``_BASE_URL``,
``_WEBHOOK_SECRET``) adds the connection ``wayscloud.<label>``, another account, e.g. one per
customer or country. A connection exists only with an API key: a code without one is unknown,
so rows routed to it wait as QUEUED for a worker that has it, and start-up refuses it as the
default or in a route. Timeouts, concurrency and retries are shared by all connections.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.services.webhook_signing import decode_secret

NAME = "wayscloud"
DEFAULT_BASE_URL = "https://api.wayscloud.services"
MAX_CODE_LENGTH = 32  # messages.provider
_LABELLED = re.compile(r"WAYSCLOUD_([A-Z0-9_]+)_(API_KEY|BASE_URL|WEBHOOK_SECRET)")
_LABEL = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


@dataclass(frozen=True)
class WaysCloudSettings:
    """Everything one connection's provider instance is built from; hashable, so the registry
    keeps one instance (and its open connections) per code for as long as these stay the same."""

    code: str
    base_url: str
    api_key: str
    webhook_secret: str | None
    connect_timeout: float
    read_timeout: float
    concurrency: int
    max_retries: int
    deadline: float
    callback_base: str | None  # {PUBLIC_BASE_URL}/v1/providers/<code>, when we can be called back
    platform_sender: str


def _prefix(code: str) -> str:
    """``wayscloud`` -> ``WAYSCLOUD_``, ``wayscloud.nordic`` -> ``WAYSCLOUD_NORDIC_``."""
    _, _, label = code.partition(".")
    return f"WAYSCLOUD_{label.upper()}_" if label else "WAYSCLOUD_"


def codes(config) -> list[str]:
    """The WAYSCloud connections configured (those with an API key)."""
    found = [NAME] if config.get("WAYSCLOUD_API_KEY") else []
    for key in config:
        match = _LABELLED.fullmatch(key)
        if match and match.group(2) == "API_KEY" and config[key]:
            found.append(f"{NAME}.{match.group(1).lower()}")
    return sorted(found)


def settings(config, code: str) -> WaysCloudSettings:
    prefix = _prefix(code)
    default_url = config.get("WAYSCLOUD_BASE_URL") if code == NAME else None
    public = (config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return WaysCloudSettings(
        code=code,
        base_url=(config.get(prefix + "BASE_URL") or default_url or DEFAULT_BASE_URL).rstrip("/"),
        api_key=config.get(prefix + "API_KEY") or "",
        webhook_secret=config.get(prefix + "WEBHOOK_SECRET") or None,
        connect_timeout=float(config["WAYSCLOUD_CONNECT_TIMEOUT_SECONDS"]),
        read_timeout=float(config["WAYSCLOUD_READ_TIMEOUT_SECONDS"]),
        concurrency=int(config["WAYSCLOUD_CONCURRENCY"]),
        max_retries=int(config["WAYSCLOUD_MAX_RETRIES"]),
        deadline=float(config["WAYSCLOUD_DEADLINE_SECONDS"]),
        callback_base=f"{public}/v1/providers/{code}" if public else None,
        platform_sender=config.get("PLATFORM_SENDER_ID") or "",
    )


def check(config) -> None:
    """Refuse at start what would otherwise fail every message later, naming the variable."""
    for key in config:
        if (match := _LABELLED.fullmatch(key)) and config[key]:
            _check_label(config, match.group(1))
    if config.get("PUBLIC_BASE_URL"):
        _check_url("PUBLIC_BASE_URL", config["PUBLIC_BASE_URL"])
    for code in codes(config):
        found = settings(config, code)
        _check_url(_prefix(code) + "BASE_URL", found.base_url)
        if found.webhook_secret:
            try:
                decode_secret(found.webhook_secret)
            except ValueError as exc:
                raise RuntimeError(f"{_prefix(code)}WEBHOOK_SECRET: {exc}") from None
    if codes(config):
        _check_timing(config)


def _check_label(config, label: str) -> None:
    code = f"{NAME}.{label.lower()}"
    if not _LABEL.fullmatch(label.lower()) or len(code) > MAX_CODE_LENGTH:
        longest = MAX_CODE_LENGTH - len(NAME) - 1
        raise RuntimeError(f"WAYSCLOUD_{label}_...: '{label}' cannot label a connection; use letters and digits "
                           f"(words joined by single underscores), at most {longest} characters")
    if not config.get(f"WAYSCLOUD_{label}_API_KEY"):
        raise RuntimeError(f"WAYSCLOUD_{label}_... is set but WAYSCLOUD_{label}_API_KEY is not: "
                           f"the connection {code} needs its API key")


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise RuntimeError(f"{name}={url!r} is not a base URL; write e.g. https://api.wayscloud.services")


def _check_timing(config) -> None:
    """A batch must end well before the reconciler takes its rows for a dead worker's: its last
    attempt starts before the deadline and lasts at most a connect plus a read timeout."""
    connect, read = config["WAYSCLOUD_CONNECT_TIMEOUT_SECONDS"], config["WAYSCLOUD_READ_TIMEOUT_SECONDS"]
    deadline, sending = config["WAYSCLOUD_DEADLINE_SECONDS"], config["SENDING_TIMEOUT_SECONDS"]
    if min(connect, read, deadline) <= 0 or config["WAYSCLOUD_CONCURRENCY"] < 1 or config["WAYSCLOUD_MAX_RETRIES"] < 0:
        raise RuntimeError("WAYSCLOUD_CONNECT_TIMEOUT_SECONDS, _READ_TIMEOUT_SECONDS, _DEADLINE_SECONDS and "
                           "_CONCURRENCY must be positive, WAYSCLOUD_MAX_RETRIES at least 0")
    if deadline + connect + read >= sending:
        raise RuntimeError(f"WAYSCLOUD_DEADLINE_SECONDS + _CONNECT_TIMEOUT_SECONDS + _READ_TIMEOUT_SECONDS "
                           f"({deadline:g} + {connect:g} + {read:g}) must be less than SENDING_TIMEOUT_SECONDS "
                           f"({sending}), or the reconciler could re-submit messages a worker is still submitting")
