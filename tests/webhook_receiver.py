"""A real HTTP webhook receiver on 127.0.0.1 for tests: it records every request and answers the
way the test says (a status code, hanging until released, answering only after ``delay``
seconds, or ``garbage`` that is not HTTP at all), and it can go ``down`` and come back ``up`` on
the same port."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.quiet_server import QuietHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int  # the status answered; 0 for garbage
    seconds: float = 0.0  # how long the answer took

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver: WebhookReceiver = self.server.receiver
        started = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if receiver.hang.is_set():
            receiver.hanging += 1
            receiver.released.wait(60)
        if receiver.delay:
            time.sleep(receiver.delay)
        status = 0 if receiver.garbage else receiver.status
        with receiver.lock:
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                              body, status, time.monotonic() - started))
        if receiver.garbage:
            self.wfile.write(b"\x00\xffnot http at all\r\n\r\n{{{")
            self.close_connection = True
            return
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
        self.delay = 0.0
        self.garbage = False
        self._serve(0)

    def _serve(self, port: int) -> None:
        self.server = QuietHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        self.server.shutdown()
        self.server.server_close()

    def up(self) -> None:
        """Listen again, on the same port."""
        self._serve(self.server.server_address[1])

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
