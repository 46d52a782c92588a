"""Delivering webhook events: claim what is due, POST it signed, record the attempt (DESIGN §6).

The work is split so that no database session is ever held across an HTTP call: :func:`claim`
takes due deliveries in one short transaction (counting the attempt and leasing the row), the
POSTs run without the database (:func:`attempt`, safe to run in many threads), and :func:`record`
writes every answer in one more transaction. The worker's pump (``app.jobs.webhook_pump``) runs
this loop beside the dispatch engine, never inside it, so a slow receiver cannot hold up sending.
:func:`pump_once` runs the same steps synchronously, for tests and the CLI.
"""
from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import Account, WebhookAttempt, WebhookDelivery, new_id, utcnow
from app.models.base import get_owned, iso
from app.models.webhook import DeliveryState, retry_delay
from app.services import audit, webhook_events, webhook_signing
from app.services.errors import Conflict, NotFound
from app.services.webhook_http import PostResult, post_json

_TABLE = WebhookDelivery.__table__
# Answers after which trying again cannot help: the receiver says the URL is gone for good, or
# the address is one smsdesk refuses to call.
_GIVE_UP_STATUS = frozenset({410})
_GIVE_UP_ERRORS = frozenset({"refused"})


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt, with everything the POST needs."""

    id: str
    account_id: str
    url: str
    endpoint: str
    payload: str
    attempts: int
    max_attempts: int
    replay: bool = False
    secrets: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    result: PostResult
    attempted_at: datetime


def signing_secrets(account: Account, now: datetime) -> tuple[str, ...]:
    """The secrets that sign the account's webhooks now: the current one, and the previous one
    while its grace period after a rotation lasts."""
    previous = account.webhook_secret_previous
    until = account.webhook_secret_previous_until
    if previous and until and until > now:
        return (account.webhook_secret, previous)
    return (account.webhook_secret,)


def claim(limit: int, now: datetime | None = None, *, in_flight: Counter | None = None,
          per_endpoint: int | None = None) -> list[Claimed]:
    """Take up to ``limit`` due deliveries for one attempt each and commit, at most
    ``per_endpoint`` to one endpoint counting the ``in_flight`` ones (endpoint -> POSTs running).
    The lease keeps other pumps off them until the POST has run."""
    now = now or utcnow()
    ids = _pick(limit, now, in_flight or Counter(), per_endpoint)
    if not ids:
        db.session.rollback()
        return []
    # A pump may hold a claimed delivery for one attempt's time before POSTing it (it waits for a
    # slot of its endpoint), so the lease covers two attempts and a margin.
    lease = now + timedelta(seconds=2 * _timeout() + 30)
    # Conditional on still being due: of two pumps that picked the same row, one takes it.
    rows = db.session.execute(
        update(_TABLE)
        .where(_TABLE.c.id.in_(ids), _TABLE.c.state == DeliveryState.PENDING, _TABLE.c.next_attempt_at <= now)
        .values(attempts=_TABLE.c.attempts + 1, next_attempt_at=lease, last_attempt_at=now)
        .returning(_TABLE.c.id, _TABLE.c.account_id, _TABLE.c.url, _TABLE.c.endpoint, _TABLE.c.payload,
                   _TABLE.c.attempts, _TABLE.c.max_attempts, _TABLE.c.replay_requested)
    ).all()
    secrets = _secrets_of({row.account_id for row in rows}, now)
    db.session.commit()
    return [Claimed(*row, secrets=secrets[row.account_id]) for row in rows]


def _pick(limit: int, now: datetime, in_flight: Counter, per_endpoint: int | None) -> list[str]:
    """Due ids, oldest first, skipping those beyond an endpoint's share. Reads a few more rows than
    needed so that one busy endpoint at the head of the queue does not hide the others."""
    taken: Counter = Counter(in_flight)
    busy = frozenset(e for e, n in taken.items() if per_endpoint is not None and n >= per_endpoint)
    ids = []
    for delivery_id, endpoint in db.session.execute(WebhookDelivery.due(now, limit * 4, busy)).all():
        if per_endpoint is None or taken[endpoint] < per_endpoint:
            taken[endpoint] += 1
            ids.append(delivery_id)
            if len(ids) == limit:
                break
    return ids


def _secrets_of(account_ids: set[str], now: datetime) -> dict[str, tuple[str, ...]]:
    if not account_ids:
        return {}
    accounts = db.session.scalars(select(Account).where(Account.id.in_(account_ids)))
    return {account.id: signing_secrets(account, now) for account in accounts}


@dataclass(frozen=True)
class PostSettings:
    """What :func:`attempt` needs from the configuration, read once in the app's context so the
    POSTs can run in plain threads."""

    timeout: float
    allowed_hosts: frozenset[str]
    allow_http: bool
    ca_bundle: str | None

    @classmethod
    def from_config(cls, config) -> "PostSettings":
        return cls(config["WEBHOOK_TIMEOUT_SECONDS"], config["WEBHOOK_ALLOWED_HOSTS"],
                   config["ALLOW_HTTP_CALLBACKS"], config["WEBHOOK_CA_BUNDLE"])


def attempt(claimed: Claimed, settings: PostSettings) -> Outcome:
    """One signed POST. No database, no app context: safe in any thread."""
    attempted_at = utcnow()
    body = claimed.payload.encode("utf-8")
    headers = {"Content-Type": "application/json",
               **webhook_signing.headers(claimed.secrets, claimed.id, int(time.time()), body)}
    result = post_json(claimed.url, body, headers, timeout=settings.timeout,
                       allowed_hosts=settings.allowed_hosts, allow_http=settings.allow_http,
                       ca_bundle=settings.ca_bundle)
    return Outcome(claimed, result, attempted_at)


def failed_outcome(claimed: Claimed, error: BaseException) -> Outcome:
    """The outcome of an attempt that broke inside smsdesk (it is retried like a network error)."""
    return Outcome(claimed, PostResult(None, 0, error="connection", detail=f"internal error: {type(error).__name__}"),
                   utcnow())


def record(outcomes: list[Outcome], now: datetime | None = None) -> None:
    """Log every attempt and move each delivery on: DELIVERED, retried later, or FAILED; commit.
    ``now`` (the clock the retries are scheduled from) defaults to each attempt's own time."""
    if not outcomes:
        return
    db.session.execute(WebhookAttempt.__table__.insert(), [_attempt_row(o) for o in outcomes])
    # Only the attempt that holds the lease may move the delivery: a result that comes back after
    # its lease ran out (and another pump took the delivery) is logged but changes nothing.
    db.session.execute(
        update(_TABLE).where(_TABLE.c.id == bindparam("did"), _TABLE.c.attempts == bindparam("held"),
                             _TABLE.c.state == DeliveryState.PENDING)
        .values(state=bindparam("new_state"), next_attempt_at=bindparam("next_at"),
                delivered_at=bindparam("delivered"), failed_at=bindparam("failed"),
                last_status_code=bindparam("code"), last_error=bindparam("error_text"), replay_requested=False),
        [_next_step(o, now or o.attempted_at) for o in outcomes],
    )
    db.session.commit()


def _attempt_row(outcome: Outcome) -> dict:
    result = outcome.result
    return {"id": new_id(), "delivery_id": outcome.claimed.id, "account_id": outcome.claimed.account_id,
            "number": outcome.claimed.attempts, "attempted_at": outcome.attempted_at,
            "status_code": result.status, "latency_ms": result.latency_ms, "error": result.error,
            "detail": result.detail[:500] or None, "response_excerpt": result.excerpt or None,
            "replay": outcome.claimed.replay}


def _next_step(outcome: Outcome, now: datetime) -> dict:
    claimed, result = outcome.claimed, outcome.result
    step = {"did": claimed.id, "held": claimed.attempts, "code": result.status,
            "error_text": None if result.ok else _error_text(result),
            "new_state": DeliveryState.PENDING, "next_at": None, "delivered": None, "failed": None}
    delay = retry_delay(claimed.attempts) if claimed.attempts < claimed.max_attempts else None
    if result.ok:
        step.update(new_state=DeliveryState.DELIVERED, delivered=outcome.attempted_at)
    elif result.status in _GIVE_UP_STATUS or result.error in _GIVE_UP_ERRORS or delay is None:
        step.update(new_state=DeliveryState.FAILED, failed=outcome.attempted_at)
    else:
        step.update(next_at=now + timedelta(seconds=delay))
    return step


def _error_text(result: PostResult) -> str:
    if result.status is not None:
        return f"HTTP {result.status}"
    return (result.detail or result.error or "no answer")[:500]


def pump_once(now: datetime | None = None, batch: int = 100) -> int:
    """Generate owed events and deliver everything due at ``now``, synchronously, until nothing is
    due (delivering one event of a message makes its next one due). Returns the attempts made."""
    webhook_events.generate()
    settings = PostSettings.from_config(current_app.config)
    made = 0
    with ThreadPoolExecutor(max_workers=current_app.config["WEBHOOK_CONCURRENCY"]) as pool:
        while claimed := claim(batch, now):
            outcomes = list(pool.map(lambda c: attempt(c, settings), claimed))
            record(outcomes, now)
            made += len(outcomes)
    return made


def _timeout() -> float:
    return float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])


def replay(account: Account, delivery_id: str) -> WebhookDelivery:
    """Send a delivered or failed event once more, with its id and payload unchanged; commit.
    An event still pending is refused: it is already going to be sent (at ``next_attempt_at``)."""
    delivery = get_owned(WebhookDelivery, account.id, delivery_id)
    if delivery is None:
        raise NotFound("Webhook delivery not found", code="webhook_delivery_not_found")
    if delivery.state == DeliveryState.PENDING:
        raise Conflict(f"This event is still being delivered (next attempt at {iso(delivery.next_attempt_at)}); "
                       "it can be replayed once it is delivered or has failed", code="webhook_delivery_pending")
    delivery.max_attempts = delivery.attempts + 1
    delivery.state, delivery.next_attempt_at, delivery.replay_requested = DeliveryState.PENDING, utcnow(), True
    delivery.delivered_at = delivery.failed_at = None
    audit.record(account.id, "webhook_delivery.replayed", "webhook_delivery", delivery.id, event=delivery.event)
    db.session.commit()
    return delivery


def rotate_secret(account: Account) -> str:
    """A new signing secret for the account; the current one keeps signing beside it for
    ``WEBHOOK_SECRET_GRACE_HOURS`` so receivers can switch without missing an event. Commits."""
    grace = timedelta(hours=current_app.config["WEBHOOK_SECRET_GRACE_HOURS"])
    account.webhook_secret_previous = account.webhook_secret
    account.webhook_secret_previous_until = utcnow() + grace
    account.webhook_secret = webhook_signing.new_secret()
    audit.record(account.id, "webhook.secret_rotated", "account", account.id, grace_hours=grace.total_seconds() / 3600)
    db.session.commit()
    return account.webhook_secret


def purge_old(days: int, now: datetime | None = None, chunk: int = 5000) -> int:
    """Forget finished deliveries (and their attempts) created more than ``days`` ago, a chunk at a
    time so no transaction grows large; pending ones stay whatever their age. Returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    attempts = WebhookAttempt.__table__
    purged = 0
    while True:
        ids = db.session.scalars(select(_TABLE.c.id).where(
            _TABLE.c.created_at < cutoff, _TABLE.c.state != DeliveryState.PENDING).limit(chunk)).all()
        if not ids:
            return purged
        db.session.execute(attempts.delete().where(attempts.c.delivery_id.in_(ids)))
        db.session.execute(_TABLE.delete().where(_TABLE.c.id.in_(ids)))
        db.session.commit()
        purged += len(ids)
