"""Fault injection with real worker processes: a worker killed with SIGKILL mid-send, Redis
stopped (and restarted empty) mid-send, two workers on one send. Every accepted message must
still be delivered exactly once: the database is the source of truth, claims are atomic, and the
carrier de-duplicates by our reference."""
from __future__ import annotations

import json
import time

import pytest
from redis import Redis

from app.models import Status
from tests.conftest import RedisServer
from tests.jobs.conftest import statuses, wait_until

pytestmark = pytest.mark.slow

SEND_SIZE = 2000
# Distinct valid Norwegian mobile numbers; none ends in a simulator failure suffix.
RECIPIENTS = [f"+47{91000001 + i}" for i in range(SEND_SIZE)]
FINISH_TIMEOUT = 60


def _send(client, auth, numbers: list[str]) -> list[str]:
    response = client.post("/v1/sms/send", json={"to": numbers, "message": "Fault test"}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["status"] == Status.QUEUED
    assert len(response.json["message_ids"]) == len(numbers) and not response.json["rejected"]
    return response.json["message_ids"]


def _under_way(total: int, in_flight: bool = False):
    """A predicate: true once some messages were sent but far from all (and, if ``in_flight``,
    while a batch is claimed and with the carrier). Fails if the send finished before we could
    interfere: the test would then prove nothing."""

    def check():
        counts = statuses()
        done = counts[Status.SENT] + counts[Status.DELIVERED] + counts[Status.FAILED]
        assert done < total, "the send finished before the fault was injected; slow the simulator down"
        return counts if done >= 100 and (counts[Status.SENDING] or not in_flight) else None

    return check


def _all_delivered(total: int):
    return lambda: statuses()[Status.DELIVERED] == total


def _carrier_report(app) -> dict:
    result = app.test_cli_runner().invoke(args=["simulator", "report"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_worker_killed_mid_send(app, client, auth, settings, start_worker):
    settings(MAX_RECIPIENTS=SEND_SIZE)
    first = start_worker()
    _send(client, auth, RECIPIENTS)

    # Killed while a batch is claimed: its rows stay SENDING (the carrier may or may not have
    # them) for the reconciler; the rest stay QUEUED, their job lost with the worker, for the
    # sweeper. (A batch may just finish between our look and the kill, so only QUEUED is certain.)
    wait_until(_under_way(SEND_SIZE, in_flight=True), timeout=30, interval=0.01, what="a batch in flight")
    first.kill()
    after_kill = statuses()
    print(f"after kill: {dict(after_kill)}")
    assert after_kill[Status.QUEUED]

    start_worker()
    wait_until(_all_delivered(SEND_SIZE), timeout=FINISH_TIMEOUT, interval=0.2, what="every message delivered")

    assert statuses() == {Status.DELIVERED: SEND_SIZE}  # nothing left in a non-final state
    assert _carrier_report(app) == {"submissions": SEND_SIZE, "unique_references": SEND_SIZE, "duplicates": 0}


@pytest.fixture
def own_redis(ctx, app, monkeypatch):
    """A Redis of this test's own, which it may kill: the app in this process (the web side)
    uses it too. Restarted on the same port it comes back empty, like a Redis without
    persistence after a crash."""
    server = RedisServer()
    server.start()
    monkeypatch.setitem(app.config, "REDIS_URL", server.url)
    monkeypatch.setitem(app.extensions, "redis",
                        Redis.from_url(server.url, socket_connect_timeout=2, socket_timeout=5))
    yield server
    server.stop()


def test_redis_stopped_mid_send(app, client, auth, settings, start_worker, own_redis):
    settings(MAX_RECIPIENTS=SEND_SIZE)
    worker = start_worker(REDIS_URL=own_redis.url)
    first = _send(client, auth, RECIPIENTS)

    wait_until(_under_way(SEND_SIZE), timeout=30, interval=0.02, what="the send to get under way")
    own_redis.stop()

    # Accepted while Redis is down: the enqueue fails, is swallowed, and the rows wait as QUEUED.
    late_numbers = [f"+47{92000001 + i}" for i in range(5)]
    late = _send(client, auth, late_numbers)
    time.sleep(1)
    assert statuses(late) == {Status.QUEUED: 5}

    own_redis.start()
    if not worker.alive:
        start_worker(REDIS_URL=own_redis.url)
    total = len(first) + len(late)
    wait_until(_all_delivered(total), timeout=FINISH_TIMEOUT, interval=0.2, what="every message delivered")

    assert statuses() == {Status.DELIVERED: total}
    assert _carrier_report(app) == {"submissions": total, "unique_references": total, "duplicates": 0}


def test_two_workers_share_a_send_without_duplicates(app, client, auth, settings, start_worker):
    """The send's job runs in one worker; the sweeper soon enqueues the batch again (its rows
    have been QUEUED longer than SWEEP_AFTER_SECONDS) and the other worker claims from the same
    rows at the same time. Claims are atomic, so the carrier sees every message once."""
    settings(MAX_RECIPIENTS=SEND_SIZE)
    workers = [start_worker(SIMULATOR_SUBMIT_LATENCY_MS="80"), start_worker(SIMULATOR_SUBMIT_LATENCY_MS="80")]
    _send(client, auth, RECIPIENTS)
    wait_until(_all_delivered(SEND_SIZE), timeout=FINISH_TIMEOUT, interval=0.2, what="every message delivered")

    assert statuses() == {Status.DELIVERED: SEND_SIZE}
    assert _carrier_report(app) == {"submissions": SEND_SIZE, "unique_references": SEND_SIZE, "duplicates": 0}
    for worker in workers:  # both really dispatched (else this test proved nothing)
        assert "app.jobs.tasks.dispatch(" in worker.log_path.read_text(), worker.log_path.name
