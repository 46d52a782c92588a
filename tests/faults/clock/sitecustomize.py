"""Loaded at start-up by a worker process started with this directory on PYTHONPATH (the clock-jump
scenarios): its wall clock becomes the real one plus an offset in seconds read from the file
named by SMSDESK_TEST_CLOCK_FILE, so the test jumps the clock of a running worker by writing
that file. What moves: ``app.models.base.utcnow`` (every time smsdesk stamps or compares) and
``time.time`` (the tick's time slots, webhook signature timestamps). Monotonic clocks do not
move, as with a real NTP step."""
import os
import time

_FILE = os.environ.get("SMSDESK_TEST_CLOCK_FILE")
_real_time = time.time
_state = {"read_at": -1.0, "offset": 0.0}


def _offset() -> float:
    # Re-read at most ten times a second: cheap, and every process of the worker (its RQ
    # scheduler too) follows the file without a thread of its own.
    now = time.monotonic()
    if now - _state["read_at"] > 0.1:
        _state["read_at"] = now
        try:
            with open(_FILE) as handle:
                _state["offset"] = float(handle.read().strip() or 0)
        except (OSError, ValueError):
            pass
    return _state["offset"]


def _shifted_time() -> float:
    return _real_time() + _offset()


def _patch_utcnow() -> None:
    from datetime import timedelta

    import app.models.base as base

    # Replace the function's code rather than the name: every module that imported ``utcnow``
    # before this ran holds the same function object.
    base._test_clock_offset = lambda: timedelta(seconds=_offset())

    def utcnow():
        return datetime.now(timezone.utc) + _test_clock_offset()  # noqa: F821 - base's globals

    base.utcnow.__code__ = utcnow.__code__


if _FILE:
    time.time = _shifted_time
    _patch_utcnow()
