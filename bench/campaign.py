#!/usr/bin/env python3
"""Benchmark: a 100,000-recipient campaign from "Send now" to every message DELIVERED, with 2
real worker processes, on PostgreSQL + Redis.

The audience (``--recipients`` contacts in one group, with varied merge fields and some contacts
left out, as in ``campaign_preview.py``) and a draft are written in this process; the workers
(``flask --app app worker``, simulator latencies ``--submit-latency-ms`` and
``--report-latency-ms``, default 0) are started and registered; then ``campaigns.send_now`` is
called here, which enqueues the campaign's run. One worker's run writes the ledger (one message
row per recipient), then releases it a slice at a time and dispatches; every full claim asks for
another dispatch job, which the other worker takes. A monitor polls the ledger until the campaign
is COMPLETED or ``--timeout``.

Prints, from the database's own time stamps: the time to write the ledger (``started_at`` to
``materialized_at``), the time from "Send now" to the last delivery report and to COMPLETED, and
messages/s end to end (target >= 5,000/s); plus CPU per message by process group, what PostgreSQL
was busy with, and the database work per message.

Baseline, same run and database (the one ``end_to_end.py`` uses): one set-based UPDATE of as many
rows of ``messages`` (plus ``executemany`` by id, and ``UPDATE ... FROM unnest`` by id).

``--profile`` adds a second, smaller campaign (``--profile-recipients``, default 20,000) run in
this one process under cProfile (``campaign_run.run`` with the dispatch inline, then the delivery
reports), with a time split per stage: where the workers' time goes, without py-spy.

    .venv/bin/python bench/campaign.py --quick        # 10,000 recipients
    .venv/bin/python bench/campaign.py                # 100,000 recipients
    .venv/bin/python bench/campaign.py --profile      # and where the time goes
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

from campaign_preview import MESSAGE, fill  # noqa: E402
from end_to_end import pg_counters, update_baselines, wait_for_workers  # noqa: E402

TARGET_RATE = 5000


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--recipients", type=int, help="recipients (default 100,000; quick 10,000)")
    p.add_argument("--workers", type=int, default=2, help="`flask worker` processes")
    p.add_argument("--submit-latency-ms", type=int, default=0, help="SIMULATOR_SUBMIT_LATENCY_MS")
    p.add_argument("--report-latency-ms", type=int, default=0, help="SIMULATOR_REPORT_LATENCY_MS")
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between progress polls")
    p.add_argument("--profile", action="store_true", help="also profile a campaign run in this process")
    p.add_argument("--profile-recipients", type=int, default=20_000)
    args = p.parse_args()
    args.recipients = args.recipients or (10_000 if args.quick else 100_000)
    return args


class Monitor(threading.Thread):
    """Polls the campaign until it is COMPLETED (or stopped); then counts its ledger."""

    def __init__(self, stack: h.Stack, campaign_id: str, poll: float) -> None:
        super().__init__(daemon=True)
        self.engine = stack.engine()
        self.campaign_id, self.poll = campaign_id, poll
        self.stop_event = threading.Event()
        self.last: dict[str, int] = {}
        self.status = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        from sqlalchemy import text

        try:
            while not self.stop_event.is_set():
                # Only the campaign's row while it runs (counting the ledger would load the
                # database the run is measured on); the ledger is counted once at the end.
                with self.engine.connect() as conn:
                    self.status = conn.execute(text("SELECT status FROM campaigns WHERE id = :id"),
                                               {"id": self.campaign_id}).scalar_one()
                if self.status in ("COMPLETED", "CANCELLED", "PAUSED") or self.stop_event.wait(self.poll):
                    break
            with self.engine.connect() as conn:
                self.last = dict(conn.execute(text(
                    "SELECT status, count(*) FROM messages WHERE campaign_id = :id GROUP BY status"),
                    {"id": self.campaign_id}).all())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


def timeline(stack: h.Stack, campaign_id: str) -> dict:
    """The campaign's milestones in seconds after it started sending, from the database."""
    from sqlalchemy import text

    engine = stack.engine()
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT c.started_at, c.materialized_at, c.completed_at, c.recipients, "
                " (SELECT min(sent_at) FROM messages WHERE campaign_id = c.id),"
                " (SELECT max(sent_at) FROM messages WHERE campaign_id = c.id),"
                " (SELECT max(coalesce(delivered_at, failed_at)) FROM messages WHERE campaign_id = c.id)"
                " FROM campaigns c WHERE c.id = :id"), {"id": campaign_id}).one()
    finally:
        engine.dispose()
    started = row[0]

    def after(value):
        return (value - started).total_seconds() if value is not None else float("nan")

    return {"ledger": after(row[1]), "first_sent": after(row[4]), "last_sent": after(row[5]),
            "last_final": after(row[6]), "completed": after(row[2]), "recipients": row[3]}


def main() -> int:
    args = parse_args()
    h.banner(f"bench/campaign.py: a {args.recipients:,}-recipient campaign from Send now to DELIVERED",
             args.wait_quiet)
    print("machine:", h.machine_notes())
    worker_env = {"SIMULATOR_SUBMIT_LATENCY_MS": args.submit_latency_ms,
                  "SIMULATOR_REPORT_LATENCY_MS": args.report_latency_ms, "SIMULATOR_FAIL_RULES": ""}
    with h.Stack(args, extra_env=worker_env, name="campaign") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else 'SQLite'}; {args.workers} workers; simulator "
              f"latencies submit {args.submit_latency_ms} ms, report {args.report_latency_ms} ms\n", flush=True)
        os.environ.update({k: v for k, v in stack.env.items() if k not in ("PYTHONPATH",)})
        sys.path.insert(0, str(stack.app_dir))
        from sqlalchemy import select, text

        from app import create_app
        from app.extensions import db
        from app.models import Account
        from app.services import campaigns
        from app.services.campaigns import CampaignSpec

        app = create_app()
        with app.app_context():
            account = db.session.scalar(select(Account).where(Account.name == "Bench"))
            t0 = time.perf_counter()
            customers, blocked, extra = fill(account, args.recipients)
            if stack.is_postgres:
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            spec = CampaignSpec(name="Spring", message=MESSAGE, group_ids=(customers.id,),
                                excluded_group_ids=(blocked.id,))
            campaign = campaigns.create(account, spec)
            campaign_id = campaign.id
            print(f"audience and draft written in {time.perf_counter() - t0:.1f} s\n", flush=True)

            workers = [stack.start_worker() for _ in range(args.workers)]
            wait_for_workers(stack, args.workers)
            before = pg_counters(stack)
            meter = h.CpuMeter({"workers": [w.pid for w in workers], "redis": [stack.redis.pid]})
            sampler = h.PgActivitySampler(stack).start()
            monitor = Monitor(stack, campaign_id, args.poll)
            meter.start()
            wall0 = time.monotonic()
            campaigns.send_now(account, campaign)  # "Send now": the clock starts here
            monitor.start()
            monitor.join(args.timeout)
            wall = time.monotonic() - wall0
            used = meter.stop()
            sampler.stop()
            monitor.stop_event.set()
            monitor.join(5)
            monitor.engine.dispose()
            if monitor.error:
                raise monitor.error
            db.session.remove()
        for w in workers:
            stack.stop(w)
        after = pg_counters(stack)
        times = timeline(stack, campaign_id)
        baselines = update_baselines(stack, args.recipients)
        worker_log = stack.log_tail("worker-*.log", 8)
        profile = profile_run(app, args) if args.profile else None

    total = args.recipients
    finished = monitor.status == "COMPLETED"
    print(f"campaign {monitor.status}; ledger at the end: {monitor.last}")
    if not finished:
        print(f"NOT FINISHED within {args.timeout:.0f} s (wall {wall:.1f} s)")
        print(worker_log)
    rate = total / times["last_final"]
    print(f"  ledger:    {times['recipients']:,} rows written in {times['ledger']:6.2f} s "
          f"(started_at -> materialized_at) = {total / times['ledger']:,.0f} rows/s")
    print(f"  sending:   first SENT at {times['first_sent']:6.2f} s, last SENT at {times['last_sent']:6.2f} s")
    print(f"  delivered: last delivery report at {times['last_final']:6.2f} s; COMPLETED at {times['completed']:6.2f} s "
          f"(all after Send now)")
    server_cpu = sum(used.get(k, 0) for k in ("workers", "postgres", "postgres (shared)", "redis"))
    ceiling = total / server_cpu * (os.cpu_count() or 1) if server_cpu else 0.0
    print(f"  whole run: {h.CpuMeter.describe(used, meter.wall)}")
    print(f"  CPU per message: {server_cpu / total * 1e6:.0f} us (" + ", ".join(
        f"{k} {used.get(k, 0) / total * 1e6:.0f}" for k in ("workers", "postgres", "postgres (shared)", "redis"))
        + f") -> CPU-bound ceiling {ceiling:,.0f} messages/s on {os.cpu_count()} idle cores")
    if before and after:
        per = {k: (after[k] - before[k]) / total for k in after}
        print("  database work per message: " + ", ".join(f"{v:.2f} {k}" for k, v in per.items())
              + f"  (= {1000 * per['transactions']:.0f} transactions per 1,000 messages)")
    print(sampler.report())
    print("  baseline UPDATEs of the same number of rows (same DB, after the run):")
    for name, b in baselines.items():
        print(f"    {name:<52} {b['seconds']:6.2f} s  = {b['rows_per_s']:10,.0f} rows/s")
    if profile:
        print(profile)
    base_rate = baselines["one set-based UPDATE"]["rows_per_s"]
    print("-" * 78)
    print(f"RESULT: {rate:,.0f} messages/s from Send now to the last DELIVERED, {total:,} recipients, "
          f"{args.workers} workers; ledger written in {times['ledger']:.2f} s")
    print(f"  ratio vs one bulk UPDATE of {total:,} rows: {rate / base_rate:.1%} ({rate:,.0f} vs {base_rate:,.0f} rows/s)")
    print(f"  target >= {TARGET_RATE:,} messages/s: {h.verdict(finished and rate >= TARGET_RATE)}"
          f"   (CPU-bound ceiling {ceiling:,.0f}/s; others' work on the machine during the run: "
          f"{used.get('other', 0) / meter.wall:.2f} cores)")
    h.write_json(args.json, {"benchmark": "campaign", "recipients": total, "rate": rate, "times": times,
                             "cpu": used, "baselines": baselines, "machine": h.machine_notes()})
    return 0 if finished else 1


STAGES = {
    "write the ledger": ("campaign_run", "write_ledger"),
    "  read and render the audience": ("campaign_audience", "_group_recipients"),
    "  insert the ledger rows": ("campaign_run", "_insert_ledger"),
    "release a slice": ("campaign_run", "release"),
    "skip opted out": ("campaign_run", "skip_opted_out"),
    "dispatch (claim, submit, record)": ("dispatch", "dispatch"),
    "  claim": ("dispatch", "_claim"),
    "  provider submit": ("dispatch", "submit"),
    "  record results": ("dispatch", "record_results"),
    "deliver the reports": ("simulator_service", "deliver_due_reports"),
}


def profile_run(app, args) -> str:
    """A second campaign, run start to finish in this process under cProfile: the run with its
    dispatch inline (no worker, no queue), then every delivery report."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Account, Group
    from app.services import campaign_audience, campaign_run, campaigns, dispatch
    from app.services import simulator as simulator_service
    from app.services.campaigns import CampaignSpec

    modules = {"campaign_run": campaign_run, "campaign_audience": campaign_audience, "dispatch": dispatch,
               "simulator_service": simulator_service}
    app.config.update(SIMULATOR_REPORT_LATENCY_MS=0, SIMULATOR_SUBMIT_LATENCY_MS=0, SIMULATOR_FAIL_RULES="")
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.name == "Bench"))
        group = db.session.scalar(select(Group).where(Group.name == "Profiled"))
        group = group or _profiled_group(account, args.profile_recipients)
        campaign = campaigns.create(account, CampaignSpec(name="Profiled", message=MESSAGE, group_ids=(group.id,)))
        campaigns.send_now(account, campaign)  # its run job is left in the queue: no worker runs now
        timings, undo = _instrument(modules)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        try:
            prof.enable()
            campaign_run.run(campaign.id)
            simulator_service.deliver_due_reports()
            prof.disable()
        finally:
            undo()
        wall = time.perf_counter() - t0
        n = args.profile_recipients
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
    lines = [f"  in-process profile: {n:,} recipients run start to finish in {wall:.2f} s under cProfile "
             f"({n / wall:,.0f}/s; the profiler slows Python code ~1.5-2x). Time per stage (inclusive):"]
    for label, seconds in timings.items():
        lines.append(f"    {label:<36} {seconds:6.2f} s  {seconds / wall:6.1%}")
    lines.append("  functions by own time:")
    lines += ["    " + line for line in out.getvalue().splitlines()[6:30] if line.strip()]
    return "\n".join(lines)


def _profiled_group(account, n: int):
    """The profiled campaign's own audience: ``n`` fresh contacts in a group "Profiled"."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Contact, group_members, new_id
    from app.services.groups import create_group

    group = create_group(account, "Profiled")
    for start in range(0, n, 10_000):
        rows = [{"id": new_id(), "account_id": account.id, "name": f"Profiled {i}", "first_name": f"P{i % 977}",
                 "company_name": f"Firma {i % 613}", "phone_number": f"+479{5000000 + i:07d}", "type": "person",
                 "tags": []} for i in range(start, min(n, start + 10_000))]
        db.session.execute(insert(Contact.__table__), rows)
        db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": r["id"]} for r in rows])
        db.session.commit()
    return group


def _instrument(modules: dict) -> tuple[dict, callable]:
    """Wrap the stage functions to add up their wall time (generators: time spent inside them)."""
    import functools
    import inspect

    timings = {label: 0.0 for label in STAGES}
    undo = []
    for label, (module_name, name) in STAGES.items():
        module = modules[module_name]
        original = getattr(module, name)

        if inspect.isgeneratorfunction(original):
            def wrapper(*a, _original=original, _label=label, **kw):
                gen = _original(*a, **kw)
                while True:
                    t = time.perf_counter()
                    try:
                        item = next(gen)
                    except StopIteration:
                        timings[_label] += time.perf_counter() - t
                        return
                    timings[_label] += time.perf_counter() - t
                    yield item
        else:
            def wrapper(*a, _original=original, _label=label, **kw):
                t = time.perf_counter()
                try:
                    return _original(*a, **kw)
                finally:
                    timings[_label] += time.perf_counter() - t
        setattr(module, name, functools.wraps(original)(wrapper))
        undo.append((module, name, original))

    def restore() -> None:
        for module, name, original in undo:
            setattr(module, name, original)

    return timings, restore


if __name__ == "__main__":
    h.run_main(main)
