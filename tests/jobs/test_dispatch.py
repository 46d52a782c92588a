"""The dispatch engine, with its jobs run for real against the real Redis (``run_jobs``)."""
from __future__ import annotations

import functools
import threading
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db, redis_conn
from app.jobs.queue import enqueue_dispatch, get_queue
from app.jobs.ticker import run_tick
from app.models import Message, Status, utcnow
from app.providers import SendResult
from app.providers.simulator import SimulatorProvider, _fraction, summary
from app.services import dispatch as engine
from app.services import throttle
from tests.jobs.conftest import ago, message, statuses, submissions

NUMBERS = [f"+479{1000001 + i:07d}" for i in range(25)]


# ------------------------------------------------------------------ the happy path


def test_send_of_many_ends_delivered(client, auth, run_jobs):
    response = client.post("/v1/sms/send", json={"to": NUMBERS, "message": "Hello"}, headers=auth)
    assert response.status_code == 200, response.json
    ids = response.json["message_ids"]
    assert statuses(ids) == {Status.QUEUED: 25}

    run_jobs()

    assert statuses(ids) == {Status.DELIVERED: 25}
    for mid in ids:
        row = message(mid)
        assert row.sending_at <= row.sent_at <= row.delivered_at
        assert row.attempts == 1 and row.provider_message_id == f"sim-{mid}"
    assert summary() == {"submissions": 25, "unique_references": 25, "duplicates": 0}


def test_dispatch_works_in_batches(make_messages, settings, run_jobs, monkeypatch):
    settings(DISPATCH_BATCH_SIZE=10)
    sizes = _record_provider_batches(monkeypatch)
    ids = make_messages(25)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_jobs()
    assert sizes == [10, 10, 5]
    assert statuses(ids) == {Status.DELIVERED: 25}


def _record_provider_batches(monkeypatch) -> list[int]:
    sizes: list[int] = []
    original = SimulatorProvider.send

    def send(self, batch):
        sizes.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(SimulatorProvider, "send", send)
    return sizes


# ------------------------------------------------------------------ the simulator's verdicts


@pytest.mark.parametrize("spec,rules", [
    ("0000=UNKNOWN_SUBSCRIBER:Unknown subscriber", []),  # none of NUMBERS ends in 0000
    ("7=ABSENT:Absent subscriber", [("7", "ABSENT", "Absent subscriber")]),
    ("13=BARRED:Barred; 3=ABSENT:Absent", [("13", "BARRED", "Barred"), ("3", "ABSENT", "Absent")]),
    ("05=NO_TEXT", [("05", "NO_TEXT", "NO_TEXT")]),
    ("", []),
])
def test_fail_rules_end_failed_with_error(make_messages, settings, run_jobs, spec, rules):
    settings(SIMULATOR_FAIL_RULES=spec)
    ids = make_messages(len(NUMBERS), to=NUMBERS)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_jobs()
    failed = 0
    for mid, number in zip(ids, NUMBERS):
        row = message(mid)
        rule = next((r for r in rules if number.endswith(r[0])), None)  # the first matching rule wins
        if rule:
            failed += 1
            assert (row.status, row.error_code, row.error_message) == (Status.FAILED, *rule[1:]), number
            assert row.failed_at is not None and row.sent_at is not None  # accepted, then failed by DLR
        else:
            assert (row.status, row.error_code) == (Status.DELIVERED, None), number
    assert failed == sum(1 for n in NUMBERS if any(n.endswith(r[0]) for r in rules))
    assert bool(failed) == bool(rules)  # every case with rules really exercises them


def test_delivery_rate_gives_the_deterministic_mix(make_messages, settings, run_jobs):
    settings(SIMULATOR_DELIVERY_RATE=0.6)
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"smsdesk-test-{i}")) for i in range(40)]
    make_messages(40, ids=ids)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_jobs()
    expected = {mid: Status.DELIVERED if _fraction(mid) < 0.6 else Status.FAILED for mid in ids}
    assert {mid: message(mid).status for mid in ids} == expected
    # Fixed ids, so a fixed mix: proves the rate is applied, not just that the formula agrees with itself.
    assert statuses(ids) == {Status.DELIVERED: 21, Status.FAILED: 19}
    assert {message(mid).error_code for mid in ids if expected[mid] == Status.FAILED} == {"EXPIRED"}


def test_provider_rejection_at_submit_ends_failed(make_messages, run_jobs, monkeypatch):
    """A carrier may refuse a message outright (no DLR): SENDING -> FAILED with its error."""
    from app.providers import SendResult

    def send(self, batch):
        return [SendResult(item.reference, error_code="INVALID_SENDER", error_message="Sender refused")
                for item in batch]

    monkeypatch.setattr(SimulatorProvider, "send", send)
    ids = make_messages(3)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_jobs()
    for mid in ids:
        row = message(mid)
        assert (row.status, row.error_code, row.error_message) == (Status.FAILED, "INVALID_SENDER", "Sender refused")
        assert row.sent_at is None


def test_reports_arrive_later(make_messages, settings, run_jobs):
    """With report latency the messages are SENT first; the tick delivers reports once due."""
    settings(SIMULATOR_REPORT_LATENCY_MS=60_000)
    ids = make_messages(5)
    engine.dispatch()
    run_jobs()
    assert statuses(ids) == {Status.SENT: 5}
    assert run_tick()["reports"] == 0

    _make_reports_due()
    assert run_tick()["reports"] == 5
    assert statuses(ids) == {Status.DELIVERED: 5}


def _make_reports_due() -> None:
    from app.models import SimulatorSubmission

    db.session.execute(SimulatorSubmission.__table__.update().values(report_due_at=ago(1)))
    db.session.commit()


# ------------------------------------------------------------------ claiming


def test_claims_never_overlap_and_rerun_finds_nothing(make_messages):
    ids = make_messages(30)
    first = engine._claim(None, 20)
    second = engine._claim(None, 20)
    assert len(first) == 20 and len(second) == 10
    assert not {r.id for r in first} & {r.id for r in second}
    assert {r.id for r in first} | {r.id for r in second} == set(ids)
    assert engine._claim(None, 20) == []
    assert statuses(ids) == {Status.SENDING: 30}
    assert {message(mid).attempts for mid in ids} == {1}


def test_dispatch_rerun_finds_nothing(make_messages, run_jobs):
    ids = make_messages(5)
    batch = message(ids[0]).batch_id
    enqueue_dispatch(batch)
    enqueue_dispatch(batch)  # a duplicate job (e.g. sweeper and send both enqueued it)
    run_jobs()
    assert engine.dispatch(batch) == 0
    assert statuses(ids) == {Status.DELIVERED: 5}
    assert set(submissions().values()) == {1}


def test_claim_takes_only_its_batch(make_messages):
    mine = make_messages(3)
    other = make_messages(4)
    rows = engine._claim(message(mine[0]).batch_id, 100)
    assert {r.id for r in rows} == set(mine)
    assert statuses(other) == {Status.QUEUED: 4}


def test_concurrent_claims_are_disjoint(app, make_messages):
    """Several threads, each with its own connection, claim from the same rows at once."""
    ids = make_messages(200)
    claimed: list[list[str]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def claimer(into: list[str]) -> None:
        with app.app_context():
            barrier.wait()
            while rows := engine._claim(None, 7):
                into.extend(r.id for r in rows)
            db.session.remove()

    threads = [threading.Thread(target=claimer, args=(c,)) for c in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [mid for c in claimed for mid in c]
    assert len(everything) == len(set(everything)) == 200
    assert set(everything) == set(ids)


def test_cancelled_messages_are_never_sent(make_messages, run_jobs):
    ids = make_messages(4)
    batch = message(ids[0]).batch_id
    cancelled = make_messages(3, status=Status.CANCELLED, batch_id=batch)
    enqueue_dispatch(batch)
    run_jobs()
    assert statuses(cancelled) == {Status.CANCELLED: 3}
    assert set(submissions()) == set(ids)


# ------------------------------------------------------------------ scheduled messages


def test_tick_promotes_due_scheduled_messages(make_messages, run_jobs):
    due = make_messages(3, status=Status.SCHEDULED, scheduled_at=ago(5))
    later = make_messages(2, status=Status.SCHEDULED, scheduled_at=ago(-3600))

    result = run_tick()
    assert result["promoted_batches"] == 1
    assert statuses(due) == {Status.QUEUED: 3}
    assert all(message(mid).queued_at is not None for mid in due)
    run_jobs()

    assert statuses(due) == {Status.DELIVERED: 3}
    assert statuses(later) == {Status.SCHEDULED: 2}
    assert all(message(mid).queued_at is None for mid in later)


def test_cancelled_scheduled_message_is_not_promoted(make_messages, run_jobs):
    (mid,) = make_messages(1, status=Status.SCHEDULED, scheduled_at=ago(5))
    db.session.execute(Message.transition(Status.CANCELLED, Message.id == mid, now=utcnow()))
    db.session.commit()
    run_tick()
    run_jobs()
    assert message(mid).status == Status.CANCELLED
    assert submissions() == {}


def test_due_messages_without_a_batch_are_dispatched(make_messages, run_jobs):
    ids = make_messages(2, status=Status.SCHEDULED, scheduled_at=ago(5), batch_id=None)
    run_tick()
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 2}


# ------------------------------------------------------------------ the sweeper


def test_sweeper_re_enqueues_forgotten_batches(make_messages, settings, run_jobs):
    settings(SWEEP_AFTER_SECONDS=30)
    old = make_messages(4, queued_at=ago(60))
    fresh = make_messages(2)  # just accepted: its own job is on its way
    redis_conn().flushdb()  # Redis restarted without persistence: every job is gone
    run_jobs()
    assert statuses(old) == {Status.QUEUED: 4}

    result = run_tick()
    assert result["re_enqueued_batches"] == 1
    assert len(get_queue()) == 1
    run_jobs()
    assert statuses(old) == {Status.DELIVERED: 4}
    assert statuses(fresh) == {Status.QUEUED: 2}


def test_sweeper_enqueues_a_waiting_batch_once_per_sweep_period(make_messages, settings):
    """Workers busy, batch waiting: ticks must not add a surplus job for it every time."""
    settings(SWEEP_AFTER_SECONDS=30)
    make_messages(3, queued_at=ago(60))  # written without a job: as if Redis lost it
    for _ in range(5):
        run_tick()
    assert len(get_queue()) == 1


def test_sweeper_takes_rows_without_a_batch(make_messages, settings, run_jobs):
    settings(SWEEP_AFTER_SECONDS=30)
    ids = make_messages(2, queued_at=ago(60), batch_id=None)
    assert run_tick()["re_enqueued_batches"] == 1
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 2}


# ------------------------------------------------------------------ the reconciler


def _stuck(make_messages, count: int, attempts: int = 1) -> list[str]:
    """Rows a worker claimed long ago and then died on."""
    return make_messages(count, status=Status.SENDING, sending_at=ago(600), attempts=attempts)


def _carrier_accepts(ids: list[str]) -> None:
    """The carrier got these before the worker died (its answer was never recorded)."""
    from app.providers import Outbound
    from flask import current_app

    rows = [message(mid) for mid in ids]
    SimulatorProvider(current_app.config).send(
        [Outbound(r.id, r.to_number, r.from_number, r.body) for r in rows])


def test_reconciler_records_what_the_carrier_has_without_resending(make_messages, settings, run_jobs, monkeypatch):
    settings(SENDING_TIMEOUT_SECONDS=60)
    ids = _stuck(make_messages, 3)
    _carrier_accepts(ids)
    sizes = _record_provider_batches(monkeypatch)

    assert engine.reconcile_stuck() == 3
    assert sizes == []  # nothing re-submitted
    for mid in ids:
        row = message(mid)
        assert row.status in (Status.SENT, Status.DELIVERED) and row.provider_message_id == f"sim-{mid}"
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 3}
    assert summary()["duplicates"] == 0


def test_reconciler_resubmits_what_the_carrier_never_got(make_messages, settings, run_jobs):
    settings(SENDING_TIMEOUT_SECONDS=60)
    ids = _stuck(make_messages, 3)
    assert engine.reconcile_stuck() == 3
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 3}
    assert submissions() == {mid: 1 for mid in ids}  # same reference: our message id
    assert {message(mid).attempts for mid in ids} == {2}


def test_reconciler_leaves_recent_sending_rows_alone(make_messages, settings):
    settings(SENDING_TIMEOUT_SECONDS=60)
    ids = make_messages(2, status=Status.SENDING, sending_at=ago(5), attempts=1)
    assert engine.reconcile_stuck() == 0
    assert statuses(ids) == {Status.SENDING: 2}
    assert submissions() == {}


def test_a_worker_that_waited_on_the_throttle_renews_its_claim(make_messages, settings, monkeypatch):
    """Rows claimed long ago by a live worker (it waited on the throttle) get a fresh sending_at
    right before the provider call, so the reconciler does not take them for a dead worker's."""
    settings(SENDING_TIMEOUT_SECONDS=120)
    ids = make_messages(3, status=Status.SENDING, sending_at=ago(600))
    seen = {}

    def provider_call(batch):
        seen["reclaimable"] = engine.reconcile_stuck()  # the tick, during the provider call
        return [SendResult(item.reference, "p-" + item.reference) for item in batch]

    monkeypatch.setattr(SimulatorProvider, "send", lambda self, batch: provider_call(batch))
    monkeypatch.setattr(engine, "wait_for_capacity", lambda *args: True)  # it had to wait
    rows = db.session.execute(select(Message.__table__).where(Message.id.in_(ids))).all()
    engine.submit("simulator", rows)
    assert seen["reclaimable"] == 0
    assert statuses(ids) == {Status.SENT: 3}


def test_reconciler_gives_up_after_max_attempts(make_messages, settings):
    settings(SENDING_TIMEOUT_SECONDS=60, MAX_SEND_ATTEMPTS=3)
    exhausted = _stuck(make_messages, 2, attempts=3)
    known = _stuck(make_messages, 1, attempts=3)
    _carrier_accepts(known)
    engine.reconcile_stuck()
    for mid in exhausted:
        row = message(mid)
        assert (row.status, row.error_code) == (Status.FAILED, "SEND_TIMEOUT")
        assert row.failed_at is not None
    assert message(known[0]).status in (Status.SENT, Status.DELIVERED)  # the carrier has it: not a failure
    assert set(submissions()) == set(known)


def test_reconciler_retries_a_broken_provider_until_it_gives_up(make_messages, settings, monkeypatch):
    """Each round re-submits to a provider that fails whole batches; after MAX_SEND_ATTEMPTS
    attempts in all the rows end FAILED instead of being retried forever."""
    settings(SENDING_TIMEOUT_SECONDS=0, MAX_SEND_ATTEMPTS=4)
    calls = []

    def broken(self, batch):
        calls.append(len(batch))
        raise ConnectionError("carrier unreachable")

    monkeypatch.setattr(SimulatorProvider, "send", broken)
    ids = make_messages(2)
    engine.dispatch()  # attempt 1: claimed, the provider fails, rows stay SENDING
    assert statuses(ids) == {Status.SENDING: 2}
    for _ in range(3):  # attempts 2, 3, 4
        assert engine.reconcile_stuck() == 2
        assert statuses(ids) == {Status.SENDING: 2}
    engine.reconcile_stuck()
    assert statuses(ids) == {Status.FAILED: 2}
    assert calls == [2, 2, 2, 2]
    assert {message(mid).error_code for mid in ids} == {"SEND_TIMEOUT"}


def test_provider_without_query_gets_the_same_reference_again(make_messages, settings, monkeypatch, run_jobs):
    settings(SENDING_TIMEOUT_SECONDS=60)
    monkeypatch.delattr(SimulatorProvider, "query")
    ids = _stuck(make_messages, 2)
    _carrier_accepts(ids)
    engine.reconcile_stuck()
    run_jobs()
    assert statuses(ids) == {Status.DELIVERED: 2}
    assert submissions() == {mid: 2 for mid in ids}  # re-submitted; the carrier de-duplicated


# ------------------------------------------------------------------ throttling


class FakeClock:
    """Time that only moves when someone sleeps: throttle tests never really wait."""

    def __init__(self, start: float = 1_000_000.25) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _windows(key: str) -> dict[int, int]:
    found = {}
    for name in redis_conn().scan_iter(f"throttle:{key}:*"):
        found[int(name.decode().rsplit(":", 1)[1])] = int(redis_conn().get(name))
    return found


@pytest.mark.parametrize("count,per_second,windows", [
    (5, 10, {1_000_000: 5}),
    (10, 10, {1_000_000: 10}),
    (25, 10, {1_000_000: 10, 1_000_001: 10, 1_000_002: 5}),
    (7, 3, {1_000_000: 3, 1_000_001: 3, 1_000_002: 1}),
])
def test_throttle_spreads_a_batch_across_windows(ctx, count, per_second, windows):
    clock = FakeClock()
    waited = throttle.wait_for_capacity(redis_conn(), "sim", count, per_second, sleep=clock.sleep, clock=clock.time)
    assert _windows("sim") == windows
    assert len(clock.sleeps) == len(windows) - 1
    assert waited == (len(windows) > 1)
    assert all(0 < s <= 1 for s in clock.sleeps)


def test_throttle_takes_what_is_left_of_a_window(ctx):
    """Another worker already used 8 of 10: this one sends 2 now, not 0, so it cannot starve."""
    clock = FakeClock()
    redis_conn().set("throttle:sim:1000000", 8)
    throttle.wait_for_capacity(redis_conn(), "sim", 5, 10, sleep=clock.sleep, clock=clock.time)
    assert _windows("sim") == {1_000_000: 10, 1_000_001: 3}


def test_throttle_zero_means_unlimited(ctx):
    clock = FakeClock()
    assert throttle.wait_for_capacity(redis_conn(), "sim", 10_000, 0, sleep=clock.sleep, clock=clock.time) is False
    assert clock.sleeps == [] and _windows("sim") == {}


def test_dispatch_is_throttled(make_messages, settings, run_jobs, monkeypatch):
    """25 messages at 10/s: claimed 10 at a time (rows never wait long in SENDING) and spread
    over three one-second windows."""
    settings(THROTTLE_PER_SECOND=10, DISPATCH_BATCH_SIZE=500)
    clock = FakeClock()
    monkeypatch.setattr(engine, "wait_for_capacity",
                        functools.partial(throttle.wait_for_capacity, sleep=clock.sleep, clock=clock.time))
    sizes = _record_provider_batches(monkeypatch)
    ids = make_messages(25)
    enqueue_dispatch(message(ids[0]).batch_id)
    run_jobs()
    assert sizes == [10, 10, 5]
    assert _windows("simulator") == {1_000_000: 10, 1_000_001: 10, 1_000_002: 5}
    assert statuses(ids) == {Status.DELIVERED: 25}



# ------------------------------------------------------------------ robustness


def test_rows_for_an_unknown_provider_wait_for_a_worker_that_knows_it(make_messages, settings, run_jobs):
    """Written by a newer web process during a rolling deploy, say: not ours to send, not ours
    to fail, and they must not jam the tick."""
    settings(SWEEP_AFTER_SECONDS=30, SENDING_TIMEOUT_SECONDS=60)
    foreign = make_messages(2, provider="carrier-from-the-future", queued_at=ago(60))
    stuck = make_messages(1, status=Status.SENDING, provider="carrier-from-the-future", sending_at=ago(600))
    ours = make_messages(3, queued_at=ago(60))

    result = run_tick()
    assert result["re_enqueued_batches"] == 1 and result["reconciled"] == 0
    run_jobs()
    assert engine.dispatch() == 0
    assert statuses(ours) == {Status.DELIVERED: 3}
    assert statuses(foreign) == {Status.QUEUED: 2}
    assert statuses(stuck) == {Status.SENDING: 1}


def test_a_failing_tick_step_does_not_stop_the_others(make_messages, monkeypatch):
    ids = make_messages(2)
    engine.dispatch()  # SENT, their reports due at once
    assert statuses(ids) == {Status.SENT: 2}

    def broken(*args, **kwargs):
        raise RuntimeError("reconciler broke")

    monkeypatch.setattr(engine, "reconcile_stuck", broken)
    with pytest.raises(RuntimeError, match="reconciler broke"):
        run_tick()
    assert statuses(ids) == {Status.DELIVERED: 2}  # the reports step still ran


def test_a_provider_that_cannot_be_asked_does_not_hold_up_the_others(make_messages, settings, monkeypatch, run_jobs):
    settings(SENDING_TIMEOUT_SECONDS=60)
    ours = _stuck(make_messages, 2)
    theirs = make_messages(2, status=Status.SENDING, sending_at=ago(600), attempts=1, provider="upstream",
                           to=["+4791000101", "+4791000102"])

    class Unreachable:
        def query(self, references):
            raise ConnectionError("upstream down")

    real = engine.get_provider
    monkeypatch.setattr(engine, "known_providers", lambda: ("simulator", "upstream"))
    monkeypatch.setattr(engine, "get_provider", lambda code: Unreachable() if code == "upstream" else real(code))
    assert engine.reconcile_stuck() == 4
    run_jobs()
    assert statuses(ours) == {Status.DELIVERED: 2}
    assert statuses(theirs) == {Status.SENDING: 2}  # asked again after the next timeout
