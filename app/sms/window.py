"""Send windows ("quiet hours"): the local times of day during which a campaign may send.

A window is a start and an end wall time in the campaign's zone. ``09:00-20:00`` is open from
09:00 until just before 20:00; a window whose end is before its start runs over midnight
(``20:00-08:00``). Outside the window messages wait for the next opening.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .errors import ScheduleError

_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)


@dataclass(frozen=True)
class SendWindow:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        local = now.astimezone(zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, now: datetime, zone: ZoneInfo) -> datetime:
        """``now`` if the window is open, else the first instant it is open again (UTC). That is
        the opening time on the next day it occurs; on the day clocks spring forward over it
        (02:30 in a 02:00-03:00 gap), the window opens as the clocks jump (03:00)."""
        if self.is_open(now, zone):
            return now
        local = now.astimezone(zone)
        for days in (0, 1):
            day = local.date() + timedelta(days=days)
            opening = datetime.combine(day, self.start, zone).astimezone(timezone.utc)
            if opening > now:
                return self._first_open(now, opening, zone)
        raise AssertionError("a window opens within a day")  # pragma: no cover - start < 24:00

    def _first_open(self, closed: datetime, opening: datetime, zone: ZoneInfo) -> datetime:
        """The first second in (closed, opening] at which the window is open. Closed until then
        except when a spring-forward gap swallowed the opening time, so halving finds the jump."""
        while opening - closed > timedelta(seconds=1):
            middle = closed + (opening - closed) / 2
            middle = middle.replace(microsecond=0) if middle.microsecond else middle
            if middle <= closed:
                break
            if self.is_open(middle, zone):
                opening = middle
            else:
                closed = middle
        return opening


def parse_window(start: str | None, end: str | None) -> SendWindow | None:
    """``("09:00", "20:00")`` -> a window; both empty -> no window (send any time)."""
    start, end = (start or "").strip(), (end or "").strip()
    if not start and not end:
        return None
    if not start or not end:
        raise ScheduleError("A send window needs both a start and an end time, e.g. 09:00 and 20:00",
                            code="invalid_send_window")
    window = SendWindow(_parse_time(start), _parse_time(end))
    if window.start == window.end:
        raise ScheduleError(f"The send window {window} is empty; start and end must differ",
                            code="invalid_send_window")
    return window


def _parse_time(value: str) -> time:
    match = _HH_MM.fullmatch(value)
    if not match:
        raise ScheduleError(f"Send window times are HH:MM on a 24-hour clock, not {value[:16]!r}",
                            code="invalid_send_window")
    return time(int(match[1]), int(match[2]))
