"""The worker entry point (``flask --app app worker``), run in this process in burst mode."""
from __future__ import annotations

from redis import Redis

from app.extensions import redis_conn
from app.jobs.queue import enqueue_dispatch
from app.jobs.worker import run_worker
from app.models import Status
from tests.jobs.conftest import message, statuses


def test_burst_worker_runs_the_queued_work(ctx, make_messages):
    ids = make_messages(3)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_worker(ctx, burst=True)
    assert statuses(ids) == {Status.DELIVERED: 3}


def test_a_finished_job_leaves_nothing_behind_in_redis(ctx, make_messages):
    """Job results are never read (the database holds every outcome), so a finished job is gone at
    once; kept for RQ's default 500 s they were most of Redis's memory under sustained load."""
    ids = make_messages(3)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_worker(ctx, burst=True)
    assert statuses(ids) == {Status.DELIVERED: 3}
    assert list(redis_conn().scan_iter("rq:job:*")) == []
    assert list(redis_conn().scan_iter("rq:results:*")) == []


def test_worker_leaves_the_app_redis_timeouts_alone(ctx, monkeypatch):
    """RQ raises the socket timeout of the connection it is given to several minutes (for its
    blocking dequeue). The tick and the jobs share the app's connection, which must keep failing
    fast when Redis hangs, so the worker gets a connection of its own."""
    # A fresh app connection: the shared one may have been handed to RQ by ``run_jobs`` already.
    fresh = Redis.from_url(ctx.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
    monkeypatch.setitem(ctx.extensions, "redis", fresh)
    run_worker(ctx, burst=True)
    assert redis_conn().connection_pool.connection_kwargs["socket_timeout"] == 5
