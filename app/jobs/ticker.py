"""The periodic tick: runs inside every worker, led by one at a time through a Redis lock.

Each tick moves due SCHEDULED messages to QUEUED and dispatches them, starts due campaigns and
completes finished ones, re-enqueues batches whose job was lost, reconciles rows stuck in SENDING, and delivers due simulator reports. All of it is
derived from the database, so a tick after a Redis restart rebuilds whatever the queue lost.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app
from redis.exceptions import RedisError

from app.extensions import db, redis_conn
from app.jobs.queue import enqueue_dispatch, enqueue_dispatch_once
from app.logs import own_request_id
from app.services.operations import record_tick

log = logging.getLogger(__name__)
LOCK_KEY = "smsdesk:tick-lock"


@own_request_id("tick-")  # the tick's log lines and the jobs it enqueues share one id
def run_tick() -> dict:
    """One tick. Every step runs even if an earlier one failed (a reconciler stuck on a broken
    provider must not stop delivery reports); the first failure is raised at the end."""
    record_tick()  # the heartbeat /status and /metrics read
    result: dict = {}
    errors: list[Exception] = []
    for step in (_promote_and_sweep, _campaigns, _reconcile, _reports, _poll_upstream, _imports, _housekeeping):
        try:
            result.update(step())
        except Exception as exc:  # noqa: BLE001 - logged, and re-raised below
            db.session.rollback()
            log.exception("tick step %s failed", step.__name__)
            errors.append(exc)
    if errors:
        raise errors[0]
    return result


def _promote_and_sweep() -> dict:
    from app.services import dispatch as engine

    due = engine.promote_due()
    forgotten = [b for b in engine.forgotten_batches() if b not in due]
    for batch_id in due:
        enqueue_dispatch(batch_id)
    hold = current_app.config["SWEEP_AFTER_SECONDS"]
    for batch_id in forgotten:
        enqueue_dispatch_once(batch_id, hold)
    return {"promoted_batches": len(due), "re_enqueued_batches": len(forgotten)}


def _campaigns() -> dict:
    """Start due campaigns, give a run to those that lost theirs (or whose send window opened),
    and complete those with nothing left in flight."""
    from app.jobs.queue import enqueue_campaign, enqueue_campaign_once
    from app.services import campaign_run

    started = campaign_run.start_due()
    for campaign_id in started:
        enqueue_campaign(campaign_id)
    resumed = [c for c in campaign_run.runs_to_resume() if c not in started]
    for campaign_id in resumed:
        enqueue_campaign_once(campaign_id, current_app.config["SWEEP_AFTER_SECONDS"])
    return {"campaigns_started": len(started), "campaigns_resumed": len(resumed),
            "campaigns_completed": campaign_run.complete_finished()}


def _reconcile() -> dict:
    from app.services.dispatch import reconcile_stuck

    return {"reconciled": reconcile_stuck()}


def _reports() -> dict:
    from app.services.simulator import deliver_due_reports

    return {"reports": deliver_due_reports()}


def _poll_upstream() -> dict:
    """Ask upstream providers about messages whose delivery report did not come (bounded per tick)."""
    from app.services.upstream_poll import poll_once

    return poll_once()


def _imports() -> dict:
    """Contact imports: fail those whose worker stopped reporting (nothing of theirs was committed,
    so a retry is safe) and queue again those whose job was lost."""
    from app.services import contact_import

    return {"imports_failed": contact_import.fail_stalled_imports(),
            "imports_requeued": contact_import.requeue_waiting_imports(current_app.config["SWEEP_AFTER_SECONDS"])}


HOUSEKEEPING_EVERY_SECONDS = 3600


def _housekeeping() -> dict:
    """Hourly, whoever ticks: forget Idempotency-Keys past their time to live, and webhook
    deliveries older than ``WEBHOOK_LOG_DAYS`` that are done."""
    from app.services.idempotency import purge_expired
    from app.services.webhooks import purge_old

    if not redis_conn().set("smsdesk:housekeeping", "1", nx=True, ex=HOUSEKEEPING_EVERY_SECONDS):
        return {}
    return {"idempotency_keys_purged": purge_expired(),
            "webhook_deliveries_purged": purge_old(current_app.config["WEBHOOK_LOG_DAYS"])}


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
                except Exception as exc:  # noqa: BLE001 - the thread must live on to tick again
                    log.warning("tick failed: %s", exc)  # run_tick logged the traceback
                finally:
                    db.session.remove()

    def _lead(self) -> bool:
        # One key per time slot: the first worker to claim the slot ticks, the others skip it.
        # Nothing to release, so a worker killed mid-tick does not block the next slot.
        slot = int(time.time() // self.interval)
        return bool(redis_conn().set(f"{LOCK_KEY}:{slot}", "1", nx=True, ex=max(2, int(self.interval * 4))))

    def stop(self) -> None:
        self.stopping.set()
