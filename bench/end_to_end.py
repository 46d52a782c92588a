#!/usr/bin/env python3
"""Benchmark: 100,000 messages from accept to DELIVERED, through the API, RQ workers and the
built-in carrier simulator, on PostgreSQL + Redis.

Sends ``--messages`` messages as calls of ``--per-call`` recipients (default 100 x 1,000) to a
gunicorn server (sync, 2 workers) with ``--clients`` concurrent callers, while ``--workers``
``flask --app app worker`` processes dispatch them. The simulator answers at once
(``SIMULATOR_SUBMIT_LATENCY_MS=0``, ``SIMULATOR_REPORT_LATENCY_MS=0``, no failure rules), so the
figure is the platform's own cost. A monitor polls the database and the run ends when every
message is final (DELIVERED/FAILED) or after ``--timeout`` seconds.

Prints messages/s (target >= 5,000/s), the time to accept everything vs the time until everything
is delivered, per-message latency (delivered_at - created_at) and the database work per message
(PostgreSQL statistics: transactions, rows inserted/updated). ``--prefill`` accepts everything
first with no worker running, then starts the workers: that isolates the dispatch + delivery-report
rate from the API.

Baseline, same run and database: the raw speed of a bulk UPDATE of the same number of rows of the
``messages`` table (one set-based statement), plus two shapes that update row by row as the
dispatch engine must (``executemany`` of ``UPDATE ... WHERE id = :id`` in chunks of 500, the
engine's shape, and one ``UPDATE ... FROM unnest(:ids)`` per chunk of 500).

    .venv/bin/python bench/end_to_end.py --quick          # 10,000 messages, ~1 min
    .venv/bin/python bench/end_to_end.py                  # 100,000 messages
    .venv/bin/python bench/end_to_end.py --prefill        # dispatch rate alone
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_RATE = 5000
FINAL = ("DELIVERED", "FAILED")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--messages", type=int, help="messages in all (default 100,000; quick 10,000)")
    p.add_argument("--per-call", type=int, default=1000, help="recipients per send call")
    p.add_argument("--workers", type=int, default=2, help="`flask worker` processes")
    p.add_argument("--clients", type=int, default=2, help="concurrent send calls")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--prefill", action="store_true", help="accept everything before starting the workers")
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between progress polls")
    p.add_argument("--batch-size", type=int, default=None, help="DISPATCH_BATCH_SIZE for the workers (app default if unset)")
    args = p.parse_args()
    args.messages = args.messages or (10_000 if args.quick else 100_000)
    return args


def bodies(n_messages: int, per_call: int) -> list[bytes]:
    rng = random.Random(7)
    pool = [x for x in rng.sample(range(10**7), n_messages + n_messages // 100 + 10) if x % 10000 != 0]
    out = []
    for start in range(0, n_messages, per_call):
        chunk = pool[start:start + min(per_call, n_messages - start)]
        out.append(json.dumps({"to": [f"+479{x:07d}" for x in chunk],
                               "message": "Your parcel is on its way. Track it at example.com/t/123"}).encode())
    return out


class Monitor(threading.Thread):
    """Polls status counts; records when thresholds are first reached."""

    def __init__(self, stack: h.Stack, total: int, poll: float) -> None:
        super().__init__(daemon=True)
        self.engine = stack.engine()
        self.total, self.poll = total, poll
        self.stop_event = threading.Event()
        self.t0 = 0.0
        self.reached: dict[str, float] = {}
        self.last: dict[str, int] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        from sqlalchemy import text

        try:
            while not self.stop_event.is_set():
                with self.engine.connect() as conn:
                    counts = dict(conn.execute(text("SELECT status, count(*) FROM messages GROUP BY status")).all())
                now = time.monotonic() - self.t0
                self.last = counts
                accepted = sum(counts.values())
                beyond_sent = sum(counts.get(s, 0) for s in ("SENT", *FINAL))
                final = sum(counts.get(s, 0) for s in FINAL)
                for name, value in (("accepted", accepted), ("sent", beyond_sent), ("final", final)):
                    if value >= self.total and name not in self.reached:
                        self.reached[name] = now
                if final >= self.total:
                    return
                self.stop_event.wait(self.poll)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


def wait_for_workers(stack: h.Stack, n: int, timeout: float = 60) -> None:
    from redis import Redis
    from rq import Worker

    conn = Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=conn)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not register:\n" + stack.log_tail("worker-*.log"))
        time.sleep(0.2)


def pg_counters(stack: h.Stack) -> dict:
    if not stack.is_postgres:
        return {}
    from sqlalchemy import text

    time.sleep(1.2)  # backend statistics are flushed at most once a second
    engine = stack.engine()
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted "
                "FROM pg_stat_database WHERE datname = current_database()")).one()
    finally:
        engine.dispose()
    return {"transactions": row[0], "rows inserted": row[1], "rows updated": row[2], "rows deleted": row[3]}


def main() -> int:
    args = parse_args()
    h.banner(f"bench/end_to_end.py: {args.messages:,} messages from accept to DELIVERED", args.wait_quiet)
    print("machine:", h.machine_notes())
    payloads = bodies(args.messages, args.per_call)
    worker_env = {"SIMULATOR_SUBMIT_LATENCY_MS": 0, "SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_FAIL_RULES": ""}
    if args.batch_size:
        worker_env["DISPATCH_BATCH_SIZE"] = args.batch_size
    with h.Stack(args, extra_env=worker_env, name="e2e") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else stack.database_url.split(':')[0]}; "
              f"{len(payloads)} calls of {args.per_call}, {args.clients} concurrent; gunicorn sync x{args.web_workers}; "
              f"{args.workers} workers; {'prefill' if args.prefill else 'workers run while sending'}\n", flush=True)
        web, base = stack.start_gunicorn("sync", args.web_workers)
        auth = {"X-API-Key": stack.api_key, "Content-Type": "application/json"}
        workers = []
        if not args.prefill:
            workers = [stack.start_worker() for _ in range(args.workers)]
            wait_for_workers(stack, args.workers)
        before = pg_counters(stack)
        trees = {"gunicorn": [web.pid], "workers": [w.pid for w in workers], "redis": [stack.redis.pid]}
        meter = h.CpuMeter(trees)
        monitor = Monitor(stack, args.messages, args.poll)
        spies = []
        accept_times: list[float] = []
        call_latencies: list[float] = []
        errors: list[str] = []
        queue = list(payloads)
        lock = threading.Lock()

        def sender() -> None:
            conn_base = base
            while True:
                with lock:
                    if not queue or errors:
                        return
                    body = queue.pop(0)
                t = time.perf_counter()
                try:
                    status, data = h_request(conn_base, body, auth)
                except Exception as exc:  # noqa: BLE001
                    errors.append(repr(exc))
                    return
                call_latencies.append(time.perf_counter() - t)
                if status != 200:
                    errors.append(f"{status}: {data[:300]!r}")
                    return
                accept_times.append(time.monotonic() - monitor.t0)

        sampler = h.PgActivitySampler(stack).start()
        meter.start()
        monitor.t0 = time.monotonic()
        if args.py_spy and workers:
            spies = start_spies(args, workers)
        monitor.start()
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.timeout)
        accept_done = time.monotonic() - monitor.t0
        if errors:
            raise RuntimeError("send failed: " + errors[0])
        if args.prefill:
            # Everything is accepted; now the workers start and the clock for dispatch starts too.
            t_workers = time.monotonic()
            workers = [stack.start_worker() for _ in range(args.workers)]
            meter.trees["workers"] = [w.pid for w in workers]
            meter.start()  # CPU of the dispatch phase only
            if args.py_spy:
                spies = start_spies(args, workers)
            wait_for_workers(stack, args.workers)
        monitor.join(max(1.0, args.timeout - (time.monotonic() - monitor.t0)))
        used = meter.stop()
        sampler.stop()
        finished = "final" in monitor.reached
        for spy in spies:
            stop_spy(spy)
        monitor.stop_event.set()
        monitor.join(5)
        if monitor.error:
            raise monitor.error
        monitor.engine.dispose()
        for w in workers:
            stack.stop(w)
        stack.stop(web)
        after = pg_counters(stack)  # after the app's connections closed: their statistics are flushed
        stats = db_timings(stack)
        baselines = update_baselines(stack, args.messages)
        worker_errors = stack.log_tail("worker-*.log", 5)

    total = args.messages
    reached = monitor.reached
    print(f"status counts at the end: {monitor.last}")
    if not finished:
        print(f"NOT FINISHED within {args.timeout:.0f} s")
        if "Traceback" in worker_errors or "ERROR" in worker_errors:
            print(worker_errors)
    accept_s = accept_done
    final_s = reached.get("final", float("nan"))
    if args.prefill:
        dispatch_s = final_s - (t_workers - monitor.t0)
        rate = total / dispatch_s
    else:
        dispatch_s = final_s
        rate = total / final_s
    calls = h.summarize_ms(call_latencies)
    print(f"  accept:   all {total:,} accepted in {accept_s:6.1f} s  = {total / accept_s:8,.0f} msg/s "
          f"(call p50 {calls['p50_ms']:.0f} ms, p99 {calls['p99_ms']:.0f} ms)")
    if "sent" in reached:
        print(f"  sent:     all SENT (or later) at {reached['sent']:6.1f} s")
    print(f"  deliver:  all final at {final_s:6.1f} s from the first call"
          + (f"; {dispatch_s:.1f} s after the workers started" if args.prefill else ""))
    if stats:
        print(f"  per message (DB clock): created->sent p50 {stats['sent_p50']:.1f} s, "
              f"created->delivered p50 {stats['delivered_p50']:.1f} s, p99 {stats['delivered_p99']:.1f} s; "
              f"DELIVERED {stats['delivered']:,}, FAILED {stats['failed']:,}")
    phase = "dispatch phase" if args.prefill else "whole run"
    print(f"  {phase}: {h.CpuMeter.describe(used, meter.wall)}")
    server_cpu = sum(used.get(k, 0) for k in ("gunicorn", "workers", "postgres", "postgres (shared)", "redis"))
    ceiling = total / server_cpu * (os.cpu_count() or 1) if server_cpu else 0.0
    print(f"  CPU per message: {server_cpu / total * 1e6:.0f} us (" + ", ".join(
        f"{k} {used.get(k, 0) / total * 1e6:.0f}" for k in ("gunicorn", "workers", "postgres", "postgres (shared)", "redis")) +
        f") -> CPU-bound ceiling {ceiling:,.0f} messages/s on {os.cpu_count()} idle cores")
    if before and after:
        per = {k: (after[k] - before[k]) / total for k in after}
        print("  database work per message: " + ", ".join(f"{v:.2f} {k}" for k, v in per.items())
              + f"  (= {1000 * per['transactions']:.0f} transactions per 1,000 messages)")
    print(sampler.report())
    print("  baseline UPDATEs of the same number of rows (same DB, after the run):")
    for name, b in baselines.items():
        print(f"    {name:<52} {b['seconds']:6.2f} s  = {b['rows_per_s']:10,.0f} rows/s")
    base_rate = baselines["one set-based UPDATE"]["rows_per_s"]
    print("-" * 78)
    print(f"RESULT: {rate:,.0f} messages/s {'(dispatch + delivery only) ' if args.prefill else ''}"
          f"accept -> DELIVERED for {total:,} messages with {args.workers} workers")
    print(f"  time to accept {accept_s:.1f} s vs time to deliver {dispatch_s:.1f} s")
    print(f"  ratio vs one bulk UPDATE of {total:,} rows: {rate / base_rate:.1%} "
          f"({rate:,.0f} vs {base_rate:,.0f} rows/s); vs executemany UPDATE: "
          f"{rate / baselines['executemany UPDATE ... WHERE id = :id (500/chunk)']['rows_per_s']:.1%}")
    print(f"  target >= {TARGET_RATE:,} messages/s: {h.verdict(finished and rate >= TARGET_RATE)}"
          f"   (CPU-bound ceiling {ceiling:,.0f}/s; others' work on the machine during the run: "
          f"{used.get('other', 0) / meter.wall:.2f} cores)")
    h.write_json(args.json, {"benchmark": "end_to_end", "messages": total, "rate": rate, "accept_s": accept_s,
                             "final_s": final_s, "dispatch_s": dispatch_s, "reached": reached, "cpu": used,
                             "baselines": baselines, "db": stats, "machine": h.machine_notes(),
                             "prefill": args.prefill})
    return 0 if finished else 1


def h_request(base: str, body: bytes, auth: dict):
    """One send on this thread's own connection (http.client connections are not thread-safe)."""
    import http.client
    import urllib.parse

    local = _local.__dict__
    conn = local.get("conn")
    if conn is None:
        parts = urllib.parse.urlsplit(base)
        conn = local["conn"] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    try:
        conn.request("POST", "/v1/sms/send", body=body, headers=auth)
        resp = conn.getresponse()
        data = resp.read()
    except (http.client.HTTPException, OSError):
        conn.close()
        local.pop("conn", None)
        raise
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
        local.pop("conn", None)
    return resp.status, data


_local = threading.local()


def start_spies(args, workers) -> list:
    out_dir = Path(args.profile_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [(h.start_py_spy(args.py_spy, w.pid, args.timeout, out_dir / f"end_to_end-worker{i}.txt"),
             out_dir / f"end_to_end-worker{i}.txt") for i, w in enumerate(workers)]


def stop_spy(spy) -> None:
    proc, out = spy
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            h.stop_process(proc)
    print(f"py-spy profile of a worker ({out}):")
    print(h.summarize_collapsed(out), flush=True)


def db_timings(stack: h.Stack) -> dict:
    from sqlalchemy import text

    engine = stack.engine()
    try:
        with engine.connect() as conn:
            if stack.is_postgres:
                row = conn.execute(text(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)),"
                    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(delivered_at, failed_at) - created_at)),"
                    " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM coalesce(delivered_at, failed_at) - created_at)),"
                    " count(*) FILTER (WHERE status = 'DELIVERED'), count(*) FILTER (WHERE status = 'FAILED')"
                    " FROM messages")).one()
                return {"sent_p50": row[0] or 0, "delivered_p50": row[1] or 0, "delivered_p99": row[2] or 0,
                        "delivered": row[3], "failed": row[4]}
            row = conn.execute(text(
                "SELECT count(*) FILTER (WHERE status = 'DELIVERED'), count(*) FILTER (WHERE status = 'FAILED') "
                "FROM messages")).one()
            return {"sent_p50": float("nan"), "delivered_p50": float("nan"), "delivered_p99": float("nan"),
                    "delivered": row[0], "failed": row[1]}
    finally:
        engine.dispose()


def update_baselines(stack: h.Stack, n: int) -> dict:
    """Three ways to UPDATE ``n`` rows of messages, timed on the rows the run wrote."""
    from datetime import datetime, timezone

    from sqlalchemy import MetaData, Table, bindparam, text, update

    engine = stack.engine()
    out = {}
    try:
        table = Table("messages", MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            ids = list(conn.execute(text("SELECT id FROM messages LIMIT :n"), {"n": n}).scalars())
        now = datetime.now(timezone.utc).replace(tzinfo=None)

        def timed(name: str, fn) -> None:
            with engine.connect() as conn:
                t0 = time.perf_counter()
                fn(conn)
                conn.commit()
                seconds = time.perf_counter() - t0
            out[name] = {"seconds": seconds, "rows_per_s": len(ids) / seconds}

        def set_based(conn) -> None:
            conn.execute(text("UPDATE messages SET status = 'DELIVERED', delivered_at = :now "
                              "WHERE status IN ('DELIVERED', 'FAILED', 'SENT')"), {"now": now})

        stmt = update(table).where(table.c.id == bindparam("b_id")).values(status="DELIVERED", delivered_at=now)

        def executemany(conn) -> None:
            for i in range(0, len(ids), 500):
                conn.execute(stmt, [{"b_id": x} for x in ids[i:i + 500]])

        timed("one set-based UPDATE", set_based)
        timed("executemany UPDATE ... WHERE id = :id (500/chunk)", executemany)
        if stack.is_postgres:
            def unnest(conn) -> None:
                q = text("UPDATE messages AS m SET status = 'DELIVERED', delivered_at = :now "
                         "FROM unnest(CAST(:ids AS varchar[])) AS v(id) WHERE m.id = v.id")
                for i in range(0, len(ids), 500):
                    conn.execute(q, {"ids": ids[i:i + 500], "now": now})

            timed("UPDATE ... FROM unnest(:ids) (500/chunk)", unnest)
    finally:
        engine.dispose()
    return out


if __name__ == "__main__":
    h.run_main(main)
