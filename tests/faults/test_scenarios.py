"""The fault-injection suite: each scenario is a real run (worker processes, a real Redis, a
real database, a real webhook receiver) of a 2,000-recipient campaign plus API sends with
callbacks, with one fault put in half-way. After each, the same invariants (invariants.py): no
accepted message lost, none duplicated at the carrier, statuses only forward, webhook ids stable
and each event taken once, Idempotency-Key honoured, campaign COMPLETED."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Campaign, Message
from app.models.webhook import WebhookAttempt
from tests.faults.invariants import verify
from tests.faults.servers import postgres_bin
from tests.faults.stage import API_SEND, CAMPAIGN_SILENT_SUFFIX, SILENT_SUFFIX, Stage, pause
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    inject: Callable[[Stage], None]  # half-way through the campaign
    worker_env: dict = field(default_factory=dict)
    persistence: str | None = None
    own_database: bool = False
    silent: bool = False  # the carrier never reports the numbers ending in SILENT_SUFFIX or CAMPAIGN_SILENT_SUFFIX
    clock_slack: float = 0.0
    clock_jump: float = 0.0
    redelivery: bool = False  # may strike between a webhook's 2xx and its recording


def kill_worker(stage: Stage) -> None:
    stage.workers[0].kill()
    stage.send()  # accepted while no worker runs
    stage.worker()


def restart_redis(stage: Stage) -> None:
    stage.redis.crash()
    stage.send()  # accepted while Redis is down: the enqueue fails, the rows wait as QUEUED
    pause(1)
    stage.redis.start()


def restart_postgres(stage: Stage) -> None:
    cluster = stage.app.cluster
    # This test's session would hold its connection across the restart; a web request holds
    # none between requests (the pool's pre-ping replaces dead ones), so hand it back first.
    db.session.remove()
    cluster.stop("immediate")
    pause(2)
    cluster.start()
    stage.send()


def _failed_attempts(stage: Stage) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(WebhookAttempt).where(
        WebhookAttempt.account_id == stage.account_id,
        WebhookAttempt.status_code.is_(None) | (WebhookAttempt.status_code >= 300)))


def _while_receiver_fails(stage: Stage) -> None:
    """Send, and keep the receiver broken until some attempts have failed. No longer: a first
    retry comes after 5 s, and one that fails again waits 30 s more (RETRY_DELAYS)."""
    stage.send()
    wait_until(lambda: _failed_attempts(stage) >= 3, timeout=20, interval=0.05, what="webhook attempts to fail")


def receiver_down(stage: Stage) -> None:
    stage.receiver.down()
    _while_receiver_fails(stage)
    stage.receiver.up()


def receiver_slow(stage: Stage) -> None:
    stage.receiver.delay = 2 * stage.webhook_timeout
    _while_receiver_fails(stage)
    stage.receiver.delay = 0


def receiver_garbage(stage: Stage) -> None:
    stage.receiver.garbage = True
    _while_receiver_fails(stage)
    stage.receiver.garbage = False


def clock_jump(seconds: float) -> Callable[[Stage], None]:
    def jump(stage: Stage) -> None:
        stage.jump_clock(seconds)
        stage.send()

    return jump


def nothing_more(stage: Stage) -> None:
    stage.send()  # the fault is on from the start; one more send during it


# The clock hook (clock/sitecustomize.py) is loaded by workers started with it on PYTHONPATH.
CLOCK = {"PYTHONPATH": str(Path(__file__).parent / "clock")}
HOUR = 3600
BACK = 30
REPORT_WAIT = 3  # seconds, for provider-silent

SCENARIOS = [
    Scenario("worker-killed", "kill -9 of the only worker", kill_worker, redelivery=True),
    Scenario("redis-restart-aof", "Redis killed and restarted, AOF fsync always", restart_redis, persistence="aof"),
    Scenario("redis-restart-rdb", "Redis killed and restarted from a snapshot (save 1 1)", restart_redis,
             persistence="rdb"),
    Scenario("redis-restart-empty", "Redis killed and restarted empty (no persistence)", restart_redis),
    Scenario("postgres-restart", "PostgreSQL immediate stop, 2 s down, start", restart_postgres, own_database=True,
             redelivery=True),
    Scenario("provider-timeout", "every 3rd batch: carrier keeps it, answer lost", nothing_more,
             {"SIMULATOR_FAULT": "timeout", "SIMULATOR_FAULT_EVERY": "3", "SIMULATOR_FAULT_DELAY_MS": "300"}),
    Scenario("provider-5xx", "every 3rd batch refused with 503", nothing_more,
             {"SIMULATOR_FAULT": "5xx", "SIMULATOR_FAULT_EVERY": "3"}),
    # The campaign's silent recipients hold it open for REPORT_WAIT_HOURS, then it completes.
    Scenario("provider-silent", f"accepts, never reports (API numbers ending {SILENT_SUFFIX}, 1 % of the campaign)",
             nothing_more, {"SIMULATOR_SILENT_SUFFIXES": f"{SILENT_SUFFIX};{CAMPAIGN_SILENT_SUFFIX}",
                            "REPORT_WAIT_HOURS": str(REPORT_WAIT / 3600)}, silent=True),
    Scenario("webhook-down", "receiver refuses connections", receiver_down),
    Scenario("webhook-slow", "receiver answers after 2x the timeout", receiver_slow),
    Scenario("webhook-garbage", "receiver answers bytes that are not HTTP", receiver_garbage),
    Scenario("clock-forward", "worker wall clock jumps 1 h forward", clock_jump(HOUR), CLOCK, clock_jump=HOUR),
    # Back by less than the bound: what is timed from stamps written before the step (webhook
    # events, retries) waits out the step (see the README); a whole hour would not fit in it.
    Scenario("clock-backward", "worker wall clock jumps 30 s back", clock_jump(-BACK), CLOCK, clock_slack=BACK + 5,
             clock_jump=-BACK),
]


def _needs(scenario: Scenario) -> None:
    if scenario.own_database and postgres_bin() is None:
        pytest.skip("not applicable: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) to start a cluster")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, row, make_stage):
    _needs(scenario)
    stage = make_stage(persistence=scenario.persistence, own_database=scenario.own_database)
    stage.prepare()
    stage.worker(**scenario.worker_env)
    stage.launch()

    at_fault = stage.wait_under_way()
    print(f"{scenario.name}: fault put in at {dict(at_fault)}")
    scenario.inject(stage)

    in_flight = stage.silent_ids(campaign=True) if scenario.silent else frozenset()
    stage.wait_settled(in_flight)
    verdict = verify(stage, in_flight=in_flight, clock_slack=scenario.clock_slack, redelivery=scenario.redelivery)
    row.messages, row.duplicates, row.lost = verdict.messages, verdict.duplicates, verdict.lost
    assert not verdict.problems, verdict.problems
    _assert_fault_landed(scenario, stage, in_flight)


def _assert_fault_landed(scenario: Scenario, stage: Stage, in_flight) -> None:
    """A fault that never bit proves nothing: check it did."""
    if scenario.name.startswith("webhook-"):
        assert _failed_attempts(stage), "no webhook attempt failed: the receiver fault never bit"
    elif scenario.name in ("provider-timeout", "provider-5xx"):
        logs = "".join(w.log_path.read_text(errors="replace") for w in stage.workers)
        assert "leaving it to the reconciler" in logs, "no batch failed at the carrier"
    elif scenario.silent:
        _assert_campaign_waited(stage, in_flight)
    elif scenario.clock_jump:
        # The send made after the jump was created on our clock and sent on the workers' one.
        db.session.rollback()
        shifts = [(m.sent_at - m.created_at).total_seconds() for m in db.session.scalars(
            select(Message).where(Message.id.in_(stage.accepted[-API_SEND:])))]
        assert all(abs(shift - scenario.clock_jump) < 15 for shift in shifts), shifts


def _assert_campaign_waited(stage: Stage, in_flight) -> None:
    """Silent API and campaign messages were sent, stayed SENT (verify checked that), and the
    campaign completed only once its last silent one had gone REPORT_WAIT without a report."""
    db.session.rollback()
    campaign = db.session.get(Campaign, stage.campaign_id)
    silent = db.session.scalars(select(Message).where(Message.id.in_(in_flight))).all()
    api = [m for m in silent if m.campaign_id is None]
    ledger = [m for m in silent if m.campaign_id == stage.campaign_id]
    assert api and ledger, f"silent messages: {len(api)} API, {len(ledger)} of the campaign"
    last_sent = max(m.sent_at for m in ledger)
    waited = (campaign.completed_at - last_sent).total_seconds()
    assert waited >= REPORT_WAIT, f"the campaign completed {waited:.1f} s after its last silent message was sent"
