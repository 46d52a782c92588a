"""Applying delivery reports from any provider to our messages."""
from __future__ import annotations

from sqlalchemy import func, insert, select

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
    moved: dict[str, str] = {}
    for status in (Status.DELIVERED, Status.FAILED):
        rows = _rows(status, reports, ids)
        if rows:
            moved.update((i, status) for i in db.session.scalars(_report_transition(status, rows, now)))
    db.session.execute(insert(DeliveryReport.__table__), [
        {"id": new_id(), "message_id": ids.get(_key(r)), "provider": provider_code,
         "provider_message_id": r.provider_message_id, "status": r.status, "error_code": r.error_code,
         "error_message": r.error_message, "applied": _claim_applied(moved, ids.get(_key(r)), r.status),
         "received_at": now}
        for r in reports
    ])
    return len(reports)


def _rows(status: str, reports: list[Report], ids: dict[str, str]) -> list[dict]:
    """One row per message reported with ``status`` (the first report wins within a call)."""
    rows: dict[str, dict] = {}
    for r in reports:
        message_id = ids.get(_key(r))
        if r.status == status and message_id and message_id not in rows:
            rows[message_id] = {"id": message_id, "pmid": r.provider_message_id,
                                "code": r.error_code, "text": r.error_message}
    return list(rows.values())


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


def _report_transition(status: str, rows: list[dict], now):
    # An early report (the carrier answered before we recorded its acceptance) also stamps
    # sent_at and the provider id, so the message reads as if SENT had been recorded first.
    return Message.transition_each(
        status, rows, now=now,
        values=lambda each: {
            "sent_at": func.coalesce(_TABLE.c.sent_at, now),
            "provider_message_id": func.coalesce(_TABLE.c.provider_message_id, each.pmid),
            "error_code": each.code,
            "error_message": each.text,
        },
    )
