#!/usr/bin/env python3
"""Benchmark: one ``POST /v1/sms/send`` with 1,000 recipients, under gunicorn, on PostgreSQL + Redis.

Makes ``--calls`` sequential calls (each with 1,000 different valid Norwegian mobile numbers) and
prints p50/p99 latency. Target: p50 < 150 ms.

Baselines measured in the same run, on the same database:

* the same number of rows (1,000 copies of a row the app wrote, new ids and numbers) bulk-inserted
  with SQLAlchemy Core (``conn.execute(insert(messages), rows)`` + commit), from this process:
  the floor for the database part of a batch send;
* a 1-recipient send through the same server: the fixed per-request cost.

The difference between the batch latency and the bulk insert is the per-recipient work in the
request (parsing, pydantic, phone-number normalisation, row building, the JSON response).

    .venv/bin/python bench/send_batch.py --quick          # ~15 s
    .venv/bin/python bench/send_batch.py                  # 30 calls, ~1 min
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_P50_MS = 150


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--calls", type=int, help="measured calls (default 30, quick 8)")
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync or gthread)")
    p.add_argument("--time-limit", type=float, default=300, help="stop measuring after this many seconds")
    args = p.parse_args()
    args.calls = args.calls or (8 if args.quick else 30)
    return args


def numbers(rng: random.Random, n: int) -> list[str]:
    # +47 9xxxxxxx are valid Norwegian mobile numbers; distinct within a call.
    return [f"+479{x:07d}" for x in rng.sample(range(10**7), n)]


def main() -> int:
    args = parse_args()
    h.banner(f"bench/send_batch.py: one send with {args.recipients} recipients", args.wait_quiet)
    print("machine:", h.machine_notes())
    rng = random.Random(1)
    message = "Big sale this weekend: 20% off everything in store. Reply STOP to opt out."
    bodies = [json.dumps({"to": numbers(rng, args.recipients), "message": message}).encode()
              for _ in range(args.calls + 2)]
    one = json.dumps({"to": ["+4791234567"], "message": message}).encode()
    with h.Stack(args, name="sendbatch") as stack:
        auth = {"X-API-Key": stack.api_key, "Content-Type": "application/json"}
        proc, base = stack.start_gunicorn(args.worker_class, 2, 4 if args.worker_class == "gthread" else 1)
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else stack.database_url.split(':')[0]}, "
              f"gunicorn {args.worker_class} x2, {args.calls} calls, body {len(bodies[0]) / 1024:.0f} KiB\n", flush=True)

        def call(body: bytes, expect: int) -> float:
            t0 = time.perf_counter()
            status, data = h.http_request(base, "POST", "/v1/sms/send", body, auth)
            elapsed = time.perf_counter() - t0
            if status != 200:
                raise RuntimeError(f"send failed with {status}: {data[:300]!r}")
            got = len(json.loads(data)["message_ids"])
            if got != expect:
                raise RuntimeError(f"expected {expect} accepted recipients, got {got}")
            return elapsed

        for body in bodies[:2]:  # warm-up: imports, connection pools, statement caches
            call(body, args.recipients)
        meter = h.CpuMeter({"gunicorn": [proc.pid], "redis": [stack.redis.pid]})
        meter.start()
        batch_times = []
        deadline = time.monotonic() + args.time_limit
        for body in bodies[2:]:
            batch_times.append(call(body, args.recipients))
            if time.monotonic() > deadline:
                break
        used = meter.stop()
        batch = h.summarize_ms(batch_times)

        single = h.summarize_ms([call(one, 1) for _ in range(max(args.calls, 30))])
        insert = bulk_insert_baseline(stack, args.recipients, len(batch_times), rng)

        if args.py_spy:
            profile(stack, args, proc, bodies, call)

    print(f"  send, {args.recipients} recipients:      p50 {batch['p50_ms']:7.1f} ms   p99 {batch['p99_ms']:7.1f} ms   "
          f"mean {batch['mean_ms']:7.1f} ms   (n={batch['n']})")
    print(f"  baseline: Core bulk INSERT of {args.recipients} rows + COMMIT:  p50 {insert['p50_ms']:7.1f} ms   "
          f"p99 {insert['p99_ms']:7.1f} ms")
    print(f"  baseline: send, 1 recipient:      p50 {single['p50_ms']:7.2f} ms   p99 {single['p99_ms']:7.2f} ms")
    print(f"  during the batch calls: {h.CpuMeter.describe(used, meter.wall)}")
    gunicorn_ms = 1000 * used.get("gunicorn", 0) / max(1, batch["n"])
    print(f"  gunicorn CPU per batch call: {gunicorn_ms:.0f} ms "
          f"({gunicorn_ms / batch['mean_ms']:.0%} of the mean latency); per recipient "
          f"{1000 * (batch['p50_ms'] - single['p50_ms']) / args.recipients:.0f} us of latency")
    print("-" * 78)
    print(f"RESULT: p50 {batch['p50_ms']:.1f} ms, p99 {batch['p99_ms']:.1f} ms for {args.recipients} recipients "
          f"= {args.recipients / batch['p50_ms'] * 1000:,.0f} recipients/s per request")
    print(f"  ratio vs bulk INSERT: {batch['p50_ms'] / insert['p50_ms']:.1f}x   "
          f"ratio vs 1-recipient send: {batch['p50_ms'] / single['p50_ms']:.1f}x")
    print(f"  target p50 < {TARGET_P50_MS} ms: {h.verdict(batch['p50_ms'] < TARGET_P50_MS)}")
    h.write_json(args.json, {"benchmark": "send_batch", "batch": batch, "single": single, "bulk_insert": insert,
                             "cpu": used, "machine": h.machine_notes()})
    return 0


def bulk_insert_baseline(stack: h.Stack, n_rows: int, repeats: int, rng: random.Random) -> dict:
    """Insert ``n_rows`` copies of a row the app wrote (new id, number, batch) with SQLAlchemy Core,
    the same statement shape the send service uses, then delete them again."""
    from sqlalchemy import MetaData, Table, delete, insert, select

    engine = stack.engine()
    try:
        table = Table("messages", MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            template = dict(conn.execute(select(table).limit(1)).mappings().one())
        times, batch_ids = [], []
        for _ in range(max(3, repeats)):
            batch_id = str(uuid.uuid4())
            batch_ids.append(batch_id)
            rows = [{**template, "id": str(uuid.uuid4()), "to_number": to, "batch_id": batch_id}
                    for to in numbers(rng, n_rows)]
            with engine.connect() as conn:
                t0 = time.perf_counter()
                conn.execute(insert(table), rows)
                conn.commit()
                times.append(time.perf_counter() - t0)
        with engine.begin() as conn:
            conn.execute(delete(table).where(table.c.batch_id.in_(batch_ids)))
        return h.summarize_ms(times)
    finally:
        engine.dispose()


def profile(stack: h.Stack, args, proc, bodies, call) -> None:
    out_dir = Path(args.profile_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "send_batch.txt"
    seconds = 8
    spy = h.start_py_spy(args.py_spy, proc.pid, seconds, out)
    time.sleep(0.5)
    deadline = time.monotonic() + seconds - 1
    i = 0
    while time.monotonic() < deadline:
        call(bodies[i % len(bodies)], args.recipients)
        i += 1
    spy.wait(timeout=60)
    print(f"py-spy profile of the gunicorn workers during {i} batch calls ({out}):")
    print(h.summarize_collapsed(out), "\n", flush=True)


if __name__ == "__main__":
    h.run_main(main)
