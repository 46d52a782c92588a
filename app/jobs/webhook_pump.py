"""The webhook pump: a thread in every worker process that delivers webhook events.

It runs beside the RQ worker, not as RQ jobs, so that a receiver that hangs occupies only the
pump's own HTTP threads and never the worker that dispatches SMS. Up to ``WEBHOOK_CONCURRENCY``
POSTs are in flight at once, at most ``WEBHOOK_PER_ENDPOINT`` to one endpoint, so one slow receiver
cannot starve the others; as many again are claimed ahead and wait in memory for a slot, so that a
POST ending starts the next one without a trip to the database. The pump's own thread does all database work (claim, record, generate)
between waits; the POSTs run in a small thread pool without the database. Several workers each run
a pump: claims are atomic, so each attempt is made by one of them.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict, deque
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask
from redis.exceptions import RedisError

from app.extensions import db, redis_conn
from app.services import webhook_events, webhooks

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5
GATHER_SECONDS = 0.01
GENERATE_EVERY_SECONDS = 0.2
GENERATE_LOCK = "smsdesk:webhook-generate"
GENERATE_LOCK_SECONDS = 10


class WebhookPump(threading.Thread):
    def __init__(self, app: Flask) -> None:
        super().__init__(name="smsdesk-webhooks", daemon=True)
        self.app = app
        self.concurrency = max(1, app.config["WEBHOOK_CONCURRENCY"])
        self.per_endpoint = max(1, app.config["WEBHOOK_PER_ENDPOINT"])
        self.settings = webhooks.PostSettings.from_config(app.config)
        self.stopping = threading.Event()
        self.in_flight: dict[Future, webhooks.Claimed] = {}
        # Claimed deliveries waiting for a free slot of their endpoint: as one POST ends the next
        # starts at once, while the database work of the turn goes on beside it.
        self.ready: dict[str, deque[webhooks.Claimed]] = defaultdict(deque)
        self.quiet_until = 0.0
        self.next_generate = 0.0

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
        """Write owed events, claim more, start what may start, wait for some POSTs to end and
        record them."""
        self._generate()
        self._claim()
        self._start(pool)
        if not self.in_flight:
            self.stopping.wait(IDLE_SECONDS)
            return
        done, _ = wait(list(self.in_flight), timeout=IDLE_SECONDS, return_when=FIRST_COMPLETED)
        if done:
            # Gather what finishes right after it too: one transaction records them all.
            wait(list(self.in_flight), timeout=GATHER_SECONDS, return_when=ALL_COMPLETED)
            outcomes = [self._outcome(future) for future in list(self.in_flight) if future.done()]
            self._start(pool)  # the next POSTs run while the answers are written
            webhooks.record(outcomes)
            self.quiet_until = 0.0

    def _claim(self) -> None:
        """Claim up to twice what may be in flight (per endpoint too), so a slot never waits on
        the database. Nothing claimable: asking again at once would re-read the same pending rows."""
        held = Counter(claimed.endpoint for claimed in self.in_flight.values())
        held.update({endpoint: len(queue) for endpoint, queue in self.ready.items()})
        free = 2 * self.concurrency - sum(held.values())
        if free <= 0 or time.monotonic() < self.quiet_until:
            return
        claimed = webhooks.claim(free, in_flight=held, per_endpoint=2 * self.per_endpoint)
        for item in claimed:
            self.ready[item.endpoint].append(item)
        self.quiet_until = time.monotonic() + (IDLE_SECONDS if len(claimed) < free else 0)

    def _start(self, pool: ThreadPoolExecutor) -> None:
        running = Counter(claimed.endpoint for claimed in self.in_flight.values())
        for endpoint, queue in list(self.ready.items()):
            while queue and running[endpoint] < self.per_endpoint and len(self.in_flight) < self.concurrency:
                item = queue.popleft()
                self.in_flight[pool.submit(webhooks.attempt, item, self.settings)] = item
                running[endpoint] += 1
            if not queue:
                del self.ready[endpoint]

    def _generate(self) -> None:
        """Write the events owed, one pump of the installation at a time: two would read the same
        messages and wait on each other's inserts only to write nothing."""
        now = time.monotonic()
        if now < self.next_generate:
            return
        self.next_generate = now + GENERATE_EVERY_SECONDS
        try:
            lead = redis_conn().set(GENERATE_LOCK, "1", nx=True, ex=GENERATE_LOCK_SECONDS)
        except RedisError:
            lead = True  # without Redis every pump generates; the event ids keep that correct
        if not lead:
            return
        try:
            while webhook_events.generate() and not self.stopping.is_set() and time.monotonic() - now < 1:
                pass
        finally:
            try:
                redis_conn().delete(GENERATE_LOCK)
            except RedisError:
                pass

    def _outcome(self, future: Future) -> webhooks.Outcome:
        claimed = self.in_flight.pop(future)
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - a bug in one POST is that attempt's failure
            log.exception("webhook attempt %s raised", claimed.id)
            return webhooks.failed_outcome(claimed, exc)

    def stop(self) -> None:
        self.stopping.set()
