"""A threaded HTTP server for tests that keeps quiet about clients that hung up.

The standard server prints a traceback to stderr when a handler writes to a client that has gone
(a test's POST that timed out on purpose); printed later from its thread, it lands in whatever
output another test is capturing at that moment."""
from __future__ import annotations

from http.server import ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)
