#!/usr/bin/env python3
"""Benchmark: messages/s through the WAYSCloud provider, with a second smsdesk as the upstream.

Two stacks, each with its own Redis and database: the upstream (an smsdesk under gunicorn gthread,
the simulator as its carrier, an account and API key) and ours (an account whose messages go
through ``wayscloud`` at the upstream's URL). ``--messages`` rows (default 2,000) are written
QUEUED into our database, then our dispatch engine runs in this process (``dispatch()``, the code
a worker's dispatch job runs: claim, ``provider.send``, record) until none is left: one
``POST /v1/sms/send`` per message on ``WAYSCLOUD_CONCURRENCY`` kept-alive connections. Timed from
the first claim to the last SENT, once per concurrency in ``--concurrency``. Afterwards every
message is checked: SENT here with the upstream's id, exactly once at the upstream.

Baselines, same run: the same number of rows through the same dispatch path with the built-in
simulator (the engine without HTTP), and the upstream's own ``POST /v1/sms/send`` rate under a
closed-loop load generator (``bench/_loadgen.py``) with as many connections: the most any client
could get from this upstream.

Then the way back: the upstream's worker delivers everything, and our polling
(``upstream_poll.poll_once``, every round at once) brings each message to DELIVERED: polls/s.

    .venv/bin/python bench/wayscloud_provider.py --database-url sqlite            # ~1 min
    .venv/bin/python bench/wayscloud_provider.py --database-url sqlite --concurrency 4,8,16
    .venv/bin/python bench/wayscloud_provider.py --quick --database-url sqlite    # 500 messages
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--messages", type=int, help="messages per phase (default 2,000; quick 500)")
    p.add_argument("--concurrency", default="8", help="WAYSCLOUD_CONCURRENCY values to run, comma-separated")
    p.add_argument("--web-workers", type=int, default=2, help="the upstream's gunicorn workers (gthread)")
    p.add_argument("--web-threads", type=int, default=8, help="threads per upstream gunicorn worker")
    p.add_argument("--batch-size", type=int, default=1000, help="our DISPATCH_BATCH_SIZE")
    p.add_argument("--load-seconds", type=float, default=10, help="duration of the upstream's raw send baseline")
    args = p.parse_args()
    args.messages = args.messages or (500 if args.quick else 2000)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.database_url not in (None, "", "sqlite", "pg", "postgresql"):
        p.error("--database-url: each stack needs a database of its own; use sqlite or omit it (fresh PostgreSQL)")
    return args


def main() -> int:
    args = parse_args()
    h.banner(f"bench/wayscloud_provider.py: {args.messages:,} messages through a local smsdesk upstream",
             args.wait_quiet)
    print("machine:", h.machine_notes())
    quiet_carrier = {"SIMULATOR_SUBMIT_LATENCY_MS": 0, "SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_FAIL_RULES": ""}
    with contextlib.ExitStack() as stacks:
        up = stacks.enter_context(h.Stack(args, extra_env=quiet_carrier, name="wcupstream"))
        web, base = up.start_gunicorn("gthread", args.web_workers, args.web_threads)
        ours = stacks.enter_context(h.Stack(args, name="wcours", extra_env={
            **quiet_carrier, "WAYSCLOUD_API_KEY": up.api_key, "WAYSCLOUD_BASE_URL": base,
            "DISPATCH_BATCH_SIZE": args.batch_size, "WAYSCLOUD_READ_TIMEOUT_SECONDS": 30,
            "WAYSCLOUD_DEADLINE_SECONDS": 60, "SENDING_TIMEOUT_SECONDS": 600}))
        print(f"code: {ours.app_source}")
        print(f"databases: {'PostgreSQL' if ours.is_postgres else 'SQLite'} (one each); upstream: gunicorn gthread "
              f"{args.web_workers}x{args.web_threads} at {base}; our dispatch: this process\n", flush=True)
        app = load_our_app(ours)
        trees = {"upstream gunicorn": [web.pid], "redis": [up.redis.pid, ours.redis.pid]}
        phases = run_phases(args, app, trees)
        check = verify(app, up, phases["wayscloud"])
        raw = upstream_baseline(args, up, base, trees)
        worker = up.start_worker()
        poll = poll_phase(app, up, phases["wayscloud"], trees)
        up.stop(worker)
    report(args, phases, raw, check, poll)
    return 0 if check["ok"] else 1


def load_our_app(ours: h.Stack):
    """Our smsdesk in this process: its code, database and Redis (the dispatch runs here)."""
    os.environ.update(ours.env)
    sys.path.insert(0, str(ours.app_dir))
    from app import create_app

    return create_app()


def run_phases(args, app, trees) -> dict:
    """Simulator first (warms the engine), then the provider per concurrency, then the simulator again."""
    plan = [("simulator", None)] + [("wayscloud", c) for c in args.concurrency] + [("simulator", None)]
    results: dict[str, list] = {"simulator": [], "wayscloud": []}
    for provider, concurrency in plan:
        h.section(f"dispatch through {provider}" + (f", WAYSCLOUD_CONCURRENCY={concurrency}" if concurrency else ""))
        result = dispatch_phase(app, args.messages, provider, concurrency, trees)
        print(f"  {result['rate']:8,.0f} messages/s ({result['seconds']:.2f} s; {result['statuses']}); "
              + h.CpuMeter.describe(result["cpu"], result["seconds"]), flush=True)
        results[provider].append(result)
    return results


def dispatch_phase(app, n: int, provider: str, concurrency: int | None, trees: dict) -> dict:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Message
    from app.services.dispatch import dispatch

    with app.app_context():
        if concurrency:
            app.config["WAYSCLOUD_CONCURRENCY"] = concurrency
        ids = prefill(n, provider)
        meter = h.CpuMeter(trees)
        meter.start()
        started = time.perf_counter()
        while dispatch(None):
            pass
        seconds = time.perf_counter() - started
        used = meter.stop()
        statuses = dict(db.session.execute(select(Message.status, func.count()).where(Message.id.in_(ids))
                                           .group_by(Message.status)).all())
        db.session.remove()
    return {"provider": provider, "concurrency": concurrency, "ids": ids, "seconds": seconds,
            "rate": n / seconds, "statuses": statuses, "cpu": used}


def prefill(n: int, provider: str) -> list[str]:
    """``n`` QUEUED rows of one batch for ``provider``, as a send would write them."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.models import Account, Message, SenderProfile, new_id, utcnow

    account = db.session.scalar(select(Account).where(Account.name == "Bench"))
    profile = db.session.scalar(select(SenderProfile).where(SenderProfile.account_id == account.id,
                                                            SenderProfile.is_default.is_(True)))
    now, batch = utcnow(), new_id()
    rows = [{"id": new_id(), "account_id": account.id, "batch_id": batch, "sender_profile_id": profile.id,
             "direction": "OUTBOUND", "message_type": "PLAIN", "from_number": profile.sender_id,
             "to_number": f"+479{1000000 + i:07d}", "body": "Your parcel is on its way. Track it at example.com/t/123",
             "encoding": "GSM-7", "units": 1, "status": "QUEUED", "created_at": now, "queued_at": now,
             "attempts": 0, "provider": provider, "currency": account.currency} for i in range(n)]
    db.session.execute(insert(Message.__table__), rows)
    db.session.commit()
    return [row["id"] for row in rows]


def verify(app, up: h.Stack, phases: list[dict]) -> dict:
    """Every message SENT here with the upstream's id, and at the upstream exactly once."""
    from sqlalchemy import select, text

    from app.extensions import db
    from app.models import Message

    ids = [mid for phase in phases for mid in phase["ids"]]
    with app.app_context():
        ours = dict(db.session.execute(select(Message.id, Message.provider_message_id)
                                       .where(Message.id.in_(ids), Message.status == "SENT")).all())
        db.session.remove()
    engine = up.engine()
    with engine.connect() as conn:
        theirs = conn.execute(text("SELECT customer_ref, id FROM messages WHERE customer_ref IS NOT NULL")).all()
    engine.dispose()
    refs = [ref for ref, _ in theirs]
    matching = sum(1 for ref, pmid in theirs if ours.get(ref) == pmid)
    result = {"messages": len(ids), "sent_here": len(ours), "at_upstream": len(refs),
              "duplicates": len(refs) - len(set(refs)), "ids_match": matching}
    result["ok"] = len(ours) == len(ids) == len(refs) == matching and result["duplicates"] == 0
    return result


def upstream_baseline(args, up: h.Stack, base: str, trees: dict) -> list[dict]:
    """The upstream's own accept rate for one-recipient sends, as many connections as our pool."""
    results = []
    body = json.dumps({"to": "+4791234567", "message": "Your parcel is on its way. Track it at example.com/t/123"})
    for concurrency in args.concurrency:
        h.section(f"baseline: the upstream's POST /v1/sms/send under {concurrency} connections (loadgen)")
        meter = h.CpuMeter(trees)
        meter.start()
        load = h.run_load(base, "POST", "/v1/sms/send", body=body.encode(), concurrency=concurrency,
                          headers={"X-API-Key": up.api_key, "Content-Type": "application/json"},
                          duration=args.load_seconds, max_requests=args.messages * 5, tmpdir=up.tmpdir)
        used = meter.stop()
        print(f"  {load['rps']:8,.0f} sends/s, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
              f"errors {load.get('errors', 0)} non-2xx {load.get('non_2xx', 0)}; "
              + h.CpuMeter.describe(used, meter.wall), flush=True)
        results.append({"concurrency": concurrency, **load, "cpu": used})
    return results


def poll_phase(app, up: h.Stack, phases: list[dict], trees: dict) -> dict:
    """The upstream's worker delivers everything; our polling then reads every message back."""
    from sqlalchemy import func, select, text

    from app.extensions import db, redis_conn
    from app.models import Message
    from app.services import upstream_poll

    h.section("the way back: upstream worker delivers, our polling reads it (WAYSCLOUD_POLL_BATCH=1000)")
    engine = up.engine()
    deadline = time.monotonic() + 600
    while True:  # ours only: the load generator's sends (no customer_ref) may still be on their way
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM messages WHERE customer_ref IS NOT NULL "
                                     "AND status NOT IN ('DELIVERED', 'FAILED')")).scalar()
        if not left:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the upstream did not deliver:\n" + up.log_tail("worker-*.log"))
        time.sleep(0.5)
    engine.dispose()
    ids = [mid for phase in phases for mid in phase["ids"]]
    with app.app_context():
        app.config.update(WAYSCLOUD_POLL_AFTER_SECONDS=0, WAYSCLOUD_POLL_BATCH=1000, WAYSCLOUD_POLL_EVERY_SECONDS=1)
        meter = h.CpuMeter(trees)
        meter.start()
        started, polled = time.perf_counter(), 0
        while db.session.scalar(select(func.count()).where(Message.id.in_(ids), Message.status == "SENT")):
            redis_conn().delete(upstream_poll.ROUND_KEY)  # no pause between rounds here
            polled += upstream_poll.poll_once().get("upstream_polled", 0)
        seconds = time.perf_counter() - started
        used = meter.stop()
        done = dict(db.session.execute(select(Message.status, func.count()).where(Message.id.in_(ids))
                                       .group_by(Message.status)).all())
        db.session.remove()
    print(f"  {polled / seconds:8,.0f} polls/s ({polled:,} polls in {seconds:.2f} s; {done}); "
          + h.CpuMeter.describe(used, seconds), flush=True)
    return {"polled": polled, "seconds": seconds, "rate": polled / seconds, "statuses": done, "cpu": used}


def report(args, phases: dict, raw: list[dict], check: dict, poll: dict) -> None:
    simulator = max(p["rate"] for p in phases["simulator"])
    print("-" * 78)
    print(f"checked: {check['sent_here']:,} of {check['messages']:,} SENT here, {check['at_upstream']:,} at the upstream, "
          f"{check['ids_match']:,} with matching ids, {check['duplicates']} duplicates: "
          f"{'OK' if check['ok'] else 'NOT OK'}")
    for phase, load in zip(phases["wayscloud"], raw):
        print(f"RESULT: {phase['rate']:,.0f} messages/s through the wayscloud provider, WAYSCLOUD_CONCURRENCY="
              f"{phase['concurrency']} ({args.messages:,} messages, QUEUED -> SENT)")
        print(f"  vs the simulator through the same dispatch path: {simulator:,.0f}/s -> {phase['rate'] / simulator:.1%}")
        print(f"  vs the upstream's own POST /v1/sms/send rate with {load['concurrency']} connections: "
              f"{load['rps']:,.0f}/s -> {phase['rate'] / load['rps']:.0%} of what any client gets from it")
    print(f"RESULT: polling reads {poll['rate']:,.0f} messages/s back to DELIVERED")
    print("  target: none (a figure to watch: the provider should stay close to the upstream's own send rate)")
    h.write_json(args.json, {"benchmark": "wayscloud_provider", "messages": args.messages, "machine": h.machine_notes(),
                             "phases": {k: [{x: y for x, y in p.items() if x != "ids"} for p in v]
                                        for k, v in phases.items()},
                             "upstream_raw": raw, "check": check, "poll": poll})


if __name__ == "__main__":
    sys.exit(main())
