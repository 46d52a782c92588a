"""Throttling per provider in messages per second, shared by every worker process through Redis."""
from __future__ import annotations

import time

from redis import Redis

WINDOW_TTL_SECONDS = 5  # a window's counter only matters during its second; keep it a little longer


def wait_for_capacity(redis: Redis, key: str, count: int, per_second: int, sleep=time.sleep,
                      clock=time.time) -> bool:
    """Block until ``count`` messages fit into ``key``'s per-second budget; True if it had to wait.

    A fixed one-second window per key: every worker adds what it is about to send to the
    window's counter and keeps whatever part of it fits; past the budget it waits for the next
    window. ``per_second <= 0`` means unlimited. A batch larger than the budget is spread across
    several windows. Taking the part that fits (rather than all or nothing) means a big batch
    cannot be starved by small ones that keep filling each window first.
    """
    if per_second <= 0:
        return False
    remaining, waited = count, False
    while remaining > 0:
        window = int(clock())
        granted = _take(redis, f"throttle:{key}:{window}", min(remaining, per_second), per_second)
        remaining -= granted
        if remaining > 0:
            sleep(max(0.0, window + 1 - clock()))
            waited = True
    return waited


def _take(redis: Redis, window_key: str, wanted: int, per_second: int) -> int:
    """Add ``wanted`` to the window, give back what overflowed; returns how many were granted."""
    used = redis.incrby(window_key, wanted)
    redis.expire(window_key, WINDOW_TTL_SECONDS)
    overflow = min(wanted, max(0, used - per_second))
    if overflow:
        redis.decrby(window_key, overflow)
    return wanted - overflow
