"""Enqueueing jobs. Every helper swallows Redis errors: the rows are already safe in the database,
and the periodic sweeper enqueues whatever a lost job left behind."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue

from app.extensions import redis_conn

log = logging.getLogger(__name__)


def get_queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_conn())


def _enqueue(func: str, *args, delay: float = 0, **options) -> bool:
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


def enqueue_simulator_reports(delay: float) -> bool:
    return _enqueue("app.jobs.tasks.simulator_reports", delay=delay)
