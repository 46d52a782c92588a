"""The periodic tick: runs inside every worker, led by one at a time through a Redis lock.

Each tick moves due SCHEDULED messages to QUEUED and dispatches them, re-enqueues batches whose
job was lost, reconciles rows stuck in SENDING, and delivers due simulator reports. All of it is
derived from the database, so a tick after a Redis restart rebuilds whatever the queue lost.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from redis.exceptions import RedisError

from app.extensions import db, redis_conn
from app.jobs.queue import enqueue_dispatch

log = logging.getLogger(__name__)
LOCK_KEY = "smsdesk:tick-lock"


def run_tick() -> dict:
    from app.services import dispatch as engine
    from app.services.simulator import deliver_due_reports

    due = engine.promote_due()
    forgotten = engine.forgotten_batches()
    for batch_id in dict.fromkeys(due + forgotten):
        enqueue_dispatch(batch_id)
    return {
        "promoted_batches": len(due),
        "re_enqueued_batches": len(forgotten),
        "reconciled": engine.reconcile_stuck(),
        "reports": deliver_due_reports(),
    }


class Ticker(threading.Thread):
    """Calls :func:`run_tick` every ``TICK_SECONDS`` when this process holds the tick lock."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="smsdesk-ticker", daemon=True)
        self.app = app
        self.interval = app.config["TICK_SECONDS"]
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            with self.app.app_context():
                try:
                    if self._lead():
                        run_tick()
                except RedisError as exc:
                    log.warning("tick skipped, Redis unavailable: %s", exc)
                except Exception:
                    log.exception("tick failed")
                finally:
                    db.session.remove()

    def _lead(self) -> bool:
        # One key per time slot: the first worker to claim the slot ticks, the others skip it.
        # Nothing to release, so a worker killed mid-tick does not block the next slot.
        slot = int(time.time() // self.interval)
        return bool(redis_conn().set(f"{LOCK_KEY}:{slot}", "1", nx=True, ex=max(2, int(self.interval * 4))))

    def stop(self) -> None:
        self.stopping.set()
