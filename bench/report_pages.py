#!/usr/bin/env python3
"""Benchmark: a campaign's report at a million messages, on PostgreSQL.

Seeds 1,000,000 messages with one ``INSERT ... SELECT generate_series``: ten campaigns of 100,000
recipients each, nine completed (92 % delivered, 6 % failed with four error codes, 2 % cancelled;
times to delivery from 1 s to over an hour) and one still sending (half its ledger released, with
messages in every status). Then, signed in as a viewer through the Flask test client (in this
process, so a request's time is the server's time: routing, queries, rendering), it times for the
completed campaign and for the sending one:

* ``GET /campaigns/<id>/report``: the page (figures, failure reasons, first page of recipients);
* ``GET /campaigns/<id>/report.json``: what the charts are drawn from (polled while sending);
* the recipient list fragment (``HX-Request``) filtered by status, searched by number, page 1,000;
* ``GET /campaigns/<id>/report.csv``: the whole file (100,000 rows), a few times.

Baselines, same run: ``GET /healthz`` (app, one database query, Redis ping) and the report page of a
campaign with no messages (sign-in, campaign lookup, template: the report's fixed cost).

Target: page and report.json p95 < 200 ms.

    .venv/bin/python bench/report_pages.py --quick     # 200,000 messages, ~1 min
    .venv/bin/python bench/report_pages.py             # 1,000,000 messages, ~3 min

The rows are seeded as the ledger writer lays them out (a campaign's rows next to each other);
status changes spread a live campaign's row versions over the table, which VACUUM later tidies.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_P95_MS = 200
CAMPAIGNS = 10
EMAIL, PASSWORD = "viewer@bench.example", "bench-password-123"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--messages", type=int, help="messages in the database (default 1,000,000; quick 200,000)")
    p.add_argument("--requests", type=int, help="timed requests per endpoint (default 100; quick 20)")
    p.add_argument("--time-limit", type=float, default=60, help="stop timing an endpoint after this many seconds")
    args = p.parse_args()
    args.messages = args.messages or (200_000 if args.quick else 1_000_000)
    args.requests = args.requests or (20 if args.quick else 100)
    return args


# -- the data --------------------------------------------------------------------------------------

CAMPAIGN_SQL = """
INSERT INTO campaigns (id, account_id, name, body, group_ids, excluded_group_ids, status, timezone, created_at,
                       updated_at, started_at, completed_at, materialized_at, recipients, skipped)
VALUES (%(id)s, %(account)s, %(name)s, 'Hi {first_name|there}, 20%% off this weekend', '[]', '[]', %(status)s,
        'Europe/Oslo', now(), now(), %(start)s, %(completed)s, %(start)s, %(recipients)s, '{}')
"""

# One row per generate_series value g: campaign k = g / size, position i = g % size. Campaigns
# 0..8 are completed, sent one message per 30 ms from their start; the last one started 25
# minutes ago and has released the first 54 % of its ledger, evenly up to now.
MESSAGES_SQL = """
INSERT INTO messages (id, account_id, batch_id, campaign_id, direction, message_type, from_number, to_number,
                      body, encoding, units, status, created_at, queued_at, sending_at, sent_at, delivered_at,
                      failed_at, cancelled_at, attempts, provider, error_code, error_message, cost, currency)
SELECT md5(g::text || %(salt)s)::uuid::text, %(account)s, c.id, c.id, 'OUTBOUND', 'PLAIN', 'Acme',
       '+479' || lpad((1000000 + i)::text, 7, '0'),
       'Hi Kari, 20%% off this weekend in all our stores. Reply STOP to opt out.', 'GSM-7', s.units, s.status,
       c.start, s.t, s.t, CASE WHEN s.status IN ('SENT', 'DELIVERED', 'FAILED') THEN s.t END,
       CASE WHEN s.status = 'DELIVERED' THEN s.t + s.latency * interval '1 second' END,
       CASE WHEN s.status = 'FAILED' THEN s.t + interval '4 seconds' END,
       CASE WHEN s.status = 'CANCELLED' THEN c.start + interval '20 minutes' END,
       1, 'simulator',
       CASE WHEN s.status = 'FAILED' THEN (ARRAY['UNKNOWN_SUBSCRIBER', 'ABSENT', 'BARRED', 'EXPIRED'])[g %% 4 + 1] END,
       CASE WHEN s.status = 'FAILED' THEN (ARRAY['Unknown subscriber', 'Absent subscriber', 'Call barred',
                                                 'Validity period expired'])[g %% 4 + 1] END,
       0.45 * s.units, 'NOK'
FROM generate_series(0, %(total)s - 1) AS g,
LATERAL (SELECT g / %(size)s AS k, g %% %(size)s AS i, (g::bigint * 7919) %% 1000 AS r) AS x,
LATERAL (SELECT (%(ids)s::text[])[k + 1] AS id, (%(starts)s::timestamp[])[k + 1] AS start, k = %(last)s AS sending) AS c,
LATERAL (SELECT
    CASE WHEN NOT c.sending THEN c.start + i * interval '30 milliseconds'
         ELSE c.start + (i::float8 / %(size)s / 0.54) * interval '25 minutes' END AS t,
    1 + (g %% 9 = 0)::int AS units,
    1 + ((g::bigint * 104729) %% 1000) ^ 2 / 50000.0 + CASE WHEN g %% 97 = 0 THEN 120 ELSE 0 END
      + CASE WHEN g %% 997 = 0 THEN 5000 ELSE 0 END AS latency,
    CASE WHEN NOT c.sending THEN CASE WHEN r < 920 THEN 'DELIVERED' WHEN r < 980 THEN 'FAILED' ELSE 'CANCELLED' END
         WHEN i >= 0.54 * %(size)s THEN 'SCHEDULED'
         ELSE CASE WHEN r < 800 THEN 'DELIVERED' WHEN r < 860 THEN 'FAILED' WHEN r < 960 THEN 'SENT'
                   WHEN r < 980 THEN 'SENDING' ELSE 'QUEUED' END END AS status) AS s
"""


def seed(stack: h.Stack, total: int) -> tuple[dict, float]:
    """Ten campaigns sharing ``total`` messages, a viewer to sign in as, and an empty draft."""
    import psycopg

    stack.flask("users", "create", "--account", "Bench", "--email", EMAIL, "--password", PASSWORD, "--role", "viewer")
    size = total // CAMPAIGNS
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    ids = [str(uuid.uuid4()) for _ in range(CAMPAIGNS + 1)]
    starts = [datetime(2026, 11, 2, 9) + timedelta(days=k) for k in range(CAMPAIGNS - 1)]
    starts.append(now - timedelta(minutes=25))
    t0 = time.perf_counter()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        account = conn.execute("SELECT id FROM accounts WHERE name = 'Bench'").fetchone()[0]
        for k, start in enumerate(starts):
            sending = k == CAMPAIGNS - 1
            conn.execute(CAMPAIGN_SQL, {"id": ids[k], "account": account, "name": f"Campaign {k}",
                                        "status": "SENDING" if sending else "COMPLETED", "start": start,
                                        "completed": None if sending else start + timedelta(hours=1),
                                        "recipients": size})
        conn.execute(CAMPAIGN_SQL, {"id": ids[-1], "account": account, "name": "Empty draft", "status": "DRAFT", "start": None,
                      "completed": None, "recipients": None})
        conn.execute(MESSAGES_SQL, {"salt": ids[0], "account": account, "total": size * CAMPAIGNS, "size": size,
                                    "ids": ids[:CAMPAIGNS], "starts": starts, "last": CAMPAIGNS - 1})
        conn.execute("VACUUM ANALYZE messages")
        conn.execute("VACUUM ANALYZE campaigns")
        rows = conn.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('messages')) FROM messages").fetchone()
    print(f"seeded {rows[0]:,} messages ({rows[1]} with indexes) in {time.perf_counter() - t0:.1f} s; "
          f"{CAMPAIGNS} campaigns of {size:,}", flush=True)
    return {"completed": ids[CAMPAIGNS // 2], "sending": ids[CAMPAIGNS - 1], "empty": ids[-1]}, size


# -- the app, in this process ----------------------------------------------------------------------

def make_client(stack: h.Stack):
    os.environ.update({k: v for k, v in stack.env.items() if k in (
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMSDESK_VAR_DIR", "RQ_QUEUE", "LOG_LEVEL")})
    sys.path.insert(0, str(stack.app_dir))
    from app import create_app

    app = create_app()
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    signed_in = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    if signed_in.status_code != 303:
        raise RuntimeError(f"sign-in failed: {signed_in.status_code}")
    return app, client


def timed(client, path: str, n: int, time_limit: float, htmx: bool = False, expect: str = "",
          warmup: int = 3) -> list[float]:
    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(warmup):  # compiled statements, templates, the connection pool
        client.get(path, headers=headers)
    times, deadline = [], time.monotonic() + time_limit
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers)
        body = response.get_data()
        times.append(time.perf_counter() - t0)
        if response.status_code != 200 or expect.encode() not in body:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {body[:300]!r}")
        if time.monotonic() > deadline:
            break
    return times


def row(label: str, times: list[float], baseline: float | None = None) -> dict:
    s = h.summarize_ms(times)
    s["p95_ms"] = h.percentile([t * 1000 for t in times], 95)
    ratio = f"  {s['p95_ms'] / baseline:5.1f}x" if baseline else ""
    print(f"  {label:44s} p50 {s['p50_ms']:7.1f}  p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f} ms  "
          f"(n={s['n']}){ratio}", flush=True)
    return s


def cpu(meter: h.CpuMeter) -> dict:
    """Who used the cores while this section ran (``other``: work that is not the benchmark's)."""
    used = meter.stop()
    print(f"  while timing: {h.CpuMeter.describe(used, meter.wall)}", flush=True)
    return used


def main() -> int:
    args = parse_args()
    h.banner(f"bench/report_pages.py: campaign report with {args.messages:,} messages", args.wait_quiet)
    print("machine:", h.machine_notes())
    if args.database_url == "sqlite":
        print("this benchmark seeds with PostgreSQL's generate_series: give it PostgreSQL", file=sys.stderr)
        return 2
    results: dict = {}
    with h.Stack(args, name="report") as stack:
        print(f"code: {stack.app_source}")
        campaigns, size = seed(stack, args.messages)
        app, client = make_client(stack)
        n, limit = args.requests, args.time_limit

        h.section("baselines")
        meter = h.CpuMeter({})
        meter.start()
        healthz = row("GET /healthz", timed(client, "/healthz", n, limit))
        base = healthz["p95_ms"]
        results["healthz"] = healthz
        results["empty_page"] = row("report page of a campaign with no messages",
                                    timed(client, f"/campaigns/{campaigns['empty']}/report", n, limit), base)
        results["cpu"] = {"baselines": cpu(meter)}
        for which in ("completed", "sending"):
            cid = campaigns[which]
            h.section(f"the {which} campaign ({size:,} recipients among {args.messages:,} messages); "
                      f"ratio = p95 / /healthz p95")
            meter.start()
            url = f"/campaigns/{cid}/report"
            results[which] = {
                "page": row("page", timed(client, url, n, limit, expect='data-figure="delivered"'), base),
                "json": row("report.json", timed(client, url + ".json", n, limit, expect='"timeline"'), base),
                "failed": row("recipients, status=FAILED (HX-Request)",
                              timed(client, url + "?status=FAILED", n, limit, htmx=True), base),
                "search": row("recipients, number search 1234 (HX-Request)",
                              timed(client, url + "?number=1234", n, limit, htmx=True), base),
                "page_1000": row("recipients, page 1,000 (HX-Request)",
                                 timed(client, url + "?page=1000", max(10, n // 5), limit, htmx=True), base),
            }
            csv_times = timed(client, url + ".csv", 3, limit, expect="number,status", warmup=0)
            csv_s = min(csv_times)
            print(f"  {'report.csv (the whole file)':44s} best {csv_s:.2f} s = {size / csv_s:,.0f} rows/s", flush=True)
            results[which]["csv_seconds"] = csv_s
            results["cpu"][which] = cpu(meter)

    print("-" * 78)
    worst = max(results[w][e]["p95_ms"] for w in ("completed", "sending") for e in ("page", "json"))
    print(f"RESULT: report page and report.json p95 at most {worst:.0f} ms with {args.messages:,} messages "
          f"({worst / base:.0f}x /healthz p95 {base:.1f} ms)")
    print(f"  target p95 < {TARGET_P95_MS} ms: {h.verdict(worst < TARGET_P95_MS)}")
    h.write_json(args.json, {"benchmark": "report_pages", "messages": args.messages, "results": results,
                             "machine": h.machine_notes()})
    return 0


if __name__ == "__main__":
    h.run_main(main)
