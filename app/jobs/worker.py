"""The worker process: an RQ worker (with RQ's scheduler for delayed jobs) plus the tick thread."""
from __future__ import annotations

from flask import Flask
from rq import SimpleWorker

from app.extensions import redis_conn
from app.jobs.queue import get_queue
from app.jobs.ticker import Ticker


def run_worker(app: Flask, burst: bool = False) -> None:
    # SimpleWorker runs jobs in this process instead of forking one child per job: jobs are
    # batches of hundreds of messages, and a kill -9 of the worker then stops all of its work,
    # which the reconciler is built to recover from.
    ticker = Ticker(app)
    if not burst:
        ticker.start()
    try:
        SimpleWorker([get_queue()], connection=redis_conn()).work(burst=burst, with_scheduler=True)
    finally:
        ticker.stop()
