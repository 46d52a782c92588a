"""The dispatch engine: claim QUEUED rows in batches, hand them to their provider, record answers.

The database is the source of truth. A claim is an atomic conditional UPDATE, so two workers
never send the same row and a re-run finds nothing left. A worker killed mid-call leaves rows in
SENDING; :func:`reconcile_stuck` asks the provider about them by our reference and re-submits only
what the provider never received.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db, redis_conn
from app.jobs.queue import request_dispatch
from app.models import Message, Status, utcnow
from app.models.message import claim_statement, provider_filter, reclaim_statement
from app.providers import Outbound, SendResult, get_provider, known_codes
from app.services.metrics import observe_provider_call
from app.services.throttle import wait_for_capacity

log = logging.getLogger(__name__)
_TABLE = Message.__table__


def dispatch(batch_id: str | None = None) -> int:
    """Send QUEUED messages (of one batch, or any) until none are left; returns how many."""
    size = _claim_size(current_app.config)
    handled = 0
    while rows := _claim(batch_id, size):
        if len(rows) == size:
            request_dispatch()  # a full claim: there may be more, so let another worker help
        for provider_code, group in _by_provider(rows).items():
            submit(provider_code, group)
        handled += len(rows)
    return handled


def _claim_size(config) -> int:
    """Rows per claim. When throttled, no more than one second's budget: claimed rows wait in
    SENDING for the throttle, and rows waiting there longer than ``SENDING_TIMEOUT_SECONDS``
    would be taken for a dead worker's and re-submitted by the reconciler."""
    size = config["DISPATCH_BATCH_SIZE"]
    per_second = config["THROTTLE_PER_SECOND"]
    return min(size, per_second) if per_second > 0 else size


def _claim(batch_id: str | None, size: int) -> list:
    dialect = db.session.get_bind().dialect.name
    stmt = claim_statement(dialect, utcnow(), size, batch_id, known_providers())
    rows = db.session.execute(stmt).all()
    db.session.commit()
    return rows


def known_providers() -> tuple[str, ...]:
    """The providers this worker can send through. Rows for any other provider (written by a
    newer web process during a rolling deploy, say) are left for a worker that knows it: they
    wait as QUEUED rather than being failed, or blocking the reconciler on every tick. Labelled
    codes (``wayscloud.<label>``) are known where their connection is configured."""
    return known_codes(current_app.config)


def _by_provider(rows) -> dict[str, list]:
    groups: dict[str, list] = defaultdict(list)
    for row in rows:
        groups[row.provider or current_app.config["SMS_PROVIDER"]].append(row)
    return groups


def submit(provider_code: str, rows: list) -> None:
    """Hand claimed rows to the provider and record its answers. If the provider call fails as a
    whole, the rows stay SENDING for the reconciler: we cannot know what the provider received."""
    provider = get_provider(provider_code)
    if wait_for_capacity(redis_conn(), provider_code, len(rows), current_app.config["THROTTLE_PER_SECOND"]):
        _renew_claim(rows)
    batch = [Outbound(row.id, row.to_number, row.from_number, row.body) for row in rows]
    try:
        with observe_provider_call(provider_code, len(batch)):
            results = provider.send(batch)
    except Exception:
        log.exception("provider %s failed a batch of %d; leaving it to the reconciler", provider_code, len(batch))
        return
    record_results(provider_code, results)


def _renew_claim(rows: list) -> None:
    """Stamp ``sending_at`` again after waiting on the throttle, right before the provider call.
    The reconciler takes rows SENDING for longer than ``SENDING_TIMEOUT_SECONDS`` for a dead
    worker's; a live worker that waited must not look dead, or its rows would be submitted twice.
    (Without a wait the claim is milliseconds old; a provider call must itself time out well
    within that timeout.)"""
    db.session.execute(
        _TABLE.update()
        .where(_TABLE.c.id.in_([row.id for row in rows]), _TABLE.c.status == Status.SENDING)
        .values(sending_at=utcnow())
    )
    db.session.commit()


def record_results(provider_code: str, results: list[SendResult]) -> None:
    """SENDING -> SENT for accepted messages, SENDING -> FAILED for rejected ones: one statement
    for each (see ``Message.transition_each``)."""
    now = utcnow()
    accepted = [{"id": r.reference, "pmid": r.provider_message_id} for r in results if r.accepted]
    rejected = [
        {"id": r.reference, "code": r.error_code or "REJECTED", "text": r.error_message or "Rejected by provider"}
        for r in results if not r.accepted
    ]
    if accepted:
        db.session.execute(Message.transition_each(
            Status.SENT, accepted, now=now,
            values=lambda each: {"provider": provider_code, "provider_message_id": each.pmid}))
    if rejected:
        db.session.execute(Message.transition_each(
            Status.FAILED, rejected, now=now,
            values=lambda each: {"provider": provider_code, "error_code": each.code, "error_message": each.text}))
    db.session.commit()


def promote_due() -> list[str | None]:
    """SCHEDULED -> QUEUED for every message whose time has come; returns the batches to dispatch
    (``None`` stands for rows without a batch: ``dispatch(None)`` takes any QUEUED row)."""
    now = utcnow()
    stmt = Message.transition(Status.QUEUED, _TABLE.c.scheduled_at <= now, now=now).returning(_TABLE.c.batch_id)
    batches = {row.batch_id for row in db.session.execute(stmt)}
    db.session.commit()
    return _batch_order(batches)


def forgotten_batches(limit: int = 100) -> list[str | None]:
    """Batches with rows QUEUED for longer than a dispatch job should take to start: their job was
    lost (Redis down or restarted without persistence) and must be enqueued again.

    A batch whose job is merely late (workers busy) is enqueued once more as well; that is
    harmless, because a claim is atomic and a surplus job finds nothing left to claim."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["SWEEP_AFTER_SECONDS"])
    stmt = (
        select(_TABLE.c.batch_id)
        .where(_TABLE.c.status == Status.QUEUED, _TABLE.c.queued_at < cutoff, *provider_filter(known_providers()))
        .distinct()
        .limit(limit)
    )
    return _batch_order(db.session.scalars(stmt))


def _batch_order(batches) -> list[str | None]:
    # Rows without a batch must not be forgotten either; their job is dispatch(None), run last.
    batches = set(batches)
    return sorted(b for b in batches if b) + ([None] if None in batches else [])


def reconcile_stuck(limit: int | None = None) -> int:
    """Settle rows stuck in SENDING: recorded as SENT if the provider has them, else re-submitted
    with the same reference, and FAILED after ``MAX_SEND_ATTEMPTS``. At most one claim's worth at
    a time, so a re-submission fits the throttle like any other batch."""
    config = current_app.config
    limit = limit or _claim_size(config)
    now = utcnow()
    stale_before = now - timedelta(seconds=config["SENDING_TIMEOUT_SECONDS"])
    dialect = db.session.get_bind().dialect.name
    rows = db.session.execute(reclaim_statement(dialect, now, stale_before, limit, known_providers())).all()
    db.session.commit()
    for provider_code, group in _by_provider(rows).items():
        try:
            _settle(provider_code, group, config["MAX_SEND_ATTEMPTS"])
        except Exception:  # noqa: BLE001 - one provider that cannot be asked must not hold up the others
            db.session.rollback()
            log.exception("could not settle %d rows of provider %s; they are taken up again after "
                          "SENDING_TIMEOUT_SECONDS", len(group), provider_code)
    return len(rows)


def _settle(provider_code: str, rows: list, max_attempts: int) -> None:
    provider = get_provider(provider_code)
    # ``query`` is optional: a provider that cannot answer gets the same reference again and
    # must de-duplicate it itself.
    query = getattr(provider, "query", None)
    answers = query([row.id for row in rows]) if query else {}
    known = list(answers.values())
    unknown = [row for row in rows if row.id not in answers]
    retry = [row for row in unknown if row.attempts <= max_attempts]
    given_up = [
        SendResult(row.id, error_code="SEND_TIMEOUT", error_message="The provider did not answer; gave up")
        for row in unknown if row.attempts > max_attempts
    ]
    record_results(provider_code, known + given_up)
    if retry:
        log.warning("re-submitting %d messages unknown to provider %s", len(retry), provider_code)
        submit(provider_code, retry)
