"""Closed-loop HTTP/1.1 load generator, run by ``_harness.run_load`` in its own interpreter so it
never shares a GIL with the server under test.

Usage: ``python bench/_loadgen.py SPEC.json``; prints one JSON line with the figures.

One thread per connection; each sends its next request as soon as the previous answer has been read
completely. Raw sockets with the request pre-encoded keep the client's own CPU cost per request low
(about a third of ``http.client``'s); connections are kept alive and re-opened whenever the server
says ``Connection: close`` (gunicorn's sync worker does after every request). Bounded by time
(``warmup`` + ``duration`` seconds) and by count (``max_requests`` measured requests).
"""
from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
import urllib.parse


def build_request(spec: dict) -> tuple[str, int, bytes]:
    parts = urllib.parse.urlsplit(spec["base"])
    body = spec["body"].encode()
    lines = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
             "Connection: keep-alive", "Accept: */*"]
    lines += [f"{k}: {v}" for k, v in spec["headers"].items()]
    if body or spec["method"] in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return parts.hostname, parts.port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(sock: socket.socket, buf: bytearray, headers: dict | None = None) -> tuple[int, bool]:
    """Read one full response from ``sock`` (leftovers stay in ``buf``); returns (status, close).
    ``headers``, if given, receives the response's headers (names in lower case)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length, close, chunked = 0, False, False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if headers is not None:
            headers[name] = value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        raise RuntimeError("chunked responses are not supported by this client")
    need = end + 4 + length
    while len(buf) < need:
        chunk = sock.recv(65536)
        if not chunk:
            if close:
                break
            raise ConnectionError("server closed the connection mid-body")
        buf += chunk
    del buf[:need]
    return status, close


def main() -> None:
    spec = json.loads(open(sys.argv[1]).read())
    if "rate" in spec:
        return paced(spec)
    host, port, request = build_request(spec)
    t0 = time.monotonic()
    measure_from = t0 + spec["warmup"]
    stop_at = measure_from + spec["duration"]
    budget = itertools.count()  # next() is atomic in CPython: a shared request budget
    max_requests = spec["max_requests"]
    results: list[tuple[list, dict]] = []
    lock = threading.Lock()
    first_measured: list[float] = []

    def worker() -> None:
        latencies: list[float] = []
        counts = {"ok": 0, "non_2xx": 0, "errors": 0, "reconnects": 0}
        sock = None
        buf = bytearray()
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            measuring = now >= measure_from
            if measuring and next(budget) >= max_requests:
                break
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=60)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf.clear()
                    counts["reconnects"] += 1
                start = time.perf_counter()
                sock.sendall(request)
                status, close = read_response(sock, buf)
                elapsed = time.perf_counter() - start
            except (OSError, ValueError, RuntimeError):
                if measuring:
                    counts["errors"] += 1
                if sock is not None:
                    sock.close()
                sock = None
                time.sleep(0.01)
                continue
            if measuring:
                if not first_measured:
                    first_measured.append(time.monotonic())
                latencies.append(elapsed)
                counts["ok" if 200 <= status < 300 else "non_2xx"] += 1
            if close:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        with lock:
            results.append((latencies, counts))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(spec["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(spec["warmup"] + spec["duration"] + 60)
    t_end = time.monotonic()
    latencies = sorted(x for lat, _ in results for x in lat)
    totals = {k: sum(c[k] for _, c in results) for k in ("ok", "non_2xx", "errors", "reconnects")}
    seconds = min(t_end, stop_at) - max(measure_from, t0)
    seconds = max(seconds, 1e-9)

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        rank = max(1, min(len(latencies), int(round(p / 100 * len(latencies) + 0.5))))
        return latencies[rank - 1] * 1000

    n = len(latencies)
    print(json.dumps({
        "requests": n, "seconds": seconds, "rps": n / seconds, **totals,
        "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
        "mean_ms": (sum(latencies) / n * 1000) if n else float("nan"),
        "max_ms": latencies[-1] * 1000 if n else float("nan"),
    }))


def paced(spec: dict) -> None:
    """Open-loop traffic for ``bench/load.py``: ``rate`` requests/s in all, spread over
    ``concurrency`` connections, for ``duration`` seconds, cycling through ``requests`` (each
    ``{method, path, body, headers}``; ``{n}`` in a body is replaced by a running number). A request
    that is late is sent at once (no catching up in bursts beyond that). Every answer is written to
    ``out`` as one line ``seconds-since-start status latency-us retry-after variant`` (``-`` when
    there is no Retry-After; status 0 for a connection error), so the caller can cut the run into minutes."""
    variants = spec["requests"]
    interval = spec["concurrency"] / spec["rate"]
    t0 = spec.get("t0") or time.time()  # a shared wall-clock start, so several generators line up
    stop_at = t0 + spec["duration"]
    counter = itertools.count()
    out = open(spec["out"], "w", buffering=1 << 16)
    lock = threading.Lock()

    def encoded(i: int) -> tuple[int, str, int, bytes]:
        v = variants[i % len(variants)]
        return i % len(variants), *build_request({"base": spec["base"], "method": v["method"], "path": v["path"],
                              "body": v.get("body", "").replace("{n}", str(i)), "headers": v.get("headers", {})})

    def worker(offset: float) -> None:
        sock, buf = None, bytearray()
        due = t0 + offset
        while True:
            now = time.time()
            if now < due:
                time.sleep(due - now)
            if time.time() >= stop_at:
                break
            due = max(due + interval, time.time() - interval)
            variant, host, port, request = encoded(next(counter))
            headers: dict = {}
            start = time.perf_counter()
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=60)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf.clear()
                sock.sendall(request)
                status, close = read_response(sock, buf, headers)
            except (OSError, ValueError, RuntimeError):
                status, close = 0, True
            elapsed_us = int((time.perf_counter() - start) * 1e6)
            with lock:
                out.write(f"{time.time() - t0:.3f} {status} {elapsed_us} {headers.get('retry-after', '-')} {variant}\n")
            if close and sock is not None:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    threads = [threading.Thread(target=worker, args=(i * interval / spec["concurrency"],), daemon=True)
               for i in range(spec["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(spec["duration"] + 120)
    out.close()


if __name__ == "__main__":
    main()
