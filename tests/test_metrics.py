"""``/metrics``: Prometheus' format, figures equal to what the database and Redis hold after real
sends, dispatches and webhook attempts, counters kept in Redis, who may scrape, and no account data."""
from __future__ import annotations

import socket
from collections import Counter
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Message, Status, utcnow
from app.providers import Outbound, get_provider
from app.services import metrics, operations
from app.services.webhooks import pump_once
from tests.webhook_receiver import WebhookReceiver

LABELS_ALLOWED = {"status", "component", "state", "outcome", "provider", "job", "le"}


@pytest.fixture
def live(ctx, monkeypatch):
    """Figures counted afresh on every scrape (the cache has a test of its own)."""
    monkeypatch.setitem(ctx.config, "METRICS_CACHE_SECONDS", 0)
    return ctx


@pytest.fixture
def receiver(ctx, monkeypatch):
    for name, value in (("ALLOW_HTTP_CALLBACKS", True), ("WEBHOOK_ALLOWED_HOSTS", frozenset({"127.0.0.1"})),
                        ("WEBHOOK_TIMEOUT_SECONDS", 5.0)):
        monkeypatch.setitem(ctx.config, name, value)
    server = WebhookReceiver()
    yield server
    server.stop()


def scrape(client, **headers) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...)): value} of a successful scrape."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def db_statuses() -> Counter:
    db.session.rollback()
    return Counter(dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all()))


def queue(ctx) -> Queue:
    return Queue(ctx.config["RQ_QUEUE"], connection=Redis.from_url(ctx.config["REDIS_URL"]))


def send(client, auth, to, **fields):
    response = client.post("/v1/sms/send", json={"to": to, "message": "Hello there", **fields}, headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- figures -------------------------------------------------------------------------------------


def test_the_text_parses_and_every_family_is_there(live):
    response = live.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert names >= {
        "smsdesk_up", "smsdesk_check_latency_seconds", "smsdesk_messages", "smsdesk_oldest_queued_age_seconds",
        "smsdesk_stuck_sending_messages", "smsdesk_oldest_stuck_sending_age_seconds",
        "smsdesk_webhook_deliveries_pending", "smsdesk_webhook_deliveries_due", "smsdesk_webhook_oldest_due_age_seconds",
        "smsdesk_webhook_attempts_recent", "smsdesk_figures_age_seconds", "smsdesk_queue_jobs",
        "smsdesk_queue_oldest_job_age_seconds", "smsdesk_workers", "smsdesk_messages_accepted",
        "smsdesk_provider_messages", "smsdesk_provider_call_seconds", "smsdesk_job_failures"}


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(live):
    response = live.test_client().get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_message_figures_equal_the_database_after_real_sends_and_a_dispatch(live, client, auth, run_jobs):
    send(client, auth, ["+4791000001", "+4791000002", "+4791000003"])
    send(client, auth, "+4791000004", scheduled_at=(utcnow() + timedelta(hours=2)).isoformat())
    samples = scrape(client)
    in_db = db_statuses()
    assert in_db[Status.QUEUED] == 3 and in_db[Status.SCHEDULED] == 1
    for status in operations.WAITING:
        assert value(samples, "smsdesk_messages", status=status) == in_db[status], status
    assert 0 <= value(samples, "smsdesk_oldest_queued_age_seconds") < 60
    assert value(samples, "smsdesk_queue_jobs", state="queued") == queue(live).count == 1
    assert value(samples, "smsdesk_queue_oldest_job_age_seconds") < 60

    run_jobs()
    samples = scrape(client)
    in_db = db_statuses()
    assert in_db[Status.QUEUED] == 0 and in_db[Status.DELIVERED] == 3
    for status in operations.WAITING:
        assert value(samples, "smsdesk_messages", status=status) == in_db[status], status
    assert value(samples, "smsdesk_oldest_queued_age_seconds") == 0
    assert value(samples, "smsdesk_queue_jobs", state="queued") == 0
    assert value(samples, "smsdesk_queue_jobs", state="failed") == 0
    assert value(samples, "smsdesk_up", component="database") == 1
    assert value(samples, "smsdesk_up", component="redis") == 1


def test_stuck_sending_rows_are_counted_with_the_oldest_claim(live, client, auth):
    ids = send(client, auth, ["+4791000001", "+4791000002", "+4791000003"])["message_ids"]
    timeout = live.config["SENDING_TIMEOUT_SECONDS"]
    now = utcnow()
    for message_id, claimed in zip(ids, (now - timedelta(seconds=timeout + 600), now - timedelta(seconds=timeout + 5),
                                         now)):
        db.session.execute(update(Message).where(Message.id == message_id)
                           .values(status=Status.SENDING, sending_at=claimed))
    db.session.commit()
    samples = scrape(client)
    assert value(samples, "smsdesk_messages", status="SENDING") == 3
    assert value(samples, "smsdesk_stuck_sending_messages") == 2  # the fresh claim is a live worker's
    assert timeout + 600 <= value(samples, "smsdesk_oldest_stuck_sending_age_seconds") < timeout + 660


def test_webhook_backlog_and_recent_attempts_by_outcome(live, client, auth, run_jobs, receiver):
    receiver.status = 500
    send(client, auth, ["+4791000001", "+4791000002"], callback_url=receiver.url())
    run_jobs()
    attempts = pump_once()
    assert attempts == 2  # the first event of each message; the later ones wait behind them
    samples = scrape(client)
    pending = db.session.scalar(select(func.count()).select_from(operations._DELIVERIES)
                                .where(operations._DELIVERIES.c.state == "PENDING"))
    assert pending > 2 and value(samples, "smsdesk_webhook_deliveries_pending") == pending
    assert value(samples, "smsdesk_webhook_deliveries_due") == 0  # both retry in 5 s
    assert value(samples, "smsdesk_webhook_attempts_recent", outcome="http_5xx") == 2

    receiver.status = 200
    later = utcnow() + timedelta(seconds=10)
    pump_once(now=later)  # the retries, then every event behind them
    receiver.status = 500
    samples = scrape(client)
    assert value(samples, "smsdesk_webhook_deliveries_pending") == 0
    assert value(samples, "smsdesk_webhook_attempts_recent", outcome="success") == len(receiver.accepted)
    assert value(samples, "smsdesk_webhook_attempts_recent", outcome="http_5xx") == 2


def test_a_due_webhook_shows_how_long_it_has_waited(live, client, auth, run_jobs, receiver):
    receiver.status = 503
    send(client, auth, "+4791000001", callback_url=receiver.url())
    run_jobs()
    pump_once()
    db.session.execute(update(operations._DELIVERIES).where(operations._DELIVERIES.c.state == "PENDING",
                                                            operations._DELIVERIES.c.attempts > 0)
                       .values(next_attempt_at=utcnow() - timedelta(minutes=3)))
    db.session.commit()
    samples = scrape(client)
    assert value(samples, "smsdesk_webhook_deliveries_due") == 1
    assert 180 <= value(samples, "smsdesk_webhook_oldest_due_age_seconds") < 240


@pytest.mark.parametrize(("error", "status_class", "outcome"), [
    (None, 2, "success"), (None, 4, "http_4xx"), (None, 5, "http_5xx"), (None, 3, "http_3xx"),
    ("timeout", None, "timeout"), ("tls", None, "tls"), ("refused", None, "refused"), (None, None, "unknown"),
])
def test_attempt_outcomes(error, status_class, outcome):
    assert operations.attempt_outcome(error, status_class) == outcome


def test_workers_and_the_tick_come_from_redis(live, client):
    from app.jobs.ticker import run_tick

    connection = Redis.from_url(live.config["REDIS_URL"])
    worker = Worker([queue(live)], connection=connection, name="metrics-test-worker")
    worker.register_birth()
    try:
        samples = scrape(client)
        assert value(samples, "smsdesk_workers") == 1
        assert ("smsdesk_tick_age_seconds", ()) not in samples  # no tick since Redis started
        run_tick()
        assert 0 <= value(scrape(client), "smsdesk_tick_age_seconds") < 30
    finally:
        worker.register_death()
    assert value(scrape(client), "smsdesk_workers") == 0


def test_a_failing_job_is_counted_and_left_in_rqs_failed_registry(live, client, auth, run_jobs, monkeypatch):
    from app.services import dispatch

    def broken(batch_id=None):
        raise RuntimeError("provider exploded")

    monkeypatch.setattr(dispatch, "dispatch", broken)
    send(client, auth, "+4791000001")
    run_jobs()
    samples = scrape(client)
    assert value(samples, "smsdesk_job_failures_total", job="dispatch") == 1
    assert value(samples, "smsdesk_queue_jobs", state="failed") == queue(live).failed_job_registry.count == 1


# -- counters kept in Redis ----------------------------------------------------------------------


def test_accepted_messages_add_up_across_calls(live, client):
    metrics.count_accepted(3)
    metrics.count_accepted(1000)
    assert value(scrape(client), "smsdesk_messages_accepted_total") == 1003


def test_real_sends_count_their_accepted_messages_once(live, client, auth):
    """``services.send.send`` counts the rows it committed; a replayed Idempotency-Key adds nothing."""
    send(client, auth, ["+4791000001", "+4791000002", "+4791000003"])
    send(client, auth, "+4791000004", scheduled_at=(utcnow() + timedelta(hours=2)).isoformat())
    for _ in range(2):
        response = client.post("/v1/sms/send", json={"to": "+4791000005", "message": "Once"},
                               headers={**auth, "Idempotency-Key": "metrics-once"})
        assert response.status_code == 200
    assert value(scrape(client), "smsdesk_messages_accepted_total") == 5


def test_a_real_provider_call_is_timed_into_the_histogram(live, client, account):
    provider = get_provider("simulator")
    batch = [Outbound(f"ref-{i}", f"+479100000{i}", "Acme", "Hello") for i in range(3)]
    with metrics.observe_provider_call("simulator", len(batch)):
        results = provider.send(batch)
    assert len(results) == 3
    metrics.record_provider_call("simulator", 0.3, 10, "ok")
    metrics.record_provider_call("simulator", 45.0, 5, "error")

    samples = scrape(client)
    ok = {"provider": "simulator", "outcome": "ok"}
    assert value(samples, "smsdesk_provider_call_seconds_count", **ok) == 2
    assert value(samples, "smsdesk_provider_messages_total", **ok) == 13
    assert 0.3 <= value(samples, "smsdesk_provider_call_seconds_sum", **ok) < 1.3
    assert value(samples, "smsdesk_provider_call_seconds_bucket", le="0.25", **ok) == 1  # the real call
    assert value(samples, "smsdesk_provider_call_seconds_bucket", le="0.5", **ok) == 2
    assert value(samples, "smsdesk_provider_call_seconds_bucket", le="+Inf", **ok) == 2
    error = {"provider": "simulator", "outcome": "error"}
    assert value(samples, "smsdesk_provider_call_seconds_bucket", le="30.0", **error) == 0
    assert value(samples, "smsdesk_provider_call_seconds_bucket", le="60.0", **error) == 1
    assert value(samples, "smsdesk_provider_messages_total", **error) == 5


def test_a_provider_call_that_raises_is_counted_as_an_error_and_the_error_passes_on(live, client):
    with pytest.raises(ConnectionError), metrics.observe_provider_call("wayscloud", 7):
        raise ConnectionError("carrier down")
    samples = scrape(client)
    assert value(samples, "smsdesk_provider_call_seconds_count", provider="wayscloud", outcome="error") == 1
    assert value(samples, "smsdesk_provider_messages_total", provider="wayscloud", outcome="error") == 7


def test_recording_without_redis_is_skipped_and_does_not_fail(live, monkeypatch):
    monkeypatch.setitem(live.extensions, "redis", Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0"))
    metrics.count_accepted(5)
    with metrics.observe_provider_call("simulator", 1):
        pass
    metrics.count_job_failure("dispatch")


def test_a_dispatch_times_its_provider_call(live, client, auth, run_jobs):
    """``dispatch.submit`` wraps ``provider.send`` in ``observe_provider_call``."""
    send(client, auth, ["+4791000001", "+4791000002"])
    send(client, auth, "+4791000003")
    run_jobs()
    samples = scrape(client)
    calls = value(samples, "smsdesk_provider_call_seconds_count", provider="simulator", outcome="ok")
    assert calls >= 1
    assert value(samples, "smsdesk_provider_messages_total", provider="simulator", outcome="ok") == 3


# -- sharing, failure, access --------------------------------------------------------------------


def test_database_figures_are_shared_for_the_cache_time(ctx, client, auth, monkeypatch):
    monkeypatch.setitem(ctx.config, "METRICS_CACHE_SECONDS", 60)
    send(client, auth, "+4791000001")
    first = scrape(client)
    send(client, auth, "+4791000002")
    second = scrape(client)  # another web process would read the same shared figures
    assert value(first, "smsdesk_messages", status="QUEUED") == value(second, "smsdesk_messages", status="QUEUED") == 1
    assert value(second, "smsdesk_figures_age_seconds") >= 0
    assert value(second, "smsdesk_queue_jobs", state="queued") == 1  # Redis figures are always live
    monkeypatch.setitem(ctx.config, "METRICS_CACHE_SECONDS", 0)
    assert value(scrape(client), "smsdesk_messages", status="QUEUED") == 2


def test_redis_down_still_answers_with_the_database_figures(live, client, auth, monkeypatch):
    send(client, auth, "+4791000001")
    monkeypatch.setitem(live.extensions, "redis", Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0"))
    samples = scrape(client)
    assert value(samples, "smsdesk_up", component="redis") == 0
    assert value(samples, "smsdesk_up", component="database") == 1
    assert value(samples, "smsdesk_messages", status="QUEUED") == 1
    assert not any(name.startswith(("smsdesk_queue", "smsdesk_workers", "smsdesk_messages_accepted"))
                   for name, _ in samples)


def test_only_loopback_may_scrape_without_a_token(live):
    local = live.test_client()
    assert local.get("/metrics").status_code == 200
    assert local.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = live.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    response = remote.get("/metrics")
    assert response.status_code == 403 and "METRICS_TOKEN" in response.get_data(as_text=True)
    # A reverse proxy on this machine makes outside requests look local: those are refused too.
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert local.get("/metrics", headers={header: "203.0.113.9"}).status_code == 403, header


def test_with_a_token_only_its_bearer_may_scrape_from_anywhere(live, monkeypatch):
    monkeypatch.setitem(live.config, "METRICS_TOKEN", "s3cret-scrape-token")
    remote = live.test_client()
    remote.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-scrape-token"},
                    {"X-API-Key": "s3cret-scrape-token"}):
        response = remote.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert live.test_client().get("/metrics").status_code == 401  # loopback needs it too
    assert remote.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}).status_code == 200


def test_no_account_label_and_nothing_of_any_message(live, client, auth, other_account, run_jobs):
    _, other_auth = other_account
    send(client, auth, ["+4791234567"], customer_ref="order-991")
    send(client, other_auth, "+4798765432")
    run_jobs()
    response = client.get("/metrics")
    text = response.get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert set(sample.labels) <= LABELS_ALLOWED, sample
    account_ids = [row[0] for row in db.session.execute(select(Message.account_id).distinct())]
    assert len(account_ids) == 2
    for private in (*account_ids, "4791234567", "4798765432", "Hello there", "order-991", "Acme", "Globex"):
        assert private not in text
