"""Fixtures of the fault-injection suite, and the table of scenarios it prints at the end of any
pytest run in which one of them ran (``make faults`` runs only these)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import Redis

from tests.faults.servers import PostgresCluster, ScenarioRedis
from tests.faults.stage import Stage
from tests.jobs.conftest import start_worker, worker_env  # noqa: F401 - fixtures, used by make_stage
from tests.webhook_receiver import WebhookReceiver

CLOCK_HOOK = str(Path(__file__).parent / "clock")


@dataclass
class Row:
    scenario: str
    fault: str
    result: str = "not run"
    messages: int | str = "-"
    duplicates: int | str = "-"
    lost: int | str = "-"
    seconds: float = 0.0


ROWS: list[Row] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    row = getattr(item, "fault_row", None)
    if row is None:
        return
    if report.skipped:  # said in the table, not left out of it
        row.result = "n/a: " + str(report.longrepr[2]).removeprefix("Skipped: ")
    elif report.failed:
        row.result = "FAIL" if report.when == "call" else f"ERROR ({report.when})"
    elif report.when == "call" and report.passed:
        row.result = "pass"


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    header = ("scenario", "fault", "result", "messages", "duplicates", "lost", "seconds")
    lines = [(r.scenario, r.fault, r.result, str(r.messages), str(r.duplicates), str(r.lost), f"{r.seconds:.1f}")
             for r in ROWS]
    widths = [max(len(x) for x in column) for column in zip(header, *lines)]
    terminalreporter.section("fault-injection scenarios")
    database = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgres") else "SQLite"
    terminalreporter.write_line(f"suite database: {database}")
    for line in [header, tuple("-" * w for w in widths), *lines]:
        terminalreporter.write_line(" | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())


@pytest.fixture
def row(request):
    """This scenario's line in the table; the test fills in the figures."""
    scenario = request.node.callspec.params["scenario"]  # tests using ``row`` are parametrized by scenario
    found = Row(scenario.name, scenario.fault)
    request.node.fault_row = found
    ROWS.append(found)
    started = time.monotonic()
    yield found
    found.seconds = time.monotonic() - started


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def make_stage(app, ctx, monkeypatch, start_worker, receiver, tmp_path, test_config, database_url):  # noqa: F811
    """``make_stage(persistence=None, own_database=False)``: the scenario's world. Its Redis is
    its own (the web side here uses it too); with ``own_database`` the database is a throwaway
    PostgreSQL cluster, with an app of its own, that the scenario may restart."""
    made: list[Stage] = []
    cleanup: list = []

    def make(persistence: str | None = None, own_database: bool = False) -> Stage:
        redis = ScenarioRedis(persistence)
        redis.start()
        cleanup.append(redis.remove)
        web, url = app, None
        config = {"ALLOW_HTTP_CALLBACKS": True, "WEBHOOK_ALLOWED_HOSTS": frozenset({"127.0.0.1"})}
        if own_database:
            web, url = _cluster_app(test_config, redis.url, config, cleanup)
        else:
            for name, value in {**config, "REDIS_URL": redis.url}.items():
                monkeypatch.setitem(app.config, name, value)
            monkeypatch.setitem(app.extensions, "redis",
                                Redis.from_url(redis.url, socket_connect_timeout=2, socket_timeout=5))
        stage = _stage(web, redis, url or database_url, receiver,
                       start_worker, tmp_path)
        made.append(stage)
        return stage

    yield make
    for stage in made:
        for worker in stage.workers:
            worker.kill()
    for step in reversed(cleanup):
        step()


def _stage(web, redis, database_url, receiver, start_worker, tmp_path) -> Stage:  # noqa: F811
    from app.services.accounts import create_account, create_api_key

    account = create_account("Fault Co", "NOK", "Europe/Oslo")
    headers = {"X-API-Key": create_api_key(account)[1]}
    clock_file = tmp_path / "clock-offset"
    clock_file.write_text("0")
    return Stage(app=web, client=web.test_client(), account_id=account.id, headers=headers, redis=redis,
                 database_url=database_url, receiver=receiver, start=start_worker, clock_file=str(clock_file))


def _cluster_app(test_config, redis_url, extra, cleanup):
    """A throwaway PostgreSQL cluster with the schema, and an app on it whose context is pushed
    (popped at clean-up) so that services and checks in the test use it."""
    from flask_migrate import upgrade

    from app import create_app
    from app.config import sqlalchemy_url

    cluster = PostgresCluster().create()
    cleanup.append(cluster.remove)
    web = create_app({**test_config, **extra, "REDIS_URL": redis_url,
                      "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(cluster.url)})
    context = web.app_context()
    context.push()
    cleanup.append(context.pop)
    upgrade(directory=web.extensions["migrate"].directory)
    web.cluster = cluster
    return web, cluster.url
