#!/usr/bin/env python3
"""Load test: ``--minutes`` (default 10) of sustained mixed traffic against the whole product.

Starts the stack as the other benchmarks do (``_harness.Stack``: Redis, PostgreSQL or SQLite,
gunicorn, ``flask worker`` processes, the simulator carrier with short latencies) with the rate
limits switched on, then runs all at once, each kind as its own open-loop generator process
(``_loadgen.py``'s paced mode, so a slow server does not slow the offered load down):

- ``api``: sends from several API keys (1, 5 and 20 recipients), each key below its limit;
- ``webhook``: 1-recipient sends with a ``callback_url`` to a local receiver (webhook deliveries);
- ``dashboard``: a signed-in user viewing home, the messages list, the campaign's report, usage;
- ``abusive``: one key sending ``--abusive-rate`` requests/s, well past ``API_RATE_LIMIT``;
- a large campaign (``--campaign`` recipients) sent with "Send now" when the traffic starts.

Prints per minute and in total: requests/s, p50/p99 and unexpected answers per kind (5xx,
connection errors, any status a kind should not get; the abusive key's 429s are counted apart and
each must carry Retry-After), the RSS of every process (``/proc/<pid>/status``), RQ queue depth, the
age of the oldest QUEUED message and the webhook backlog over time. After the traffic it waits up
to ``--drain`` seconds for every message to reach a final state, then prints a verdict table.

    .venv/bin/python bench/load.py --minutes 1 --database-url sqlite   # validation, ~2 min
    .venv/bin/python bench/load.py                                      # 10 minutes on PostgreSQL
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

from campaign_preview import MESSAGE, fill  # noqa: E402
from end_to_end import wait_for_workers  # noqa: E402
from webhooks import receiver_stats, start_receiver  # noqa: E402

FINAL = ("DELIVERED", "FAILED", "CANCELLED")
PASSWORD = "load-bench-password"
API_VARIANTS = (1, 5, 20)  # recipients per API send, in turn


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--minutes", type=float, default=10.0, help="how long the traffic runs")
    p.add_argument("--web-workers", type=int, default=3, help="gunicorn (sync) workers")
    p.add_argument("--workers", type=int, default=2, help="`flask worker` processes")
    p.add_argument("--keys", type=int, default=3, help="API keys sharing the normal API traffic")
    p.add_argument("--api-rate", type=float, default=15.0, help="normal API sends per second, over all keys")
    p.add_argument("--webhook-rate", type=float, default=3.0, help="sends with a callback_url per second")
    p.add_argument("--dashboard-rate", type=float, default=1.0, help="dashboard page views per second")
    p.add_argument("--abusive-rate", type=float, default=30.0, help="the abusive key's requests per second")
    p.add_argument("--limit", type=float, default=10.0, help="API_RATE_LIMIT (requests/s per key)")
    p.add_argument("--burst", type=int, default=20, help="API_RATE_BURST")
    p.add_argument("--campaign", type=int, default=None, help="campaign recipients (default 100,000; quick 5,000)")
    p.add_argument("--drain", type=float, default=300.0, help="seconds to wait for every message to be final")
    p.add_argument("--sample", type=float, default=5.0, help="seconds between samples of RSS, queue and backlog")
    p.add_argument("--max-growth", type=float, default=25.0, help="allowed RSS growth, first vs last minute, in %%")
    p.add_argument("--growth-floor", type=float, default=8.0,
                   help="growth below this many MiB passes whatever its %% (Redis starts at ~10 MiB)")
    args = p.parse_args()
    args.campaign = args.campaign if args.campaign is not None else (5_000 if args.quick else 100_000)
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
    return args


# --------------------------------------------------------------------------------------------
# Setting the stage: keys, a signed-in user, the campaign, the receiver


def create_keys(stack: h.Stack, n: int) -> list[str]:
    return [stack.flask("api-keys", "create", "--account", "Bench").strip().splitlines()[-1].strip() for _ in range(n)]


def sign_in(base: str, email: str) -> str:
    """The session cookie of a dashboard sign-in, the way a browser gets it."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
    conn.request("POST", "/login", body=form, headers={"Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 303:
        raise RuntimeError(f"sign-in failed: {answer.status}")
    return answer.getheader("Set-Cookie").split(";")[0]


def prepare_campaign(stack: h.Stack, recipients: int):
    """A drafted campaign to ``recipients`` contacts, written in-process (as bench/campaign.py does);
    returns its id and a function that sends it ("Send now")."""
    os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(stack.app_dir))
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import Account, Campaign
    from app.services import campaigns
    from app.services.campaigns import CampaignSpec

    app = create_app()
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.name == "Bench"))
        customers, blocked, _ = fill(account, recipients)
        campaign_id = campaigns.create(account, CampaignSpec(name="Load", message=MESSAGE, group_ids=(customers.id,),
                                                             excluded_group_ids=(blocked.id,))).id

    def send_now() -> str:
        with app.app_context():
            account = db.session.scalar(select(Account).where(Account.name == "Bench"))
            campaigns.send_now(account, db.session.get(Campaign, campaign_id))
            db.session.remove()
        return campaign_id

    return campaign_id, send_now


# --------------------------------------------------------------------------------------------
# Traffic: one paced _loadgen.py process per kind


def send_body(recipients: int, offset: int, callback: str | None = None) -> str:
    body = {"to": [f"+479{offset + i:07d}" for i in range(recipients)], "message": "Load test {n}: your code is 4711"}
    if callback:
        body["callback_url"] = callback
    return json.dumps(body)


def connections(rate: float) -> int:
    """One connection per request/s: answers taking up to a second (a busy server queues them) do not
    hold the offered rate back, and the abusive key keeps pushing past its limit."""
    return max(2, min(64, math.ceil(rate)))


def traffic_plan(args, keys: list[str], cookie: str, campaign_id: str, hook_url: str) -> dict[str, dict]:
    normal, webhook_key, abusive = keys[:args.keys], keys[args.keys], keys[args.keys + 1]
    api = [{"method": "POST", "path": "/v1/sms/send", "body": send_body(n, 1_000_000 * (1 + i % 5)),
            "headers": {"X-API-Key": key, "Content-Type": "application/json"}}
           for i, (key, n) in enumerate((k, n) for n in API_VARIANTS for k in normal)]
    json_key = {"Content-Type": "application/json"}
    return {
        "api": {"rate": args.api_rate, "concurrency": connections(args.api_rate), "requests": api},
        "webhook": {"rate": args.webhook_rate, "concurrency": connections(args.webhook_rate), "requests": [
            {"method": "POST", "path": "/v1/sms/send", "body": send_body(1, 6_000_000, hook_url + "/hook"),
             "headers": {"X-API-Key": webhook_key, **json_key}}]},
        "dashboard": {"rate": args.dashboard_rate, "concurrency": connections(args.dashboard_rate), "requests": [
            {"method": "GET", "path": path, "headers": {"Cookie": cookie}}
            for path in ("/", "/messages", f"/campaigns/{campaign_id}/report", "/usage")]},
        "abusive": {"rate": args.abusive_rate, "concurrency": connections(args.abusive_rate), "requests": [
            {"method": "POST", "path": "/v1/sms/send", "body": send_body(1, 7_000_000),
             "headers": {"X-API-Key": abusive, **json_key}}]},
    }


def start_traffic(stack: h.Stack, base: str, plan: dict, seconds: float, t0: float) -> dict[str, tuple]:
    running = {}
    for kind, spec in plan.items():
        out = stack.tmpdir / f"traffic-{kind}.txt"
        spec_path = stack.tmpdir / f"traffic-{kind}.json"
        spec_path.write_text(json.dumps({**spec, "base": base, "duration": seconds, "t0": t0, "out": str(out)}))
        proc = subprocess.Popen([sys.executable, str(h.REPO / "bench" / "_loadgen.py"), str(spec_path)],
                                start_new_session=True)
        stack.children.append(proc)
        running[kind] = (proc, out)
    return running


def read_answers(path: Path) -> list[tuple[float, int, float, str, int]]:
    rows = []
    for line in path.read_text().splitlines():
        t, status, us, retry, variant = line.split()
        rows.append((float(t), int(status), int(us) / 1000, retry, int(variant)))
    return rows


# --------------------------------------------------------------------------------------------
# Sampling: RSS of every process, RQ queue, oldest QUEUED message, webhook backlog


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    def __init__(self, stack: h.Stack, processes: dict[str, int], every: float, t0: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.processes, self.every, self.t0 = stack, processes, every, t0
        self.samples: list[dict] = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def pids(self) -> dict[str, int]:
        """The named processes plus each gunicorn worker (the master's children, found every time)."""
        import psutil

        out = dict(self.processes)
        try:
            for i, child in enumerate(psutil.Process(self.processes["gunicorn master"]).children()):
                out[f"gunicorn worker {i + 1} ({child.pid})"] = child.pid
        except psutil.Error:
            pass
        return out

    def run(self) -> None:
        from redis import Redis
        from sqlalchemy import text

        try:
            redis = Redis.from_url(self.stack.redis_url)
            queue = f"rq:queue:{self.stack.env['RQ_QUEUE']}"
            engine = self.stack.engine()
            while not self.stop_event.is_set():
                with engine.connect() as conn:
                    oldest = conn.execute(text("SELECT min(created_at) FROM messages WHERE status = 'QUEUED'")).scalar()
                    backlog = conn.execute(text("SELECT count(*) FROM webhook_deliveries WHERE state = 'PENDING'")).scalar()
                    now = conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar()
                age = (_naive(now) - _naive(oldest)).total_seconds() if oldest else 0.0
                self.samples.append({"t": time.time() - self.t0, "queue": redis.llen(queue), "oldest_queued_s": age,
                                     "webhook_backlog": backlog,
                                     "rss": {name: rss_kib(pid) for name, pid in self.pids().items()}})
                self.stop_event.wait(self.every)
            engine.dispose()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


def _naive(value):
    from datetime import datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# After the traffic


def drain(stack: h.Stack, campaign_id: str, seconds: float) -> dict:
    """Wait until every message is final and the campaign is done; returns what was left."""
    from sqlalchemy import text

    engine = stack.engine()
    deadline = time.monotonic() + seconds
    try:
        while True:
            with engine.connect() as conn:
                counts = dict(conn.execute(text("SELECT status, count(*) FROM messages GROUP BY status")).all())
                campaign = conn.execute(text("SELECT status FROM campaigns WHERE id = :id"), {"id": campaign_id}).scalar()
                api_rows = conn.execute(text("SELECT count(*) FROM messages WHERE campaign_id IS NULL")).scalar()
                hooks = conn.execute(text("SELECT state, count(*) FROM webhook_deliveries GROUP BY state")).all()
            open_rows = sum(n for s, n in counts.items() if s not in FINAL)
            if (not open_rows and campaign in ("COMPLETED", "CANCELLED")) or time.monotonic() > deadline:
                return {"counts": counts, "open": open_rows, "campaign": campaign, "api_rows": api_rows,
                        "webhooks": dict(hooks), "waited": seconds - (deadline - time.monotonic())}
            time.sleep(2)
    finally:
        engine.dispose()


def summarize(rows: list, seconds: float) -> dict:
    lat = sorted(r[2] for r in rows)
    return {"n": len(rows), "rps": len(rows) / seconds if seconds else 0.0,
            "p50": h.percentile(lat, 50) if lat else float("nan"), "p99": h.percentile(lat, 99) if lat else float("nan")}


def unexpected(kind: str, row) -> bool:
    """An answer this kind should never get (5xx and connection errors always count)."""
    status = row[1]
    if kind == "abusive":
        return status not in (200, 429)
    return status != 200


def print_minutes(answers: dict[str, list], minutes: int, seconds: float) -> None:
    h.section("per minute: requests/s, p50/p99 ms, unexpected answers (5xx, errors, wrong status)")
    print(f"  {'min':>3} " + "".join(f"{kind:>34}" for kind in answers))
    for m in range(minutes):
        lo, hi = 60 * m, min(seconds, 60 * (m + 1))
        cells = []
        for kind, rows in answers.items():
            part = [r for r in rows if lo <= r[0] < hi]
            s = summarize(part, hi - lo)
            bad = sum(unexpected(kind, r) for r in part)
            extra = f" 429:{sum(r[1] == 429 for r in part)}" if kind == "abusive" else ""
            cells.append(f"{s['rps']:6.1f}/s {s['p50']:6.1f}/{s['p99']:7.1f} bad {bad}{extra}")
        print(f"  {m + 1:>3} " + "".join(f"{c:>34}" for c in cells))


def memory_growth(samples: list[dict], seconds: float) -> dict[str, tuple[float, float, float]]:
    """Per process: mean RSS (MiB) in the first and last minute (thirds in runs under 3 minutes)."""
    window = min(60.0, seconds / 3)
    out = {}
    names = {name for s in samples for name in s["rss"]}
    for name in sorted(names):
        first = [s["rss"][name] for s in samples if s["t"] < window and s["rss"].get(name)]
        last = [s["rss"][name] for s in samples if s["t"] >= seconds - window and s["rss"].get(name)]
        if first and last:
            a, b = statistics.mean(first) / 1024, statistics.mean(last) / 1024
            out[name] = (a, b, 100 * (b - a) / a)
    return out


def main() -> int:
    args = parse_args()
    seconds = args.minutes * 60
    h.banner(f"bench/load.py: {args.minutes:g} minutes of mixed traffic", args.wait_quiet)
    print("machine:", h.machine_notes())
    env = {"API_RATE_LIMIT": args.limit, "API_RATE_BURST": args.burst, "DASHBOARD_RATE_LIMIT": 20,
           "DASHBOARD_RATE_BURST": 300, "SIMULATOR_SUBMIT_LATENCY_MS": 5, "SIMULATOR_REPORT_LATENCY_MS": 500,
           "SIMULATOR_FAIL_RULES": "", "ALLOW_HTTP_CALLBACKS": "true", "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    with h.Stack(args, extra_env=env, name="load") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else 'SQLite'}; gunicorn sync x{args.web_workers}; "
              f"{args.workers} workers; API_RATE_LIMIT {args.limit:g}/s burst {args.burst}; campaign of "
              f"{args.campaign:,}\n", flush=True)
        keys = [stack.api_key, *create_keys(stack, args.keys + 1)]
        stack.flask("users", "create", "--account", "Bench", "--email", "load@example.com", "--password", PASSWORD,
                    "--role", "admin")
        t_setup = time.monotonic()
        campaign_id, send_now = prepare_campaign(stack, args.campaign)
        print(f"campaign audience written in {time.monotonic() - t_setup:.1f} s", flush=True)
        receiver, hook_url = start_receiver(stack)
        web, base = stack.start_gunicorn("sync", args.web_workers)
        workers = [stack.start_worker() for _ in range(args.workers)]
        wait_for_workers(stack, args.workers)
        cookie = sign_in(base, "load@example.com")
        plan = traffic_plan(args, keys, cookie, campaign_id, hook_url)
        processes = {"gunicorn master": web.pid, "redis": stack.redis.pid, "receiver": receiver.pid,
                     **{f"worker {i + 1}": w.pid for i, w in enumerate(workers)}}
        send_now()
        t0 = time.time() + 2
        running = start_traffic(stack, base, plan, seconds, t0)
        sampler = Sampler(stack, processes, args.sample, t0)
        time.sleep(max(0.0, t0 - time.time()))
        sampler.start()
        rates = ", ".join(f"{kind} {spec['rate']:g}/s" for kind, spec in plan.items())
        print(f"campaign sent; traffic started: {rates}", flush=True)
        for proc, _ in running.values():
            proc.wait(timeout=seconds + 180)
        traffic_end = time.time() - t0
        left = drain(stack, campaign_id, args.drain)
        sampler.stop_event.set()
        sampler.join(30)
        hooks_received = receiver_stats(hook_url)
        answers = {kind: read_answers(out) for kind, (_, out) in running.items()}
        log_errors = stack.log_tail("gunicorn-*.log", 5) + stack.log_tail("worker-*.log", 5)
    if sampler.error:
        raise sampler.error
    return report(args, seconds, traffic_end, answers, sampler.samples, left, hooks_received, log_errors)


def report(args, seconds, traffic_end, answers, samples, left, hooks_received, log_errors) -> int:
    minutes = max(1, int(-(-seconds // 60)))
    print_minutes(answers, minutes, seconds)
    h.section("in total")
    for kind, rows in answers.items():
        s = summarize(rows, seconds)
        statuses = {}
        for r in rows:
            statuses[r[1]] = statuses.get(r[1], 0) + 1
        print(f"  {kind:<10} {s['rps']:7.1f} req/s  p50 {s['p50']:7.1f} ms  p99 {s['p99']:8.1f} ms  "
              f"(n={s['n']}; statuses {dict(sorted(statuses.items()))})")
    abusive = answers["abusive"]
    allowed = [r for r in abusive if r[1] == 200]
    refused = [r for r in abusive if r[1] == 429]
    span = (max(r[0] for r in allowed) - min(r[0] for r in allowed)) if len(allowed) > 1 else 0.0
    ceiling = args.limit * span + args.burst + 1
    without_retry = sum(1 for r in refused if r[3] == "-" or not r[3].isdigit() or int(r[3]) < 1)
    normal_429 = sum(1 for kind in ("api", "webhook", "dashboard") for r in answers[kind] if r[1] == 429)
    fivexx = sum(1 for rows in answers.values() for r in rows if r[1] >= 500 or r[1] == 0)
    bad = sum(1 for kind, rows in answers.items() for r in rows if unexpected(kind, r))
    print(f"  abusive key: {len(allowed)} accepted over {span:.0f} s (at most {ceiling:.0f} allowed: "
          f"{args.limit:g}/s x time + burst {args.burst}), {len(refused)} refused with 429, "
          f"{without_retry} of them without a valid Retry-After")

    h.section("over time: RQ queue depth, oldest QUEUED message (s), webhook backlog (PENDING deliveries)")
    step = max(1, len(samples) // 20)
    for s in samples[::step]:
        print(f"  t={s['t']:6.0f} s  queue {s['queue']:5}  oldest QUEUED {s['oldest_queued_s']:6.1f} s  "
              f"webhook backlog {s['webhook_backlog']:6}")
    growth = memory_growth(samples, traffic_end)
    window = "minute" if traffic_end >= 180 else "third"
    h.section(f"RSS per process, mean of the first vs the last {window} (MiB)")
    for name, (a, b, pct) in growth.items():
        print(f"  {name:<30} {a:8.1f} -> {b:8.1f}  {pct:+6.1f} %")
    # A process grew too much if it grew by more than --max-growth % *and* more than --growth-floor MiB.
    grown = {name: g for name, g in growth.items() if g[2] >= args.max_growth and g[1] - g[0] >= args.growth_floor}
    worst = max((g[2] for g in growth.values()), default=0.0)

    api_accepted = sum(API_VARIANTS[r[4] // args.keys] for r in answers["api"] if r[1] == 200)
    api_accepted += sum(1 for kind in ("webhook", "abusive") for r in answers[kind] if r[1] == 200)
    print(f"\nafter the traffic: waited {left['waited']:.0f} s; messages by status {left['counts']}; "
          f"campaign {left['campaign']}; webhook deliveries {left['webhooks']}; receiver got {hooks_received}")
    print(f"  API messages accepted (2xx answers x recipients): {api_accepted:,}; rows not from the campaign: "
          f"{left['api_rows']:,}")
    checks = [
        ("no 5xx or connection errors", fivexx == 0, f"{fivexx}"),
        ("no unexpected statuses", bad == 0, f"{bad}"),
        ("normal keys and the dashboard never limited", normal_429 == 0, f"{normal_429} x 429"),
        ("abusive key held to rate x time + burst", len(allowed) <= ceiling,
         f"{len(allowed)} accepted, at most {ceiling:.0f}"),
        ("abusive key was refused (its load did pass the limit)", bool(refused), f"{len(refused)} x 429"),
        ("every 429 carries Retry-After >= 1", without_retry == 0, f"{without_retry} without"),
        (f"memory growth < {args.max_growth:g} % or < {args.growth_floor:g} MiB", not grown,
         f"worst {worst:+.1f} %" + (f"; too much: {', '.join(grown)}" if grown else "")),
        ("campaign completed", left["campaign"] == "COMPLETED", str(left["campaign"])),
        ("every accepted message final", left["open"] == 0 and left["api_rows"] == api_accepted,
         f"{left['open']} open; {left['api_rows']:,} rows for {api_accepted:,} accepted"),
        ("webhook traffic delivered", left["webhooks"].get("PENDING", 0) == 0 and hooks_received["posts"] > 0,
         f"{hooks_received['posts']} POSTs received"),
    ]
    print("-" * 78)
    print("VERDICT")
    for name, ok, detail in checks:
        print(f"  {name:<52} {h.verdict(ok):<8} {detail}")
    if "Traceback" in log_errors:
        print("\nserver/worker log tails (tracebacks found):\n" + log_errors)
    h.write_json(args.json, {"benchmark": "load", "minutes": args.minutes, "checks": [c[:2] for c in checks],
                             "memory": growth, "samples": samples, "left": left, "machine": h.machine_notes()})
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    h.run_main(main)
