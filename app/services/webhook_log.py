"""Reading webhook deliveries for people: the attempt log and the health of each endpoint.
Shared by the API (``/v1/webhooks``) and the dashboard (``/webhooks``); always scoped to one account."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, type_coerce

from app.extensions import db
from app.models import Account, WebhookAttempt, WebhookDelivery, scoped, utcnow
from app.models.base import UTCDateTime, get_owned
from app.models.webhook import DeliveryState
from app.services.errors import Invalid, NotFound

HEALTH_WINDOW = timedelta(hours=24)


def list_deliveries(account: Account, *, page: int = 1, per_page: int = 50, state: str | None = None,
                    message_id: str | None = None, endpoint: str | None = None) -> tuple[list[WebhookDelivery], int]:
    """The account's deliveries, newest first, with the total for paging."""
    if state is not None and state not in DeliveryState.ALL:
        raise Invalid(f"state must be one of {', '.join(DeliveryState.ALL)}", code="invalid_state",
                      fields=[{"loc": ["query", "state"], "msg": "unknown state", "type": "enum"}])
    query = scoped(WebhookDelivery, account.id)
    for column, value in ((WebhookDelivery.state, state), (WebhookDelivery.message_id, message_id),
                          (WebhookDelivery.endpoint, endpoint)):
        if value is not None:
            query = query.where(column == value)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.seq.desc())
                              .offset((page - 1) * per_page).limit(per_page)).all()
    return rows, total


def get_delivery(account: Account, delivery_id: str) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    """One delivery and its attempts, oldest first."""
    delivery = get_owned(WebhookDelivery, account.id, delivery_id)
    if delivery is None:
        raise NotFound("Webhook delivery not found", code="webhook_delivery_not_found")
    attempts = db.session.scalars(
        scoped(WebhookAttempt, account.id).where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.number, WebhookAttempt.attempted_at)).all()
    return delivery, attempts


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    events: int
    delivered: int
    failed: int
    pending: int
    attempts: int
    successful_attempts: int
    average_latency_ms: int | None
    last_success_at: datetime | None
    last_failure_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        """Share of attempts answered with a 2xx, or None without attempts."""
        return round(self.successful_attempts / self.attempts, 4) if self.attempts else None

    @property
    def status(self) -> str:
        """``healthy`` (the last attempt worked and at least 95 % did), ``failing`` (the last attempt
        failed and none worked in the window), ``degraded`` in between, ``idle`` without attempts."""
        if not self.attempts:
            return "idle"
        last_ok = self.last_success_at is not None and (
            self.last_failure_at is None or self.last_success_at >= self.last_failure_at)
        if last_ok and (self.success_rate or 0) >= 0.95:
            return "healthy"
        return "degraded" if self.successful_attempts else "failing"


def endpoint_health(account: Account, now: datetime | None = None) -> list[EndpointHealth]:
    """Every endpoint the account's events went to in the last 24 hours (or that still has
    events pending), worst first."""
    since = (now or utcnow()) - HEALTH_WINDOW
    events = _event_counts(account.id, since)
    attempts = _attempt_figures(account.id, since)
    rows = [EndpointHealth(endpoint, *events.get(endpoint, (0, 0, 0, 0)), *attempts.get(endpoint, (0, 0, None, None, None)))
            for endpoint in sorted(set(events) | set(attempts))]
    order = {"failing": 0, "degraded": 1, "healthy": 2, "idle": 3}
    return sorted(rows, key=lambda h: (order[h.status], h.endpoint))


def _event_counts(account_id: str, since: datetime) -> dict[str, tuple[int, int, int, int]]:
    d = WebhookDelivery
    rows = db.session.execute(
        select(d.endpoint, func.count(), _count(d.state == DeliveryState.DELIVERED),
               _count(d.state == DeliveryState.FAILED), _count(d.state == DeliveryState.PENDING))
        .where(d.account_id == account_id, (d.created_at >= since) | (d.state == DeliveryState.PENDING))
        .group_by(d.endpoint)).all()
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in rows}


def _attempt_figures(account_id: str, since: datetime) -> dict[str, tuple]:
    a, d = WebhookAttempt, WebhookDelivery
    ok = a.status_code.between(200, 299)
    rows = db.session.execute(
        select(d.endpoint, func.count(), _count(ok), func.avg(a.latency_ms),
               _latest(case((ok, a.attempted_at))), _latest(case((~ok | a.status_code.is_(None), a.attempted_at))))
        .join(d, d.id == a.delivery_id)
        .where(a.account_id == account_id, a.attempted_at >= since)
        .group_by(d.endpoint)).all()
    return {row[0]: (int(row[1]), int(row[2] or 0), None if row[3] is None else int(row[3]),
                     row[4], row[5]) for row in rows}


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _latest(value):
    # MAX over a CASE loses the column's type; give it back so times come out aware, as everywhere.
    return type_coerce(func.max(value), UTCDateTime())
