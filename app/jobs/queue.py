"""Enqueueing jobs. Every helper swallows Redis errors: the rows are already safe in the database,
and the periodic sweeper enqueues whatever a lost job left behind."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue

from app.extensions import redis_conn
from app.logs import current_request_id

log = logging.getLogger(__name__)


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_conn())


# Nothing reads a job's return value: the database holds every outcome. Keeping results (RQ keeps
# them 500 s by default) would hold every finished job in Redis, which at a few dozen jobs a second
# is most of what Redis stores. A failed job stays a week for `rq info` and the failed registry.
RESULT_TTL = 0
FAILURE_TTL = 7 * 24 * 3600


def _enqueue(func: str, *args, delay: float = 0, **options) -> bool:
    options.setdefault("meta", {"request_id": current_request_id()})  # the job logs under our id
    options.setdefault("result_ttl", RESULT_TTL)
    options.setdefault("failure_ttl", FAILURE_TTL)
    try:
        queue = get_queue()
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
        return True
    except RedisError as exc:
        log.warning("could not enqueue %s (%s); the sweeper will pick the work up", func, exc)
        return False


def enqueue_dispatch(batch_id: str | None) -> bool:
    return _enqueue("app.jobs.tasks.dispatch", batch_id, job_timeout=3600)


# Set while a dispatch of "whatever is QUEUED" waits in the queue. Sends that find it set enqueue
# nothing: the waiting job will take their rows too. The job clears it when it starts, so a send
# committed after that enqueues a new one. The expiry bounds the damage of a lost job (the sweeper
# covers the rest).
DISPATCH_PENDING_KEY = "smsdesk:dispatch-pending"
DISPATCH_PENDING_SECONDS = 10


def request_dispatch() -> bool:
    """Make sure a dispatch job will look at the QUEUED rows: one RQ job for many sends, instead of
    one job (and seven Redis commands) per send call."""
    try:
        fresh = redis_conn().set(DISPATCH_PENDING_KEY, "1", nx=True, ex=DISPATCH_PENDING_SECONDS)
    except RedisError as exc:
        log.warning("could not reach Redis (%s); the sweeper will pick the work up", exc)
        return False
    return enqueue_dispatch(None) if fresh else True


def dispatch_started() -> None:
    """Called by a dispatch job as it starts: rows committed from now on need a job of their own."""
    try:
        redis_conn().delete(DISPATCH_PENDING_KEY)
    except RedisError:
        pass  # the key expires by itself


def enqueue_campaign(campaign_id: str) -> bool:
    # Writing a big ledger and sending it takes a while; the run renews its lock as it goes.
    return _enqueue("app.jobs.tasks.run_campaign", campaign_id, job_timeout=6 * 3600)


def enqueue_campaign_once(campaign_id: str, hold_seconds: int) -> bool:
    """Enqueue a run for a campaign the tick found without one, at most once per ``hold_seconds``."""
    try:
        fresh = redis_conn().set(f"smsdesk:campaign-resumed:{campaign_id}", "1", nx=True, ex=max(1, hold_seconds))
    except RedisError as exc:
        log.warning("tick cannot reach Redis (%s)", exc)
        return False
    return bool(fresh) and enqueue_campaign(campaign_id)


def enqueue_simulator_reports(delay: float) -> bool:
    return _enqueue("app.jobs.tasks.simulator_reports", delay=delay)


def enqueue_contact_import(import_id: str) -> bool:
    # A big file is one long transaction (all or nothing); give it far longer than RQ's default.
    return _enqueue("app.jobs.tasks.import_contacts", import_id, job_timeout=3600)


def enqueue_dispatch_once(batch_id: str | None, hold_seconds: int) -> bool:
    """Enqueue a dispatch job for a batch the sweeper found waiting, unless one was enqueued for it
    within ``hold_seconds``: a backlog must not grow by one surplus job per batch on every tick."""
    try:
        fresh = redis_conn().set(f"smsdesk:swept:{batch_id}", "1", nx=True, ex=max(1, hold_seconds))
    except RedisError as exc:
        log.warning("sweeper cannot reach Redis (%s)", exc)
        return False
    return bool(fresh) and enqueue_dispatch(batch_id)

