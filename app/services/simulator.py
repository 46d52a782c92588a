"""The simulated carrier's side of delivery reports, fed through the same path as real ones."""
from __future__ import annotations

from app.extensions import db
from app.providers.simulator import take_due_reports
from app.services.delivery import apply_reports


def deliver_due_reports(chunk: int = 1000) -> int:
    """Deliver every due simulator report; each chunk is claimed and applied in one transaction,
    so a report is marked sent only together with its effect on the message."""
    delivered = 0
    while reports := take_due_reports(chunk):
        apply_reports("simulator", reports)
        db.session.commit()
        delivered += len(reports)
    return delivered
