"""Structured logs: the JSON line's shape, request ids from the request to its jobs (and the tick's
own), ids that cannot be trusted replaced, and no secret in any line."""
from __future__ import annotations

import io
import json
import logging
import re
import socket
from datetime import datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import update

from app import logs
from app.extensions import db
from app.models import Message, Status, utcnow

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_output():
    """smsdesk's own handler (what create_app installs) writing JSON into a buffer, everything from
    DEBUG up; the lines written so far as dicts from ``lines()``. The root logger is restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    logs.configure("DEBUG", "json", stream=buffer)

    class Output:
        def text(self) -> str:
            return buffer.getvalue()

        def lines(self) -> list[dict]:
            return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield Output()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the line ------------------------------------------------------------------------------------


def test_a_json_line_has_time_level_logger_message_ids_and_the_exception(log_output):
    log = logging.getLogger("smsdesk.test")
    with logs.context(request_id="req-1", job_id="job-1"):
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("it broke\nover two lines")
    log.warning("outside %s", "any request")

    inside, outside = log_output.lines()
    assert set(inside) == {"time", "level", "logger", "message", "request_id", "job_id", "exception"}
    assert inside["level"] == "ERROR" and inside["logger"] == "smsdesk.test"
    assert inside["message"] == "it broke\nover two lines"  # one line on the wire, escaped
    assert inside["request_id"] == "req-1" and inside["job_id"] == "job-1"
    assert "ZeroDivisionError" in inside["exception"] and "Traceback" in inside["exception"]
    stamped = datetime.fromisoformat(inside["time"].replace("Z", "+00:00"))
    assert inside["time"].endswith("Z") and abs(utcnow() - stamped) < timedelta(seconds=5)
    assert outside == {**outside, "message": "outside any request", "request_id": None, "level": "WARNING"}
    assert "job_id" not in outside and "exception" not in outside and "account_id" not in outside
    assert len(log_output.text().splitlines()) == 2


def test_the_text_format_names_the_request_or_a_dash():
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logs.configure("INFO", "text", stream=buffer)
        with logs.context(request_id="req-9"):
            logging.getLogger("smsdesk.test").info("hello")
        logging.getLogger("smsdesk.test").info("bye")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("INFO smsdesk.test [req-9]: hello")
    assert second.endswith("INFO smsdesk.test [-]: bye")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("configured", "tty", "expected"), [
    (None, True, "text"),
    (None, False, "json"),
    ("json", True, "json"),
    ("text", False, "text"),
])
def test_log_format_is_text_on_a_terminal_and_json_elsewhere_unless_set(configured, tty, expected):
    assert logs.choose_format(configured, _Stream(tty)) == expected


def test_an_unknown_log_format_refuses_to_start(test_config):
    from app import create_app

    with pytest.raises(RuntimeError, match="LOG_FORMAT='xml' is not known; use json or text"):
        create_app({**test_config, "LOG_FORMAT": "xml"})


def test_one_handler_however_often_the_app_is_created(test_config):
    from app import create_app

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        create_app(test_config)
        create_app(test_config)
        assert len([h for h in root.handlers if getattr(h, "smsdesk", False)]) == 1
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


# -- request ids ---------------------------------------------------------------------------------


def test_a_request_keeps_its_incoming_id_and_answers_with_it(client):
    response = client.get("/v1/ping", headers={"X-Request-ID": "lb-7f3a:42 / edge"})
    assert response.headers["X-Request-ID"] == "lb-7f3a:42 / edge"


def test_a_request_without_an_id_gets_a_new_one_each_time(client):
    first, second = client.get("/v1/ping"), client.get("/healthz")
    assert GENERATED.fullmatch(first.headers["X-Request-ID"])
    assert GENERATED.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


@pytest.mark.parametrize("incoming", ["x" * 129, "bjørn", "tab\there", "   "])
def test_an_id_that_is_too_long_or_not_printable_ascii_is_replaced(client, incoming):
    response = client.get("/v1/ping", headers={"X-Request-ID": incoming})
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_an_id_of_128_characters_is_kept(client):
    assert client.get("/v1/ping", headers={"X-Request-ID": "a" * 128}).headers["X-Request-ID"] == "a" * 128


def test_refused_requests_have_an_id_too(client):
    """The first hook of all: a request refused by a later one (a 404 here) still gets its id."""
    response = client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "lost-1"


def test_lines_written_during_a_request_carry_its_id_and_account(ctx, client, auth, account, log_output, monkeypatch):
    """With Redis down, an accepted send logs that the sweeper will take the rows: that line names
    the request and the account whose key made it."""
    monkeypatch.setitem(ctx.extensions, "redis", Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0"))
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"},
                           headers={**auth, "X-Request-ID": "send-42"})
    assert response.status_code == 200
    written = [line for line in log_output.lines() if line["logger"] == "app.jobs.queue"]
    assert written and all(line["request_id"] == "send-42" and line["account_id"] == account.id for line in written)
    assert "sweeper" in written[0]["message"]


def test_a_signed_in_persons_account_is_named(ctx, account, log_output):
    from flask import g

    from app.services.accounts import create_user

    user = create_user(account, "ops@example.com", "correct horse battery", "admin")
    assert user.account.is_active  # loaded, as the dashboard's user loader leaves it
    with ctx.test_request_context("/", headers={"X-Request-ID": "dash-1"}):
        ctx.preprocess_request()
        g._login_user = user
        logging.getLogger("smsdesk.test").info("on the dashboard")
    (line,) = [line for line in log_output.lines() if line["logger"] == "smsdesk.test"]
    assert line["request_id"] == "dash-1" and line["account_id"] == account.id


def test_the_request_id_travels_into_the_jobs_it_enqueues(ctx, client, auth, run_jobs, log_output):
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"},
                           headers={**auth, "X-Request-ID": "order-7781"})
    assert response.status_code == 200
    queue = Queue(ctx.config["RQ_QUEUE"], connection=Redis.from_url(ctx.config["REDIS_URL"]))
    (job,) = queue.get_jobs()
    assert job.meta["request_id"] == "order-7781"

    run_jobs()
    done = [line for line in log_output.lines() if line["message"].startswith("job dispatch done")]
    assert len(done) == 1
    assert done[0]["request_id"] == "order-7781" and done[0]["job_id"] == job.id
    # After the job its ids are gone again.
    logging.getLogger("smsdesk.test").info("after")
    assert log_output.lines()[-1]["request_id"] is None and "job_id" not in log_output.lines()[-1]


def test_a_failing_job_says_so_under_its_request_id_and_without_the_exception_text(
        ctx, client, auth, run_jobs, log_output, monkeypatch):
    from app.services import dispatch

    def broken(batch_id=None):
        raise RuntimeError("secret detail +4799999999")

    monkeypatch.setattr(dispatch, "dispatch", broken)
    client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers={**auth, "X-Request-ID": "r-9"})
    run_jobs()
    (failed,) = [line for line in log_output.lines() if line["message"].startswith("job dispatch failed")]
    assert failed["request_id"] == "r-9" and failed["level"] == "WARNING"
    assert failed["message"].endswith(": RuntimeError") and "secret detail" not in failed["message"]


def test_jobs_the_tick_enqueues_carry_the_ticks_own_id(ctx, client, auth, run_jobs, log_output):
    from app.jobs.ticker import run_tick

    later = (utcnow() + timedelta(hours=1)).isoformat()
    response = client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi", "scheduled_at": later},
                           headers={**auth, "X-Request-ID": "scheduler-1"})
    assert response.status_code == 200
    db.session.execute(update(Message).where(Message.status == Status.SCHEDULED)
                       .values(scheduled_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    run_tick()
    queue = Queue(ctx.config["RQ_QUEUE"], connection=Redis.from_url(ctx.config["REDIS_URL"]))
    ids = {job.meta["request_id"] for job in queue.get_jobs()}
    assert len(ids) == 1 and next(iter(ids)).startswith("tick-")
    tick_id = ids.pop()
    assert GENERATED.fullmatch(tick_id.removeprefix("tick-"))

    run_jobs()
    done = [line for line in log_output.lines() if line["message"].startswith("job dispatch done")]
    assert [line["request_id"] for line in done] == [tick_id]


def test_each_tick_has_an_id_of_its_own_and_leaves_none_behind():
    seen = []

    @logs.own_request_id("tick-")
    def tick():
        seen.append(logs.current_request_id())

    with logs.context(request_id="the-job"):
        tick()
        tick()
        assert logs.current_request_id() == "the-job"
    assert len(set(seen)) == 2 and all(s.startswith("tick-") for s in seen)
    assert logs.current_request_id() is None


# -- secrets -------------------------------------------------------------------------------------


def test_no_secret_appears_in_any_log_line(ctx, client, auth, api_key, account, run_jobs, log_output):
    """Everything at DEBUG while an API key, a password (right and wrong), a provider's callback
    token and the account's webhook secret are used: none of them is written anywhere."""
    from tests.dashboard.conftest import Browser

    from app.services.accounts import create_user

    password, wrong = "correct horse battery", "tr0ub4dor&3-wrong"
    create_user(account, "admin@example.com", password, "admin")
    callback_token = ctx.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]
    webhook_secret = account.webhook_secret

    client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"}, headers=auth)
    client.get("/v1/sms/messages", headers={"Authorization": f"Bearer {api_key}"})
    client.get("/v1/sms/messages", headers={"X-API-Key": api_key + "x"})  # a wrong key is a secret too
    client.post("/v1/providers/simulator/dlr", headers={"X-Callback-Token": callback_token}, json={"reports": []})
    browser = Browser(ctx)
    assert browser.login("admin@example.com", wrong).status_code == 401
    assert browser.login("admin@example.com", password).status_code == 303
    assert browser.get("/webhooks/secret").status_code == 200
    run_jobs()

    written = log_output.text()
    assert len(log_output.lines()) >= 3  # something was logged, so the check below means something
    for secret in (api_key, api_key.rsplit("_", 1)[1], password, wrong, callback_token, webhook_secret):
        assert secret not in written


def test_a_database_errors_text_does_not_quote_the_values_it_failed_on(ctx, log_output):
    """RQ and the error pages log exceptions whole; a failed statement must not carry its values
    (texts, numbers, secrets) into that log: SQLAlchemy hides the parameters, and the formatter
    drops the database's own DETAIL line (PostgreSQL quotes the failing row there)."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    secret = "whsec_" + "must-not-be-logged"  # built here, so the traceback's source line does not show it
    with pytest.raises(IntegrityError) as caught:
        db.session.execute(text("INSERT INTO accounts (id) VALUES (:id)"), {"id": secret})
    db.session.rollback()
    assert "hidden" in str(caught.value)
    logging.getLogger("app.test").error("statement failed", exc_info=caught.value)
    for fmt in (logs.JsonFormatter(), logs.TextFormatter()):
        assert secret not in fmt.formatException((type(caught.value), caught.value, caught.value.__traceback__))
    assert "IntegrityError" in log_output.text() and secret not in log_output.text()


@pytest.mark.parametrize("text, kept", [
    ("psycopg.errors.UniqueViolation: duplicate key\nDETAIL:  Key (phone)=(+4791234567) already exists.",
     "psycopg.errors.UniqueViolation: duplicate key"),
    ("Traceback\n  DETAIL: Failing row contains (secret).\nValueError: x", "Traceback\nValueError: x"),
    ("no detail here", "no detail here"),
])
def test_scrub_drops_only_the_database_detail_lines(text, kept):
    assert logs.scrub(text) == kept
