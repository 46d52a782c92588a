"""The message lifecycle: which status may follow which, and delivery reports that arrive late,
twice, or early. Every change goes through ``Message.transition``, a conditional UPDATE."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DeliveryReport, Message, Status, utcnow
from app.models.message import STAMPS, TRANSITIONS
from app.providers import Report
from app.services.delivery import apply_reports
from tests.jobs.conftest import message

ALLOWED = {
    (Status.SCHEDULED, Status.QUEUED), (Status.SCHEDULED, Status.CANCELLED),
    (Status.QUEUED, Status.SENDING), (Status.QUEUED, Status.CANCELLED),
    (Status.SENDING, Status.SENT), (Status.SENDING, Status.DELIVERED), (Status.SENDING, Status.FAILED),
    (Status.SENT, Status.DELIVERED), (Status.SENT, Status.FAILED),
}
# Nothing may move a message to these: SCHEDULED and RECEIVED are only ever written on insert.
NO_SOURCE = {Status.SCHEDULED, Status.RECEIVED}
PAIRS = [(src, dst) for src in Status.ALL for dst in Status.ALL]


def test_the_table_is_the_design():
    """The transitions table says exactly what DESIGN.md §3 draws, and nothing moves backwards."""
    assert {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets} == ALLOWED
    order = [Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.SENT, Status.DELIVERED]
    for src, dst in ALLOWED:
        if src in order and dst in order:
            assert order.index(dst) > order.index(src), (src, dst)
    assert not any(src in Status.FINAL for src, _ in ALLOWED)


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{s}->{d}" for s, d in PAIRS])
def test_transition(make_messages, src, dst):
    (mid,) = make_messages(1, status=src)
    before = _snapshot(mid)
    now = utcnow() + timedelta(seconds=5)  # distinct from any time the row already has

    if dst in NO_SOURCE:
        with pytest.raises(ValueError):
            Message.transition(dst, Message.id == mid, now=now)
        return
    result = db.session.execute(Message.transition(dst, Message.id == mid, now=now))
    db.session.commit()

    after = _snapshot(mid)
    if (src, dst) in ALLOWED:
        assert result.rowcount == 1
        assert after["status"] == dst
        assert after[STAMPS[dst]] == now
        changed = {name for name in after if after[name] != before[name]}
        assert changed == {"status", STAMPS[dst]}
    else:
        assert result.rowcount == 0
        assert after == before


def _snapshot(mid: str) -> dict:
    row = message(mid)
    return {name: getattr(row, name) for name in ("status", *STAMPS.values())}


# ------------------------------------------------------------------ delivery reports


def _report(mid: str, status: str, code: str | None = None) -> Report:
    return Report(status=status, reference=mid, provider_message_id=f"sim-{mid}", error_code=code,
                  error_message=code and f"{code} text")


def _apply(*reports: Report) -> int:
    count = apply_reports("simulator", list(reports))
    db.session.commit()
    return count


def _recorded(mid: str) -> list[tuple[str, bool]]:
    rows = db.session.execute(
        select(DeliveryReport.status, DeliveryReport.applied)
        .where(DeliveryReport.message_id == mid).order_by(DeliveryReport.received_at)
    )
    return [tuple(row) for row in rows]


def test_report_moves_sent_to_delivered(make_messages):
    (mid,) = make_messages(1, status=Status.SENT, sent_at=utcnow(), provider_message_id="sim-x")
    assert _apply(_report(mid, Status.DELIVERED)) == 1
    row = message(mid)
    assert row.status == Status.DELIVERED and row.delivered_at is not None
    assert row.provider_message_id == "sim-x"  # the provider id we recorded at acceptance stays
    assert _recorded(mid) == [(Status.DELIVERED, True)]


def test_failed_report_records_the_error(make_messages):
    (mid,) = make_messages(1, status=Status.SENT, sent_at=utcnow())
    _apply(_report(mid, Status.FAILED, "ABSENT"))
    row = message(mid)
    assert (row.status, row.error_code, row.error_message) == (Status.FAILED, "ABSENT", "ABSENT text")
    assert row.failed_at is not None


def test_late_failed_report_cannot_undo_delivered(make_messages):
    (mid,) = make_messages(1, status=Status.SENT, sent_at=utcnow())
    _apply(_report(mid, Status.DELIVERED))
    delivered_at = message(mid).delivered_at

    assert _apply(_report(mid, Status.FAILED, "EXPIRED")) == 1  # recorded ...
    row = message(mid)
    assert row.status == Status.DELIVERED  # ... but changes nothing
    assert row.delivered_at == delivered_at
    assert row.failed_at is None and row.error_code is None
    assert _recorded(mid) == [(Status.DELIVERED, True), (Status.FAILED, False)]


@pytest.mark.parametrize("together", [False, True], ids=["one-after-another", "in-one-call"])
def test_duplicate_reports_are_harmless(make_messages, together):
    (mid,) = make_messages(1, status=Status.SENT, sent_at=utcnow())
    report = _report(mid, Status.DELIVERED)
    if together:
        _apply(report, report)
    else:
        _apply(report)
        first = message(mid).delivered_at
        _apply(report)
        assert message(mid).delivered_at == first
    assert message(mid).status == Status.DELIVERED
    assert sorted(_recorded(mid)) == [(Status.DELIVERED, False), (Status.DELIVERED, True)]


def test_early_report_delivers_a_sending_message(make_messages):
    """The carrier answered before we recorded its acceptance (the worker is slow or died)."""
    (mid,) = make_messages(1, status=Status.SENDING, sending_at=utcnow())
    _apply(_report(mid, Status.DELIVERED))
    row = message(mid)
    assert row.status == Status.DELIVERED
    assert row.sent_at is not None and row.delivered_at is not None
    assert row.provider_message_id == f"sim-{mid}"

    # ... and the acceptance, recorded afterwards, does not move it back to SENT.
    from app.providers import SendResult
    from app.services.dispatch import record_results

    record_results("simulator", [SendResult(mid, f"sim-{mid}")])
    assert message(mid).status == Status.DELIVERED


def test_report_found_by_provider_id(make_messages):
    """Providers that do not echo our reference are matched by their own message id."""
    (mid,) = make_messages(1, status=Status.SENT, sent_at=utcnow(), provider_message_id="carrier-7")
    _apply(Report(status=Status.DELIVERED, provider_message_id="carrier-7"))
    assert message(mid).status == Status.DELIVERED


def test_report_for_unknown_message_is_kept(ctx):
    assert _apply(Report(status=Status.DELIVERED, reference="no-such-message")) == 1
    row = db.session.scalar(select(DeliveryReport))
    assert row.message_id is None and row.applied is False


@pytest.mark.parametrize("status", [Status.QUEUED, Status.CANCELLED, Status.SCHEDULED])
def test_report_cannot_touch_unsent_messages(make_messages, status):
    (mid,) = make_messages(1, status=status)
    _apply(_report(mid, Status.DELIVERED))
    assert message(mid).status == status
    assert _recorded(mid) == [(Status.DELIVERED, False)]
