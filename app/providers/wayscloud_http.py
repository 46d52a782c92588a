"""The HTTP side of the WAYSCloud provider: one kept-alive ``requests.Session`` per connection,
explicit timeouts, and retries that never turn one submission into two messages.

What a failed attempt means decides what may follow it:

- the request never reached the upstream (connection refused, connect timeout), or the upstream
  said it did not process it (429, 503): it is retried with exponential back-off, honouring
  ``Retry-After``; every thread of the batch pauses after a 429 or 503, since the limit is the
  account's, not the message's;
- the upstream may have processed it (read timeout, connection lost mid-request, another 5xx): a
  read (GET) is simply retried; a submission is retried only when the caller's ``recheck`` (a
  look-up by our reference) says the upstream does not have it, and is otherwise left ``UNKNOWN``
  for the reconciler, which asks again once the request can no longer be in flight.

All requests of one batch share a :class:`Budget`: a deadline (no attempt starts after it, so a
batch ends well within ``SENDING_TIMEOUT_SECONDS`` and the reconciler never takes rows a live
worker is still submitting) and a breaker that stops the batch once the upstream is unreachable or
refuses our credentials, instead of trying every message in turn.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from app.providers.wayscloud_settings import WaysCloudSettings

log = logging.getLogger(__name__)

OK, REFUSED, UNSENT, UNKNOWN = "ok", "refused", "unsent", "unknown"
# The upstream says it did not act: try again later, all threads together.
PAUSE_STATUSES = frozenset({429, 503})
# Answers about our configuration, not about one message: the rest of the batch would get the same.
# A redirect means a wrong base URL (http for https, say): we never follow one with our API key.
# (A 404 is one where the path is fixed, as for a submission; for a message looked up by id it is not.)
CREDENTIAL_STATUSES = frozenset({301, 302, 303, 307, 308, 401, 403})
BREAKING_STATUSES = CREDENTIAL_STATUSES | {404}
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 10.0


@dataclass(frozen=True)
class Answer:
    """The outcome of a request after its retries. ``kind``: OK (2xx), REFUSED (a final 4xx),
    UNSENT (it surely did not take effect) or UNKNOWN (it may have)."""

    kind: str
    status: int | None = None
    body: object = None
    reason: str = ""

    @property
    def error_code(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return (code if isinstance(code, str) and code else f"HTTP_{self.status}")[:64]

    @property
    def error_message(self) -> str:
        return (_detail(self.body) or self.reason or f"HTTP {self.status}")[:500]


def _detail(body: object) -> str:
    """The upstream's error text: ``detail`` (a string or a list of field problems), else
    ``error.message``."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, list):
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    if isinstance(detail, str) and detail:
        return detail
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds from ``now``: delay-seconds or an HTTP date; None when absent or
    unreadable (the back-off then applies), 0 for a date already past."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" means UTC too
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def backoff_seconds(attempt: int) -> float:
    """The wait before retry number ``attempt`` (1, 2, ...): 0.5 s, 1 s, 2 s ... at most 10 s."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))


class Budget:
    """Time and health shared by the requests of one batch (used from many threads)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock, self.sleep = clock, sleep
        self.deadline = clock() + seconds
        self.not_before = 0.0
        self.broken: str | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def break_(self, reason: str) -> None:
        with self._lock:
            self.broken = self.broken or reason

    def pause(self, seconds: float) -> None:
        """Nobody starts a request for ``seconds`` (a 429 or 503 with its Retry-After)."""
        with self._lock:
            self.not_before = max(self.not_before, self.clock() + seconds)

    def fits(self, seconds: float) -> bool:
        return self.clock() + seconds < self.deadline

    def wait_turn(self) -> str | None:
        """Wait out a pause; the reason no request may start now, or None to go ahead."""
        while True:
            if self.broken:
                return self.broken
            wait = self.not_before - self.clock()
            if wait <= 0:
                return None if self.remaining() > 0 else "the batch ran out of time"
            if not self.fits(wait):
                return "the upstream asked us to wait past the batch's time limit"
            self.sleep(wait)


@dataclass(frozen=True)
class _Failed:
    """An attempt that did not end the call. ``acted``: the upstream may have acted on it;
    ``settled``: if it did, it has finished (it answered, with a 5xx), so a look-up now tells."""

    reason: str
    status: int | None = None
    acted: bool = False
    settled: bool = False
    wait: float = 0.0  # at least this long before the next attempt (Retry-After)


class Client:
    """Requests to one WAYSCloud account (base URL + API key) on one kept-alive session."""

    def __init__(self, settings: WaysCloudSettings) -> None:
        self.settings = settings
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.session = requests.Session()
        # One pool per upstream, as large as the thread pool, so no thread opens a connection
        # that is thrown away after its request. Retries are ours, not urllib3's.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, settings.concurrency), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"X-API-Key": settings.api_key, "Accept": "application/json",
                                     "User-Agent": "smsdesk-wayscloud-provider"})

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, budget: Budget, *, idempotent: bool, json: dict | None = None,
             params: dict | None = None, headers: dict | None = None,
             recheck: Callable[[], Answer | None] | None = None, breaking: frozenset = BREAKING_STATUSES) -> Answer:
        """One request with its retries. ``recheck`` (for a submission) is asked after a 5xx, when
        the upstream may have acted: an Answer ends the call (OK: it has the message; UNKNOWN:
        cannot tell), None means it does not have it and the retry goes ahead. A ``breaking``
        status stops every other request of the budget too."""
        attempt = 0
        while True:
            attempt += 1
            if (refusal := budget.wait_turn()) is not None:
                return Answer(UNSENT, reason=refusal)
            outcome = self._attempt(method, path, json, params, headers)
            if isinstance(outcome, Answer):
                if outcome.status in breaking:
                    budget.break_(f"the upstream refused {method} {path} ({outcome.reason}); "
                                  "check the connection's API key and base URL")
                return outcome
            if outcome.acted and not idempotent:
                if not (outcome.settled and recheck):
                    return Answer(UNKNOWN, outcome.status, reason=outcome.reason)
                if (found := recheck()) is not None:
                    return found
            wait = max(backoff_seconds(attempt), outcome.wait)
            if attempt > self.settings.max_retries or not budget.fits(wait):
                return self._give_up(method, path, attempt, outcome, budget)
            log.info("wayscloud %s %s: %s; retry %d in %.1fs", method, path, outcome.reason, attempt, wait)
            if outcome.status in PAUSE_STATUSES:
                budget.pause(wait)  # every thread holds off; wait_turn sleeps it out
            else:
                budget.sleep(wait)

    def _give_up(self, method: str, path: str, attempts: int, outcome: _Failed, budget: Budget) -> Answer:
        reason = f"gave up after {attempts} attempts: {outcome.reason}"
        log.warning("wayscloud %s %s: %s", method, path, reason)
        if outcome.status is None:  # no answer at all, several times: the others would fare no better
            budget.break_(f"the upstream is unreachable ({outcome.reason})")
        return Answer(UNSENT, outcome.status, reason=reason)

    def _attempt(self, method, path, json, params, headers) -> Answer | _Failed:
        try:
            response = self.session.request(method, self.settings.base_url + path, json=json, params=params,
                                            headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            if _never_sent(exc):
                return _Failed(f"cannot connect to {self.settings.base_url}: {_short(exc)}")
            # It may have reached the upstream and may still be running there.
            return _Failed(f"no answer from {self.settings.base_url}: {_short(exc)}", acted=True)
        status, body = response.status_code, _json(response)
        if 200 <= status < 300:
            return Answer(OK, status, body)
        reason = f"HTTP {status}: {_detail(body) or response.reason}"
        if status in PAUSE_STATUSES:
            return _Failed(reason, status, wait=retry_after_seconds(response.headers.get("Retry-After")) or 0.0)
        if status >= 500:
            return _Failed(reason, status, acted=True, settled=True)
        return Answer(REFUSED, status, body, reason)


def _never_sent(exc: Exception) -> bool:
    """True when the request surely did not reach the upstream: the connection was never made."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _json(response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
