"""The WAYSCloud provider against a fake upstream: a real HTTP/1.1 server on a loopback socket in a
thread (no mocks of requests), scripted per test. Retries, Retry-After, timeouts, refusals,
connection reuse and the look-ups that keep a message from being sent twice."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from app.providers import wayscloud_http
from app.providers.base import Outbound, SendResult
from app.providers.wayscloud import UpstreamError, WaysCloudProvider
from app.providers.wayscloud_settings import settings
from tests.providers.test_wayscloud import BASE
from tests.quiet_server import QuietHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: object
    connection: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the read timeout: a timeout)


class FakeUpstream:
    """Answers each request with the next scripted reply for its method, else with ``default``."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.connections = 0
        self.script: dict[str, deque] = {"POST": deque(), "GET": deque()}
        self.stored: dict[str, str] = {}  # customer_ref -> upstream id, as the upstream keeps them
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with fake.lock:
                    fake.connections += 1
                    self.connection_number = fake.connections

            def log_message(self, *args):
                pass

            def do_POST(self):
                self._serve("POST")

            def do_GET(self):
                self._serve("GET")

            def _serve(self, method):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                seen = Seen(method, parts.path, parse_qs(parts.query), dict(self.headers),
                            json.loads(raw) if raw else None, self.connection_number)
                with fake.lock:
                    fake.seen.append(seen)
                    reply = fake.script[method].popleft() if fake.script[method] else fake.default(seen)
                if callable(reply):
                    reply = reply(seen)
                time.sleep(reply.delay)
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def default(self, seen: Seen) -> Reply:
        """What a healthy upstream answers: accept a send, list what it stored."""
        if seen.method == "POST":
            return self.accept(seen)
        ref = seen.query.get("customer_ref", [None])[0]
        listed = ([{"id": self.stored[ref], "customer_ref": ref, "created_at": "2026-03-30T10:00:00Z"}]
                  if ref in self.stored else [])
        return Reply(200, {"messages": listed, "total": len(listed), "page": 1, "page_size": 50, "has_more": False})

    def accept(self, seen: Seen) -> Reply:
        ref = seen.body["customer_ref"]
        self.stored.setdefault(ref, f"up-{ref}")
        return Reply(200, {"sms_message_id": self.stored[ref], "to": [seen.body["to"]], "status": "QUEUED",
                           "units_estimate": 1, "customer_ref": ref})

    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    fake = FakeUpstream()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(wayscloud_http, "BACKOFF_BASE_SECONDS", 0.01)


def make(url: str, **config) -> WaysCloudProvider:
    values = {**BASE, "WAYSCLOUD_BASE_URL": url, "WAYSCLOUD_CONNECT_TIMEOUT_SECONDS": 1.0,
              "WAYSCLOUD_READ_TIMEOUT_SECONDS": 1.0, **config}
    return WaysCloudProvider(settings(values, "wayscloud"))


def outbound(n: int, sender: str | None = "Acme") -> list[Outbound]:
    return [Outbound(f"ref-{i}", f"+4791{i:06d}", sender, f"Hello {i}") for i in range(n)]


def refused(status: int, code: str, detail: str, **headers) -> Reply:
    return Reply(status, {"detail": detail, "error": {"code": code, "message": detail}}, headers)


# ------------------------------------------------------------------ what is sent


def test_one_post_per_message_with_our_reference(upstream):
    provider = make(upstream.url, PUBLIC_BASE_URL="https://sms.example.no")
    results = provider.send([Outbound("ref-a", "+4799999999", "Acme", "Hi"),
                             Outbound("ref-b", "+4798888888", "+4759440000", "Hei på deg")])
    assert sorted(results, key=lambda r: r.reference) == [SendResult("ref-a", "up-ref-a"),
                                                          SendResult("ref-b", "up-ref-b")]
    bodies = {s.body["customer_ref"]: s for s in upstream.posts()}
    assert bodies["ref-a"].body == {"to": "+4799999999", "message": "Hi", "customer_ref": "ref-a", "sender_id": "Acme",
                                    "callback_url": "https://sms.example.no/v1/providers/wayscloud/dlr"}
    # Our platform's shared number is not the upstream account's: its default profile sends.
    assert bodies["ref-b"].body == {"to": "+4798888888", "message": "Hei på deg", "customer_ref": "ref-b",
                                    "callback_url": "https://sms.example.no/v1/providers/wayscloud/dlr"}
    for seen in bodies.values():
        assert seen.path == "/v1/sms/send"
        assert seen.headers["X-API-Key"] == BASE["WAYSCLOUD_API_KEY"]
        assert seen.headers["Idempotency-Key"] == seen.body["customer_ref"]


def test_no_callback_url_without_a_public_base_url(upstream):
    make(upstream.url).send(outbound(1))
    assert "callback_url" not in upstream.posts()[0].body


def test_connections_are_reused_across_requests_and_batches(upstream):
    provider = make(upstream.url, WAYSCLOUD_CONCURRENCY=1)
    provider.send(outbound(5))
    provider.send(outbound(3))
    provider.query(["ref-0", "ref-9"])
    assert len(upstream.seen) == 10
    assert upstream.connections == 1 and {s.connection for s in upstream.seen} == {1}


def test_concurrent_sending_keeps_its_connections_within_the_pool(upstream):
    upstream.default = lambda seen: Reply(200, upstream.accept(seen).body, delay=0.1) if seen.method == "POST" \
        else FakeUpstream.default(upstream, seen)
    provider = make(upstream.url, WAYSCLOUD_CONCURRENCY=4)
    started = time.monotonic()
    assert len(provider.send(outbound(24))) == 24
    provider.send(outbound(8))
    # 32 x 100 ms on 4 threads: about 0.8 s, not 3.2 s; never more connections than threads.
    assert time.monotonic() - started < 2.4
    assert upstream.connections <= 4


# ------------------------------------------------------------------ retries


def test_429_is_retried_after_retry_after(upstream):
    upstream.script["POST"].append(refused(429, "rate_limited", "Slow down", **{"Retry-After": "1"}))
    started = time.monotonic()
    assert make(upstream.url).send(outbound(1)) == [SendResult("ref-0", "up-ref-0")]
    assert time.monotonic() - started >= 0.95
    first, second = upstream.posts()
    assert first.body == second.body and second.headers["Idempotency-Key"] == "ref-0"


def test_a_429_pauses_every_thread_of_the_batch(upstream):
    # Two threads: the first request is refused at once; the other thread's first is answered
    # later, after the pause began, and its next request must wait for the pause to end.
    upstream.script["POST"].append(refused(429, "rate_limited", "Slow down", **{"Retry-After": "1"}))
    upstream.script["POST"].append(lambda seen: Reply(200, upstream.accept(seen).body, delay=0.3))
    assert len(make(upstream.url, WAYSCLOUD_CONCURRENCY=2).send(outbound(4))) == 4
    offsets = sorted(p.at - upstream.posts()[0].at for p in upstream.posts())
    assert len(offsets) == 5
    assert offsets[1] < 0.25 and all(offset >= 0.95 for offset in offsets[2:]), offsets


def test_503_then_success(upstream):
    upstream.script["POST"].extend([refused(503, "unavailable", "Maintenance")] * 2)
    assert make(upstream.url).send(outbound(1)) == [SendResult("ref-0", "up-ref-0")]
    assert len(upstream.posts()) == 3


def test_a_retry_after_beyond_the_deadline_is_not_waited_for(upstream):
    upstream.script["POST"].append(refused(429, "rate_limited", "Later", **{"Retry-After": "3600"}))
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="none of 1"):
        make(upstream.url, WAYSCLOUD_DEADLINE_SECONDS=5.0).send(outbound(1))
    assert time.monotonic() - started < 1 and len(upstream.posts()) == 1


def test_retries_are_bounded_and_leave_the_message_for_the_reconciler(upstream):
    upstream.script["POST"].extend(refused(503, "unavailable", "Down") for _ in range(10))
    provider = make(upstream.url, WAYSCLOUD_MAX_RETRIES=2)
    with pytest.raises(UpstreamError):
        provider.send(outbound(1))
    assert len(upstream.posts()) == 3  # the first attempt and two retries


def test_a_500_looks_the_message_up_before_sending_it_again(upstream):
    # The upstream stored the message, then failed answering: the look-up finds it; no second POST.
    upstream.script["POST"].append(lambda seen: (upstream.accept(seen), refused(500, "internal_error", "Oops"))[1])
    assert make(upstream.url).send(outbound(1)) == [SendResult("ref-0", "up-ref-0")]
    assert [s.method for s in upstream.seen] == ["POST", "GET"]
    assert upstream.seen[1].query["customer_ref"] == ["ref-0"]


def test_a_500_for_a_message_the_upstream_lacks_is_sent_again(upstream):
    upstream.script["POST"].append(refused(502, "bad_gateway", "Bad gateway"))
    assert make(upstream.url).send(outbound(1)) == [SendResult("ref-0", "up-ref-0")]
    assert [s.method for s in upstream.seen] == ["POST", "GET", "POST"]


# ------------------------------------------------------------------ refusals and failures


def test_a_4xx_rejects_that_message_only(upstream):
    upstream.default = lambda seen: (
        refused(422, "no_valid_recipients", f"No valid recipient: '{seen.body['to']}': opted out")
        if seen.body["customer_ref"] == "ref-1" else upstream.accept(seen))
    results = {r.reference: r for r in make(upstream.url, WAYSCLOUD_CONCURRENCY=1).send(outbound(3))}
    assert results["ref-0"].accepted and results["ref-2"].accepted
    assert results["ref-1"] == SendResult("ref-1", error_code="no_valid_recipients",
                                          error_message="No valid recipient: '+4791000001': opted out")
    assert len(upstream.posts()) == 3  # a refusal is final: not retried


def test_refused_credentials_stop_the_batch(upstream):
    upstream.script["POST"].append(refused(401, "unauthorized", "Invalid API key"))
    with pytest.raises(UpstreamError, match="Invalid API key"):
        make(upstream.url, WAYSCLOUD_CONCURRENCY=1).send(outbound(5))
    assert len(upstream.posts()) == 1  # the other four were not tried: they stay SENDING


@pytest.mark.parametrize("status", [403, 404, 301, 308])
def test_a_wrong_base_url_or_forbidden_key_stops_the_batch_too(upstream, status):
    upstream.script["POST"].append(Reply(status, {"detail": "no"}, {"Location": "https://elsewhere.example/"}))
    with pytest.raises(UpstreamError, match=f"HTTP {status}"):
        make(upstream.url, WAYSCLOUD_CONCURRENCY=1).send(outbound(3))
    assert len(upstream.seen) == 1  # the redirect was not followed


def test_a_read_timeout_leaves_the_message_unknown_and_does_not_resend(upstream):
    upstream.script["POST"].append(lambda seen: Reply(200, upstream.accept(seen).body, delay=1.5))
    results = make(upstream.url, WAYSCLOUD_READ_TIMEOUT_SECONDS=0.3, WAYSCLOUD_CONCURRENCY=1).send(outbound(2))
    # ref-0 may have been accepted: no result, so it stays SENDING for the reconciler, which asks.
    assert results == [SendResult("ref-1", "up-ref-1")]
    assert [s.body["customer_ref"] for s in upstream.posts()] == ["ref-0", "ref-1"]


def test_a_read_timeout_on_every_message_raises(upstream):
    upstream.script["POST"].append(Reply(200, {"sms_message_id": "late"}, delay=1.0))
    with pytest.raises(UpstreamError):
        make(upstream.url, WAYSCLOUD_READ_TIMEOUT_SECONDS=0.2).send(outbound(1))
    assert len(upstream.posts()) == 1


def test_an_unreachable_upstream_fails_the_batch_quickly():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = make(f"http://127.0.0.1:{port}", WAYSCLOUD_CONCURRENCY=2)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="unreachable"):
        provider.send(outbound(50))
    assert time.monotonic() - started < 2  # the breaker stops the other 49


def test_an_accepted_answer_without_an_id_is_left_for_the_reconciler(upstream):
    upstream.script["POST"].append(Reply(200, {"status": "QUEUED"}))
    assert make(upstream.url, WAYSCLOUD_CONCURRENCY=1).send(outbound(2)) == [SendResult("ref-1", "up-ref-1")]


# ------------------------------------------------------------------ asking the upstream


def test_query_finds_what_the_upstream_has_by_customer_ref(upstream):
    upstream.stored.update({"ref-1": "up-1"})
    upstream.script["GET"].append(Reply(200, {"messages": [
        {"id": "other", "customer_ref": "someone-else"},  # an upstream ignoring the filter
        {"id": "up-0-second", "customer_ref": "ref-0", "created_at": "2026-03-30T10:00:05Z"},
        {"id": "up-0", "customer_ref": "ref-0", "created_at": "2026-03-30T10:00:00Z"},
    ]}))
    found = make(upstream.url, WAYSCLOUD_CONCURRENCY=1).query(["ref-0", "ref-1", "ref-2"])
    assert found == {"ref-0": SendResult("ref-0", "up-0"), "ref-1": SendResult("ref-1", "up-1")}
    assert all(s.path == "/v1/sms/messages" and s.query["direction"] == ["OUTBOUND"] for s in upstream.seen)


def test_query_raises_rather_than_answer_never_received(upstream):
    upstream.script["GET"].extend(refused(500, "internal_error", "Oops") for _ in range(10))
    with pytest.raises(UpstreamError, match="could not ask"):
        make(upstream.url, WAYSCLOUD_MAX_RETRIES=1, WAYSCLOUD_CONCURRENCY=1).query(["ref-0", "ref-1"])


def test_poll_reads_final_statuses(upstream):
    answers = {
        "up-a": Reply(200, {"id": "up-a", "status": "DELIVERED", "delivered_at": "2026-03-30T10:00:03Z"}),
        "up-b": Reply(200, {"id": "up-b", "status": "SENT"}),
        "up-c": Reply(200, {"id": "up-c", "status": "FAILED", "error_code": "ABSENT", "error_message": "Absent"}),
        "up-d": refused(404, "not_found", "Message 'up-d' not found"),
        "up/e": Reply(200, {"id": "up/e", "status": "DELIVERED"}),
    }
    upstream.script["GET"].extend(lambda seen: answers[seen.path.rsplit("/", 1)[-1].replace("%2F", "/")]
                                  for _ in range(5))
    found = make(upstream.url, WAYSCLOUD_CONCURRENCY=1).poll(
        [("a", "up-a"), ("b", "up-b"), ("c", "up-c"), ("d", "up-d"), ("e", "up/e")])
    assert {ref: (r.status, r.provider_message_id, r.error_code) if r else None for ref, r in found.items()} == {
        "a": ("DELIVERED", "up-a", None), "b": None, "c": ("FAILED", "up-c", "ABSENT"), "d": None,
        "e": ("DELIVERED", "up/e", None)}
    assert upstream.seen[-1].path == "/v1/sms/messages/up%2Fe"


def test_poll_leaves_out_what_it_could_not_ask(upstream):
    upstream.script["GET"].extend([Reply(200, {"status": "DELIVERED"})] + [refused(503, "unavailable", "Down")] * 10)
    found = make(upstream.url, WAYSCLOUD_CONCURRENCY=1, WAYSCLOUD_MAX_RETRIES=1).poll([("a", "up-a"), ("b", "up-b")])
    assert list(found) == ["a"]
