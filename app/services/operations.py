"""How the running system is doing, for operators: read from the database and Redis at the moment
it is asked, so every web process on every machine gives the same answer. Shared by ``/metrics``
(``app.services.metrics``) and the dashboard's ``/status`` page.

Three kinds of figures:

* Database figures (messages waiting in each non-final status, the oldest QUEUED message, rows stuck
  in SENDING, the webhook backlog, webhook attempts of the last five minutes). Each query reads an
  index of its own, and a scrape must not cost the database more than the traffic does, so the
  figures are computed by whichever process is asked first and shared through Redis for
  ``METRICS_CACHE_SECONDS``; they carry the time they were taken.
* Redis figures (the RQ queue, its registries and workers, the tick's heartbeat): cheap, read live.
* Reachability of both, with the round-trip time. A store that does not answer is reported as
  unreachable; nothing here raises because Redis or the database is down.

Only counts and ages leave this module for ``/metrics``: no account, number or text. The failing
endpoints of the status page are receivers' URLs without credentials or query string.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import exists, func, literal_column, select, text
from sqlalchemy.orm import aliased
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, redis_conn
from app.models import Message, Status, WebhookAttempt, WebhookDelivery, utcnow
from app.models.webhook import DeliveryState

# Statuses a message passes through; the final ones only grow and are not counted at every look.
WAITING = (Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.SENT)
ATTEMPT_WINDOW = timedelta(minutes=5)
FIGURES_KEY = "smsdesk:operations:figures"
TICK_KEY = "smsdesk:operations:tick"
_MESSAGES = Message.__table__
_DELIVERIES = WebhookDelivery.__table__
_ATTEMPTS = WebhookAttempt.__table__


@dataclass(frozen=True)
class Check:
    """Whether a store answered a trivial request, and how fast."""

    ok: bool
    latency_ms: float | None = None
    error: str | None = None


def check_database() -> Check:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        return Check(False, error=type(exc).__name__)
    return Check(True, round((time.perf_counter() - started) * 1000, 2))


def check_redis() -> Check:
    started = time.perf_counter()
    try:
        redis_conn().ping()
    except RedisError as exc:
        return Check(False, error=type(exc).__name__)
    return Check(True, round((time.perf_counter() - started) * 1000, 2))


# ---------------------------------------------------------------------------------------------
# Database figures


@dataclass(frozen=True)
class DatabaseFigures:
    taken_at: datetime
    messages: dict[str, int]
    oldest_queued_at: datetime | None
    stuck_sending: int
    oldest_stuck_at: datetime | None
    webhooks_pending: int
    webhooks_due: int
    oldest_due_at: datetime | None
    # Outcome ("success", "http_4xx", "timeout" ...) -> attempts in the last ATTEMPT_WINDOW.
    webhook_attempts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=lambda value: value.isoformat())

    @classmethod
    def from_json(cls, raw: str | bytes) -> DatabaseFigures:
        data = json.loads(raw)
        for name in (f.name for f in fields(cls) if f.name.endswith("_at")):
            data[name] = datetime.fromisoformat(data[name]) if data[name] else None
        return cls(**data)


def database_figures(max_age: float | None = None) -> DatabaseFigures:
    """The database figures, at most ``max_age`` seconds old (``METRICS_CACHE_SECONDS`` unless
    given; 0 counts afresh). Without Redis they are counted afresh; a database error is raised
    (``SQLAlchemyError``), after a rollback."""
    max_age = current_app.config["METRICS_CACHE_SECONDS"] if max_age is None else max_age
    cached = _cached_figures() if max_age > 0 else None
    if cached is not None and (utcnow() - cached.taken_at).total_seconds() <= max_age:
        return cached
    try:
        figures = count_database_figures()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    if max_age > 0:
        try:
            redis_conn().set(FIGURES_KEY, figures.to_json(), px=int(max_age * 1000))
        except RedisError:
            pass
    return figures


def _cached_figures() -> DatabaseFigures | None:
    try:
        raw = redis_conn().get(FIGURES_KEY)
    except RedisError:
        return None
    try:
        return DatabaseFigures.from_json(raw) if raw else None
    except (ValueError, TypeError, KeyError):
        return None  # written by another version: count afresh


def count_database_figures(now: datetime | None = None) -> DatabaseFigures:
    now = now or utcnow()
    stuck_before = now - timedelta(seconds=current_app.config["SENDING_TIMEOUT_SECONDS"])
    stuck, oldest_stuck = _stuck_sending(stuck_before)
    pending, due, oldest_due = _webhook_backlog(now)
    return DatabaseFigures(
        taken_at=now,
        messages=_waiting_messages(),
        oldest_queued_at=_aware(db.session.scalar(
            select(func.min(_MESSAGES.c.queued_at)).where(_MESSAGES.c.status == Status.QUEUED))),
        stuck_sending=stuck, oldest_stuck_at=oldest_stuck,
        webhooks_pending=pending, webhooks_due=due, oldest_due_at=oldest_due,
        webhook_attempts=_recent_attempts(now - ATTEMPT_WINDOW),
    )


def _waiting_messages() -> dict[str, int]:
    # The (status, scheduled_at) index answers this without reading a row; final statuses, which
    # hold nearly every row, are left out.
    rows = db.session.execute(
        select(_MESSAGES.c.status, func.count()).where(_MESSAGES.c.status.in_(WAITING))
        .group_by(_MESSAGES.c.status)).all()
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in WAITING}


def _stuck_sending(before: datetime) -> tuple[int, datetime | None]:
    row = db.session.execute(
        select(func.count(), func.min(_MESSAGES.c.sending_at))
        .where(_MESSAGES.c.status == Status.SENDING, _MESSAGES.c.sending_at < before)).one()
    return int(row[0]), _aware(row[1])


def _webhook_backlog(now: datetime) -> tuple[int, int, datetime | None]:
    """Pending events; of those, the ones the pump may take now (due, and not waiting behind an
    earlier event of their message, as ``WebhookDelivery.due`` says), and since when the oldest of
    those has been due: how far the pump lags. state = 'PENDING' is the partial index's own
    condition, so only pending rows are read."""
    d, earlier = WebhookDelivery, aliased(WebhookDelivery)
    pending = db.session.scalar(select(func.count()).where(d.state == DeliveryState.PENDING))
    behind = exists().where(earlier.message_id == d.message_id, earlier.seq < d.seq,
                            earlier.state == DeliveryState.PENDING)
    due, oldest = db.session.execute(
        select(func.count(), func.min(d.next_attempt_at))
        .where(d.state == DeliveryState.PENDING, d.next_attempt_at <= now, ~behind)).one()
    return int(pending or 0), int(due), _aware(oldest)


def _recent_attempts(since: datetime) -> dict[str, int]:
    # A literal, not a parameter: PostgreSQL groups by an expression only if it is the selected one.
    status_class = _ATTEMPTS.c.status_code // literal_column("100")
    rows = db.session.execute(
        select(_ATTEMPTS.c.error, status_class, func.count())
        .where(_ATTEMPTS.c.attempted_at >= since)
        .group_by(_ATTEMPTS.c.error, status_class)).all()
    outcomes: dict[str, int] = {}
    for error, status_class, count in rows:
        outcome = attempt_outcome(error, None if status_class is None else int(status_class))
        outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
    return outcomes


def attempt_outcome(error: str | None, status_class: int | None) -> str:
    """``success`` for a 2xx, ``http_4xx`` and the like for other answers, else the error's kind
    (``timeout``, ``connection``, ``tls``, ``refused`` ...)."""
    if error:
        return error
    if status_class is None:
        return "unknown"
    return "success" if status_class == 2 else f"http_{status_class}xx"


def _aware(value) -> datetime | None:
    """A time from an aggregate (min over a column loses its type on some databases) or from RQ,
    as aware UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# Failing webhook endpoints (the status page only)


@dataclass(frozen=True)
class EndpointBacklog:
    endpoint: str
    pending: int
    oldest_created_at: datetime | None
    most_attempts: int
    last_status_code: int | None
    last_error: str | None


def failing_endpoints(limit: int = 20) -> list[EndpointBacklog]:
    """Receivers, across all accounts, with deliveries waiting after a failed attempt: most waiting
    first. Read from the pending rows only, so it costs what the backlog is."""
    d = _DELIVERIES.c
    rows = db.session.execute(
        select(d.endpoint, func.count(), func.min(d.created_at), func.max(d.attempts),
               func.max(d.last_status_code), func.max(d.last_error))
        .where(d.state == DeliveryState.PENDING, d.attempts > 0, d.last_error.is_not(None))
        .group_by(d.endpoint).order_by(func.count().desc(), d.endpoint).limit(limit)).all()
    merged: dict[str, EndpointBacklog] = {}
    for endpoint, pending, oldest, attempts, code, error in rows:
        shown = public_endpoint(endpoint)
        if (known := merged.get(shown)) is not None:  # the same receiver with other credentials
            pending, attempts = pending + known.pending, max(attempts, known.most_attempts)
            oldest = min(o for o in (_aware(oldest), known.oldest_created_at) if o is not None)
        merged[shown] = EndpointBacklog(shown, int(pending), _aware(oldest), int(attempts), code, error)
    return sorted(merged.values(), key=lambda e: (-e.pending, e.endpoint))


def public_endpoint(endpoint: str) -> str:
    """A receiver's URL as an operator may see it: no user name or password, no query string."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


# ---------------------------------------------------------------------------------------------
# Redis figures: the job queue, its workers and the tick


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    hostname: str | None
    pid: int | None
    state: str
    current_job: str | None
    last_heartbeat: datetime | None
    started_at: datetime | None


@dataclass(frozen=True)
class QueueFigures:
    name: str
    depth: int
    oldest_enqueued_at: datetime | None
    scheduled: int
    started: int
    failed: int
    workers: list[WorkerInfo]


def queue_figures() -> QueueFigures:
    """The RQ queue as its workers see it. Raises ``RedisError`` when Redis does not answer.
    Registries are counted without their cleanup: looking must not change anything."""
    queue = Queue(current_app.config["RQ_QUEUE"], connection=redis_conn())
    return QueueFigures(
        name=queue.name,
        depth=queue.count,
        oldest_enqueued_at=_oldest_enqueued(queue),
        scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False),
        started=queue.started_job_registry.get_job_count(cleanup=False),
        failed=queue.failed_job_registry.get_job_count(cleanup=False),
        workers=[_worker_info(w) for w in sorted(Worker.all(queue=queue), key=lambda w: w.name)],
    )


def _oldest_enqueued(queue: Queue) -> datetime | None:
    for job_id in queue.get_job_ids(0, 1):
        try:
            job = Job.fetch(job_id, connection=queue.connection)
        except NoSuchJobError:  # deleted since: the queue skips it too
            return None
        return _aware(job.enqueued_at)
    return None


def _worker_info(worker: Worker) -> WorkerInfo:
    return WorkerInfo(
        name=worker.name, hostname=worker.hostname, pid=worker.pid, state=worker.get_state(),
        current_job=worker.get_current_job_id(), last_heartbeat=_aware(worker.last_heartbeat),
        started_at=_aware(worker.birth_date),
    )


@dataclass(frozen=True)
class TickBeat:
    at: datetime
    host: str
    pid: int


def record_tick(now: datetime | None = None) -> None:
    """Called as each tick starts: when, and which worker leads. Never fails the tick."""
    beat = {"at": (now or utcnow()).isoformat(), "host": socket.gethostname(), "pid": os.getpid()}
    try:
        redis_conn().set(TICK_KEY, json.dumps(beat))
    except RedisError:
        pass


def last_tick() -> TickBeat | None:
    """The last tick's heartbeat, or None when no tick has run since Redis started.
    Raises ``RedisError`` when Redis does not answer."""
    raw = redis_conn().get(TICK_KEY)
    if not raw:
        return None
    data = json.loads(raw)
    return TickBeat(datetime.fromisoformat(data["at"]), data.get("host", "?"), int(data.get("pid", 0)))
