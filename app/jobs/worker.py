"""The worker process: an RQ worker (with RQ's scheduler for delayed jobs), the tick thread and the
webhook pump thread."""
from __future__ import annotations

from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker

from app.jobs.ticker import Ticker
from app.jobs.webhook_pump import WebhookPump


def run_worker(app: Flask, burst: bool = False) -> None:
    # SimpleWorker runs jobs in this process instead of forking one child per job: jobs are
    # batches of hundreds of messages, and a kill -9 of the worker then stops all of its work,
    # which the reconciler is built to recover from.
    ticker, pump = Ticker(app), WebhookPump(app)
    if not burst:
        ticker.start()
        pump.start()
    try:
        connection = _worker_connection(app)
        queue = Queue(app.config["RQ_QUEUE"], connection=connection)
        SimpleWorker([queue], connection=connection).work(burst=burst, with_scheduler=True)
    finally:
        ticker.stop()
        pump.stop()


def _worker_connection(app: Flask) -> Redis:
    # A connection of its own: RQ raises the socket timeout of the connection it is given to
    # cover its long blocking dequeue (minutes), and that must not leak into the app's shared
    # connection, which the tick and the jobs use and which must fail fast when Redis is down.
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2)
