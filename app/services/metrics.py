"""Prometheus metrics for ``/metrics``: what the whole installation is doing, whichever web process
answers the scrape.

smsdesk runs as several gunicorn processes and several workers on several machines, so nothing is
kept in a process's memory (that is what prometheus_client's default registry does, and its
multiprocess mode needs one shared directory, which machines do not have). Instead:

* Gauges are read at scrape time from where the truth is (``app.services.operations``): messages
  waiting per status, the oldest QUEUED message, rows stuck in SENDING, the webhook backlog and the
  last five minutes of webhook attempts from the database (shared for ``METRICS_CACHE_SECONDS``);
  the RQ queue, its workers and the tick's heartbeat from Redis.
* Counters and the provider latency histogram are kept in Redis, in one hash, by the processes
  where the events happen (one pipelined ``HINCRBY`` per send call, provider call or failed job),
  so any web process reports the installation's totals. They start again from zero when Redis
  does (Prometheus' ``rate()`` and ``increase()`` take counter resets in their stride). Writing
  one never fails the work it counts: without Redis it is skipped.

Labels are bounded sets (statuses, provider codes, job names, outcomes); there is no account label
and nothing about a message's number or text.
"""
from __future__ import annotations

import contextlib
import json
import time

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import redis_conn
from app.models import utcnow
from app.services import operations

COUNTERS_KEY = "smsdesk:metrics:counters"
# Seconds; a provider call is a batch of up to DISPATCH_BATCH_SIZE messages over HTTP.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


# ---------------------------------------------------------------------------------------------
# Recording: called where the events happen


def count_accepted(messages: int) -> None:
    """A send call (API or dashboard) accepted ``messages`` outbound messages."""
    _bump({_field("messages_accepted"): messages})


@contextlib.contextmanager
def observe_provider_call(provider_code: str, messages: int):
    """Time a provider's ``send(batch)``: ``with observe_provider_call(code, len(batch)):``.
    An exception is counted as outcome ``error`` and passes on unchanged."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        record_provider_call(provider_code, time.perf_counter() - started, messages, outcome)


def record_provider_call(provider_code: str, seconds: float, messages: int, outcome: str) -> None:
    labels = {"provider": provider_code, "outcome": outcome}
    fields = {_field("provider_messages", labels): messages,
              _field("provider_call_seconds_sum", labels): seconds}
    for bound in (*LATENCY_BUCKETS, float("inf")):
        if seconds <= bound:
            fields[_field("provider_call_seconds_bucket", {**labels, "le": floatToGoString(bound)})] = 1
    _bump(fields)


def count_job_failure(job: str) -> None:
    _bump({_field("job_failures", {"job": job}): 1})


def _field(name: str, labels: dict | None = None) -> str:
    return json.dumps([name, sorted((labels or {}).items())], separators=(",", ":"))


def _bump(fields: dict[str, float]) -> None:
    try:
        pipe = redis_conn().pipeline(transaction=True)  # a scrape sees all of a call or none
        for name, amount in fields.items():
            if isinstance(amount, int):
                pipe.hincrby(COUNTERS_KEY, name, amount)
            else:
                pipe.hincrbyfloat(COUNTERS_KEY, name, amount)
        pipe.execute()
    except RedisError:
        pass  # the work counted matters more than the count


def read_counters() -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value}. Raises ``RedisError``."""
    counters: dict[str, dict[tuple, float]] = {}
    for raw, value in redis_conn().hgetall(COUNTERS_KEY).items():
        try:
            name, labels = json.loads(raw)
        except ValueError:
            continue
        counters.setdefault(name, {})[tuple(tuple(pair) for pair in labels)] = float(value)
    return counters


# ---------------------------------------------------------------------------------------------
# Exposition


class SmsdeskCollector(Collector):
    """Builds every family at scrape time (see the module's docstring)."""

    def collect(self):
        database, redis = operations.check_database(), operations.check_redis()
        up = GaugeMetricFamily("smsdesk_up", "1 when the store answered this scrape, else 0", labels=["component"])
        latency = GaugeMetricFamily("smsdesk_check_latency_seconds", "Round trip of a trivial request to the store",
                                    labels=["component"])
        for name, check in (("database", database), ("redis", redis)):
            up.add_metric([name], 1 if check.ok else 0)
            if check.latency_ms is not None:
                latency.add_metric([name], round(check.latency_ms / 1000, 6))
        yield up
        yield latency
        now = utcnow()
        if database.ok:
            yield from _database_families(now)
        if redis.ok:
            yield from _redis_families(now)


def _age(since, now) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _database_families(now):
    try:
        figures = operations.database_figures()
    except SQLAlchemyError:
        return
    messages = GaugeMetricFamily("smsdesk_messages", "Messages in each non-final status", labels=["status"])
    for status, count in figures.messages.items():
        messages.add_metric([status], count)
    yield messages
    yield _gauge("smsdesk_oldest_queued_age_seconds", "Age of the oldest QUEUED message (0: none)",
                 _age(figures.oldest_queued_at, now))
    yield _gauge("smsdesk_stuck_sending_messages", "Messages SENDING for longer than SENDING_TIMEOUT_SECONDS",
                 figures.stuck_sending)
    yield _gauge("smsdesk_oldest_stuck_sending_age_seconds", "Age of the oldest stuck SENDING claim (0: none)",
                 _age(figures.oldest_stuck_at, now))
    yield _gauge("smsdesk_webhook_deliveries_pending", "Webhook events not yet delivered nor given up",
                 figures.webhooks_pending)
    yield _gauge("smsdesk_webhook_deliveries_due", "Pending webhook events whose next attempt is due now",
                 figures.webhooks_due)
    yield _gauge("smsdesk_webhook_oldest_due_age_seconds", "How long the longest-waiting due webhook event has waited",
                 _age(figures.oldest_due_at, now))
    attempts = GaugeMetricFamily("smsdesk_webhook_attempts_recent",
                                 "Webhook POSTs in the last five minutes, by outcome", labels=["outcome"])
    for outcome, count in sorted(figures.webhook_attempts.items()):
        attempts.add_metric([outcome], count)
    yield attempts
    yield _gauge("smsdesk_figures_age_seconds", "Age of the shared database figures above", _age(figures.taken_at, now))


def _redis_families(now):
    try:
        queue, tick, counters = operations.queue_figures(), operations.last_tick(), read_counters()
    except RedisError:
        return
    jobs = GaugeMetricFamily("smsdesk_queue_jobs", "RQ jobs by state (queued: the queue's depth)", labels=["state"])
    for state, count in (("queued", queue.depth), ("scheduled", queue.scheduled), ("started", queue.started),
                         ("failed", queue.failed)):
        jobs.add_metric([state], count)
    yield jobs
    yield _gauge("smsdesk_queue_oldest_job_age_seconds", "How long the next job in the queue has waited (0: none)",
                 _age(queue.oldest_enqueued_at, now))
    yield _gauge("smsdesk_workers", "RQ workers registered on the queue", len(queue.workers))
    if tick is not None:
        yield _gauge("smsdesk_tick_age_seconds", "Time since the last tick started", _age(tick.at, now))
    yield from _counter_families(counters)


def _counter_families(counters: dict[str, dict[tuple, float]]):
    accepted = CounterMetricFamily("smsdesk_messages_accepted", "Outbound messages accepted by send calls")
    accepted.add_metric([], counters.get("messages_accepted", {}).get((), 0))
    yield accepted
    provider = CounterMetricFamily("smsdesk_provider_messages", "Messages handed to a provider, by call outcome",
                                   labels=["provider", "outcome"])
    for labels, value in sorted(counters.get("provider_messages", {}).items()):
        provider.add_metric([dict(labels)["provider"], dict(labels)["outcome"]], value)
    yield provider
    yield _latency_histogram(counters)
    failures = CounterMetricFamily("smsdesk_job_failures", "Jobs that raised, by job", labels=["job"])
    for labels, value in sorted(counters.get("job_failures", {}).items()):
        failures.add_metric([dict(labels)["job"]], value)
    yield failures


def _latency_histogram(counters) -> HistogramMetricFamily:
    histogram = HistogramMetricFamily("smsdesk_provider_call_seconds", "Duration of provider send calls",
                                      labels=["provider", "outcome"])
    bounds = [floatToGoString(b) for b in (*LATENCY_BUCKETS, float("inf"))]
    buckets: dict[tuple, dict[str, float]] = {}  # (provider, outcome) -> le -> count
    for key, count in counters.get("provider_call_seconds_bucket", {}).items():
        labels = dict(key)
        buckets.setdefault((labels["provider"], labels["outcome"]), {})[labels["le"]] = count
    for key, total in sorted(counters.get("provider_call_seconds_sum", {}).items()):
        labels = dict(key)
        found = buckets.get((labels["provider"], labels["outcome"]), {})
        histogram.add_metric([labels["provider"], labels["outcome"]], [(le, found.get(le, 0)) for le in bounds],
                             sum_value=total)
    return histogram


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(SmsdeskCollector())


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """Every family in the format the scraper asks for (Prometheus text, or OpenMetrics), with its
    content type. Call inside the app's context."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type
