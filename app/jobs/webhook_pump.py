"""The webhook pump: a thread in every worker process that delivers webhook events.

It runs beside the RQ worker, not as RQ jobs, so that a receiver that hangs occupies only the
pump's own HTTP threads and never the worker that dispatches SMS. Up to ``WEBHOOK_CONCURRENCY``
POSTs are in flight at once, at most ``WEBHOOK_PER_ENDPOINT`` to one endpoint, so one slow receiver
cannot starve the others. The pump's own thread does all database work (claim, record, generate)
between waits; the POSTs run in a small thread pool without the database. Several workers each run
a pump: claims are atomic, so each attempt is made by one of them.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask

from app.extensions import db
from app.services import webhook_events, webhooks

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5


class WebhookPump(threading.Thread):
    def __init__(self, app: Flask) -> None:
        super().__init__(name="smsdesk-webhooks", daemon=True)
        self.app = app
        self.concurrency = max(1, app.config["WEBHOOK_CONCURRENCY"])
        self.per_endpoint = max(1, app.config["WEBHOOK_PER_ENDPOINT"])
        self.settings = webhooks.PostSettings.from_config(app.config)
        self.stopping = threading.Event()
        self.in_flight: dict[Future, webhooks.Claimed] = {}

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="smsdesk-webhook-post") as pool:
            while not self.stopping.is_set():
                with self.app.app_context():
                    try:
                        self._turn(pool)
                    except Exception:  # noqa: BLE001 - the pump must live on; the next turn retries
                        db.session.rollback()
                        log.exception("webhook pump turn failed")
                        self.stopping.wait(IDLE_SECONDS)
                    finally:
                        db.session.remove()

    def _turn(self, pool: ThreadPoolExecutor) -> None:
        """Top up the POSTs in flight, wait a little for some to finish, record those."""
        webhook_events.generate()
        free = self.concurrency - len(self.in_flight)
        if free > 0:
            running = Counter(claimed.endpoint for claimed in self.in_flight.values())
            for claimed in webhooks.claim(free, in_flight=running, per_endpoint=self.per_endpoint):
                self.in_flight[pool.submit(webhooks.attempt, claimed, self.settings)] = claimed
        if not self.in_flight:
            self.stopping.wait(IDLE_SECONDS)
            return
        done, _ = wait(list(self.in_flight), timeout=IDLE_SECONDS, return_when=FIRST_COMPLETED)
        webhooks.record([self._outcome(future) for future in done])

    def _outcome(self, future: Future) -> webhooks.Outcome:
        claimed = self.in_flight.pop(future)
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - a bug in one POST is that attempt's failure
            log.exception("webhook attempt %s raised", claimed.id)
            return webhooks.failed_outcome(claimed, exc)

    def stop(self) -> None:
        self.stopping.set()
