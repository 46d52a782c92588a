"""Configuration: the only module that reads ``os.environ``.

Every setting has an embedded default so ``make run`` works on a fresh machine; production sets
``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY``. The README lists every variable.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from app.services.provider_routes import parse_routes
from app.sms.pricing import parse_prices

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SMSDESK_VAR_DIR", PROJECT_ROOT / "var"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url() -> str:
    return sqlalchemy_url(os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'smsdesk.db'}"))


def sqlalchemy_url(url: str) -> str:
    """A database URL as SQLAlchemy wants it: Heroku-style URLs name the driver "postgres", and
    psycopg 3 must be spelled out."""
    for old in ("postgres://", "postgresql://"):
        if url.startswith(old):
            return "postgresql+psycopg://" + url[len(old):]
    return url


def _secret_key(database_url: str) -> str:
    """Sessions are signed with SECRET_KEY. A one-machine SQLite install gets one generated into
    var/; anything else (PostgreSQL, so possibly several web machines) must set the same key
    everywhere, or sessions signed on one machine fail on the next."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if not database_url.startswith("sqlite"):
        raise RuntimeError("SECRET_KEY must be set when DATABASE_URL is not SQLite "
                           "(every web process must sign sessions with the same key)")
    path = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes starting at once, one writes the key and all read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _callback_tokens(secret_key: str) -> dict[str, str]:
    """``PROVIDER_CALLBACK_TOKENS="simulator=...,wayscloud=..."``: the token each provider presents
    on its callbacks. A provider without one has its callbacks refused (401), except the built-in
    simulator, whose token is derived from SECRET_KEY when not set, so every process agrees on it
    and nobody who lacks the key can guess it."""
    tokens = {}
    for item in filter(None, (part.strip() for part in os.environ.get("PROVIDER_CALLBACK_TOKENS", "").split(","))):
        code, sep, token = item.partition("=")
        if not sep or not code.strip() or not token.strip():
            raise RuntimeError(f"PROVIDER_CALLBACK_TOKENS: cannot read '{item}'; write code=token,code=token")
        tokens[code.strip()] = token.strip()
    tokens.setdefault("simulator", hmac.new(secret_key.encode(), b"provider-callback:simulator",
                                            hashlib.sha256).hexdigest())
    return tokens


def _pool_sizes() -> dict:
    """Database connections per process: ``DATABASE_POOL_SIZE`` kept open, up to
    ``DATABASE_MAX_OVERFLOW`` more under load. Unset, SQLAlchemy's own defaults (5 and 10) apply;
    many processes against one PostgreSQL must keep the sum below its ``max_connections``."""
    sizes = {}
    if os.environ.get("DATABASE_POOL_SIZE"):
        sizes["pool_size"] = _int("DATABASE_POOL_SIZE", 5)
    if os.environ.get("DATABASE_MAX_OVERFLOW"):
        sizes["max_overflow"] = _int("DATABASE_MAX_OVERFLOW", 10)
    return sizes


def load() -> dict:
    """Read the environment once into a plain dict for ``app.config``."""
    database_url = _database_url()
    secret_key = _secret_key(database_url)
    return {
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: a database error's text (which RQ and the error pages log) must not
        # quote the values it failed on: message texts, numbers, webhook secrets.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True, **_pool_sizes()},
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "smsdesk"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # json or text; unset: text on a terminal (make run), JSON anywhere else (app/logs.py).
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "").strip().lower() or None,
        # /metrics: a Bearer token Prometheus presents; unset, only loopback may scrape.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # How long the database figures of /metrics and /status are shared by every process.
        "METRICS_CACHE_SECONDS": _float("METRICS_CACHE_SECONDS", 10.0),
        # Who sees the installation-wide /status page: these emails (comma-separated), when they are
        # also admins. Unset, every admin does, which suits an installation run for one organisation.
        "OPERATOR_EMAILS": frozenset(
            e.strip().lower() for e in os.environ.get("OPERATOR_EMAILS", "").split(",") if e.strip()
        ),
        "PORT": _int("PORT", 5000),
        "DEMO_PASSWORD": os.environ.get("DEMO_PASSWORD", "smsdesk-demo"),
        # Dashboard sign-in. Secure cookies need HTTPS, so they are off by default for local http;
        # production behind TLS sets SESSION_COOKIE_SECURE=true (it covers the remember-me cookie too).
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=_int("REMEMBER_COOKIE_DAYS", 14)),
        # A CSRF token lives as long as the session, so a page left open all day still submits.
        "WTF_CSRF_TIME_LIMIT": None,
        # Reverse proxies in front of the web process: how many X-Forwarded-* hops to trust, so the
        # client IP (login rate limit) and scheme are the real ones. 0 when clients connect directly.
        "TRUSTED_PROXY_HOPS": _int("TRUSTED_PROXY_HOPS", 0),
        # Failed sign-ins allowed per email and client IP within the window before answering 429.
        "LOGIN_RATE_LIMIT": _int("LOGIN_RATE_LIMIT", 10),
        "LOGIN_RATE_WINDOW_SECONDS": _int("LOGIN_RATE_WINDOW_SECONDS", 15 * 60),
        # Requests per second (sustained) and at once (burst) per API key, and per signed-in user in
        # the dashboard; 0 disables. A send to 1,000 recipients is one request.
        "API_RATE_LIMIT": _float("API_RATE_LIMIT", 100.0),
        "API_RATE_BURST": _int("API_RATE_BURST", 200),
        "DASHBOARD_RATE_LIMIT": _float("DASHBOARD_RATE_LIMIT", 20.0),
        "DASHBOARD_RATE_BURST": _int("DASHBOARD_RATE_BURST", 300),
        # Accounts and senders
        "API_KEY_PREFIX": os.environ.get("API_KEY_PREFIX", "wayscloud_sms"),
        "PLATFORM_SENDER_ID": os.environ.get("PLATFORM_SENDER_ID", "+4759440000"),
        "DEFAULT_REGION": os.environ.get("DEFAULT_REGION", "NO"),
        "SMS_PRICES": parse_prices(os.environ.get("SMS_PRICES")),
        "CUSTOM_SENDER_MONTHLY_PRICE": _float("CUSTOM_SENDER_MONTHLY_PRICE", 99.0),
        "AUTO_APPROVE_SENDERS": _bool("AUTO_APPROVE_SENDERS", False),
        # Sending
        "MAX_RECIPIENTS": _int("MAX_RECIPIENTS", 1000),
        "MAX_CONTENT_LENGTH": _int("MAX_BODY_BYTES", 1024 * 1024),
        "SCHEDULE_MAX_DAYS": _int("SCHEDULE_MAX_DAYS", 30),
        "SCHEDULE_GRACE_SECONDS": _int("SCHEDULE_GRACE_SECONDS", 300),
        "IDEMPOTENCY_TTL_HOURS": _int("IDEMPOTENCY_TTL_HOURS", 24),
        "ALLOW_HTTP_CALLBACKS": _bool("ALLOW_HTTP_CALLBACKS", False),
        # Hosts a callback may point at although they are local or private (development, tests).
        "WEBHOOK_ALLOWED_HOSTS": frozenset(
            h.strip().lower() for h in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
        ),
        # Webhook delivery: the time limit of one POST, how many POSTs a worker makes at once and
        # at most to one endpoint (so one hanging receiver cannot take every slot), a CA bundle
        # replacing the system trust store, and how long the old secret signs after a rotation.
        "WEBHOOK_TIMEOUT_SECONDS": _float("WEBHOOK_TIMEOUT_SECONDS", 10.0),
        "WEBHOOK_CONCURRENCY": _int("WEBHOOK_CONCURRENCY", 16),
        "WEBHOOK_PER_ENDPOINT": _int("WEBHOOK_PER_ENDPOINT", 4),
        "WEBHOOK_CA_BUNDLE": os.environ.get("WEBHOOK_CA_BUNDLE") or None,
        "WEBHOOK_SECRET_GRACE_HOURS": _int("WEBHOOK_SECRET_GRACE_HOURS", 24),
        # Finished webhook deliveries (and their attempt log) are kept this long.
        "WEBHOOK_LOG_DAYS": _int("WEBHOOK_LOG_DAYS", 30),
        # Contact import (CSV upload in the dashboard)
        "CONTACT_IMPORT_MAX_BYTES": _int("CONTACT_IMPORT_MAX_BYTES", 20 * 1024 * 1024),
        "CONTACT_IMPORT_STALE_SECONDS": _int("CONTACT_IMPORT_STALE_SECONDS", 60),
        # Dispatch engine
        "SMS_PROVIDER": os.environ.get("SMS_PROVIDER", "simulator"),
        # Per account or sender profile: "account:<id>=<provider>,sender:<id>=<provider>".
        "PROVIDER_ROUTES": parse_routes(os.environ.get("PROVIDER_ROUTES")),
        "DISPATCH_BATCH_SIZE": _int("DISPATCH_BATCH_SIZE", 1000),
        "THROTTLE_PER_SECOND": _int("THROTTLE_PER_SECOND", 0),
        "TICK_SECONDS": _float("TICK_SECONDS", 2.0),
        "SWEEP_AFTER_SECONDS": _int("SWEEP_AFTER_SECONDS", 30),
        "SENDING_TIMEOUT_SECONDS": _int("SENDING_TIMEOUT_SECONDS", 120),
        "MAX_SEND_ATTEMPTS": _int("MAX_SEND_ATTEMPTS", 5),
        # Campaign messages released to the dispatcher at a time: a pause takes effect within one.
        "CAMPAIGN_SLICE_SIZE": _int("CAMPAIGN_SLICE_SIZE", 5000),
        # A campaign run's lock lives this long unless renewed: how soon a run that died is replaced.
        "CAMPAIGN_LOCK_SECONDS": _int("CAMPAIGN_LOCK_SECONDS", 30),
        # A campaign completes once its SENT messages are this old without a delivery report
        # (some carriers never send one); the messages stay SENT. Fractions allowed.
        "REPORT_WAIT_HOURS": _float("REPORT_WAIT_HOURS", 72.0),
        # Provider callbacks (/v1/providers/<code>/inbound and /dlr) and the answers to inbound
        # opt-out, opt-in and help words (an empty text sends no answer of that kind).
        "PROVIDER_CALLBACK_TOKENS": _callback_tokens(secret_key),
        "STOP_REPLY_TEXT": os.environ.get(
            "STOP_REPLY_TEXT", "Du er meldt av og får ikke flere SMS fra oss. Svar START for å melde deg på igjen. "
            "You are unsubscribed; reply START to resubscribe."),
        "START_REPLY_TEXT": os.environ.get(
            "START_REPLY_TEXT", "Du er meldt på igjen. Svar STOPP for å melde deg av. "
            "You are subscribed again; reply STOP to unsubscribe."),
        "HELP_REPLY_TEXT": os.environ.get(
            "HELP_REPLY_TEXT", "Svar STOPP for å melde deg av, START for å melde deg på igjen. "
            "Reply STOP to unsubscribe, START to resubscribe."),
        # Carrier simulator
        "SIMULATOR_SUBMIT_LATENCY_MS": _int("SIMULATOR_SUBMIT_LATENCY_MS", 0),
        "SIMULATOR_REPORT_LATENCY_MS": _int("SIMULATOR_REPORT_LATENCY_MS", 1000),
        "SIMULATOR_DELIVERY_RATE": _float("SIMULATOR_DELIVERY_RATE", 1.0),
        "SIMULATOR_FAIL_RULES": os.environ.get(
            "SIMULATOR_FAIL_RULES", "0000=UNKNOWN_SUBSCRIBER:Unknown subscriber"
        ),
        # Carrier faults, for the fault-injection suite and for demos: off unless set. Every Nth
        # batch call "timeout"s (the carrier keeps the batch, the answer is lost) or answers "5xx"
        # (nothing kept); numbers ending in a silent suffix are accepted and never reported.
        "SIMULATOR_FAULT": os.environ.get("SIMULATOR_FAULT", ""),
        "SIMULATOR_FAULT_EVERY": _int("SIMULATOR_FAULT_EVERY", 1),
        "SIMULATOR_FAULT_DELAY_MS": _int("SIMULATOR_FAULT_DELAY_MS", 1000),
        "SIMULATOR_SILENT_SUFFIXES": os.environ.get("SIMULATOR_SILENT_SUFFIXES", ""),
        # WAYSCloud: the account behind the code "wayscloud"; the labelled ones ("wayscloud.<label>",
        # WAYSCLOUD_<LABEL>_API_KEY ...) are copied in below. The rest is shared by every connection.
        "WAYSCLOUD_API_KEY": os.environ.get("WAYSCLOUD_API_KEY", ""),
        "WAYSCLOUD_BASE_URL": os.environ.get("WAYSCLOUD_BASE_URL", "https://api.wayscloud.services"),
        "WAYSCLOUD_WEBHOOK_SECRET": os.environ.get("WAYSCLOUD_WEBHOOK_SECRET", ""),
        "WAYSCLOUD_CONNECT_TIMEOUT_SECONDS": _float("WAYSCLOUD_CONNECT_TIMEOUT_SECONDS", 5.0),
        "WAYSCLOUD_READ_TIMEOUT_SECONDS": _float("WAYSCLOUD_READ_TIMEOUT_SECONDS", 15.0),
        "WAYSCLOUD_CONCURRENCY": _int("WAYSCLOUD_CONCURRENCY", 8),
        "WAYSCLOUD_MAX_RETRIES": _int("WAYSCLOUD_MAX_RETRIES", 3),
        # No new attempt of a batch starts after this: it must end well before SENDING_TIMEOUT_SECONDS.
        "WAYSCLOUD_DEADLINE_SECONDS": _float("WAYSCLOUD_DEADLINE_SECONDS", 60.0),
        # Polling for delivery reports that did not come: after how long, how often, how many a tick.
        "WAYSCLOUD_POLL_AFTER_SECONDS": _int("WAYSCLOUD_POLL_AFTER_SECONDS", 120),
        "WAYSCLOUD_POLL_EVERY_SECONDS": _int("WAYSCLOUD_POLL_EVERY_SECONDS", 300),
        "WAYSCLOUD_POLL_BATCH": _int("WAYSCLOUD_POLL_BATCH", 200),
        "WAYSCLOUD_POLL_MAX_AGE_HOURS": _int("WAYSCLOUD_POLL_MAX_AGE_HOURS", 72),
        # Where providers can call us back (https://sms.example.com): sent as each message's callback_url.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
        **_wayscloud_connections(),
    }


def _wayscloud_connections() -> dict:
    """``WAYSCLOUD_<LABEL>_API_KEY``, ``_BASE_URL``, ``_WEBHOOK_SECRET`` as they are: each label is
    a connection (see ``app/providers/wayscloud_settings.py``, which also checks them)."""
    return {name: value for name, value in os.environ.items()
            if name.startswith("WAYSCLOUD_") and name.endswith(("_API_KEY", "_BASE_URL", "_WEBHOOK_SECRET"))
            and name not in ("WAYSCLOUD_API_KEY", "WAYSCLOUD_BASE_URL", "WAYSCLOUD_WEBHOOK_SECRET")}
