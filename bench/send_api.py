#!/usr/bin/env python3
"""Benchmark: ``POST /v1/sms/send`` with one recipient, under gunicorn, on PostgreSQL + Redis.

Measures requests/s and p50/p99 latency of the send endpoint with a closed-loop load of
``--concurrency`` kept-alive connections, against the baseline of the same app in the same run:
``GET /v1/ping`` (no database, no Redis). Both gunicorn worker classes are tried, each with 2
workers (``sync``; ``gthread`` with ``--threads`` threads per worker), and the best is reported.
A short serial run (one connection) gives the unloaded latency too.

Targets printed next to the result: >= 1,000 sends/s and >= 30 % of the ping baseline.

The load comes from a separate process: ``bench/_loadgen.py`` (Python, raw sockets, default) or
``wrk`` (``--client wrk``; Debian package ``wrk``: ``apt-get install -y wrk``), which costs the
shared CPUs much less per request. On a 2-core machine the client, gunicorn, PostgreSQL and Redis
all share the cores: the script prints how many cores each of them used in every phase.

``--limiter both`` (default) runs every phase twice on the same stack, with the per-key rate limiter
off and then on (counting every request, with a limit no phase reaches), and prints the difference.

No RQ worker is started: the dispatch jobs the sends enqueue stay in Redis (enqueueing is part of
the measured request; dispatching is measured by ``end_to_end.py``).

    .venv/bin/python bench/send_api.py --quick            # ~30 s smoke run
    .venv/bin/python bench/send_api.py                    # full run, ~3 min
    .venv/bin/python bench/send_api.py --client wrk --database-url sqlite
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_RPS = 1000
# "on" counts every request in Redis (the whole Lua script runs) with a limit no phase can reach.
LIMITER_ENV = {"off": {"API_RATE_LIMIT": 0}, "on": {"API_RATE_LIMIT": 1_000_000, "API_RATE_BURST": 1_000_000}}
TARGET_RATIO = 0.30


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--duration", type=float, help="seconds per measured phase (default 10, quick 3)")
    p.add_argument("--max-requests", type=int, default=200_000, help="request cap per phase")
    p.add_argument("--concurrency", type=int, help="client connections (default 8)")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--worker-classes", default="sync,gthread", help="comma-separated gunicorn worker classes")
    p.add_argument("--client", choices=("python", "wrk"), default="python")
    p.add_argument("--to", default="+4791234567", help="the one recipient")
    p.add_argument("--limiter", choices=("off", "on", "both"), default="both",
                   help="the per-key rate limiter: off (API_RATE_LIMIT=0), on (counting every request with a limit "
                        "too high to refuse any), or both, one after the other on the same stack (default)")
    args = p.parse_args()
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.concurrency = args.concurrency or 8
    return args


def load(stack: h.Stack, base: str, args, method: str, path: str, body: bytes = b"", headers=None,
         concurrency: int | None = None, duration: float | None = None, trees=None) -> dict:
    meter = h.CpuMeter(trees or {})
    meter.start()
    result = h.run_load(base, method, path, body=body, headers=headers or {},
                        concurrency=concurrency or args.concurrency, duration=duration or args.duration,
                        max_requests=args.max_requests, warmup=1.0 if not args.quick else 0.5,
                        client=args.client, tmpdir=stack.tmpdir)
    used = meter.stop()
    result["cpu"] = {k: round(v / meter.wall, 2) for k, v in used.items()}
    result["cpu"]["client"] = round(result["client_cpu_s"] / meter.wall, 2)
    if "other" in result["cpu"]:  # the client is not "other" work
        result["cpu"]["other"] = round(max(0.0, result["cpu"]["other"] - result["cpu"]["client"]), 2)
    return result


def line(label: str, r: dict) -> str:
    err = f", {r['non_2xx']} non-2xx, {r['errors']} errors" if r.get("non_2xx") or r.get("errors") else ""
    return (f"  {label:<28} {r['rps']:>8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:7.2f} ms"
            f"   (n={r['requests']}{err})")


def counters(stack: h.Stack) -> dict:
    """Rows in messages, and (PostgreSQL) committed transactions and statements' row effects from
    pg_stat_database, Redis commands from INFO commandstats: divided by the rows a phase wrote they
    give the round trips one send costs."""
    import time

    from redis import Redis
    from sqlalchemy import text

    time.sleep(1.2)  # PostgreSQL flushes backend statistics at most once a second
    engine = stack.engine()
    out = {}
    try:
        with engine.connect() as conn:
            out["messages"] = conn.execute(text("SELECT count(*) FROM messages")).scalar_one()
            if stack.is_postgres:
                row = conn.execute(text(
                    "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database "
                    "WHERE datname = current_database()")).one()
                out["PG transactions"] = row[0]
    finally:
        engine.dispose()
    stats = Redis.from_url(stack.redis_url).info("commandstats")
    out["Redis commands"] = sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))
    return out


def main() -> int:
    args = parse_args()
    h.banner("bench/send_api.py: POST /v1/sms/send (1 recipient) vs GET /v1/ping", args.wait_quiet)
    print("machine:", h.machine_notes())
    body = json.dumps({"to": [args.to], "message": "Benchmark message: your code is 123456"}).encode()
    results: dict[str, dict] = {}
    with h.Stack(args, name="sendapi") as stack:
        auth = {"X-API-Key": stack.api_key, "Content-Type": "application/json"}
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else stack.database_url.split(':')[0]}, "
              f"client: {args.client}, concurrency {args.concurrency}, {args.duration:.0f} s per phase\n", flush=True)
        modes = ("off", "on") if args.limiter == "both" else (args.limiter,)
        for worker_class, limiter in [(w, m) for w in args.worker_classes.split(",") for m in modes]:
            threads = args.threads if worker_class == "gthread" else 1
            label = f"{worker_class} x{args.workers}" + (f" ({threads} threads)" if worker_class == "gthread" else "")
            label += f", limiter {limiter}"
            proc, base = stack.start_gunicorn(worker_class, args.workers, threads, extra_env=LIMITER_ENV[limiter])
            trees = {"gunicorn": [proc.pid], "redis": [stack.redis.pid]}
            status, data = h.http_request(base, "POST", "/v1/sms/send", body, auth)
            if status != 200:
                raise RuntimeError(f"send failed with {status}: {data[:500]!r}")
            ping = load(stack, base, args, "GET", "/v1/ping", trees=trees)
            before = counters(stack)
            send = load(stack, base, args, "POST", "/v1/sms/send", body, auth, trees=trees)
            serial = load(stack, base, args, "POST", "/v1/sms/send", body, auth, concurrency=1,
                          duration=max(2.0, args.duration / 3), trees=trees)
            profile_text = profile_send(stack, base, args, proc, worker_class, body, auth) if args.py_spy else ""
            stack.stop(proc)  # closes its database connections, which flushes their statistics
            h._CONNECTIONS.clear()
            after = counters(stack)
            written = after["messages"] - before["messages"]
            per_send = {k: (after[k] - before[k]) / written for k in after if k != "messages"} if written else {}
            ratio = send["rps"] / ping["rps"] if ping["rps"] else 0.0
            results[label] = {"ping": ping, "send": send, "send_serial": serial, "ratio": ratio,
                              "rows_written": written, "per_send": per_send}
            print(f"{label}:")
            print(line("GET /v1/ping (baseline)", ping))
            print(line("POST /v1/sms/send", send))
            print(line("POST /v1/sms/send, 1 conn", serial))
            print(f"  send / ping = {ratio:.1%}; sends accepted during the send phases: {written} "
                  f"(measured 2xx: {send['ok'] + serial['ok']})")
            print(f"  ping: {fmt_cpu(ping['cpu'])}")
            print(f"  send: {fmt_cpu(send['cpu'])}")
            cpu_ms = 1000 * send["cpu"].get("gunicorn", 0) / send["rps"] if send["rps"] else 0
            print(f"  per send: {cpu_ms:.2f} ms gunicorn CPU, " + ", ".join(f"{v:.2f} {k}" for k, v in per_send.items()))
            for name, r in (("ping", ping), ("send", send)):
                r["server_cpu_ms"], r["capacity"] = capacity(r)
                print(f"  {name}: server CPU per request {r['server_cpu_ms']:.2f} ms (gunicorn + PostgreSQL + Redis) "
                      f"-> at most {r['capacity']:,.0f} req/s on {os.cpu_count()} idle cores")
            if profile_text:
                print(profile_text)
            print(flush=True)

    if args.limiter == "both":
        print("rate limiter cost (same stack, phases one after the other):")
        for label in [k for k in results if k.endswith("limiter on")]:
            on, off = results[label]["send"], results[label.replace("limiter on", "limiter off")]["send"]
            print(f"  {label[:-len(', limiter on')]:<24} send {off['rps']:6.0f} req/s off -> {on['rps']:6.0f} req/s on "
                  f"({on['rps'] / off['rps']:.1%}); p50 {off['p50_ms']:.2f} -> {on['p50_ms']:.2f} ms; "
                  f"server CPU per send {off['server_cpu_ms']:.2f} -> {on['server_cpu_ms']:.2f} ms")
    best_label = max(results, key=lambda k: results[k]["send"]["rps"])
    best = results[best_label]
    rps = best["send"]["rps"]
    print("-" * 78)
    print(f"RESULT (best: {best_label}, {args.client} client, {args.concurrency} connections)")
    print(f"  send:     {rps:8.0f} req/s  p50 {best['send']['p50_ms']:.2f} ms  p99 {best['send']['p99_ms']:.2f} ms")
    print(f"  baseline: {best['ping']['rps']:8.0f} req/s  (GET /v1/ping, same server)")
    print(f"  ratio:    {best['ratio']:.1%} of baseline")
    print(f"  unloaded: p50 {best['send_serial']['p50_ms']:.2f} ms, p99 {best['send_serial']['p99_ms']:.2f} ms (1 connection)")
    print(f"  CPU-bound ceiling on this machine: {best['send']['capacity']:,.0f} sends/s vs {best['ping']['capacity']:,.0f} pings/s "
          f"({best['send']['server_cpu_ms']:.2f} vs {best['ping']['server_cpu_ms']:.2f} ms server CPU per request; "
          f"{best['send']['capacity'] / best['ping']['capacity']:.1%}); work by others on the machine "
          f"during the send phase: {best['send']['cpu'].get('other', 0):.2f} cores")
    print(f"  target >= {TARGET_RPS} sends/s: {h.verdict(rps >= TARGET_RPS)}   "
          f"target >= {TARGET_RATIO:.0%} of baseline: {h.verdict(best['ratio'] >= TARGET_RATIO)}")
    h.write_json(args.json, {"benchmark": "send_api", "best": best_label, "results": results,
                             "machine": h.machine_notes()})
    return 0


def profile_send(stack: h.Stack, base: str, args, proc, worker_class: str, body: bytes, auth: dict) -> str:
    out_dir = Path(args.profile_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"send_api-{worker_class}.txt"
    spy = h.start_py_spy(args.py_spy, proc.pid, args.duration + 1, out)
    load(stack, base, args, "POST", "/v1/sms/send", body, auth)
    spy.wait(timeout=args.duration + 60)
    return f"  py-spy profile of the gunicorn workers under send load ({out}):\n" + h.summarize_collapsed(out)


def capacity(r: dict) -> tuple[float, float]:
    """Server-side CPU per request and the rate the machine's cores would allow if nothing else ran
    (the figure that does not depend on other work on the machine)."""
    cores = sum(r["cpu"].get(k, 0) for k in ("gunicorn", "postgres", "postgres (shared)", "redis"))
    per = cores / r["rps"] if r["rps"] else float("inf")
    return per * 1000, (os.cpu_count() or 1) / per if per else 0.0


def fmt_cpu(cpu: dict) -> str:
    return "CPU cores used: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())


if __name__ == "__main__":
    h.run_main(main)
