"""Rate limits per API key (app/services/rate_limit.py): the limiter itself against the real Redis,
then through the API: per key, per account, Retry-After, headers, concurrency, Redis down."""
from __future__ import annotations

import logging
import math
import threading
import time

import pytest
from redis import Redis

from app.extensions import redis_conn
from app.services.rate_limit import RateLimiter

S = 1_000_000  # microseconds


# (rate/s, burst, [(at seconds, allowed, remaining, retry_after)]): one bucket, requests in order.
CASES = [
    ("burst then refused", 1, 3, [(0, True, 2, 0), (0, True, 1, 0), (0, True, 0, 0), (0, False, 0, 1)]),
    ("one interval refills one", 1, 2, [(0, True, 1, 0), (0, True, 0, 0), (0.5, False, 0, 1), (1.0, True, 0, 0),
                                        (1.0, False, 0, 1)]),
    ("quiet time refills up to the burst only", 10, 2, [(0, True, 1, 0), (0, True, 0, 0), (60, True, 1, 0),
                                                        (60, True, 0, 0), (60, False, 0, 1)]),
    ("slow rate: retry after whole seconds", 0.2, 1, [(0, True, 0, 0), (0.1, False, 0, 5), (4.5, False, 0, 1),
                                                       (5.0, True, 0, 0)]),
    ("sustained at the rate never refused", 2, 1, [(t / 2, True, 0, 0) for t in range(8)]),
    ("refusals do not use up anything", 1, 1, [(0, True, 0, 0), *[(0.1 * i, False, 0, 1) for i in range(1, 9)],
                                               (1.0, True, 0, 0)]),
]


@pytest.mark.parametrize("name,rate,burst,steps", CASES, ids=[c[0] for c in CASES])
def test_gcra(ctx, name, rate, burst, steps):
    limiter = RateLimiter(redis_conn(), "test", rate, burst)
    start = 1_800_000_000 * S
    for at, allowed, remaining, retry_after in steps:
        decision = limiter.hit("subject", now_us=start + int(at * S))
        assert (decision.allowed, decision.remaining, decision.retry_after) == (allowed, remaining, retry_after), at
        assert decision.limit == burst
        assert decision.reset_seconds >= 0


def test_subjects_and_scopes_are_separate(ctx):
    api, dash = RateLimiter(redis_conn(), "api", 1, 1), RateLimiter(redis_conn(), "dashboard", 1, 1)
    assert api.hit("key:a").allowed and not api.hit("key:a").allowed
    assert api.hit("key:b").allowed
    assert dash.hit("key:a").allowed


def test_disabled_and_keys_expire(ctx):
    assert RateLimiter(redis_conn(), "api", 0, 10).hit("x") is None
    limiter = RateLimiter(redis_conn(), "api", 10, 5)
    limiter.hit("x")
    ttl = redis_conn().pttl("smsdesk:ratelimit:api:x")
    assert 0 < ttl <= 100  # one interval: the bucket is full again (nothing to remember) after it


def test_threads_never_get_more_than_rate_times_time_plus_burst(ctx):
    """Many clients on one bucket, on Redis's own clock: what gets through is bounded by the rate."""
    rate, burst = 50, 20
    limiter = RateLimiter(redis_conn(), "api", rate, burst)
    allowed, lock = [], threading.Lock()
    stop = time.monotonic() + 1.5

    def hammer():
        conn = Redis.from_url(ctx.config["REDIS_URL"])
        mine = RateLimiter(conn, "api", rate, burst)
        while time.monotonic() < stop:
            if mine.hit("shared").allowed:
                with lock:
                    allowed.append(time.monotonic())

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert limiter.hit("shared") is not None
    assert len(allowed) <= rate * elapsed + burst
    assert len(allowed) >= rate * 1.0  # and the limiter did not starve them either


# --- through the API ---------------------------------------------------------------------------

@pytest.fixture
def limits(app, monkeypatch):
    def set_limits(rate: float, burst: int) -> None:
        monkeypatch.setitem(app.config, "API_RATE_LIMIT", rate)
        monkeypatch.setitem(app.config, "API_RATE_BURST", burst)
    return set_limits


def send(client, headers, to="+4791234567"):
    return client.post("/v1/sms/send", json={"to": [to], "message": "Hi"}, headers=headers)


def test_headers_on_every_counted_response(client, auth, limits):
    limits(10, 5)
    first = client.get("/v1/sms/messages", headers=auth)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert 0 <= int(first.headers["X-RateLimit-Reset"]) <= 1
    invalid = client.post("/v1/sms/send", json={"to": []}, headers=auth)  # a refusal still counts
    assert invalid.status_code == 422 and invalid.headers["X-RateLimit-Remaining"] == "3"
    missing = client.get("/v1/sms/messages/nope", headers=auth)
    assert missing.status_code == 404 and missing.headers["X-RateLimit-Remaining"] == "2"


def test_429_body_and_retry_after(client, auth, limits):
    limits(0.5, 2)
    assert [send(client, auth).status_code for _ in range(2)] == [200, 200]
    refused = send(client, auth)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert "Too many requests" in refused.json["detail"] and refused.json["detail"] == refused.json["error"]["message"]
    assert refused.headers["Retry-After"] == "2"  # one interval of 2 s, in whole seconds
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Limit"] == "2"


def test_honouring_retry_after_succeeds(client, auth, limits):
    limits(1, 1)
    assert send(client, auth).status_code == 200
    refused = send(client, auth)
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))
    assert send(client, auth).status_code == 200


def test_per_key_and_per_account(client, account, auth, other_account, limits):
    from app.services.accounts import create_api_key

    limits(0.1, 2)
    second_key = {"X-API-Key": create_api_key(account)[1]}
    for _ in range(2):
        assert client.get("/v1/sms/messages", headers=auth).status_code == 200
    assert client.get("/v1/sms/messages", headers=auth).status_code == 429
    assert client.get("/v1/sms/messages", headers=second_key).status_code == 200
    assert client.get("/v1/sms/messages", headers=other_account[1]).status_code == 200
    # Every authenticated area counts against the same key.
    assert client.get("/v1/contacts", headers=auth).status_code == 429
    assert client.get("/v1/webhooks/deliveries", headers=auth).status_code == 429


def test_unauthenticated_callbacks_and_health_are_not_limited(client, auth, limits, app):
    limits(0.1, 1)
    assert client.get("/v1/sms/messages", headers=auth).status_code == 200
    token = {"X-Callback-Token": app.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]}
    for _ in range(5):
        assert client.get("/v1/ping").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/openapi.json").status_code == 200
        assert client.get("/v1/sms/messages", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.post("/v1/providers/simulator/dlr", json={"reports": []}, headers=token).status_code != 429
    assert "X-RateLimit-Limit" not in client.get("/v1/ping").headers


def test_disabled_with_zero(client, auth, limits):
    limits(0, 1)
    responses = [client.get("/v1/sms/messages", headers=auth) for _ in range(5)]
    assert {r.status_code for r in responses} == {200}
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_fails_open_when_redis_is_down(client, auth, app, limits, monkeypatch, caplog):
    from app.services import rate_limit

    limits(0.1, 1)
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setitem(app.extensions, "redis", dead)
    monkeypatch.setattr(rate_limit, "_last_warning", {})
    with caplog.at_level(logging.WARNING, logger="app.services.rate_limit"):
        responses = [client.get("/v1/sms/messages", headers=auth) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0].headers
    warnings = [r for r in caplog.records if "rate limit api unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per interval, not once per request


def test_concurrent_requests_on_one_key(app, ctx, auth, limits):
    """Threads with their own clients: what one key gets through stays within rate x time + burst."""
    limits(20, 5)
    codes, lock = [], threading.Lock()
    stop = time.monotonic() + 1.5

    def hammer():
        client = app.test_client()
        while time.monotonic() < stop:
            with app.app_context():
                status = client.get("/v1/sms/messages", headers=auth).status_code
            with lock:
                codes.append(status)

    t0 = time.monotonic()
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert set(codes) <= {200, 429}, set(codes)
    assert codes.count(429) > 0
    assert codes.count(200) <= math.floor(20 * elapsed + 5)



def test_every_authenticated_api_blueprint_is_limited(app):
    """A blueprint added under /v1 later is limited unless it is one of the unauthenticated ones."""
    from app.api import RATE_LIMITED

    blueprints = {rule.endpoint.rpartition(".")[0] for rule in app.url_map.iter_rules()
                  if rule.rule.startswith("/v1/")}
    assert blueprints - {"meta", "providers"} == set(RATE_LIMITED)
