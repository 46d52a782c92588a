"""End to end through a second smsdesk as the WAYSCloud upstream.

The upstream is a real smsdesk (``create_app`` with its own SQLite file, its own Redis database and
queue, the simulator as its carrier) served by a threaded werkzeug server on a loopback port. We
send through our API with the ``wayscloud`` provider and run our dispatch job for real; the upstream
dispatches and its simulator reports; our polling brings the outcome back. A worker that dies
after the upstream accepted a message never makes the upstream send it twice.
"""
from __future__ import annotations

import logging

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from app.extensions import db, redis_conn
from app.models import Message, Status
from app.services import dispatch as engine
from app.services import upstream_poll
from tests.conftest import _wipe
from tests.jobs.conftest import ago, message, statuses

UPSTREAM_QUEUE = "smsdesk-upstream"


def _redis_db(url: str, number: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


# Fixtures are named in their decorator so another module can import them without shadowing names.
@pytest.fixture(scope="session", name="upstream_app")
def upstream_app_fixture(tmp_path_factory, redis_url):
    """A second smsdesk: its own database file, Redis database and queue."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path_factory.mktemp('upstream') / 'upstream.db'}",
        "REDIS_URL": _redis_db(redis_url, 1), "RQ_QUEUE": UPSTREAM_QUEUE, "SMS_PROVIDER": "simulator",
        "SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_FAIL_RULES": "0000=UNKNOWN_SUBSCRIBER:Unknown subscriber",
        # It calls our /dlr back over plain HTTP on loopback (tests/jobs/test_wayscloud_callbacks.py).
        "ALLOW_HTTP_CALLBACKS": True, "WEBHOOK_ALLOWED_HOSTS": frozenset({"127.0.0.1"}),
    })
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    return app


def serve(app) -> tuple[str, callable]:
    """``app`` on a threaded HTTP server on a free loopback port: (base URL, stop)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="session", name="upstream_url")
def upstream_url_fixture(upstream_app):
    url, stop = serve(upstream_app)
    yield url
    stop()


@dataclass
class Upstream:
    """The upstream smsdesk, seen from the test: its URL, the account we send as, and what it did."""

    app: object
    url: str
    api_key: str
    account_id: str
    webhook_secret: str

    def run(self, func, *args, **kwargs):
        with self.app.app_context():
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    def work(self) -> None:
        """Run the upstream's queued jobs (its dispatch, its simulator's reports) for real."""
        from redis import Redis
        from rq import Queue, SimpleWorker

        def burst() -> None:
            conn = Redis.from_url(self.app.config["REDIS_URL"])
            worker = SimpleWorker([Queue(UPSTREAM_QUEUE, connection=conn)], connection=conn)
            worker.work(burst=True, with_scheduler=False)

        self.run(burst)

    def messages(self) -> list[Message]:
        """The upstream's outbound messages, oldest first (detached copies)."""
        def read():
            rows = db.session.scalars(select(Message).where(Message.direction == "OUTBOUND")
                                      .order_by(Message.created_at, Message.id)).all()
            db.session.expunge_all()
            return rows

        return self.run(read)

    def add_sender(self, sender_id: str) -> None:
        from app.models import Account
        from app.services.senders import create_profile

        self.run(lambda: create_profile(db.session.get(Account, self.account_id), sender_id, sender_id))


@pytest.fixture(name="upstream")
def upstream_fixture(upstream_app, upstream_url, ctx) -> Upstream:
    """A clean upstream with one account and its API key."""
    from app.services.accounts import create_account, create_api_key

    def setup():
        _wipe(upstream_app)
        account = create_account("Upstream customer", "NOK", "Europe/Oslo")
        return account.id, create_api_key(account)[1], account.webhook_secret

    account_id, key, secret = Upstream(upstream_app, upstream_url, "", "", "").run(setup)
    yield Upstream(upstream_app, upstream_url, key, account_id, secret)
    Upstream(upstream_app, upstream_url, "", "", "").run(_wipe, upstream_app)


@pytest.fixture(name="through_upstream")
def through_upstream_fixture(upstream, settings):
    """Our app sends through the upstream (provider ``wayscloud``) and polls it at once."""
    settings(SMS_PROVIDER="wayscloud", WAYSCLOUD_API_KEY=upstream.api_key, WAYSCLOUD_BASE_URL=upstream.url,
             WAYSCLOUD_POLL_AFTER_SECONDS=0, WAYSCLOUD_CONCURRENCY=4, WAYSCLOUD_READ_TIMEOUT_SECONDS=10.0)
    return upstream


def send(client, auth, **body) -> dict:
    response = client.post("/v1/sms/send", headers=auth, json={"message": "Hello from smsdesk", **body})
    assert response.status_code == 200, response.json
    return response.json


def by_ref(upstream: Upstream) -> dict[str, Message]:
    rows = upstream.messages()
    refs = [row.customer_ref for row in rows]
    assert len(refs) == len(set(refs)), f"the upstream has a message twice: {sorted(refs)}"
    return {row.customer_ref: row for row in rows}


# ------------------------------------------------------------------ the journey


def test_sent_through_the_upstream_then_delivered_by_polling(client, auth, through_upstream, run_jobs):
    upstream = through_upstream
    sent = send(client, auth, to=["+4799999999", "+4798888888", "+4791230000"], customer_ref="order-1")
    ours = sent["message_ids"]
    assert statuses(ours) == {Status.QUEUED: 3}

    run_jobs()  # our dispatch job: one POST /v1/sms/send per message to the upstream

    theirs = by_ref(upstream)
    assert set(theirs) == set(ours)  # customer_ref upstream = our message id
    for mid in ours:
        row = message(mid)
        assert (row.status, row.provider, row.provider_message_id) == (Status.SENT, "wayscloud", theirs[mid].id)
        assert (theirs[mid].to_number, theirs[mid].body) == (row.to_number, "Hello from smsdesk")
        assert theirs[mid].from_number == "+4759440000"  # our platform number: the upstream's default sends
        assert theirs[mid].status == Status.QUEUED

    upstream.work()  # the upstream dispatches to its simulator, which reports at once
    assert {m.status for m in upstream.messages()} == {Status.DELIVERED, Status.FAILED}
    assert statuses(ours) == {Status.SENT: 3}  # nothing told us yet

    assert upstream_poll.poll_once() == {"upstream_polled": 3, "upstream_reports": 3}

    failed = next(mid for mid, number in zip(ours, sent["to"]) if number.endswith("0000"))
    for mid in ours:
        row = message(mid)
        assert row.provider_message_id == theirs[mid].id
        if mid == failed:
            assert (row.status, row.error_code) == (Status.FAILED, "UNKNOWN_SUBSCRIBER")
            assert row.error_message == "Unknown subscriber"
        else:
            assert row.status == Status.DELIVERED and row.delivered_at is not None
    assert len(upstream.messages()) == 3


def test_senders_go_by_sender_id_and_an_unknown_one_is_refused(client, auth, account, through_upstream, run_jobs):
    from app.services.senders import create_profile

    upstream = through_upstream
    shared = create_profile(account, "Shared", "+4791111111")
    ours_only = create_profile(account, "Ours only", "+4792222222")
    upstream.add_sender("+4791111111")
    good = send(client, auth, to="+4799999999", sender_profile_id=shared.id)["sms_message_id"]
    bad = send(client, auth, to="+4799999999", sender_profile_id=ours_only.id)["sms_message_id"]

    run_jobs()

    assert by_ref(upstream)[good].from_number == "+4791111111"
    refused = message(bad)
    assert (refused.status, refused.error_code) == (Status.FAILED, "unknown_sender_id")
    assert "+4792222222" in refused.error_message
    assert bad not in by_ref(upstream)


# ------------------------------------------------------------------ never twice


def test_a_worker_killed_after_the_upstream_accepted_never_doubles_a_message(
        client, auth, make_messages, through_upstream, run_jobs, monkeypatch):
    upstream = through_upstream
    # One the upstream never got (a worker died before its call) ...
    lost = make_messages(1, status=Status.SENDING, provider="wayscloud", from_number="+4759440000",
                         sending_at=ago(3600), attempts=1)
    # ... and two it accepted, the worker dying before it recorded the answers.
    ours = send(client, auth, to=["+4799999999", "+4798888888"])["message_ids"]
    with killed_after_the_provider_call(monkeypatch):
        run_jobs()
    assert statuses(ours) == {Status.SENDING: 2}
    assert set(by_ref(upstream)) == set(ours)
    _stale(ours)

    assert engine.reconcile_stuck() == 3

    theirs = by_ref(upstream)
    assert set(theirs) == set(ours + lost)  # the lost one submitted now, the others not again
    for mid in ours + lost:
        row = message(mid)
        assert (row.status, row.provider_message_id) == (Status.SENT, theirs[mid].id)


def test_a_blind_re_submission_is_deduplicated_by_the_upstream(client, auth, through_upstream, run_jobs):
    upstream = through_upstream
    [mid] = send(client, auth, to="+4799999999")["message_ids"]
    run_jobs()
    first = by_ref(upstream)[mid].id
    row = message(mid)

    # As if a reconciler without a look-up sent the same reference again: Idempotency-Key replays.
    from app.providers import Outbound, get_provider

    [again] = get_provider("wayscloud").send([Outbound(mid, row.to_number, row.from_number, row.body)])
    assert again.provider_message_id == first
    assert len(upstream.messages()) == 1


def test_an_unreachable_upstream_leaves_stuck_rows_alone_until_it_answers(
        client, auth, through_upstream, run_jobs, settings, monkeypatch, caplog):
    upstream = through_upstream
    ours = send(client, auth, to=["+4799999999", "+4798888888"])["message_ids"]
    with killed_after_the_provider_call(monkeypatch):
        run_jobs()
    _stale(ours)

    settings(WAYSCLOUD_BASE_URL=_closed_port_url())
    with caplog.at_level(logging.ERROR, logger="app.services.dispatch"):
        assert engine.reconcile_stuck() == 2
    assert "could not settle 2 rows of provider wayscloud" in caplog.text
    assert statuses(ours) == {Status.SENDING: 2}  # not failed, not submitted again

    settings(WAYSCLOUD_BASE_URL=upstream.url)
    _stale(ours)
    assert engine.reconcile_stuck() == 2
    assert statuses(ours) == {Status.SENT: 2} and set(by_ref(upstream)) == set(ours)


@contextmanager
def killed_after_the_provider_call(monkeypatch):
    """The dispatch job dies between the provider's answer and recording it (as a kill -9 would)."""
    original = engine.record_results

    def killed(*args, **kwargs):
        raise SystemExit("worker killed between the provider's answer and recording it")

    monkeypatch.setattr(engine, "record_results", killed)
    try:
        yield
    finally:
        monkeypatch.setattr(engine, "record_results", original)


def _stale(ids: list[str]) -> None:
    db.session.execute(update(Message).where(Message.id.in_(ids)).values(sending_at=ago(3600)))
    db.session.commit()


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# ------------------------------------------------------------------ providers and polling


def test_labelled_connections_dispatch_and_unconfigured_ones_wait(make_messages, through_upstream, settings, run_jobs):
    from app.jobs.queue import enqueue_dispatch

    upstream = through_upstream
    settings(WAYSCLOUD_NORDIC_API_KEY=upstream.api_key, WAYSCLOUD_NORDIC_BASE_URL=upstream.url)
    assert engine.known_providers() == ("simulator", "wayscloud", "wayscloud.nordic")
    nordic = make_messages(2, provider="wayscloud.nordic", from_number="+4759440000", batch_id=None)
    waiting = make_messages(2, provider="wayscloud.other", from_number="+4759440000", batch_id=None)
    enqueue_dispatch(None)
    run_jobs()
    assert statuses(nordic) == {Status.SENT: 2} and statuses(waiting) == {Status.QUEUED: 2}
    assert {message(mid).provider for mid in nordic} == {"wayscloud.nordic"}
    assert set(by_ref(upstream)) == set(nordic)


def test_polling_walks_in_bounded_rounds(client, auth, through_upstream, settings, run_jobs):
    settings(WAYSCLOUD_POLL_BATCH=2, WAYSCLOUD_POLL_EVERY_SECONDS=3600)
    ours = send(client, auth, to=["+4799999999", "+4798888888", "+4797777777"])["message_ids"]
    run_jobs()  # upstream has them QUEUED: every poll answers "not yet"

    assert upstream_poll.poll_once() == {"upstream_polled": 2, "upstream_reports": 0}
    assert upstream_poll.poll_once() == {"upstream_polled": 1, "upstream_reports": 0}  # the round ends
    assert upstream_poll.poll_once() == {}  # the next round waits WAYSCLOUD_POLL_EVERY_SECONDS
    redis_conn().delete(upstream_poll.ROUND_KEY)  # ... as if that time had passed
    through_upstream.work()
    assert upstream_poll.poll_once() == {"upstream_polled": 2, "upstream_reports": 2}
    assert upstream_poll.poll_once() == {"upstream_polled": 1, "upstream_reports": 1}
    assert statuses(ours) == {Status.DELIVERED: 3}


def test_polling_waits_for_poll_after_and_ignores_other_providers(client, auth, through_upstream, settings, run_jobs,
                                                                  make_messages):
    settings(WAYSCLOUD_POLL_AFTER_SECONDS=600)
    make_messages(1, status=Status.SENT, sent_at=ago(3600), provider="simulator", provider_message_id="sim-x")
    send(client, auth, to="+4799999999")
    run_jobs()
    assert upstream_poll.poll_once() == {"upstream_polled": 0, "upstream_reports": 0}


def test_the_tick_polls(client, auth, through_upstream, run_jobs):
    from app.jobs.ticker import run_tick

    [mid] = send(client, auth, to="+4799999999")["message_ids"]
    run_jobs()
    through_upstream.work()
    result = run_tick()
    assert (result["upstream_polled"], result["upstream_reports"]) == (1, 1)
    assert message(mid).status == Status.DELIVERED


def test_without_a_wayscloud_connection_the_tick_does_not_poll(ctx):
    assert upstream_poll.poll_once() == {}
