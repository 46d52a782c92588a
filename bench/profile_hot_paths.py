#!/usr/bin/env python3
"""Where the time goes: in-process profiles of the hot paths, with database and Redis round trips.

Not a benchmark with a target: it explains the figures of the others. Against its own Redis and a
fresh PostgreSQL database (as the benchmarks), in this one process:

1. ``POST /v1/sms/send`` with 1 recipient through Flask's test client: the SQL statements and
   Redis commands of one request, then cProfile over many requests (no HTTP server: the part
   gunicorn adds is measured by ``send_api.py``);
2. the same with 1,000 recipients;
3. dispatch + delivery reports of 20,000 messages by the job functions themselves
   (``app.jobs.tasks.dispatch`` / ``simulator_reports``), with a time split per stage (claim,
   provider submit, record results, take reports, apply reports, enqueue) and statement counts;
4. database shapes for the same work (1,000-row INSERT, 500-row status UPDATE): what the app does
   (``executemany``) against multi-row alternatives (insertmanyvalues, ``UPDATE ... FROM unnest``,
   ``COPY``), the figures behind the proposals in ``bench/README.md``.

    .venv/bin/python bench/profile_hot_paths.py --quick
    .venv/bin/python bench/profile_hot_paths.py --top 30
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import random
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()


class Recorder:
    """Counts SQL statements (by shape), executemany parameter sets, commits and pool checkouts."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.statements: Counter = Counter()
        self.rows: Counter = Counter()
        self.commits = 0
        self.checkouts = 0

    def install(self, engine) -> None:
        from sqlalchemy import event

        squash = re.compile(r"\s+")

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(conn, cursor, statement, parameters, context, executemany):
            shape = squash.sub(" ", statement).strip()
            shape = re.sub(r"%\(\w+\)s(, %\(\w+\)s)+", "...", shape)
            key = ("executemany " if executemany else "") + shape[:100]
            self.statements[key] += 1
            self.rows[key] += len(parameters) if executemany and parameters else 1

        @event.listens_for(engine, "commit")
        def _commit(conn):
            self.commits += 1

        @event.listens_for(engine, "checkout")
        def _checkout(*_):
            self.checkouts += 1

    def report(self, per: int = 1, label: str = "") -> str:
        total = sum(self.statements.values())
        out = [f"  {label}{total / per:.1f} SQL statements, {self.commits / per:.1f} commits, "
               f"{self.checkouts / per:.1f} pool checkouts (each pings the server: pool_pre_ping)"]
        for stmt, n in self.statements.most_common(14):
            rows = self.rows[stmt]
            extra = f" ({rows / n:.0f} rows each)" if stmt.startswith("executemany") else ""
            out.append(f"    {n / per:6.2f} x {stmt}{extra}")
        return "\n".join(out)


def redis_calls(stack: h.Stack) -> Counter:
    from redis import Redis

    stats = Redis.from_url(stack.redis_url).info("commandstats")
    return Counter({k.replace("cmdstat_", ""): v["calls"] for k, v in stats.items() if k != "cmdstat_info"})


def profile_text(prof: cProfile.Profile, top: int, sort: str) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = buf.getvalue().splitlines()
    start = next((i for i, l in enumerate(lines) if "ncalls" in l))
    return "\n".join("    " + l for l in lines[start:] if l.strip())


def numbers(rng: random.Random, n: int) -> list[str]:
    return [f"+479{x:07d}" for x in rng.sample(range(10**7), n) if x % 10000]


class StageTimer:
    """Wraps functions by module attribute and adds up wall time per stage (nested stages are
    counted in each: the split is read top-down)."""

    def __init__(self) -> None:
        self.seconds: Counter = Counter()
        self.calls: Counter = Counter()
        self.undo: list = []

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        own = isinstance(owner, type) and name in owner.__dict__
        saved = owner.__dict__[name] if own else original
        setattr(owner, name, wrapper)
        self.undo.append((owner, name, saved, own or not isinstance(owner, type)))

    def restore(self) -> None:
        for owner, name, saved, own in reversed(self.undo):
            if own:
                setattr(owner, name, saved)
            else:
                delattr(owner, name)  # it was inherited: uncover the base class's again
        self.undo.clear()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--top", type=int, default=22, help="functions shown per profile")
    p.add_argument("--save", metavar="DIR", help="also write the .prof files to DIR (snakeviz, pstats)")
    args = p.parse_args()
    quick = args.quick
    h.banner("bench/profile_hot_paths.py: where the time goes (in-process)", args.wait_quiet)
    with h.Stack(args, extra_env={"SIMULATOR_REPORT_LATENCY_MS": 0, "SIMULATOR_SUBMIT_LATENCY_MS": 0,
                                  "SIMULATOR_FAIL_RULES": ""}, name="profile") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else 'SQLite'}\n", flush=True)
        os.environ.update({k: v for k, v in stack.env.items() if k not in ("PYTHONPATH",)})
        sys.path.insert(0, str(stack.app_dir))
        from app import create_app
        from app.extensions import db

        app = create_app()
        app.config["TESTING"] = False
        client = app.test_client()
        auth = {"X-API-Key": stack.api_key}
        rec = Recorder()
        with app.app_context():
            rec.install(db.engine)
        saves = Path(args.save) if args.save else None
        if saves:
            saves.mkdir(parents=True, exist_ok=True)

        # 1. single sends ------------------------------------------------------------------------
        one = {"to": ["+4791234567"], "message": "Benchmark message: your code is 123456"}
        for _ in range(30):
            assert client.post("/v1/sms/send", json=one, headers=auth).status_code == 200
        n = 300 if quick else 2000
        rec.reset()
        r0 = redis_calls(stack)
        for _ in range(50):
            client.post("/v1/sms/send", json=one, headers=auth)
        r1 = redis_calls(stack)
        h.section("1. POST /v1/sms/send, 1 recipient (Flask test client, no HTTP server)")
        print(rec.report(50, "per request: "))
        print("  per request: " + ", ".join(f"{(r1[k] - r0[k]) / 50:.1f} {k.upper()}" for k in sorted(r1)
                                            if r1[k] - r0[k]) + " (Redis)")
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(n):
            client.post("/v1/sms/send", json=one, headers=auth)
        prof.disable()
        elapsed = time.perf_counter() - t0
        t1 = time.perf_counter()
        for _ in range(n):
            client.post("/v1/sms/send", json=one, headers=auth)
        plain = (time.perf_counter() - t1) / n
        print(f"  {plain * 1000:.2f} ms per request in-process without the profiler "
              f"({elapsed / n * 1000:.2f} ms with it)")
        split_single_send(app, client, one, auth, n)
        t2 = time.perf_counter()
        for _ in range(n):
            client.get("/v1/ping")
        print(f"  GET /v1/ping in-process: {(time.perf_counter() - t2) / n * 1000:.3f} ms per request")
        print("  cumulative (top):")
        print(profile_text(prof, args.top, "cumulative"))
        print("  own time (top):")
        print(profile_text(prof, args.top, "tottime"), flush=True)
        if saves:
            prof.dump_stats(saves / "send_one.prof")

        # 2. 1,000 recipients ----------------------------------------------------------------------
        rng = random.Random(3)
        calls = 5 if quick else 20
        bodies = [{"to": numbers(rng, 1000), "message": one["message"]} for _ in range(calls + 2)]
        bodies = [b | {"to": b["to"][:1000]} for b in bodies]
        for b in bodies[:2]:
            assert client.post("/v1/sms/send", json=b, headers=auth).status_code == 200
        rec.reset()
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for b in bodies[2:]:
            client.post("/v1/sms/send", json=b, headers=auth)
        prof.disable()
        h.section(f"2. POST /v1/sms/send, {len(bodies[2]['to'])} recipients")
        print(rec.report(calls, "per request: "))
        print(f"  {(time.perf_counter() - t0) / calls * 1000:.1f} ms per request with the profiler")
        print("  cumulative (top):")
        print(profile_text(prof, args.top, "cumulative"))
        print("  own time (top):")
        print(profile_text(prof, args.top, "tottime"), flush=True)
        if saves:
            prof.dump_stats(saves / "send_batch.prof")
        piece_timings(app, bodies[2]["to"])

        # 3. dispatch + delivery reports -------------------------------------------------------------
        batches = 4 if quick else 20
        batch_ids = []
        for _ in range(batches):
            body = {"to": numbers(rng, 1000), "message": one["message"]}
            resp = client.post("/v1/sms/send", json=body, headers=auth)
            batch_ids.append(resp.get_json()["batch_id"])
        profile_dispatch(app, stack, rec, batch_ids, args, saves)

        # 4. database shapes -------------------------------------------------------------------------
        if stack.is_postgres:
            db_shapes(stack, quick)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


def split_single_send(app, client, body: dict, auth: dict, n: int) -> None:
    """Wall time per stage of the 1-recipient send, by wrapping the functions the view calls."""
    import importlib

    # importlib, not "import app.api.sms as ...": the package rebinds the name sms to the blueprint.
    auth_mod = importlib.import_module("app.api.auth")
    sms_mod = importlib.import_module("app.api.sms")
    send_mod = importlib.import_module("app.services.send")
    from sqlalchemy.orm import Session

    stages = StageTimer()
    stages.wrap(sms_mod, "authenticate", "authenticate (pool checkout + ping, SELECT key, SELECT account)")
    stages.wrap(auth_mod, "find_key", "  find_key (SELECT api_keys)")
    stages.wrap(sms_mod.SendBody, "model_validate", "parse body (pydantic)")
    stages.wrap(send_mod, "plan_send", "plan_send (validate, SELECT sender profile, numbers)")
    stages.wrap(send_mod, "resolve_for_send", "  resolve_for_send (SELECT sender_profiles)")
    stages.wrap(send_mod, "expand_recipients", "  expand_recipients (phone numbers)")
    stages.wrap(Session, "commit", "COMMIT")
    stages.wrap(send_mod, "enqueue_dispatch", "enqueue dispatch job (RQ)")
    stages.wrap(sms_mod, "jsonify", "jsonify response")
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            client.post("/v1/sms/send", json=body, headers=auth)
        total = time.perf_counter() - t0
    finally:
        stages.restore()
    print(f"  time per stage ({total / n * 1000:.2f} ms per request in all; nested stages indented):")
    accounted = 0.0
    for label, seconds in stages.seconds.items():
        if not label.startswith("  "):
            accounted += seconds
        print(f"    {seconds / n * 1000:6.3f} ms {seconds / total:6.1%}  {label}")
    print(f"    {(total - accounted) / n * 1000:6.3f} ms {(total - accounted) / total:6.1%}  the rest: Flask, test client, "
          "INSERT, row building, session teardown")


def piece_timings(app, to: list[str]) -> None:
    """The per-recipient pieces of a batch send, timed alone (1,000 recipients)."""
    from app.sms import normalize_number

    print("  pieces for 1,000 recipients, timed alone:")
    t0 = time.perf_counter()
    for raw in to:
        normalize_number(raw, "NO")
    print(f"    normalize_number x{len(to)}: {(time.perf_counter() - t0) * 1000:.1f} ms")
    try:
        import phonenumbers

        t0 = time.perf_counter()
        for raw in to:
            phonenumbers.parse(raw, None)
        t_parse = time.perf_counter() - t0
        parsed = [phonenumbers.parse(raw, None) for raw in to]
        t0 = time.perf_counter()
        for num in parsed:
            phonenumbers.is_valid_number(num)
        t_valid = time.perf_counter() - t0
        t0 = time.perf_counter()
        for num in parsed:
            phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        t_fmt = time.perf_counter() - t0
        print(f"      of which phonenumbers.parse {t_parse * 1000:.1f} ms, is_valid_number {t_valid * 1000:.1f} ms, "
              f"format_number {t_fmt * 1000:.1f} ms")
    except ImportError:
        pass
    cache: dict = {}
    t0 = time.perf_counter()
    for raw in to:
        if raw not in cache:
            cache[raw] = normalize_number(raw, "NO")
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for raw in to:
        cache.get(raw) or normalize_number(raw, "NO")
    print(f"    with a memo (e.g. functools.lru_cache) of normalize_number: {t_first * 1000:.1f} ms cold, "
          f"{(time.perf_counter() - t0) * 1000:.2f} ms when the numbers repeat (campaigns, retries)")
    from app.api.schemas import SendBody

    body = {"to": to, "message": "hello"}
    t0 = time.perf_counter()
    SendBody.model_validate(body)
    print(f"    SendBody.model_validate: {(time.perf_counter() - t0) * 1000:.2f} ms")
    t0 = time.perf_counter()
    rows = [{"id": str(uuid.uuid4()), "to_number": x} for x in to]
    print(f"    1,000 uuid4 + row dicts: {(time.perf_counter() - t0) * 1000:.2f} ms")
    t0 = time.perf_counter()
    json.dumps({"to": to, "message_ids": [r["id"] for r in rows]})
    print(f"    response JSON (to + message_ids): {(time.perf_counter() - t0) * 1000:.2f} ms", flush=True)


def profile_dispatch(app, stack: h.Stack, rec: Recorder, batch_ids: list[str], args, saves) -> None:
    import importlib

    queue_mod = importlib.import_module("app.jobs.queue")
    sim_mod = importlib.import_module("app.providers.simulator")
    dispatch_mod = importlib.import_module("app.services.dispatch")
    sim_service = importlib.import_module("app.services.simulator")
    from app.extensions import db
    from app.jobs import tasks

    half = max(1, len(batch_ids) // 2)
    timed_ids, profiled_ids = batch_ids[:half], batch_ids[half:]
    n = len(timed_ids) * 1000
    h.section(f"3. dispatch + delivery reports ({len(timed_ids)} + {len(profiled_ids)} dispatch jobs of 1,000 run in-process)")
    stages = StageTimer()
    stages.wrap(dispatch_mod, "_claim", "claim QUEUED -> SENDING (UPDATE ... RETURNING, commit)")
    stages.wrap(dispatch_mod, "submit", "submit (provider + record results)")
    stages.wrap(sim_mod.SimulatorProvider, "send", "  simulator: upsert submissions (own connection) + enqueue")
    stages.wrap(dispatch_mod, "record_results", "  record results SENDING -> SENT (executemany, commit)")
    stages.wrap(sim_service, "take_due_reports", "take due reports (UPDATE ... RETURNING)")
    stages.wrap(sim_service, "apply_reports", "apply reports (SELECT ids, INSERT reports, UPDATE -> DELIVERED)")
    stages.wrap(queue_mod, "_enqueue", "RQ enqueue")
    rec.reset()
    r0 = redis_calls(stack)
    t0 = time.perf_counter()
    try:
        with app.app_context():
            for batch_id in timed_ids:
                tasks.dispatch(batch_id)
            t_dispatch = time.perf_counter() - t0
            tasks.simulator_reports()
    finally:
        stages.restore()
    total = time.perf_counter() - t0
    r1 = redis_calls(stack)
    prof = cProfile.Profile()
    prof.enable()
    with app.app_context():
        for batch_id in profiled_ids:
            tasks.dispatch(batch_id)
        tasks.simulator_reports()
    prof.disable()
    with app.app_context():
        from sqlalchemy import text

        counts = dict(db.session.execute(text("SELECT status, count(*) FROM messages WHERE batch_id IN :b GROUP BY status")
                                         .bindparams(__import__("sqlalchemy").bindparam("b", expanding=True)),
                                         {"b": batch_ids}).all())
        db.session.remove()
    print(f"  statuses afterwards: {counts}")
    print(f"  {total:.2f} s for {n:,} messages (no profiler) = {n / total:,.0f} messages/s in one process "
          f"(dispatch {t_dispatch:.2f} s, reports {total - t_dispatch:.2f} s)")
    print("  time per stage (wall, nested stages indented):")
    for label, seconds in sorted(stages.seconds.items(), key=lambda kv: -kv[1]):
        print(f"    {seconds:6.2f} s {seconds / total:6.1%}  {stages.calls[label]:>5} calls  {label}")
    print(rec.report(len(batch_ids), "per 1,000 messages: "))
    print("  per 1,000 messages: " + ", ".join(f"{(r1[k] - r0[k]) / (n / 1000):.1f} {k.upper()}" for k in sorted(r1)
                                               if r1[k] - r0[k]) + " (Redis)")
    print(f"  cProfile of the other {len(profiled_ids)} jobs and their reports, cumulative (top):")
    print(profile_text(prof, args.top, "cumulative"))
    print("  own time (top):")
    print(profile_text(prof, args.top, "tottime"), flush=True)
    if saves:
        prof.dump_stats(saves / "dispatch.prof")


def db_shapes(stack: h.Stack, quick: bool) -> None:
    """The same database work in different statement shapes, on a scratch copy of messages."""
    from datetime import datetime, timezone

    from sqlalchemy import MetaData, Table, bindparam, insert, select, text, update

    h.section("4. database shapes (PostgreSQL): the app's executemany vs multi-row statements")
    engine = stack.engine()
    repeats = 5 if quick else 20
    try:
        table = Table("messages", MetaData(), autoload_with=engine)
        with engine.begin() as conn:
            template = dict(conn.execute(select(table).limit(1)).mappings().one())
            # With statistics, as a production table has them (else the planner may hash-join
            # the multi-row UPDATE below against a sequential scan of messages).
            conn.execute(text("ANALYZE messages"))
        rng = random.Random(5)
        scratch: list[str] = []

        def rows(k: int = 1000) -> list[dict]:
            b = str(uuid.uuid4())
            scratch.append(b)
            return [{**template, "id": str(uuid.uuid4()), "to_number": to, "batch_id": b,
                     "status": "SENDING"} for to in numbers(rng, k + 5)[:k]]

        def timeit(label: str, fn, make) -> float:
            times = []
            for _ in range(repeats):
                data = make()
                with engine.connect() as conn:
                    t0 = time.perf_counter()
                    fn(conn, data)
                    conn.commit()
                    times.append(time.perf_counter() - t0)
            p50 = h.percentile(times, 50) * 1000
            print(f"    {p50:7.2f} ms  {label}")
            return p50

        print("  INSERT 1,000 message rows + COMMIT (p50):")
        ins = insert(table)
        timeit("executemany (what send does today: psycopg pipeline, one INSERT per row)",
               lambda c, d: c.execute(ins, d), rows)
        timeit("insertmanyvalues (INSERT ... VALUES (...), (...) batches; same call + .returning(id))",
               lambda c, d: c.execute(ins.returning(table.c.id), d).all(), rows)
        cols = [c.name for c in table.columns]

        def copy(conn, data):
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur:
                with cur.copy(f"COPY messages ({', '.join(cols)}) FROM STDIN") as cp:
                    for r in data:
                        cp.write_row([r[c] for c in cols])

        timeit("COPY FROM STDIN (psycopg cursor.copy)", copy, rows)

        print("  UPDATE 500 rows SENDING -> SENT with a per-row provider id + COMMIT (p50):")
        now = datetime.now(timezone.utc).replace(tzinfo=None)

        def fresh_ids(k: int = 500) -> list[tuple[str, str]]:
            data = rows(k)
            with engine.begin() as conn:
                conn.execute(ins, data)
            return [(r["id"], "sim-" + r["id"]) for r in data]

        stmt = (update(table)
                .where((table.c.status == "SENDING") | (table.c.status == "QUEUED"), table.c.id == bindparam("b_id"))
                .values(status="SENT", sent_at=now, provider="simulator", provider_message_id=bindparam("b_pmid")))
        timeit("executemany UPDATE ... WHERE id = :id (what record_results/apply_reports do today)",
               lambda c, d: c.execute(stmt, [{"b_id": i, "b_pmid": pm} for i, pm in d]), fresh_ids)
        unnest = text("UPDATE messages AS m SET status = 'SENT', sent_at = :now, provider = 'simulator', "
                      "provider_message_id = v.pmid FROM unnest(CAST(:ids AS varchar[]), CAST(:pmids AS varchar[])) "
                      "AS v(id, pmid) WHERE m.id = v.id AND m.status IN ('SENDING', 'QUEUED')")
        timeit("one UPDATE ... FROM unnest(:ids, :pmids) (one statement per chunk)",
               lambda c, d: c.execute(unnest, {"now": now, "ids": [i for i, _ in d], "pmids": [p for _, p in d]}),
               fresh_ids)
        with engine.connect() as conn:
            d = fresh_ids()
            plan = conn.execute(text("EXPLAIN " + unnest.text), {"now": now, "ids": [i for i, _ in d],
                                                                 "pmids": [p for _, p in d]}).scalars().all()
            conn.rollback()
        print("      plan of the unnest UPDATE: " + " / ".join(l.strip().split("  (")[0] for l in plan[:4]))
        values = text("UPDATE messages AS m SET status = 'SENT', sent_at = :now, provider_message_id = v.pmid "
                      "FROM (VALUES " + ", ".join(f"(:i{k}, :p{k})" for k in range(500)) + ") AS v(id, pmid) "
                      "WHERE m.id = v.id AND m.status IN ('SENDING', 'QUEUED')")

        def run_values(c, d):
            params = {"now": now}
            for k, (i, pm) in enumerate(d):
                params[f"i{k}"], params[f"p{k}"] = i, pm
            c.execute(values, params)

        timeit("one UPDATE ... FROM (VALUES (...), ...) (one statement per chunk)", run_values, fresh_ids)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM messages WHERE batch_id = ANY(CAST(:b AS varchar[]))"), {"b": scratch})

        # The simulator's report pick: its index is on report_due_at alone, so with every earlier
        # submission already reported the pick filters them all (a scan that grows with the table).
        with engine.connect() as conn:
            reported = conn.execute(text("SELECT count(*) FROM simulator_submissions WHERE reported_at IS NOT NULL")).scalar()
        pick = text("SELECT reference FROM simulator_submissions WHERE reported_at IS NULL AND report_due_at <= now() "
                    "LIMIT 1000 FOR UPDATE SKIP LOCKED")

        def time_pick() -> float:
            times = []
            for _ in range(repeats):
                with engine.connect() as conn:
                    t0 = time.perf_counter()
                    conn.execute(pick).all()
                    times.append(time.perf_counter() - t0)
                    conn.rollback()
            return h.percentile(times, 50) * 1000

        print(f"  simulator report pick (take_due_reports) with {reported:,} submissions already reported, none due (p50):")
        with engine.begin() as conn:
            conn.execute(text("ANALYZE simulator_submissions"))
        print(f"    {time_pick():7.2f} ms  index on (report_due_at) (today)")
        with engine.begin() as conn:
            conn.execute(text("CREATE INDEX bench_due_partial ON simulator_submissions (report_due_at) "
                              "WHERE reported_at IS NULL"))
            conn.execute(text("ANALYZE simulator_submissions"))
        print(f"    {time_pick():7.2f} ms  partial index on (report_due_at) WHERE reported_at IS NULL")
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX bench_due_partial"))
    finally:
        engine.dispose()


if __name__ == "__main__":
    h.run_main(main)
