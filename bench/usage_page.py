#!/usr/bin/env python3
"""Benchmark: the managers' usage page and its chart JSON with 1,000,000 messages on PostgreSQL.

Seeds one account with 1,000,000 messages spread evenly from the first day of the previous month
(in the account's zone, Europe/Oslo) to now, with one ``INSERT ... SELECT generate_series``: 3 %
inbound, 5 % failed by the carrier after it accepted them, 2 % still waiting for a delivery report,
the rest delivered; 60 % in 20 campaigns, spread over 3 sender profiles, every 7th of 2 parts. Then,
in this process through the Flask test client, signed in as a manager, it times:

* the first page view of this month, which counts and stores the closed days of this month and the
  one before (once; every later view reads them);
* the page ``/usage`` (this month and the previous one), the chart's ``/usage.json``, and the API's
  ``GET /v1/sms/usage`` and ``/v1/sms/stats`` that show the same figures, interleaved, ``--rounds``
  times each: p50 / p95 server time (no network, no gunicorn);
* one view right after the rollups of the days still waiting for reports went stale (their
  refresh, at most once a minute: see ``app/services/usage_rollup.py``).

Baselines, same run, same process: ``GET /healthz`` (the floor of a request) and the live count of
the month over the messages, one GROUP BY, which is what ``/v1/sms/usage`` ran before rollups.

Target: page and JSON p95 under 200 ms.

    .venv/bin/python bench/usage_page.py --quick        # 100,000 messages
    .venv/bin/python bench/usage_page.py                # 1,000,000 messages
    .venv/bin/python bench/usage_page.py --database-url postgresql://postgres@127.0.0.1:5439/mydb
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_MS = 200.0
TARGET_MESSAGES = 1_000_000
EMAIL = "manager@bench.example"
PASSWORD = "bench-password-123"
ZONE = ZoneInfo("Europe/Oslo")
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

SEED_SQL = """
INSERT INTO messages (id, account_id, batch_id, campaign_id, sender_profile_id, direction, message_type,
    from_number, to_number, body, encoding, units, status, created_at, queued_at, sending_at, sent_at,
    delivered_at, failed_at, received_at, attempts, provider, cost, currency)
SELECT md5(%(account)s || g)::uuid::text, %(account)s, c, c, CASE WHEN k >= 3 THEN p END,
    CASE WHEN k < 3 THEN 'INBOUND' ELSE 'OUTBOUND' END, 'PLAIN', 'Bench', '+479' || lpad(g::text, 8, '0'),
    'Hello from the benchmark', 'GSM-7', CASE WHEN g %% 7 = 0 THEN 2 ELSE 1 END,
    CASE WHEN k < 3 THEN 'RECEIVED' WHEN k < 8 THEN 'FAILED' WHEN k < 10 THEN 'SENT' ELSE 'DELIVERED' END,
    t - interval '2 seconds', CASE WHEN k >= 3 THEN t - interval '1 second' END, CASE WHEN k >= 3 THEN t END,
    CASE WHEN k >= 3 THEN t END, CASE WHEN k >= 10 THEN t + interval '5 seconds' END,
    CASE WHEN k BETWEEN 3 AND 7 THEN t + interval '30 seconds' END, CASE WHEN k < 3 THEN t END,
    CASE WHEN k >= 3 THEN 1 ELSE 0 END, 'simulator', 0, 'NOK'
FROM (
    SELECT g, g %% 100 AS k,
           %(start)s::timestamp + (%(span)s::interval * ((g - 0.5) / %(n)s)) AS t,
           CASE WHEN g %% 100 >= 3 AND g %% 5 < 3 THEN (%(campaigns)s::text[])[1 + (g / 5) %% 20] END AS c,
           (%(profiles)s::text[])[1 + g %% 3] AS p
    FROM generate_series(1, %(n)s) AS g
) AS s
"""

# What GET /v1/sms/usage ran before rollups: one pass over the month's messages.
LIVE_MONTH_SQL = """
SELECT count(*) FILTER (WHERE direction = 'OUTBOUND' AND sent_at >= %(start)s AND sent_at < %(end)s),
       sum(units) FILTER (WHERE direction = 'OUTBOUND' AND sent_at >= %(start)s AND sent_at < %(end)s),
       count(*) FILTER (WHERE direction = 'OUTBOUND' AND failed_at >= %(start)s AND failed_at < %(end)s),
       count(*) FILTER (WHERE direction = 'INBOUND' AND received_at >= %(start)s AND received_at < %(end)s),
       count(*) FILTER (WHERE direction = 'OUTBOUND' AND sent_at >= %(start)s AND sent_at < %(end)s
                        AND status = 'DELIVERED')
FROM messages WHERE account_id = %(account)s
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--messages", type=int, help="messages to seed (default 1,000,000; quick 100,000)")
    p.add_argument("--rounds", type=int, help="timed requests per URL (default 200; quick 50)")
    args = p.parse_args()
    args.messages = args.messages or (100_000 if args.quick else TARGET_MESSAGES)
    args.rounds = args.rounds or (50 if args.quick else 200)
    return args


def month_start(day) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=ZONE)


def seed(app, n: int) -> dict:
    """The account's history (see the module docstring); the account is made older than it."""
    import psycopg
    from sqlalchemy import select, update

    from app.extensions import db
    from app.models import Account, Campaign, SenderProfile
    from app.services import accounts, senders

    with app.app_context():
        account = accounts.find_account("Bench")
        accounts.create_user(account, EMAIL, PASSWORD, "manager")
        now = datetime.now(timezone.utc)
        this_month = month_start(now.astimezone(ZONE).date())
        start = month_start((this_month - timedelta(days=1)).date())
        db.session.execute(update(Account).where(Account.id == account.id)
                           .values(created_at=start - timedelta(days=30)))
        for number in ("+4790000001", "+4790000002"):
            senders.create_profile(account, f"Line {number[-1]}", number)
        profiles = list(db.session.scalars(select(SenderProfile.id).where(SenderProfile.account_id == account.id)))
        campaigns = [Campaign(account_id=account.id, name=f"Campaign {i + 1}", body="Hi", timezone="Europe/Oslo",
                              status="COMPLETED") for i in range(20)]
        db.session.add_all(campaigns)
        db.session.commit()
        ids = [c.id for c in campaigns]
        account_id = account.id
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    # Seeding stops just short of now, so no event lies in the future of the timed reads.
    span = (now - timedelta(seconds=5)) - start
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_SQL, {"account": account_id, "start": start.astimezone(timezone.utc).replace(tzinfo=None),
                                "span": span, "n": n, "campaigns": ids, "profiles": profiles})
        seeded = time.perf_counter() - t0
        conn.execute("VACUUM ANALYZE messages")
    return {"account_id": account_id, "seed_s": seeded, "start": start, "this_month": this_month, "url": url}


class Client:
    """The Flask test client signed in as the manager, with the API key for the API calls."""

    def __init__(self, app, api_key: str) -> None:
        self.app, self.client, self.api = app, app.test_client(), {"X-API-Key": api_key}

    def login(self) -> None:
        page = self.client.get("/login").get_data(as_text=True)
        token = CSRF_META.search(page).group(1)
        response = self.client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.status_code

    def timed(self, path: str, api: bool = False) -> float:
        t0 = time.perf_counter()
        response = self.client.get(path, headers=self.api if api else None)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return elapsed


def live_month_baseline(url: str, account_id: str, this_month: datetime, rounds: int) -> list[float]:
    import psycopg

    end = (this_month + timedelta(days=32)).replace(day=1)
    params = {"account": account_id, "start": this_month.astimezone(timezone.utc).replace(tzinfo=None),
              "end": end.astimezone(timezone.utc).replace(tzinfo=None)}
    times = []
    with psycopg.connect(url) as conn:
        for _ in range(rounds):
            t0 = time.perf_counter()
            conn.execute(LIVE_MONTH_SQL, params).fetchone()
            times.append(time.perf_counter() - t0)
    return times


def make_stale(app, account_id: str) -> int:
    """Age the rollups of the last days, which still wait for reports, past the refresh interval:
    the next read recounts them (older days are settled: see SETTLE)."""
    from sqlalchemy import update

    from app.extensions import db
    from app.models import UsageRollup
    from app.services.usage_rollup import SETTLE

    now = datetime.now(timezone.utc)
    with app.app_context():
        moved = db.session.execute(update(UsageRollup).where(
            UsageRollup.account_id == account_id, UsageRollup.unsettled > 0,
            UsageRollup.day >= (now - SETTLE - timedelta(days=1)).astimezone(ZONE).date(),
        ).values(computed_at=now - timedelta(minutes=2))).rowcount
        db.session.commit()
        return moved


def main() -> int:
    args = parse_args()
    h.banner(f"bench/usage_page.py: the usage page with {args.messages:,} messages", args.wait_quiet)
    print("machine:", h.machine_notes())
    with h.Stack(args, name="usage") as stack:
        if not stack.is_postgres:
            print("note: not PostgreSQL; the target is about PostgreSQL", flush=True)
        print(f"code: {stack.app_source}", flush=True)
        os.environ.update(stack.env)
        sys.path.insert(0, str(stack.app_dir))
        from app import create_app

        app = create_app()
        figures = seed(app, args.messages)
        this_month = figures["this_month"].strftime("%Y-%m")
        last_month = figures["start"].strftime("%Y-%m")
        print(f"seeded {args.messages:,} messages from {figures['start']:%Y-%m-%d} to now in "
              f"{figures['seed_s']:.1f} s (one INSERT ... SELECT generate_series), then VACUUM ANALYZE", flush=True)

        client = Client(app, stack.api_key)
        client.login()
        first = client.timed(f"/usage?month={this_month}")
        with app.app_context():
            from sqlalchemy import func, select

            from app.extensions import db
            from app.models import UsageDaily, UsageRollup

            days = db.session.scalar(select(func.count()).select_from(UsageRollup))
            daily_rows = db.session.scalar(select(func.count()).select_from(UsageDaily))
        print(f"first view of {this_month}: {first * 1000:.0f} ms (counted and stored {days} closed days, "
              f"{daily_rows:,} rollup rows, for this month and the one before)\n", flush=True)

        urls = {
            "GET /healthz (baseline)": ("/healthz", False),
            f"GET /usage?month={this_month}": (f"/usage?month={this_month}", False),
            f"GET /usage.json?month={this_month}": (f"/usage.json?month={this_month}", False),
            f"GET /usage?month={last_month}": (f"/usage?month={last_month}", False),
            f"GET /usage.json?month={last_month}": (f"/usage.json?month={last_month}", False),
            "GET /v1/sms/usage": ("/v1/sms/usage", True),
            "GET /v1/sms/stats": ("/v1/sms/stats", True),
        }
        for path, api in urls.values():  # warm up: compiled statements, template cache
            client.timed(path, api)
        times = {label: [] for label in urls}
        meter = h.CpuMeter({})
        meter.start()
        for _ in range(args.rounds):
            for label, (path, api) in urls.items():
                times[label].append(client.timed(path, api))
        used = meter.stop()
        stale = make_stale(app, figures["account_id"])
        refresh = client.timed(f"/usage?month={this_month}")
        live = live_month_baseline(figures["url"], figures["account_id"], figures["this_month"], max(5, args.rounds // 20))

    h.section("RESULT (server time through the Flask test client, ms)")
    base = h.summarize_ms(times["GET /healthz (baseline)"])
    print(f"  {'request':42s} {'p50':>8s} {'p95':>8s} {'max':>8s}  p50 vs /healthz")
    results = {}
    for label, values in times.items():
        s = h.summarize_ms(values)
        s["p95_ms"] = h.percentile([v * 1000 for v in values], 95)
        results[label] = s
        print(f"  {label:42s} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {s['max_ms']:8.1f}  {s['p50_ms'] / base['p50_ms']:6.1f}x")
    live_s = h.summarize_ms(live)
    print(f"  baseline: live count of {this_month} over the messages (one GROUP BY, what /v1/sms/usage ran "
          f"before rollups): p50 {live_s['p50_ms']:.0f} ms")
    print(f"  first view (counts and stores the closed days once): {first * 1000:.0f} ms; a view right after "
          f"{stale} days waiting for reports went stale (recounted, at most once a minute): {refresh * 1000:.0f} ms")
    print(f"  during the timed rounds: {h.CpuMeter.describe(used, meter.wall)}")
    page_keys = [k for k in results if k.startswith(("GET /usage?", "GET /usage.json"))]
    worst = max(results[k]["p95_ms"] for k in page_keys)
    scaled = "" if args.messages == TARGET_MESSAGES else f" (with {args.messages:,} messages, not {TARGET_MESSAGES:,})"
    print(f"  target page and JSON p95 < {TARGET_MS:.0f} ms: worst p95 {worst:.1f} ms: {h.verdict(worst < TARGET_MS)}{scaled}")
    h.write_json(args.json, {"benchmark": "usage_page", "messages": args.messages, "results": results,
                             "first_view_ms": first * 1000, "refresh_view_ms": refresh * 1000,
                             "live_month_baseline": live_s, "cpu": used, "machine": h.machine_notes()})
    return 0


if __name__ == "__main__":
    h.run_main(main)
