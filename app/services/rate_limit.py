"""Request rate limits per API key and per signed-in user, shared by every web process through Redis.

GCRA (the generic cell rate algorithm, a token bucket that stores one number): each subject has a
"theoretical arrival time" (TAT). A request moves it one emission interval (1 / rate) ahead; it is
refused when that would put the TAT more than ``burst`` intervals past now. So a quiet subject may
send ``burst`` requests at once and, after that, ``rate`` per second for as long as it likes.

The check and the update are one Lua script (one round trip, EVALSHA through ``register_script``)
and the clock is Redis's own ``TIME``: several web machines with slightly different clocks still
share one bucket. If Redis is down the request goes through (logged once a minute per process): the
database, not Redis, decides whether a message is accepted, and a broken limiter must not take the
API down with it.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "smsdesk:ratelimit:"
WARN_EVERY_SECONDS = 60.0

# KEYS[1] the subject's TAT (microseconds since the epoch); ARGV: interval_us, burst, now_us or "".
# Returns {allowed (0/1), remaining, retry_after_us, reset_us}.
_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tolerance = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now + tolerance - new_tat) / interval), 0, new_tat - now}
"""


@dataclass(frozen=True)
class Decision:
    """What one request used up. ``limit`` is the burst (the most requests that fit at once),
    ``remaining`` how many more would fit right now, ``reset_seconds`` how long until the bucket is
    full again and ``retry_after`` (refusals only) how long until the next request fits."""
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int = 0

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Reset`` is in seconds from now (as in the IETF RateLimit draft), not an
        epoch time, so a client with a wrong clock still reads it right."""
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
               "X-RateLimit-Reset": str(self.reset_seconds)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    """``per_second`` requests per second sustained, ``burst`` at once; ``per_second <= 0`` disables."""

    def __init__(self, redis: Redis, scope: str, per_second: float, burst: int) -> None:
        self.redis, self.scope = redis, scope
        self.per_second, self.burst = per_second, max(1, int(burst))
        self._script = redis.register_script(_GCRA)

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def hit(self, subject: str, now_us: int | None = None) -> Decision | None:
        """Count one request of ``subject``; None when disabled or Redis cannot be asked.
        ``now_us`` replaces Redis's clock (tests)."""
        if not self.enabled:
            return None
        interval = max(1, round(1_000_000 / self.per_second))
        try:
            allowed, remaining, retry_us, reset_us = self._script(
                keys=[f"{KEY_PREFIX}{self.scope}:{subject}"],
                args=[interval, self.burst, "" if now_us is None else int(now_us)])
        except RedisError as exc:
            _warn_unavailable(self.scope, exc)
            return None
        return Decision(allowed=bool(allowed), limit=self.burst, remaining=int(remaining),
                        reset_seconds=math.ceil(int(reset_us) / 1_000_000),
                        retry_after=max(1, math.ceil(int(retry_us) / 1_000_000)) if not allowed else 0)


_last_warning: dict[str, float] = {}


def _warn_unavailable(scope: str, exc: Exception) -> None:
    """Once a minute per scope and process: a Redis outage must not flood the log on every request."""
    now = time.monotonic()
    if now - _last_warning.get(scope, -math.inf) >= WARN_EVERY_SECONDS:
        _last_warning[scope] = now
        log.warning("rate limit %s unavailable (Redis: %s); requests are not limited", scope, exc)


# --- Flask glue: the API and the dashboard call these from their request hooks -----------------

# Where the request's decision waits for ``add_headers`` (the request's own, unlike ``g``, which a
# test's long-lived app context would share between requests).
ENVIRON_KEY = "smsdesk.rate_limit"


def limiter(scope: str) -> RateLimiter:
    """The app's limiter for ``scope`` ("api" or "dashboard"), built once from its config:
    ``API_RATE_LIMIT``/``API_RATE_BURST``, ``DASHBOARD_RATE_LIMIT``/``DASHBOARD_RATE_BURST``."""
    from flask import current_app

    from app.extensions import redis_conn

    prefix = scope.upper()
    per_second, burst = current_app.config[f"{prefix}_RATE_LIMIT"], current_app.config[f"{prefix}_RATE_BURST"]
    limiters = current_app.extensions.setdefault("rate_limiters", {})
    # Keyed by the settings too, so a changed config (tests) gets its own limiter.
    redis = redis_conn()
    key = (scope, per_second, burst, id(redis))
    if key not in limiters:
        limiters[key] = RateLimiter(redis, scope, per_second, burst)
    return limiters[key]


def limit_request(scope: str, subject: str, who: str) -> None:
    """Count this request against ``subject``; 429 with ``Retry-After`` past the limit. The decision
    is kept with the request so ``add_headers`` can put it on whatever response the request ends with."""
    from flask import request
    from werkzeug.exceptions import TooManyRequests

    decision = limiter(scope).hit(subject)
    request.environ[ENVIRON_KEY] = decision
    if decision is not None and not decision.allowed:
        rate = limiter(scope).per_second
        raise TooManyRequests(
            f"Too many requests: {who} may make {rate:g} requests per second (bursts of {decision.limit}). "
            f"Try again in {decision.retry_after} second{'s' if decision.retry_after != 1 else ''}.",
            retry_after=decision.retry_after)


def add_headers(response):
    """``after_request``: the X-RateLimit-* headers of a counted request, on every response."""
    from flask import request

    decision = request.environ.get(ENVIRON_KEY)
    if decision is not None:
        response.headers.update(decision.headers())
    return response
