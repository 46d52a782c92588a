"""Send windows: parsing, open or closed at an instant, and when they next open (across DST)."""
from __future__ import annotations

from datetime import datetime, time, timezone

import pytest

from app.sms.errors import ScheduleError
from app.sms.schedule import get_zone
from app.sms.window import SendWindow, parse_window

OSLO = get_zone("Europe/Oslo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("start, end, expected", [
    ("09:00", "20:00", SendWindow(time(9), time(20))),
    (" 20:00 ", "08:30", SendWindow(time(20), time(8, 30))),
    ("", "", None),
    (None, None, None),
    ("00:00", "23:59", SendWindow(time(0), time(23, 59))),
])
def test_parse(start, end, expected):
    assert parse_window(start, end) == expected


@pytest.mark.parametrize("start, end, message", [
    ("09:00", "", "both a start and an end"),
    ("", "20:00", "both a start and an end"),
    ("9", "20:00", "HH:MM"),
    ("24:00", "20:00", "HH:MM"),
    ("09:60", "20:00", "HH:MM"),
    ("09:00:00", "20:00", "HH:MM"),
    ("١٢:٠٠", "20:00", "HH:MM"),  # non-ASCII digits
    ("09:00", "09:00", "empty"),
])
def test_parse_refuses(start, end, message):
    with pytest.raises(ScheduleError) as caught:
        parse_window(start, end)
    assert message in caught.value.message
    assert caught.value.code == "invalid_send_window"


DAY = SendWindow(time(9), time(20))
NIGHT = SendWindow(time(20), time(8))


@pytest.mark.parametrize("window, now, is_open, opens", [
    # Winter: Oslo is UTC+1.
    (DAY, utc(2027, 1, 12, 7, 59), False, utc(2027, 1, 12, 8, 0)),
    (DAY, utc(2027, 1, 12, 8, 0), True, utc(2027, 1, 12, 8, 0)),
    (DAY, utc(2027, 1, 12, 18, 59), True, utc(2027, 1, 12, 18, 59)),
    (DAY, utc(2027, 1, 12, 19, 0), False, utc(2027, 1, 13, 8, 0)),
    # Summer: UTC+2.
    (DAY, utc(2027, 7, 1, 6, 30), False, utc(2027, 7, 1, 7, 0)),
    # The night clocks spring forward (2027-03-28): closes 19:00 UTC on the 27th, opens 07:00 UTC.
    (DAY, utc(2027, 3, 27, 20, 0), False, utc(2027, 3, 28, 7, 0)),
    # Over midnight.
    (NIGHT, utc(2027, 1, 12, 22, 0), True, utc(2027, 1, 12, 22, 0)),
    (NIGHT, utc(2027, 1, 12, 6, 59), True, utc(2027, 1, 12, 6, 59)),
    (NIGHT, utc(2027, 1, 12, 7, 0), False, utc(2027, 1, 12, 19, 0)),
    # An opening time inside the spring-forward gap: 02:30 does not exist; opens as clocks jump
    # from 02:00 to 03:00 (01:00 UTC), the first instant is_open agrees.
    (SendWindow(time(2, 30), time(5)), utc(2027, 3, 27, 23, 0), False, utc(2027, 3, 28, 1, 0)),
    (SendWindow(time(2, 30), time(5)), utc(2027, 3, 28, 0, 59, 59), False, utc(2027, 3, 28, 1, 0)),
    (SendWindow(time(2, 30), time(5)), utc(2027, 3, 28, 1, 0), True, utc(2027, 3, 28, 1, 0)),
    # Opening at a second-precise now that is not on a whole second.
    (DAY, datetime(2027, 1, 12, 7, 59, 30, 500000, tzinfo=timezone.utc), False, utc(2027, 1, 12, 8, 0)),
])
def test_open_and_next_open(window, now, is_open, opens):
    assert window.is_open(now, OSLO) is is_open
    assert window.next_open(now, OSLO) == opens
