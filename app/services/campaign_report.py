"""The report of one campaign, read from its ledger (its Message rows, ``batch_id == campaign.id``):
where its messages are, delivered and failed over time, how long delivery took, why messages
failed, and units and cost. Each recipient's row (listed, filtered, exported) is in
``campaign_recipients``.

Definitions (the report page repeats them):

- delivery rate = delivered / (delivered + failed + sent): of the messages handed to the carrier,
  the share delivered so far. SENT ones still wait for their delivery report and count as not
  delivered (yet); messages not sent yet and cancelled ones are left out. None until one is sent.
- on their way: queued, sending, or sent and still awaited. "Sent, no delivery report"
  (``unreported``): SENT messages the campaign no longer waits for, those the carrier accepted
  more than ``REPORT_WAIT_HOURS`` ago (every SENT one of a COMPLETED campaign: it completed only
  once they were; see ``campaign_run.counts_as_settled``). They stay SENT, and a late report still
  moves them on.
- units and cost are those of the messages the carrier accepted (``sent_at`` set), which is what
  is billed, as on the usage page; "planned" adds those not sent yet (cancelled ones excluded).
- time to delivery = ``delivered_at - sent_at`` of delivered messages that have both (a carrier
  may report delivery before its acceptance was recorded; such a message has no send time). The
  median is that of the times as the report shows them: to a tenth of a second under a minute, to
  the second under an hour, to the minute beyond.
- over time: a delivered message counts at its ``delivered_at``, a failed one at its ``failed_at``,
  in buckets of the account's time zone; the bucket (1, 5 or 15 minutes, an hour, a day) is the
  smallest that shows the campaign in at most ``MAX_BUCKETS`` bars.

Cost at scale: a campaign of 100,000 recipients among a million messages is read in one pass
over its rows for the figures (grouped by status, currency, billed, and time to delivery cut to the
shown precision, which yields the histogram and the median too) and, for the charts, a second pass
over its delivered and failed rows for the timeline; both find the rows by ``ix_messages_batch_status``.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, literal_column, select

from app.extensions import db
from app.models import Campaign, CampaignStatus, Message, Status, utcnow
from app.services.campaign_run import report_wait
from app.sms import get_zone

_T = Message.__table__

# Display order: done, on its way, waiting, then the ones that did not make it.
STATUSES = (Status.DELIVERED, Status.SENT, Status.SENDING, Status.QUEUED, Status.SCHEDULED,
            Status.FAILED, Status.CANCELLED)
IN_FLIGHT = (Status.QUEUED, Status.SENDING, Status.SENT)

# Time to delivery: upper bounds in seconds (exclusive) and labels; the last bucket is open.
LATENCY_BUCKETS = ((10, "< 10 s"), (60, "10 s – 1 min"), (300, "1 – 5 min"), (3600, "5 min – 1 h"),
                   (None, "≥ 1 h"))

# Timeline buckets, smallest first. Up to 15 minutes they are aligned on UTC, which is aligned on
# local time too (every zone's offset is a multiple of 15 minutes); hours and days are folded from
# 15-minute groups in the zone, so a 30-minute offset or a DST change still cuts at local hours.
BUCKETS = ((60, "minute"), (300, "5 minutes"), (900, "15 minutes"), (3600, "hour"), (86400, "day"))
FINEST_FOLDABLE = 900
MAX_BUCKETS = 60
FAILURE_REASONS = 50  # rows in the failure table; the rest are few by then
MONEY = Decimal("0.0001")



@dataclass(frozen=True)
class Latency:
    """Time to delivery: counts per ``LATENCY_BUCKETS`` entry, how many were measured, median (s)."""

    counts: tuple[int, ...]
    median: float | None

    @property
    def measured(self) -> int:
        return sum(self.counts)

    @property
    def buckets(self) -> list[tuple[str, int]]:
        return [(label, n) for (_, label), n in zip(LATENCY_BUCKETS, self.counts)]


@dataclass(frozen=True)
class Timeline:
    """Delivered and failed messages per bucket; ``starts`` are the buckets' starts in UTC."""

    seconds: int
    unit: str
    starts: list[datetime]
    labels: list[str]
    delivered: list[int]
    failed: list[int]


@dataclass(frozen=True)
class Report:
    statuses: dict[str, int]  # every status of STATUSES, in that order
    units: int  # billed: messages the carrier accepted
    costs: list[tuple[str, Decimal]]
    planned_units: int  # every message not cancelled
    planned_costs: list[tuple[str, Decimal]]
    latency: Latency
    live: bool  # the figures are still changing: the page refreshes them
    timeline: Timeline | None = None
    unreported: int = 0  # SENT, and no longer waited for: "sent, no delivery report"

    @property
    def recipients(self) -> int:
        return sum(self.statuses.values())

    @property
    def delivered(self) -> int:
        return self.statuses[Status.DELIVERED]

    @property
    def failed(self) -> int:
        return self.statuses[Status.FAILED]

    @property
    def in_flight(self) -> int:
        return sum(self.statuses[s] for s in IN_FLIGHT) - self.unreported

    @property
    def delivery_rate(self) -> float | None:
        handed_over = self.delivered + self.failed + self.statuses[Status.SENT]
        return self.delivered / handed_over if handed_over else None


@dataclass(frozen=True)
class FailureReason:
    error_code: str | None
    error_message: str | None
    count: int


# -- the report --------------------------------------------------------------------------------

def report(campaign: Campaign, zone_name: str, *, timeline: bool = False, now: datetime | None = None) -> Report:
    """The campaign's figures; with ``timeline`` also delivered and failed over time, bucketed in
    ``zone_name`` (the account's zone)."""
    now = now or utcnow()
    tally = _tally(campaign)
    statuses = {s: tally.statuses.get(s, 0) for s in STATUSES}
    unreported = _unreported(campaign, statuses[Status.SENT], now)
    live = campaign.status == CampaignStatus.SENDING or (
        campaign.status == CampaignStatus.PAUSED and sum(statuses[s] for s in IN_FLIGHT) > unreported)
    return Report(
        statuses=statuses, units=tally.units, costs=_money(tally.costs),
        planned_units=tally.planned_units, planned_costs=_money(tally.planned_costs),
        latency=_latency(tally.latency), live=live, unreported=unreported,
        timeline=_timeline(campaign, get_zone(zone_name), now, live) if timeline else None,
    )


def _unreported(campaign: Campaign, sent: int, now: datetime) -> int:
    """How many of the ``sent`` SENT messages the campaign no longer waits for. Counted only when
    there are some, through ix_messages_batch_status (the campaign's SENT rows)."""
    if not sent or campaign.status == CampaignStatus.COMPLETED:
        return sent
    return db.session.scalar(select(func.count()).where(
        *_ledger(campaign), _T.c.status == Status.SENT, _T.c.sent_at < now - report_wait()))


@dataclass
class _Tally:
    statuses: Counter = field(default_factory=Counter)
    units: int = 0
    planned_units: int = 0
    costs: dict = field(default_factory=lambda: defaultdict(Decimal))
    planned_costs: dict = field(default_factory=lambda: defaultdict(Decimal))
    latency: Counter = field(default_factory=Counter)  # time to delivery (see _latency_key) -> messages


def _tally(campaign: Campaign) -> _Tally:
    """One pass over the campaign's rows, grouped by everything the figures count by."""
    tally = _Tally()
    for status, currency, billed, latency, n, units, cost in db.session.execute(_tally_query(campaign)):
        units, cost = int(units or 0), Decimal(cost or 0)
        tally.statuses[status] += n
        if billed:
            tally.units += units
            tally.costs[currency] += cost
        if status != Status.CANCELLED:
            tally.planned_units += units
            tally.planned_costs[currency] += cost
        if latency is not None:
            tally.latency[float(latency)] += n
    return tally


def _tally_query(campaign: Campaign):
    # Grouped in an outer query over named columns: PostgreSQL would not see a GROUP BY expression
    # holding bind parameters as the same expression as the one in the select list.
    rows = select(
        _T.c.status, _T.c.currency, _T.c.sent_at.is_not(None).label("billed"),
        case((_measured(), _latency_key(_dialect()))).label("latency"), _T.c.units, _T.c.cost,
    ).where(*_ledger(campaign)).subquery("ledger")
    keys = (rows.c.status, rows.c.currency, rows.c.billed, rows.c.latency)
    return select(*keys, func.count(), func.sum(rows.c.units), func.sum(rows.c.cost)).group_by(*keys)


def _ledger(campaign: Campaign) -> tuple:
    return _T.c.batch_id == campaign.id, _T.c.account_id == campaign.account_id


def _measured():
    return and_(_T.c.status == Status.DELIVERED, _T.c.sent_at.is_not(None), _T.c.delivered_at.is_not(None))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _latency_key(dialect: str):
    """Time to delivery cut to what the report shows: tenths of a second under a minute, seconds
    under an hour, minutes beyond. Grouping by it gives the histogram and the median in the same
    pass as the other figures, from at most a few thousand groups (an exact median needs a sort
    of every delivered message: a second pass, as long as the first). Cut downwards, so a key is
    always in the same histogram bucket as the times it stands for."""
    sent, delivered = _T.c.sent_at, _T.c.delivered_at
    seconds = _seconds_between(dialect, delivered, sent)
    # SQLite may be built without floor(); CAST truncates, which is floor for times that are not negative.
    down = func.floor if dialect == "postgresql" else (lambda value: cast(value, Integer))
    if dialect == "postgresql":  # comparing times is cheaper than converting each difference to seconds
        under_a_minute = delivered < sent + literal_column("interval '1 minute'")
        under_an_hour = delivered < sent + literal_column("interval '1 hour'")
    else:
        under_a_minute, under_an_hour = seconds < 60, seconds < 3600
    return case((under_a_minute, down(seconds * 10) / 10.0), (under_an_hour, down(seconds)),
                else_=down(seconds / 60.0) * 60)


def _seconds_between(dialect: str, later, earlier):
    if dialect == "postgresql":
        # date_part is double precision (extract() is numeric: slower); the field is written into
        # the statement, not bound, so PostgreSQL sees a constant.
        return func.date_part(literal_column("'epoch'"), later - earlier)
    # julianday is a double in days: rounded to the millisecond so 10.000 s is not 9.99999 s.
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


def _latency(keys: Counter) -> Latency:
    counts = [0] * len(LATENCY_BUCKETS)
    for key, n in keys.items():
        counts[next(i for i, (limit, _) in enumerate(LATENCY_BUCKETS) if limit is None or key < limit)] += n
    return Latency(tuple(counts), _median(keys))


def _median(keys: Counter) -> float | None:
    """The middle time (the mean of the middle two for an even count)."""
    total = sum(keys.values())
    if not total:
        return None
    middle, values, seen = ((total - 1) // 2, total // 2), [], 0
    for key in sorted(keys):
        values += [key for rank in middle if seen <= rank < seen + keys[key]]
        seen += keys[key]
    return sum(values) / 2


def _money(amounts: dict) -> list[tuple[str, Decimal]]:
    return [(currency, amounts[currency].quantize(MONEY)) for currency in sorted(amounts)]


# -- over time -----------------------------------------------------------------------------------

def _granularity(campaign: Campaign, now: datetime) -> int:
    """How finely the database groups event times: the bucket the campaign's expected span needs,
    or 15 minutes (folded into hours or days afterwards)."""
    start = campaign.started_at
    end = campaign.completed_at or campaign.cancelled_at or now
    span = (end - start).total_seconds() if start else 0
    return min(bucket_width(span, 60), FINEST_FOLDABLE)


def bucket_width(span_seconds: float, finest: int) -> int:
    """The smallest bucket, at least ``finest``, that cuts ``span_seconds`` into MAX_BUCKETS or fewer."""
    for seconds, _ in BUCKETS:
        if seconds >= finest and math.floor(span_seconds / seconds) + 1 <= MAX_BUCKETS:
            return seconds
    return BUCKETS[-1][0]


def _timeline(campaign: Campaign, zone, now: datetime, live: bool) -> Timeline:
    granularity = _granularity(campaign, now)
    delivered_at, failed_at = _outcomes(campaign, granularity)
    granules = set(delivered_at) | set(failed_at)
    events = [datetime.fromtimestamp(g * granularity, timezone.utc) for g in (min(granules), max(granules))] \
        if granules else []
    first = min([t for t in (campaign.started_at, *events[:1]) if t is not None], default=None)
    last = max([*events[1:], *([now] if live else [])], default=first)
    if first is None:
        return Timeline(BUCKETS[0][0], BUCKETS[0][1], [], [], [], [])
    width = bucket_width((last - first).total_seconds(), granularity)
    starts = bucket_starts(first, last, width, zone)
    index = {start: i for i, start in enumerate(starts)}
    delivered, failed = [0] * len(starts), [0] * len(starts)
    for counts, series in ((delivered_at, delivered), (failed_at, failed)):
        for g, n in counts.items():
            series[index[bucket_start(datetime.fromtimestamp(g * granularity, timezone.utc), width, zone)]] += n
    return Timeline(width, dict(BUCKETS)[width], starts, _labels(starts, width, zone), delivered, failed)


def _outcomes(campaign: Campaign, granularity: int) -> tuple[Counter, Counter]:
    """Delivered and failed messages per ``granularity``-second slice of time since the epoch."""
    dialect = _dialect()
    granule = case((_T.c.status == Status.DELIVERED, _granule(dialect, _T.c.delivered_at, granularity)),
                   else_=_granule(dialect, _T.c.failed_at, granularity))
    rows = (select(_T.c.status, granule.label("granule"))
            .where(*_ledger(campaign), _T.c.status.in_((Status.DELIVERED, Status.FAILED))).subquery("outcomes"))
    delivered, failed = Counter(), Counter()
    for status, g, n in db.session.execute(
            select(rows.c.status, rows.c.granule, func.count()).group_by(rows.c.status, rows.c.granule)):
        if g is not None:
            (delivered if status == Status.DELIVERED else failed)[int(g)] += n
    return delivered, failed


def _granule(dialect: str, column, seconds: int):
    """Which ``seconds``-wide slice of time since the epoch (UTC) ``column`` falls in."""
    if dialect == "postgresql":
        return cast(func.floor(func.date_part(literal_column("'epoch'"), column) / seconds), BigInteger)
    return cast(func.strftime("%s", column), Integer) // seconds


def bucket_start(instant: datetime, width: int, zone) -> datetime:
    """The start (UTC) of the ``width``-second bucket holding ``instant``, cut in ``zone``."""
    if width <= FINEST_FOLDABLE:
        epoch = int(instant.timestamp())
        return datetime.fromtimestamp(epoch - epoch % width, timezone.utc)
    local = instant.astimezone(zone)
    if width == 3600:
        return local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    return datetime.combine(local.date(), time(), zone).astimezone(timezone.utc)


def bucket_starts(first: datetime, last: datetime, width: int, zone) -> list[datetime]:
    """Every bucket from the one holding ``first`` to the one holding ``last``, empty ones included."""
    if width >= 86400:
        day, end = first.astimezone(zone).date(), last.astimezone(zone).date()
        days = (end - day).days + 1
        return [bucket_start(datetime.combine(day + timedelta(d), time(12), zone), width, zone) for d in range(days)]
    step = timedelta(seconds=min(width, FINEST_FOLDABLE))
    starts, at = [], bucket_start(first, min(width, FINEST_FOLDABLE), zone)
    while at <= last:
        start = bucket_start(at, width, zone)
        if not starts or starts[-1] != start:
            starts.append(start)
        at += step
    return starts


def _labels(starts: list[datetime], width: int, zone) -> list[str]:
    local = [s.astimezone(zone) for s in starts]
    if width >= 86400:
        return [t.strftime("%Y-%m-%d") for t in local]
    one_day = len({t.date() for t in local}) <= 1
    return [t.strftime("%H:%M" if one_day else "%Y-%m-%d %H:%M") for t in local]


# -- why messages failed -----------------------------------------------------------------------

def failure_reasons(campaign: Campaign, limit: int = FAILURE_REASONS) -> list[FailureReason]:
    """The failed messages' error code and message with how many had each, most frequent first."""
    n = func.count().label("n")
    rows = db.session.execute(
        select(_T.c.error_code, _T.c.error_message, n)
        .where(*_ledger(campaign), _T.c.status == Status.FAILED)
        .group_by(_T.c.error_code, _T.c.error_message)
        .order_by(n.desc(), _T.c.error_code, _T.c.error_message).limit(limit))
    return [FailureReason(code, message, count) for code, message, count in rows]
