"""Resolving a client's ``scheduled_at`` into an exact UTC instant.

Wall-clock times in a zone with daylight saving time are not always a
single instant:

* in the spring-forward *gap* (e.g. 02:30 on the last Sunday of March in
  Europe/Oslo) the time never happens. Silently shifting it would send the
  SMS at a time the user did not choose, so it is an error;
* in the fall-back *overlap* (02:30 on the last Sunday of October) it
  happens twice. We take the first occurrence (``fold=0``) — the earlier
  send — and report that the time was ambiguous so a UI can say so.

Everything is stored and compared in UTC; zones are used only for input and
display. ``now`` is always passed in, never read from the clock, so the
rules are deterministic and testable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidTimezone, ScheduleError

# resolve_schedule has a parameter named ``timezone`` (the API field name),
# which shadows the datetime class inside it; use this alias everywhere.
_UTC = timezone.utc

_FORMAT_HINT = "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"
# datetime.fromisoformat (3.11) also accepts basic formats, week dates and
# *any* character between date and time ("2026-12-17x09:00"). We only accept
# the extended form with 'T' or a space and at least hours:minutes, so typos
# are reported instead of being read as something else.
_DATE_TIME_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}", re.ASCII)
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass(frozen=True)
class ScheduleTime:
    """A resolved schedule: the UTC instant, whether the wall time occurred
    twice (first occurrence taken), and the zone name used for display."""

    utc: datetime
    ambiguous: bool
    zone: str


def get_zone(name: str) -> ZoneInfo:
    """Look up an IANA time zone, raising ``InvalidTimezone`` with a hint."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidTimezone("Time zone must be an IANA name such as Europe/Oslo")
    try:
        return ZoneInfo(name)
    # ZoneInfoNotFoundError: unknown key; ValueError: absolute/relative paths
    # ('../etc') or NUL bytes; OSError: a directory ('Europe') or a name too
    # long for the file system.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(
            f"Unknown time zone {name[:64]!r}; use an IANA name such as Europe/Oslo"
        ) from None


def local_to_utc(local: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """Convert a naive wall time in ``zone`` to aware UTC; True if ambiguous.

    A wall time in a DST gap does not survive a round trip through UTC
    (02:30 comes back as 03:30), which is how the gap is detected. A wall
    time in an overlap has different UTC offsets for fold=0 and fold=1.
    """
    if local.tzinfo is not None:
        raise ValueError("local_to_utc expects a naive datetime")
    first = local.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(_UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        raise ScheduleError(
            f"{_wall(local)} does not exist in {zone} (clocks move forward); choose another time"
        )
    ambiguous = first.utcoffset() != local.replace(tzinfo=zone, fold=1).utcoffset()
    return utc, ambiguous


def _wall(local: datetime) -> str:
    """Wall time for messages: minutes, plus seconds only when non-zero."""
    fmt = "%Y-%m-%d %H:%M" if local.second == local.microsecond == 0 else "%Y-%m-%d %H:%M:%S"
    return local.strftime(fmt)


def resolve_schedule(
    value: str,
    timezone: str | None,
    now: datetime,
    *,
    max_ahead: timedelta = timedelta(days=30),
    grace: timedelta = timedelta(minutes=5),
) -> ScheduleTime:
    """Parse ``value`` and check it lies in ``[now - grace, now + max_ahead]``.

    A value with an offset ("Z", "+01:00") is absolute; ``timezone`` is then
    only the display zone (still validated). A naive value is wall time in
    ``timezone`` (default UTC). Slightly past times within ``grace`` are
    accepted as-is so that a form submitted a little late still works; the
    caller sends them right away.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone_name = "UTC" if timezone is None else timezone
    zone = get_zone(zone_name)
    parsed = _parse(value)
    try:
        if parsed.tzinfo is None:
            utc, ambiguous = local_to_utc(parsed, zone)
        else:
            utc, ambiguous = parsed.astimezone(_UTC), False
    except OverflowError:
        # Only at the edges of datetime's range (year 1 or 9999): clamp, so the
        # range check below reports "in the past" or "too far ahead".
        past = parsed.replace(tzinfo=None) < now.astimezone(_UTC).replace(tzinfo=None)
        utc, ambiguous = (datetime.min if past else datetime.max).replace(tzinfo=_UTC), False
    _check_range(utc, now, max_ahead, grace)
    return ScheduleTime(utc=utc, ambiguous=ambiguous, zone=zone_name)


def _parse(value: object) -> datetime:
    """Parse an ISO 8601 date-time string (date-only is rejected)."""
    if not isinstance(value, str):
        raise ScheduleError(_FORMAT_HINT)
    text = value.strip()
    if _DATE_ONLY.fullmatch(text):
        raise ScheduleError(
            f"scheduled_at {text!r} has no time of day; give a date and time, e.g. {text}T09:00:00"
        )
    if not _DATE_TIME_PREFIX.match(text):
        raise ScheduleError(_FORMAT_HINT)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(_FORMAT_HINT) from None


def _check_range(utc: datetime, now: datetime, max_ahead: timedelta, grace: timedelta) -> None:
    """Both bounds are inclusive: exactly ``now - grace`` and ``now + max_ahead`` pass."""
    if utc < now - grace:
        raise ScheduleError(f"scheduled_at is in the past ({_iso_utc(utc)})")
    if utc > now + max_ahead:
        raise ScheduleError(f"scheduled_at may be at most {_describe(max_ahead)} ahead")


def _iso_utc(utc: datetime) -> str:
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z")


def _describe(span: timedelta) -> str:
    """'30 days' for whole days, else the timedelta's own rendering."""
    if span.seconds == span.microseconds == 0:
        return f"{span.days} day" + ("" if span.days == 1 else "s")
    return str(span)


def to_local(utc_dt: datetime, zone_name: str) -> datetime:
    """Convert a UTC instant to wall time in ``zone_name`` for display.

    A naive ``utc_dt`` is taken to be UTC, since that is how we store
    instants (some databases return them without tzinfo).
    """
    if utc_dt.tzinfo is None:
        utc_dt = utc_dt.replace(tzinfo=_UTC)
    return utc_dt.astimezone(get_zone(zone_name))
