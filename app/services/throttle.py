"""Throttling per provider in messages per second, shared by every worker process through Redis."""
from __future__ import annotations

import time

from redis import Redis


def wait_for_capacity(redis: Redis, key: str, count: int, per_second: int, sleep=time.sleep, clock=time.time) -> None:
    """Block until ``count`` messages fit into ``key``'s per-second budget.

    A fixed one-second window per key: every worker adds what it is about to send to the
    window's counter; past the budget it waits for the next window. ``per_second <= 0`` means
    unlimited. A batch larger than the budget is spread across several windows.
    """
    if per_second <= 0:
        return
    remaining = count
    while remaining > 0:
        window = int(clock())
        take = min(remaining, per_second)
        window_key = f"throttle:{key}:{window}"
        used = redis.incrby(window_key, take)
        redis.expire(window_key, 5)
        if used <= per_second:
            remaining -= take
            continue
        redis.decrby(window_key, take)  # give back what did not fit
        sleep(max(0.0, window + 1 - clock()))
