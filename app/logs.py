"""Logging: one line per record, JSON for machines or plain text for people, each carrying the
request id of the request or job it belongs to.

Why the standard library and not a logging framework: a Formatter of twenty lines gives the JSON
lines, and a Filter on the one handler stamps every record (ours, Flask's, RQ's) with the ids, so
nothing else in the code base has to change how it logs.

Request ids: a request keeps a valid incoming ``X-Request-ID`` (printable ASCII, at most 128
characters) or gets a new one; it is echoed in the response header, stamped on every log line of
the request and travels in the ``meta`` of every job the request enqueues (``app.jobs.queue``), so
the job's lines carry it too (``app.jobs.tasks.in_app``). Each tick takes an id of its own
(``tick-...``), which the jobs it enqueues inherit.

What is never logged: request bodies and headers (API keys, passwords, callback tokens and webhook
secrets travel there). Nothing here reads them, and no view logs them.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from rq import get_current_job
from sqlalchemy import inspect
from sqlalchemy.exc import NoInspectionAvailable

log = logging.getLogger("app.jobs")  # the lines job_context writes are about jobs
HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[\x20-\x7e]{1,128}")
_request_id: ContextVar[str | None] = ContextVar("smsdesk_request_id", default=None)
_job_id: ContextVar[str | None] = ContextVar("smsdesk_job_id", default=None)

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def new_request_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def current_request_id() -> str | None:
    return _request_id.get()


def accepted_request_id(value: str | None) -> str | None:
    """An incoming id as it may be used, or None when it is missing or not one we can log safely."""
    value = (value or "").strip()
    return value if _VALID_ID.fullmatch(value) else None


@contextlib.contextmanager
def context(*, request_id: str | None = None, job_id: str | None = None):
    """Log lines written inside carry these ids (restored afterwards, also on error)."""
    tokens = [(var, var.set(value)) for var, value in ((_request_id, request_id), (_job_id, job_id))
              if value is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def own_request_id(prefix: str):
    """Decorator: each call runs under a fresh request id (``<prefix><hex>``), so a tick's lines,
    and the jobs it enqueues, can be told apart from everything else."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with context(request_id=new_request_id(prefix)):
                return func(*args, **kwargs)
        return wrapper
    return decorate


@contextlib.contextmanager
def job_context(name: str):
    """Around an RQ job's work: its lines carry the request id the enqueuer left in the job's
    ``meta`` (the job's own id when there is none) and the job id; a line says how it ended, and a
    failure is counted for ``/metrics``. Outside a job (a direct call) it does nothing."""
    job = get_current_job()
    if job is None:
        yield
        return
    started = time.perf_counter()
    with context(request_id=(job.meta or {}).get("request_id") or f"job-{job.id}", job_id=job.id):
        try:
            yield
        except Exception as exc:
            from app.services.metrics import count_job_failure  # the app's services, not at import

            count_job_failure(name)
            # The type only: an exception's text may quote the data it failed on (RQ logs the rest).
            log.warning("job %s failed after %d ms: %s", name, _ms(started), type(exc).__name__)
            raise
        log.info("job %s done in %d ms", name, _ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class ContextFilter(logging.Filter):
    """Stamps ``request_id``, ``job_id`` and ``account_id`` on every record the handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.job_id = _job_id.get()
        record.account_id = _account_id()
        return True


def _account_id() -> str | None:
    """The account of the API key or the signed-in person, when the request has loaded it (a
    commit expires the person's row, and its lines go without). Read without touching the
    database: a log line must never cause a query (the session may be mid-failure)."""
    if not has_request_context():
        return None
    if (account := g.get("account")) is not None:  # the API's key
        return _identity(account)
    if (user := g.get("_login_user")) is not None:  # the dashboard's session (Flask-Login)
        try:
            return inspect(user).dict.get("account_id")
        except NoInspectionAvailable:  # the anonymous user
            return None
    return None


def _identity(row) -> str | None:
    try:
        identity = inspect(row).identity
    except NoInspectionAvailable:
        return None
    return str(identity[0]) if identity else None


def scrub(text: str) -> str:
    """A traceback without the lines a database adds to its errors that quote the data: PostgreSQL's
    ``DETAIL:`` (the failing row, the duplicate key's value). The statement's parameters are already
    hidden (``hide_parameters``)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("DETAIL:"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id; account_id,
    job_id and the exception's traceback when there are any."""

    def formatException(self, ei) -> str:
        return scrub(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key in ("account_id", "job_id"):
            if value := getattr(record, key, None):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatException(self, ei) -> str:
        return scrub(super().formatException(ei))

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


def choose_format(configured: str | None, stream=None) -> str:
    """``LOG_FORMAT`` if set; else text on a terminal (``make run``) and JSON anywhere else."""
    if configured:
        return configured
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


_QUERY = re.compile(r"(\s/[^\s?]*)\?[^\s\"]*")


class WithoutQueryStrings(logging.Filter):
    """The development server's request lines without their query strings: a client that puts its
    API key (or a person's number, in a search) into the URL must not have it written to the log.
    gunicorn's access line leaves it out too (``app/gunicorn_conf.py``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_QUERY.sub(r"\1?…", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _QUERY.sub(r"\1?…", record.msg)
        return True


def configure(level: str, fmt: str, stream=None) -> logging.Handler:
    """Install smsdesk's handler on the root logger (replacing the one an earlier app installed in
    this process) and return it."""
    if fmt not in FORMATS:
        raise RuntimeError(f"LOG_FORMAT={fmt!r} is not known; use json or text")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "smsdesk", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.smsdesk = True
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, WithoutQueryStrings) for f in werkzeug.filters):
        werkzeug.addFilter(WithoutQueryStrings())
    return handler


def init_app(app: Flask) -> None:
    configure(app.config["LOG_LEVEL"], choose_format(app.config.get("LOG_FORMAT")))
    # First of the request hooks, so even a request refused by a later hook has its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_answer_with_request_id)
    app.teardown_request(_end_request)


def _start_request() -> None:
    g.request_id = accepted_request_id(request.headers.get(HEADER)) or new_request_id()
    g.request_id_token = _request_id.set(g.request_id)


def _answer_with_request_id(response):
    if request_id := g.get("request_id"):
        response.headers[HEADER] = request_id
    return response


def _end_request(_exc) -> None:
    if (token := g.pop("request_id_token", None)) is not None:
        _request_id.reset(token)
