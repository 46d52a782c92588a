"""Applying delivery reports from any provider to our messages."""
from __future__ import annotations

from sqlalchemy import and_, bindparam, func, insert, or_, select

from app.extensions import db
from app.models import DeliveryReport, Message, Status, new_id, utcnow
from app.providers.base import Report

_TABLE = Message.__table__


def apply_reports(provider_code: str, reports: list[Report]) -> int:
    """Record every report and move the messages it concerns to DELIVERED or FAILED.

    Runs in the caller's transaction (the caller commits). A report for a message already in a
    final state is kept in ``delivery_reports`` (``applied`` false) but changes nothing: the
    transition's status condition refuses it. Returns how many reports were recorded.
    """
    reports = [r for r in reports if r.status in (Status.DELIVERED, Status.FAILED)]
    if not reports:
        return 0
    ids = _message_ids(provider_code, reports)
    now = utcnow()
    for status in (Status.DELIVERED, Status.FAILED):
        params = [_params(r, ids[_key(r)]) for r in reports if r.status == status and _key(r) in ids]
        if params:
            db.session.execute(_report_transition(status, now), params)
    moved = _moved_now(sorted(set(ids.values())), now)
    db.session.execute(insert(DeliveryReport.__table__), [
        {"id": new_id(), "message_id": ids.get(_key(r)), "provider": provider_code,
         "provider_message_id": r.provider_message_id, "status": r.status, "error_code": r.error_code,
         "error_message": r.error_message, "applied": _claim_applied(moved, ids.get(_key(r)), r.status),
         "received_at": now}
        for r in reports
    ])
    return len(reports)


def _moved_now(message_ids: list[str], now) -> dict[str, str]:
    """The messages that the transitions just made moved, with their new status.

    The bulk UPDATEs run as executemany, which cannot say which rows matched; a row moved by
    them carries this call's ``now`` (to the microsecond) in the stamp of its new status."""
    if not message_ids:
        return {}
    stmt = select(_TABLE.c.id, _TABLE.c.status).where(
        _TABLE.c.id.in_(message_ids),
        or_(and_(_TABLE.c.status == Status.DELIVERED, _TABLE.c.delivered_at == now),
            and_(_TABLE.c.status == Status.FAILED, _TABLE.c.failed_at == now)),
    )
    return dict(db.session.execute(stmt).all())


def _claim_applied(moved: dict[str, str], message_id: str | None, status: str) -> bool:
    # Only one report per message can have moved it: a duplicate within the same call is not.
    if message_id is not None and moved.get(message_id) == status:
        del moved[message_id]
        return True
    return False


def _key(report: Report) -> str:
    return report.reference or report.provider_message_id or ""


def _message_ids(provider_code: str, reports: list[Report]) -> dict[str, str]:
    """Map each report to our message id: by our reference when the provider echoes it, else by
    the provider's message id."""
    found: dict[str, str] = {}
    refs = [r.reference for r in reports if r.reference]
    if refs:
        found.update({i: i for i in db.session.scalars(select(_TABLE.c.id).where(_TABLE.c.id.in_(refs)))})
    pmids = [r.provider_message_id for r in reports if not r.reference and r.provider_message_id]
    if pmids:
        rows = db.session.execute(
            select(_TABLE.c.provider_message_id, _TABLE.c.id).where(
                _TABLE.c.provider == provider_code, _TABLE.c.provider_message_id.in_(pmids)
            )
        )
        found.update({pmid: mid for pmid, mid in rows})
    return found


def _params(report: Report, message_id: str) -> dict:
    return {
        "b_id": message_id,
        "b_pmid": report.provider_message_id,
        "b_code": report.error_code,
        "b_text": report.error_message,
    }


def _report_transition(status: str, now):
    # An early report (the carrier answered before we recorded its acceptance) also stamps
    # sent_at and the provider id, so the message reads as if SENT had been recorded first.
    return Message.transition(
        status,
        _TABLE.c.id == bindparam("b_id"),
        now=now,
        sent_at=func.coalesce(_TABLE.c.sent_at, now),
        provider_message_id=func.coalesce(_TABLE.c.provider_message_id, bindparam("b_pmid")),
        error_code=bindparam("b_code"),
        error_message=bindparam("b_text"),
    )
