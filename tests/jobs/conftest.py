"""Helpers for engine tests: message rows written straight into the database (the engine only
ever reads the database, so that is all it needs), settings changed per test, worker processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from app.extensions import db
from app.models import Message, SimulatorSubmission, Status, new_id, utcnow

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(app, monkeypatch):
    """``settings(NAME=value, ...)`` changes app.config for this test only."""

    def change(**values) -> None:
        for name, value in values.items():
            monkeypatch.setitem(app.config, name, value)

    return change


@pytest.fixture
def make_messages(account):
    """``make_messages(n, status=..., **columns)`` inserts ``n`` outbound rows of one batch and
    returns their ids. ``to`` may be a list of numbers; ``ids`` fixes the ids."""

    def make(count: int, status: str = Status.QUEUED, *, to=None, ids=None, batch_id: str | None = "new",
             **columns) -> list[str]:
        now = utcnow()
        batch = new_id() if batch_id == "new" else batch_id
        numbers = to or [f"+479{1000001 + i:07d}" for i in range(count)]
        ids = ids or [new_id() for _ in range(count)]
        rows = [{
            "id": ids[i], "account_id": account.id, "batch_id": batch, "direction": "OUTBOUND",
            "message_type": "PLAIN", "from_number": "Acme", "to_number": numbers[i], "body": "Hello",
            "encoding": "GSM-7", "units": 1, "status": status, "created_at": now,
            "queued_at": now if status == Status.QUEUED else None, "attempts": 0, "provider": "simulator",
            "currency": "NOK", **columns,
        } for i in range(count)]
        db.session.execute(insert(Message.__table__), rows)
        db.session.commit()
        return ids

    return make


def statuses(ids=None) -> Counter:
    """How many of the messages (all, or these ids) are in each status, read fresh."""
    db.session.rollback()  # a new snapshot: other processes may have written since
    stmt = select(Message.status)
    if ids is not None:
        stmt = stmt.where(Message.id.in_(ids))
    return Counter(db.session.scalars(stmt))


def message(message_id: str) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def submissions() -> dict[str, int]:
    """What the simulated carrier received: reference -> times submitted."""
    db.session.rollback()
    return dict(db.session.execute(select(SimulatorSubmission.reference, SimulatorSubmission.submissions)).all())


def ago(seconds: float):
    return utcnow() - timedelta(seconds=seconds)


# ---------------------------------------------------------------- worker processes (fault tests)


class WorkerProcess:
    """``flask --app app worker`` in its own session, so its RQ scheduler child dies with it."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker"], env=env, cwd=PROJECT_ROOT,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: no clean-up, exactly like a crash."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def worker_env(database_url, redis_url, tmp_path) -> dict:
    """Environment for a real worker process: the test database and Redis, fast timings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SIMULATOR_", "PYTEST"))}
    env.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "RQ_QUEUE": "smsdesk-test",
        "SECRET_KEY": os.environ["SECRET_KEY"], "SMSDESK_VAR_DIR": os.environ["SMSDESK_VAR_DIR"],
        "LOG_LEVEL": "WARNING", "TICK_SECONDS": "0.5", "SWEEP_AFTER_SECONDS": "1",
        "SENDING_TIMEOUT_SECONDS": "2", "DISPATCH_BATCH_SIZE": "50", "SIMULATOR_SUBMIT_LATENCY_MS": "40",
        "SIMULATOR_REPORT_LATENCY_MS": "0", "SIMULATOR_FAIL_RULES": "", "SIMULATOR_DELIVERY_RATE": "1",
    })
    return env


@pytest.fixture
def start_worker(ctx, worker_env, tmp_path):
    """``start_worker(**env_overrides)`` starts a worker process; all are killed after the test
    (before the database is wiped). Their logs are printed when the test fails."""
    started: list[WorkerProcess] = []

    def start(**overrides) -> WorkerProcess:
        worker = WorkerProcess({**worker_env, **overrides}, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
    for worker in started:
        print(f"--- {worker.log_path.name} (exit {worker.process.returncode})")
        print(worker.log_path.read_text(errors="replace")[-5000:])


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
