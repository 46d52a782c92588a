"""End-to-end fixtures: the real product (gunicorn web, an RQ worker with its tick, Redis, a fresh
SQLite file migrated with ``flask db upgrade``) started as processes on loopback, and Debian's
Chromium driven headless by Playwright.

The product is started once for the tests of this folder and stopped when they are done (package
scope), so its worker ticks no longer while the rest of the suite runs. Each process has a session of
its own and its output goes to a log file; the logs are printed when a test fails.

The browser is /usr/bin/chromium from Debian's ``chromium`` package, never a browser downloaded by
Playwright. When it is missing the tests fail and say how to install it: a skip would let CI go
green without the journey ever having run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import _free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
QUEUE = "smsdesk-e2e"
# A Redis database of their own on the suite's Redis: the other tests flush theirs, not this one.
REDIS_DB = 13
ACCOUNT = "Nordlys Sykkel AS"
ADMIN = ("admin@nordlys-sykkel.test", "e2e-boss-passphrase")  # not containing "admin": the password policy
VIEWER = ("viewer@nordlys-sykkel.test", "e2e-reader-passphrase")
START_TIMEOUT = 30
STOP_TIMEOUT = 10
LOG_TAIL = 6000
TIMEOUT_MS = 10_000  # one browser action or expectation


@dataclass
class Product:
    base_url: str
    tmp: Path
    env: dict = field(repr=False)  # the whole environment: kept out of tracebacks
    logs: list[Path] = field(default_factory=list)

    def print_logs(self) -> None:
        for log in self.logs:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            print(f"\n----- {log.name} (last {LOG_TAIL} characters) -----\n{text[-LOG_TAIL:]}")


class _Process:
    """A child in its own session, its output in a log file; stopped with its whole group."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path) -> None:
        self.name = name
        self.log = log
        self._out = open(log, "ab")
        self.popen = subprocess.Popen(argv, env=env, cwd=PROJECT_ROOT, stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(self.popen.pid, sig)  # the group: gunicorn's workers go with their arbiter
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._out.close()


def _redis_url_for_e2e(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


def _flask(env: dict, log: Path, *args: str) -> str:
    """One ``flask --app app`` command, to completion; its output goes to ``log``."""
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    with open(log, "a") as out:
        out.write(f"$ flask --app app {' '.join(args)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        raise RuntimeError(f"`flask --app app {' '.join(args)}` failed ({result.returncode}):\n"
                           f"{result.stdout}{result.stderr}")
    return result.stdout


def _wait_for_web(url: str, web: _Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if not web.alive:
            raise RuntimeError(f"the web server exited at start ({web.popen.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer {url}/login within {START_TIMEOUT}s")


def _wait_for_worker(redis_url: str, worker: _Process) -> None:
    """Until the worker has registered with RQ on our queue: then jobs queued by the web are taken."""
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(redis_url)
    try:
        queue = Queue(QUEUE, connection=connection)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not worker.alive:
                raise RuntimeError(f"the worker exited at start ({worker.popen.returncode})")
            if Worker.all(queue=queue):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no worker listened on the queue {QUEUE} within {START_TIMEOUT}s")
    finally:
        connection.close()


MISSING_CHROMIUM = (
    f"Chromium is missing: the end-to-end tests drive Debian's Chromium at {CHROMIUM}, which is not installed. "
    "Install it with `apt-get install -y chromium` as root (`make test` does so itself when run as root). "
    "Playwright's own browser downloads are not used."
)


def chromium_installed() -> bool:
    return os.access(CHROMIUM, os.X_OK)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Without Chromium every end-to-end test fails (never skips: CI must not go green without the
    journey having run), saying how to install it; the fixtures start nothing then."""
    if not chromium_installed():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)


@pytest.fixture(scope="package")
def product(tmp_path_factory, redis_url) -> Product | None:
    """The whole product on loopback with an account, an admin and a viewer. Stopped at the end.
    None without Chromium: the tests fail then (pytest_pyfunc_call), no use starting anything."""
    if not chromium_installed():
        yield None
        return
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    e2e_redis = _redis_url_for_e2e(redis_url)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SIMULATOR_", "PYTEST", "FLASK_", "TEST_DATABASE"))}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp / 'smsdesk-e2e.db'}",
        "REDIS_URL": e2e_redis,
        "RQ_QUEUE": QUEUE,
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "SMSDESK_VAR_DIR": str(tmp),
        "SIMULATOR_REPORT_LATENCY_MS": "300",
        "TICK_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    product = Product(base_url=f"http://127.0.0.1:{port}", tmp=tmp, env=env)
    setup_log = tmp / "setup.log"
    product.logs.append(setup_log)

    from redis import Redis

    with Redis.from_url(e2e_redis) as redis:
        redis.flushdb()  # what an earlier run left behind
    processes: list[_Process] = []
    try:
        _flask(env, setup_log, "db", "upgrade")
        _flask(env, setup_log, "accounts", "create", ACCOUNT, "--currency", "NOK", "--timezone", "Europe/Oslo")
        for (email, password), role in ((ADMIN, "admin"), (VIEWER, "viewer")):
            _flask(env, setup_log, "users", "create", "--account", ACCOUNT, "--email", email,
                   "--password", password, "--role", role)

        worker = _Process("worker", [sys.executable, "-m", "flask", "--app", "app", "worker"], env, tmp / "worker.log")
        processes.append(worker)
        product.logs.append(worker.log)
        # No control socket: its default path is one per user ($HOME/.gunicorn/gunicorn.ctl), which
        # another gunicorn on the machine (make run, a second test run) would fight over.
        web = _Process("web", [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "--no-control-socket", "--access-logfile", "-", "--config", "python:app.gunicorn_conf",
                               "app:create_app()"],
                       env, tmp / "web.log")
        processes.append(web)
        product.logs.append(web.log)
        _wait_for_web(product.base_url, web)
        _wait_for_worker(e2e_redis, worker)
    except Exception:
        for process in reversed(processes):
            process.stop()
        product.print_logs()
        raise

    yield product

    for process in reversed(processes):
        process.stop()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"e2e_report_{report.when}", report)


@pytest.fixture(autouse=True)
def _logs_on_failure(request, product):
    """After a failed test: the product's logs, in the test's report."""
    yield
    report = getattr(request.node, "e2e_report_call", None)
    if product is not None and report is not None and report.failed:
        product.print_logs()


@pytest.fixture(scope="package")
def playwright_driver():
    if not chromium_installed():
        yield None
        return
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    # The figures of the send preview are marked data-figure="units" and so on: their test ids.
    driver.selectors.set_test_id_attribute("data-figure")
    yield driver
    driver.stop()


@dataclass
class Browser:
    """What a test sees of its browser: the page, and what went wrong in it."""

    page: object
    base_url: str
    page_errors: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def browser(request, playwright_driver, product, tmp_path) -> Browser | None:
    """A fresh headless Chromium (fresh user-data dir) with one page; a screenshot when the test fails."""
    if playwright_driver is None or product is None:
        yield None  # no Chromium: the test fails before it runs
        return
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=product.base_url, viewport={"width": 1280, "height": 900}, locale="nb-NO",
        timezone_id="Europe/Oslo", accept_downloads=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.pages[0] if context.pages else context.new_page()
    seen = Browser(page=page, base_url=product.base_url)
    page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
    page.on("console", lambda msg: seen.console.append(f"{msg.type}: {msg.text}"))
    page.on("response", lambda r: seen.server_errors.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 500 else None)
    yield seen
    report = getattr(request.node, "e2e_report_call", None)
    if report is not None and report.failed:
        shot = product.tmp / f"failure-{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot of the failure: {shot}\nat {page.url}")
        except Exception as exc:  # a crashed page has no screenshot; the report says so
            print(f"\nno screenshot: {exc}")
        print("browser console:\n" + "\n".join(seen.console[-50:]))
    context.close()


@pytest.fixture
def page(browser):
    """Playwright's page (sync API) in a fresh headless Chromium, at the product's base URL."""
    return browser.page if browser is not None else None
