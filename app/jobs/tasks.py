"""RQ job functions. They take ids, never objects, and delegate to services."""
from __future__ import annotations

import contextlib
import functools

from flask import has_app_context

from app.extensions import db
from app.logs import job_context

_app = None


def in_app(func):
    """Run the job inside an application context, creating the app once per worker process when
    the worker did not provide one (a plain ``rq worker``), and release the session afterwards."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with contextlib.nullcontext() if has_app_context() else _worker_app().app_context(), job_context(func.__name__):
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper


def _worker_app():
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


@in_app
def dispatch(batch_id: str | None = None) -> int:
    from app.jobs.queue import dispatch_started
    from app.services.dispatch import dispatch as run

    if batch_id is None:
        dispatch_started()
    return run(batch_id)


@in_app
def simulator_reports() -> int:
    from app.services.simulator import deliver_due_reports

    return deliver_due_reports()


@in_app
def tick() -> dict:
    from app.jobs.ticker import run_tick

    return run_tick()


@in_app
def import_contacts(import_id: str) -> dict | None:
    from app.services.contact_import_run import run

    return run(import_id)


@in_app
def run_campaign(campaign_id: str) -> dict:
    from app.services.campaign_run import run

    return run(campaign_id)
