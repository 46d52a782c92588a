"""Time zones, DST gaps/overlaps and scheduled_at validation.

All "now" values are fixed; nothing reads the wall clock.

2026 transitions used below:
* Europe/Oslo: 2026-03-29 02:00 -> 03:00 (gap), 2026-10-25 03:00 -> 02:00 (overlap)
* America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00
* Australia/Lord_Howe (30-minute DST): 2026-10-04 02:00 -> 02:30,
  2026-04-05 02:00 -> 01:30
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.sms.errors import InvalidTimezone, ScheduleError
from app.sms.schedule import ScheduleTime, get_zone, local_to_utc, resolve_schedule, to_local

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- get_zone ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "UTC"], ids=str
)
def test_get_zone_valid(name: str) -> None:
    assert get_zone(name).key == name


@pytest.mark.parametrize(
    "name,message",
    [
        ("Europe/Olso", "Unknown time zone 'Europe/Olso'; use an IANA name such as Europe/Oslo"),
        ("Europe", "Unknown time zone 'Europe'; use an IANA name such as Europe/Oslo"),
        ("../etc", "Unknown time zone '../etc'; use an IANA name such as Europe/Oslo"),
        ("/etc/passwd", "Unknown time zone '/etc/passwd'; use an IANA name such as Europe/Oslo"),
        ("Europe//Oslo", "Unknown time zone 'Europe//Oslo'; use an IANA name such as Europe/Oslo"),
        ("Europe/Oslo\x00", "Unknown time zone 'Europe/Oslo\\x00'; use an IANA name such as Europe/Oslo"),
        (" Europe/Oslo", "Unknown time zone ' Europe/Oslo'; use an IANA name such as Europe/Oslo"),
        ("x" * 300, "Unknown time zone '" + "x" * 64 + "'; use an IANA name such as Europe/Oslo"),
        ("", "Time zone must be an IANA name such as Europe/Oslo"),
        ("   ", "Time zone must be an IANA name such as Europe/Oslo"),
        (None, "Time zone must be an IANA name such as Europe/Oslo"),
        (1, "Time zone must be an IANA name such as Europe/Oslo"),
    ],
    ids=[
        "typo",
        "directory",
        "parent-path",
        "absolute-path",
        "unnormalised-path",
        "nul-byte",
        "leading-space",
        "too-long",
        "empty",
        "blank",
        "none",
        "int",
    ],
)
def test_get_zone_invalid(name: object, message: str) -> None:
    with pytest.raises(InvalidTimezone) as info:
        get_zone(name)  # type: ignore[arg-type]
    assert info.value.message == message
    assert info.value.code == "invalid_timezone"
    assert isinstance(info.value, ScheduleError)


# --- local_to_utc -------------------------------------------------------------


@pytest.mark.parametrize(
    "zone,local,expected,ambiguous",
    [
        ("UTC", "2026-10-25 02:30", utc(2026, 10, 25, 2, 30), False),
        ("Europe/Oslo", "2026-01-15 12:00", utc(2026, 1, 15, 11, 0), False),
        ("Europe/Oslo", "2026-07-01 12:00", utc(2026, 7, 1, 10, 0), False),
        ("Europe/Oslo", "2026-03-29 01:59:59", utc(2026, 3, 29, 0, 59, 59), False),
        ("Europe/Oslo", "2026-03-29 03:00", utc(2026, 3, 29, 1, 0), False),
        ("Europe/Oslo", "2026-10-25 01:59:59", utc(2026, 10, 24, 23, 59, 59), False),
        ("Europe/Oslo", "2026-10-25 02:00", utc(2026, 10, 25, 0, 0), True),
        ("Europe/Oslo", "2026-10-25 02:30", utc(2026, 10, 25, 0, 30), True),
        ("Europe/Oslo", "2026-10-25 02:59:59", utc(2026, 10, 25, 0, 59, 59), True),
        ("Europe/Oslo", "2026-10-25 03:00", utc(2026, 10, 25, 2, 0), False),
        ("America/New_York", "2026-03-08 01:59", utc(2026, 3, 8, 6, 59), False),
        ("America/New_York", "2026-03-08 03:00", utc(2026, 3, 8, 7, 0), False),
        ("America/New_York", "2026-11-01 01:30", utc(2026, 11, 1, 5, 30), True),
        ("America/New_York", "2026-11-01 02:00", utc(2026, 11, 1, 7, 0), False),
        ("Australia/Lord_Howe", "2026-04-05 01:29", utc(2026, 4, 4, 14, 29), False),
        ("Australia/Lord_Howe", "2026-04-05 01:30", utc(2026, 4, 4, 14, 30), True),
        ("Australia/Lord_Howe", "2026-04-05 01:59", utc(2026, 4, 4, 14, 59), True),
        ("Australia/Lord_Howe", "2026-04-05 02:00", utc(2026, 4, 4, 15, 30), False),
        ("Australia/Lord_Howe", "2026-10-04 01:59", utc(2026, 10, 3, 15, 29), False),
        ("Australia/Lord_Howe", "2026-10-04 02:30", utc(2026, 10, 3, 15, 30), False),
    ],
    ids=[
        "utc-never-ambiguous",
        "oslo-winter",
        "oslo-summer",
        "oslo-just-before-gap",
        "oslo-gap-end",
        "oslo-just-before-overlap",
        "oslo-overlap-start-first",
        "oslo-overlap-mid-first",
        "oslo-overlap-last-second",
        "oslo-overlap-end",
        "ny-just-before-gap",
        "ny-gap-end",
        "ny-overlap-first",
        "ny-overlap-end",
        "lord-howe-before-overlap",
        "lord-howe-overlap-start",
        "lord-howe-overlap-last-minute",
        "lord-howe-overlap-end",
        "lord-howe-before-gap",
        "lord-howe-gap-end",
    ],
)
def test_local_to_utc(zone: str, local: str, expected: datetime, ambiguous: bool) -> None:
    result, was_ambiguous = local_to_utc(datetime.fromisoformat(local), get_zone(zone))
    assert result == expected
    assert result.tzinfo is UTC
    assert was_ambiguous is ambiguous


@pytest.mark.parametrize(
    "zone,local,message",
    [
        ("Europe/Oslo", "2026-03-29 02:00", "2026-03-29 02:00 does not exist in Europe/Oslo (clocks move forward); choose another time"),
        ("Europe/Oslo", "2026-03-29 02:30", "2026-03-29 02:30 does not exist in Europe/Oslo (clocks move forward); choose another time"),
        ("Europe/Oslo", "2026-03-29 02:59:59", "2026-03-29 02:59:59 does not exist in Europe/Oslo (clocks move forward); choose another time"),
        ("America/New_York", "2026-03-08 02:30", "2026-03-08 02:30 does not exist in America/New_York (clocks move forward); choose another time"),
        ("Australia/Lord_Howe", "2026-10-04 02:00", "2026-10-04 02:00 does not exist in Australia/Lord_Howe (clocks move forward); choose another time"),
        ("Australia/Lord_Howe", "2026-10-04 02:29", "2026-10-04 02:29 does not exist in Australia/Lord_Howe (clocks move forward); choose another time"),
    ],
    ids=["oslo-gap-start", "oslo-gap-mid", "oslo-gap-last-second", "ny-gap", "lord-howe-gap-start", "lord-howe-gap-last-minute"],
)
def test_local_to_utc_gap_is_an_error(zone: str, local: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        local_to_utc(datetime.fromisoformat(local), get_zone(zone))
    assert info.value.message == message


def test_local_to_utc_rejects_aware_input() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_to_utc(utc(2026, 1, 1), get_zone("Europe/Oslo"))


# --- resolve_schedule -----------------------------------------------------------

NOW = utc(2026, 3, 20, 12, 0)


@pytest.mark.parametrize(
    "value,zone,now,expected,ambiguous,display_zone",
    [
        ("2026-03-21T09:00:00Z", None, NOW, utc(2026, 3, 21, 9, 0), False, "UTC"),
        ("2026-03-21T09:00:00+01:00", None, NOW, utc(2026, 3, 21, 8, 0), False, "UTC"),
        ("2026-03-21T09:00:00-05:30", None, NOW, utc(2026, 3, 21, 14, 30), False, "UTC"),
        ("2026-03-21T09:00:00.250+01:00", None, NOW, utc(2026, 3, 21, 8, 0, 0, 250000), False, "UTC"),
        ("2026-03-21 09:00", None, NOW, utc(2026, 3, 21, 9, 0), False, "UTC"),
        ("2026-03-21T09:00", "UTC", NOW, utc(2026, 3, 21, 9, 0), False, "UTC"),
        ("  2026-03-21T09:00  ", None, NOW, utc(2026, 3, 21, 9, 0), False, "UTC"),
        ("2026-03-21T09:00", "Europe/Oslo", NOW, utc(2026, 3, 21, 8, 0), False, "Europe/Oslo"),
        ("2026-03-21T09:00Z", "Europe/Oslo", NOW, utc(2026, 3, 21, 9, 0), False, "Europe/Oslo"),
        ("2026-03-29T03:30", "Europe/Oslo", NOW, utc(2026, 3, 29, 1, 30), False, "Europe/Oslo"),
        ("2026-10-25T02:30", "Europe/Oslo", utc(2026, 10, 20), utc(2026, 10, 25, 0, 30), True, "Europe/Oslo"),
        # With an explicit offset the instant is exact, never ambiguous.
        ("2026-10-25T02:30+01:00", "Europe/Oslo", utc(2026, 10, 20), utc(2026, 10, 25, 1, 30), False, "Europe/Oslo"),
        ("2026-11-01T01:30", "America/New_York", utc(2026, 10, 20), utc(2026, 11, 1, 5, 30), True, "America/New_York"),
    ],
    ids=[
        "z-suffix",
        "positive-offset",
        "negative-half-hour-offset",
        "fractional-seconds",
        "space-separator-naive-utc",
        "explicit-utc-zone",
        "surrounding-whitespace",
        "naive-in-oslo",
        "offset-wins-over-zone",
        "oslo-after-gap",
        "oslo-overlap-first-occurrence",
        "overlap-with-offset-is-exact",
        "ny-overlap-first-occurrence",
    ],
)
def test_resolve_schedule(
    value: str, zone: str | None, now: datetime, expected: datetime, ambiguous: bool, display_zone: str
) -> None:
    result = resolve_schedule(value, zone, now)
    assert result == ScheduleTime(utc=expected, ambiguous=ambiguous, zone=display_zone)
    assert result.utc.tzinfo is UTC


@pytest.mark.parametrize(
    "value,now,accepted",
    [
        ("2026-03-20T12:00:00Z", NOW, True),  # exactly now
        ("2026-03-20T11:55:00Z", NOW, True),  # exactly now - grace
        ("2026-03-20T11:54:59.999999Z", NOW, False),  # 1 µs beyond grace
        ("2026-04-19T12:00:00Z", NOW, True),  # exactly now + 30 days
        ("2026-04-19T12:00:00.000001Z", NOW, False),  # 1 µs beyond 30 days
        ("2026-04-19T14:00:00+02:00", NOW, True),  # same instant, other offset
        ("2026-04-19T14:00:01+02:00", NOW, False),
        # "now" given in another zone is the same instant.
        ("2026-03-20T11:55:00Z", NOW.astimezone(get_zone("Europe/Oslo")), True),
    ],
    ids=[
        "now",
        "grace-boundary",
        "grace-plus-1us",
        "max-ahead-boundary",
        "max-ahead-plus-1us",
        "max-ahead-boundary-offset",
        "max-ahead-plus-1s-offset",
        "now-in-other-zone",
    ],
)
def test_resolve_schedule_range_boundaries(value: str, now: datetime, accepted: bool) -> None:
    if accepted:
        assert resolve_schedule(value, None, now).utc == datetime.fromisoformat(value)
    else:
        with pytest.raises(ScheduleError):
            resolve_schedule(value, None, now)


@pytest.mark.parametrize(
    "value,zone,kwargs,message",
    [
        (None, None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        (1774000000, None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("tomorrow", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-13-01T09:00", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21T25:00", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21T09:00+25:00", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21T09", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21x09:00", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("20260321T0900", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21T09:00:00Z trailing", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-21", None, {}, "scheduled_at '2026-03-21' has no time of day; give a date and time, e.g. 2026-03-21T09:00:00"),
        ("20260321", None, {}, "scheduled_at must be an ISO 8601 date-time, e.g. 2026-12-17T09:00:00"),
        ("2026-03-20T11:00:00Z", None, {}, "scheduled_at is in the past (2026-03-20T11:00:00Z)"),
        ("2026-03-20T12:00", "Europe/Oslo", {}, "scheduled_at is in the past (2026-03-20T11:00:00Z)"),
        ("2026-05-01T09:00:00Z", None, {}, "scheduled_at may be at most 30 days ahead"),
        ("2026-03-21T12:00:01Z", None, {"max_ahead": timedelta(days=1)}, "scheduled_at may be at most 1 day ahead"),
        ("2026-03-20T13:30Z", None, {"max_ahead": timedelta(hours=1)}, "scheduled_at may be at most 1:00:00 ahead"),
        ("2026-03-20T11:59Z", None, {"grace": timedelta(0)}, "scheduled_at is in the past (2026-03-20T11:59:00Z)"),
        ("2026-03-29T02:30", "Europe/Oslo", {}, "2026-03-29 02:30 does not exist in Europe/Oslo (clocks move forward); choose another time"),
        ("9999-12-31T23:59:59-01:00", None, {}, "scheduled_at may be at most 30 days ahead"),
        ("0001-01-01T00:00:00+01:00", None, {}, "scheduled_at is in the past (0001-01-01T00:00:00Z)"),
        ("0001-01-01T00:00:00", "Europe/Oslo", {}, "scheduled_at is in the past (0001-01-01T00:00:00Z)"),
    ],
    ids=[
        "none",
        "epoch-int",
        "empty",
        "words",
        "month-13",
        "hour-25",
        "offset-out-of-range",
        "hour-only",
        "odd-separator",
        "basic-format",
        "trailing-text",
        "date-only",
        "date-only-basic",
        "past",
        "past-in-zone",
        "too-far",
        "custom-max-ahead-days",
        "custom-max-ahead-hours",
        "no-grace",
        "in-dst-gap",
        "overflow-far-future",
        "overflow-far-past",
        "overflow-far-past-in-zone",
    ],
)
def test_resolve_schedule_rejects(value: object, zone: str | None, kwargs: dict, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        resolve_schedule(value, zone, NOW, **kwargs)  # type: ignore[arg-type]
    assert info.value.message == message
    assert info.value.code == "invalid_schedule"


@pytest.mark.parametrize(
    "value,zone",
    [("2026-03-21T09:00Z", "Europe/Olso"), ("2026-03-21T09:00", ""), ("2026-03-21T09:00", "../etc")],
    ids=["typo-with-offset-value", "empty", "path"],
)
def test_resolve_schedule_validates_zone_even_with_offset(value: str, zone: str) -> None:
    with pytest.raises(InvalidTimezone):
        resolve_schedule(value, zone, NOW)


def test_resolve_schedule_requires_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_schedule("2026-03-21T09:00Z", None, datetime(2026, 3, 20, 12, 0))


# --- to_local ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "instant,zone,wall,fold",
    [
        (utc(2026, 1, 15, 11, 0), "Europe/Oslo", "2026-01-15 12:00:00+01:00", 0),
        (utc(2026, 7, 1, 10, 0), "Europe/Oslo", "2026-07-01 12:00:00+02:00", 0),
        (utc(2026, 10, 25, 0, 30), "Europe/Oslo", "2026-10-25 02:30:00+02:00", 0),
        (utc(2026, 10, 25, 1, 30), "Europe/Oslo", "2026-10-25 02:30:00+01:00", 1),
        (datetime(2026, 7, 1, 10, 0), "Europe/Oslo", "2026-07-01 12:00:00+02:00", 0),
        (utc(2026, 10, 3, 15, 30), "Australia/Lord_Howe", "2026-10-04 02:30:00+11:00", 0),
    ],
    ids=["winter", "summer", "overlap-first", "overlap-second", "naive-means-utc", "lord-howe-half-hour"],
)
def test_to_local(instant: datetime, zone: str, wall: str, fold: int) -> None:
    local = to_local(instant, zone)
    assert str(local) == wall
    assert local.fold == fold
    # Same instant. (Compare in UTC: PEP 495 makes inter-zone == False for
    # times in a fold, whatever the instant.)
    assert local.astimezone(UTC) == instant.replace(tzinfo=instant.tzinfo or UTC)


def test_to_local_unknown_zone() -> None:
    with pytest.raises(InvalidTimezone):
        to_local(NOW, "Mars/Olympus_Mons")
