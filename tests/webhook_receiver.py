"""A real HTTP webhook receiver on 127.0.0.1 for tests: it records every request and answers the
way the test says (a status code, or hanging until released)."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.quiet_server import QuietHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver: WebhookReceiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if receiver.hang.is_set():
            receiver.hanging += 1
            receiver.released.wait(60)
        status = receiver.status
        with receiver.lock:
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body, status))
        payload = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class WebhookReceiver:
    def __init__(self) -> None:
        self.status = 200
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.hang, self.released = threading.Event(), threading.Event()
        self.hanging = 0
        self.server = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/sms") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    @property
    def accepted(self) -> list[Received]:
        """The requests answered with a 2xx: what the receiver's application actually took in."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
