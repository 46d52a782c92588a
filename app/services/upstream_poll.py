"""Asking upstream providers about messages whose delivery report never came.

A WAYSCloud upstream reports through webhooks to ``PUBLIC_BASE_URL``; when those cannot reach us
(no public URL, a firewall, an outage on either side) messages would stay SENT for ever. So the
tick polls: rows of a provider that can be polled (``poll`` on its class), SENT for longer than
``WAYSCLOUD_POLL_AFTER_SECONDS`` (and not longer than ``WAYSCLOUD_POLL_MAX_AGE_HOURS``, after which
no report is coming), are asked about one by one and their final statuses applied like any report.

Pacing without a column: the rows are walked in rounds, in ``(sent_at, id)`` order, at most
``WAYSCLOUD_POLL_BATCH`` a tick, the position kept in Redis (``CURSOR_KEY``). A round ends when a
tick finds fewer rows than a batch, and the next one starts no sooner than
``WAYSCLOUD_POLL_EVERY_SECONDS`` after the last one started (``ROUND_KEY``): every message is
asked at most once per round, the work per tick is bounded, and a message delivered meanwhile simply
drops out of the walk. If Redis loses the keys, a round starts over: harmless. When the upstream
cannot be asked, the position stays where it is, so the same rows are tried on the next tick.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app.extensions import db, redis_conn
from app.models import Message, Status, utcnow
from app.providers import get_provider, known_codes, provider_class
from app.services.delivery import apply_reports

log = logging.getLogger(__name__)
CURSOR_KEY = "smsdesk:upstream-poll:cursor"
ROUND_KEY = "smsdesk:upstream-poll:round"
CURSOR_SECONDS = 24 * 3600  # a walk left half-way that long is started over
_TABLE = Message.__table__


def pollable_codes() -> list[str]:
    return [code for code in known_codes(current_app.config) if hasattr(provider_class(code), "poll")]


def poll_once(now: datetime | None = None) -> dict:
    """One tick's share of the walk: ``{"upstream_polled": rows asked, "upstream_reports": applied}``."""
    config, now = current_app.config, now or utcnow()
    codes = pollable_codes()
    if not codes:
        return {}
    cursor = _cursor()
    if cursor is None and not _start_round(config["WAYSCLOUD_POLL_EVERY_SECONDS"]):
        return {}  # the last round started too recently
    limit = max(1, config["WAYSCLOUD_POLL_BATCH"])
    rows = _due_rows(codes, now, cursor, limit, config)
    db.session.commit()  # no transaction stays open across the HTTP calls
    applied, asked_all = _ask(rows)
    if asked_all:
        _move_cursor(rows[-1] if len(rows) == limit else None)
    return {"upstream_polled": len(rows), "upstream_reports": applied}


def _due_rows(codes: list[str], now: datetime, cursor: tuple[datetime, str] | None, limit: int, config) -> list:
    stmt = (
        select(_TABLE.c.id, _TABLE.c.provider, _TABLE.c.provider_message_id, _TABLE.c.sent_at)
        .where(_TABLE.c.status == Status.SENT, _TABLE.c.provider.in_(codes),
               _TABLE.c.provider_message_id.is_not(None),
               _TABLE.c.sent_at <= now - timedelta(seconds=config["WAYSCLOUD_POLL_AFTER_SECONDS"]),
               _TABLE.c.sent_at >= now - timedelta(hours=config["WAYSCLOUD_POLL_MAX_AGE_HOURS"]))
        .order_by(_TABLE.c.sent_at, _TABLE.c.id)
        .limit(limit)
    )
    if cursor is not None:
        sent_at, message_id = cursor
        stmt = stmt.where(or_(_TABLE.c.sent_at > sent_at, and_(_TABLE.c.sent_at == sent_at, _TABLE.c.id > message_id)))
    return db.session.execute(stmt).all()


def _ask(rows: list) -> tuple[int, bool]:
    """Ask each row's provider; apply the final statuses. Returns (reports applied, whether every
    row got an answer)."""
    groups: dict[str, list] = defaultdict(list)
    for row in rows:
        groups[row.provider].append(row)
    applied, asked_all = 0, True
    for code, group in groups.items():
        answers = get_provider(code).poll([(row.id, row.provider_message_id) for row in group])
        asked_all = asked_all and len(answers) == len(group)
        reports = [report for report in answers.values() if report is not None]
        if reports:
            applied += apply_reports(code, reports)
            db.session.commit()
    if not asked_all:
        log.warning("upstream poll: some messages could not be asked about; trying them again next tick")
    return applied, asked_all


def _start_round(every_seconds: int) -> bool:
    return bool(redis_conn().set(ROUND_KEY, "1", nx=True, ex=max(1, every_seconds)))


def _cursor() -> tuple[datetime, str] | None:
    raw = redis_conn().get(CURSOR_KEY)
    if raw is None:
        return None
    try:
        sent_at, message_id = json.loads(raw)
        return datetime.fromisoformat(sent_at), message_id
    except (ValueError, TypeError):
        return None  # unreadable: start the round over


def _move_cursor(last) -> None:
    """Past ``last`` (the round goes on), or, with None, the round is over."""
    if last is None:
        redis_conn().delete(CURSOR_KEY)
    else:
        redis_conn().set(CURSOR_KEY, json.dumps([last.sent_at.isoformat(), last.id]), ex=CURSOR_SECONDS)
