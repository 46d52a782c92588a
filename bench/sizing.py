#!/usr/bin/env python3
"""Sizing figures: messages/s end to end with 1, 2 and 4 worker processes, and what one Redis and
one PostgreSQL did at that rate.

For each worker count a fresh stack (``_harness.Stack``: own Redis, own database) takes
``--messages`` messages through the API as ``bench/end_to_end.py`` sends them (calls of
``--per-call`` recipients from ``--clients`` callers, its ``bodies``, ``Monitor`` and request
helper), with the workers dispatching while the sends come in and the simulator answering at once.
The rate is messages / time from the first call until every message is SENT (accepted by the
carrier); the run then continues until every message is DELIVERED, and the database and Redis
work of the whole run (PostgreSQL ``pg_stat_database``: committed transactions, rows inserted and
updated; Redis ``INFO commandstats``: commands) is given per second of it and per message.

Printed as a table with the ratio against 1 worker; the sizing guide's figures come from the full
run on PostgreSQL (``--database-url`` or a fresh database on the dev PostgreSQL by default).

    .venv/bin/python bench/sizing.py --messages 5000            # validation, ~2 min
    .venv/bin/python bench/sizing.py                            # 50,000 per worker count
    .venv/bin/python bench/sizing.py --worker-counts 1,2,4,8 --web-workers 4
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

from end_to_end import Monitor, bodies, h_request, pg_counters, wait_for_workers  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--messages", type=int, help="messages per worker count (default 50,000; quick 5,000)")
    p.add_argument("--worker-counts", default="1,2,4", help="comma-separated `flask worker` process counts")
    p.add_argument("--per-call", type=int, default=1000, help="recipients per send call")
    p.add_argument("--clients", type=int, default=2, help="concurrent send calls")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn (sync) workers")
    p.add_argument("--timeout", type=float, default=900, help="give up on one worker count after this many seconds")
    args = p.parse_args()
    args.messages = args.messages or (5_000 if args.quick else 50_000)
    args.worker_counts = [int(n) for n in args.worker_counts.split(",") if n.strip()]
    return args


def redis_commands(stack: h.Stack) -> int:
    from redis import Redis

    stats = Redis.from_url(stack.redis_url).info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def send_all(base: str, payloads: list[bytes], auth: dict, clients: int) -> None:
    """The calls from ``clients`` threads, each on its own connection (end_to_end's helper)."""
    queue, errors, lock = list(payloads), [], threading.Lock()

    def sender() -> None:
        while True:
            with lock:
                if not queue or errors:
                    return
                body = queue.pop(0)
            status, data = h_request(base, body, auth)
            if status != 200:
                errors.append(f"{status}: {data[:300]!r}")

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("send failed: " + errors[0])


def run(args, n_workers: int) -> dict:
    env = {"SIMULATOR_SUBMIT_LATENCY_MS": 0, "SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_FAIL_RULES": ""}
    with h.Stack(args, extra_env=env, name=f"sizing{n_workers}") as stack:
        web, base = stack.start_gunicorn("sync", args.web_workers)
        workers = [stack.start_worker() for _ in range(n_workers)]
        wait_for_workers(stack, n_workers)
        auth = {"X-API-Key": stack.api_key, "Content-Type": "application/json"}
        pg_before, redis_before = pg_counters(stack), redis_commands(stack)
        meter = h.CpuMeter({"gunicorn": [web.pid], "workers": [w.pid for w in workers], "redis": [stack.redis.pid]})
        monitor = Monitor(stack, args.messages, 0.5)
        meter.start()
        monitor.t0 = time.monotonic()
        monitor.start()
        send_all(base, bodies(args.messages, args.per_call), auth, args.clients)
        accepted_s = time.monotonic() - monitor.t0
        monitor.join(args.timeout)
        used = meter.stop()
        monitor.stop_event.set()
        monitor.join(5)
        monitor.engine.dispose()
        if monitor.error:
            raise monitor.error
        redis_after = redis_commands(stack)
        for proc in [*workers, web]:
            stack.stop(proc)
        pg_after = pg_counters(stack)  # after the app's connections closed: their statistics are flushed
        source, postgres = stack.app_source, stack.is_postgres
    reached = monitor.reached
    sent_s, final_s = reached.get("sent", float("nan")), reached.get("final", float("nan"))
    pg = {k: pg_after[k] - pg_before[k] for k in pg_after} if pg_before and pg_after else {}
    return {"workers": n_workers, "messages": args.messages, "accepted_s": accepted_s, "sent_s": sent_s,
            "final_s": final_s, "rate": args.messages / sent_s, "finished": "final" in reached,
            "redis_commands": redis_after - redis_before, "pg": pg, "cpu": used, "wall": meter.wall,
            "source": source, "postgres": postgres}


def print_table(results: list[dict]) -> None:
    base = results[0]
    print("-" * 78)
    print(f"RESULT: {base['messages']:,} messages per worker count, accepted -> SENT (rates per second of the "
          f"run to all DELIVERED for Redis and PostgreSQL)")
    head = (f"  {'workers':>7} {'msg/s':>8} {'vs 1':>6} {'accept s':>9} {'SENT s':>7} {'Redis cmd/s':>12} "
            f"{'cmd/msg':>8} {'PG xact/s':>10} {'ins/s':>8} {'upd/s':>8} {'xact/1k msg':>12}")
    print(head)
    for r in results:
        secs = r["final_s"]
        pg = r["pg"]
        pg_cells = (f"{pg['transactions'] / secs:10,.0f} {pg['rows inserted'] / secs:8,.0f} "
                    f"{pg['rows updated'] / secs:8,.0f} {1000 * pg['transactions'] / r['messages']:12,.0f}"
                    if pg else f"{'(SQLite: no PostgreSQL statistics)':>41}")
        print(f"  {r['workers']:>7} {r['rate']:8,.0f} {r['rate'] / base['rate']:5.2f}x {r['accepted_s']:9.1f} "
              f"{r['sent_s']:7.1f} {r['redis_commands'] / secs:12,.0f} {r['redis_commands'] / r['messages']:8.2f} "
              + pg_cells + ("" if r["finished"] else "  NOT FINISHED"))
    for r in results:
        print(f"  {r['workers']} worker(s): {h.CpuMeter.describe(r['cpu'], r['wall'])}")


def main() -> int:
    args = parse_args()
    h.banner(f"bench/sizing.py: messages/s with {', '.join(map(str, args.worker_counts))} workers", args.wait_quiet)
    print("machine:", h.machine_notes())
    results = []
    for n in args.worker_counts:
        h.section(f"{n} worker process{'es' if n != 1 else ''}")
        r = run(args, n)
        print(f"code: {r['source']}; database: {'PostgreSQL' if r['postgres'] else 'SQLite'}")
        print(f"  accepted all in {r['accepted_s']:.1f} s, all SENT at {r['sent_s']:.1f} s ({r['rate']:,.0f} msg/s), "
              f"all DELIVERED at {r['final_s']:.1f} s", flush=True)
        results.append(r)
    print_table(results)
    print(f"  ({os.cpu_count()} cores shared by everything: workers beyond the cores add contention, not speed)")
    h.write_json(args.json, {"benchmark": "sizing", "results": results, "machine": h.machine_notes()})
    return 0 if all(r["finished"] for r in results) else 1


if __name__ == "__main__":
    h.run_main(main)
