"""Operator status (admins; with ``OPERATOR_EMAILS`` set, only those): is the machinery running? Workers and what they are doing, the job
queue, the tick, messages waiting and stuck, the webhook backlog and the receivers failing, and
whether Redis and the database answer.

Everything is read through ``app.services.operations``, the figures ``/metrics`` serves, for the
whole installation (counts only; receivers are shown without credentials or query string). The
page polls its own URL every five seconds and takes the fragment. A store that is down is what
this page is for, so neither Redis nor the database being unreachable makes it fail.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.dashboard import dashboard
from app.dashboard.access import operators_only, role_required
from app.dashboard.pages import render
from app.models import utcnow
from app.services import operations
from app.services.operations import Check

OPERATORS = ("admin",)
REFRESH_SECONDS = 5


@dashboard.get("/status")
@role_required(*OPERATORS)
@operators_only
def status():
    response = render("status/index.html", "status/_status.html", **status_context())
    return (*response, {"Cache-Control": "no-store"})


def status_context() -> dict:
    database, redis = operations.check_database(), operations.check_redis()
    figures, endpoints, queue, tick = None, [], None, None
    if database.ok:
        try:
            figures, endpoints = operations.database_figures(), operations.failing_endpoints()
        except SQLAlchemyError as exc:
            database = Check(False, error=type(exc).__name__)
    if redis.ok:
        try:
            queue, tick = operations.queue_figures(), operations.last_tick()
        except RedisError as exc:
            redis = Check(False, error=type(exc).__name__)
    config = current_app.config
    return {"now": utcnow(), "database": database, "redis": redis, "figures": figures, "endpoints": endpoints,
            "queue": queue, "tick": tick, "refresh_seconds": REFRESH_SECONDS,
            "sending_timeout": config["SENDING_TIMEOUT_SECONDS"], "tick_seconds": config["TICK_SECONDS"]}


@dashboard.app_template_filter("age")
def age(since: datetime | None, now: datetime) -> str:
    """How long ago, as a person reads it: "4 s", "12 min 5 s", "3 h 20 min", "2 d 4 h"."""
    if since is None:
        return "—"
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size, smaller, smaller_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            rest = (seconds % size) // smaller_size
            return f"{seconds // size} {unit}" + (f" {rest} {smaller}" if rest else "")
    return f"{seconds} s"
