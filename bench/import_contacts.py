#!/usr/bin/env python3
"""Benchmark: a 100,000-row contact CSV imported end to end through the dashboard and the real
RQ job, on PostgreSQL + Redis.

Signs in to the dashboard (gunicorn, sync x2) as a marketer, uploads a generated file the way a
browser does (multipart form, semicolon separated, UTF-8 with BOM, numbers written in mixed
national and international formats, ~0.5 % invalid numbers and ~0.5 % repeated ones), opens the
mapping page (which renders the preview), starts the import into a group, and polls the progress
fragment (``HX-Request``) until the import is done, while one ``flask --app app worker`` runs it.
The clock runs from the start of the upload to the poll that sees it completed.

Baselines, same run, same database:

* the same contacts (already normalised, ids and search keys computed beforehand) bulk-inserted
  with SQLAlchemy Core (``executemany``) into ``contacts`` in one transaction, plus their group
  memberships; and on PostgreSQL the same rows with ``COPY``, which is how the import writes new
  rows there: the floor for the database part of an import;
* ``normalize_number`` over the same raw numbers in this process: the per-row parsing floor
  (libphonenumber), the largest CPU cost an import cannot avoid.

Target: 100,000 rows in under 20 s end to end.

    .venv/bin/python bench/import_contacts.py --quick            # 10,000 rows, ~30 s
    .venv/bin/python bench/import_contacts.py                    # 100,000 rows
    .venv/bin/python bench/import_contacts.py --database-url sqlite
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_SECONDS = 20.0
TARGET_ROWS = 100_000
PASSWORD = "bench-password-123"
EMAIL = "importer@bench.example"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
SELECTED = re.compile(r'<select id="(\w+)" name="\w+">.*?(?:<option selected value="(\d*)">|</select>)', re.S)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--rows", type=int, help="rows in the file (default 100,000; quick 10,000)")
    p.add_argument("--poll", type=float, default=0.2, help="seconds between progress polls")
    p.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    args = p.parse_args()
    args.rows = args.rows or (10_000 if args.quick else TARGET_ROWS)
    return args


# -- the file ------------------------------------------------------------------------------------

FIRST = ["Kari", "Ola", "Åse", "Per", "Ingrid", "Lars", "Sofie", "Jonas", "Nora", "Emil", "Maja", "Henrik"]
LAST = ["Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Ødegård"]
TAGS = ["vip", "oslo", "bergen", "newsletter", "b2b", ""]


def make_file(n: int, rng: random.Random) -> tuple[bytes, list[str]]:
    """The CSV as a spreadsheet would save it, and the raw numbers in it (for the parse baseline)."""
    pool = rng.sample(range(10**7), n)
    lines, raws = ["Fornavn;Etternavn;Mobil;E-post;Firma;Tags;Notater"], []
    for i, x in enumerate(pool):
        # Norwegian mobile ranges: 9x and 40, 41, 45-48.
        digits = f"9{x:07d}" if i % 2 else f"4{'015678'[x % 6]}{x // 10:06d}"
        if i % 200 == 7:
            digits = digits[:4]  # too short: rejected
        elif i % 200 == 11 and i > 20:
            digits = raws[i - 10].replace(" ", "").replace("+47", "").replace("0047", "")[-8:]  # a repeat
        raw = (digits, f"+47 {digits[:3]} {digits[3:5]} {digits[5:]}", f"0047{digits}", f"{digits[:3]} {digits[3:]}")[i % 4]
        raws.append(raw)
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        email = f"{first.lower()}.{i}@example.com" if i % 3 else ""
        company = "Acme AS" if i % 10 == 0 else ""
        tags = ",".join(t for t in (TAGS[i % 6], TAGS[(i // 6) % 6]) if t)
        lines.append(f"{first};{last};{raw};{email};{company};\"{tags}\";{'Kunde siden 2019' if i % 5 == 0 else ''}")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"), raws


# -- the browser ---------------------------------------------------------------------------------

class Browser:
    """A signed-in dashboard session: cookies, and the CSRF token of the last page."""

    def __init__(self, base: str) -> None:
        import requests

        self.base, self.session, self.token = base, requests.Session(), None

    def get(self, path: str, htmx: bool = False):
        response = self.session.get(self.base + path, headers={"HX-Request": "true"} if htmx else {},
                                    allow_redirects=False, timeout=120)
        if found := CSRF_META.search(response.text):
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict, files: dict | None = None):
        return self.session.post(self.base + path, data={**data, "csrf_token": self.token}, files=files,
                                 allow_redirects=False, timeout=300)

    def login(self) -> None:
        self.get("/login")
        response = self.post("/login", {"email": EMAIL, "password": PASSWORD})
        if response.status_code != 303:
            raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")


def expect(response, status: int, what: str):
    if response.status_code != status:
        raise RuntimeError(f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}")
    return response


# -- the run -------------------------------------------------------------------------------------

def run_import(browser: Browser, data: bytes, group_id: str, args) -> dict:
    browser.get("/contacts/import")
    t0 = time.perf_counter()
    response = expect(browser.post("/contacts/import", {}, files={"file": ("kunder.csv", data, "text/csv")}),
                      303, "upload")
    import_path = response.headers["Location"]
    t_upload = time.perf_counter()
    page = expect(browser.get(import_path), 200, "mapping page")
    t_mapping = time.perf_counter()
    mapping = {name: value or "" for name, value in SELECTED.findall(page.text)}
    if mapping.get("phone_number") in (None, ""):
        raise RuntimeError(f"the phone column was not guessed: {mapping}")
    expect(browser.post(import_path + "/start", {**mapping, "dedupe": "update", "group_id": group_id}), 303, "start")
    t_start = time.perf_counter()
    seen_progress, polls = [], 0
    deadline = t0 + args.timeout
    while True:
        fragment = expect(browser.get(import_path, htmx=True), 200, "progress poll").text
        polls += 1
        if found := re.search(r"(\d+) % done", fragment):
            seen_progress.append(int(found.group(1)))
        if 'hx-trigger="every 1s"' not in fragment:
            break
        if time.perf_counter() > deadline:
            raise RuntimeError("the import did not finish in time")
        time.sleep(args.poll)
    t_done = time.perf_counter()
    if "Imported kunder.csv" not in fragment:
        raise RuntimeError(f"the import did not complete:\n{fragment[:2000]}")
    return {"upload_s": t_upload - t0, "mapping_page_s": t_mapping - t_upload, "start_s": t_start - t_mapping,
            "until_done_s": t_done - t_start, "total_s": t_done - t0, "polls": polls,
            "progress_seen": seen_progress, "import_id": import_path.rsplit("/", 1)[1]}


def import_row(stack: h.Stack, import_id: str) -> dict:
    from sqlalchemy import text

    engine = stack.engine()
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT total, created, updated, skipped, rejected, started_at, finished_at, "
                                    "created_at FROM contact_imports WHERE id = :id"), {"id": import_id}).mappings().one()
            members = conn.execute(text("SELECT count(*) FROM contact_group_members")).scalar()
        out = dict(row)
        started, finished = (datetime.fromisoformat(v) if isinstance(v, str) else v  # SQLite: text
                             for v in (row["started_at"], row["finished_at"]))
        out["job_s"] = (finished - started).total_seconds()
        out["members"] = members
        return out
    finally:
        engine.dispose()


def bulk_insert_baseline(stack: h.Stack, raws: list[str], account_name: str) -> dict:
    """The same number of contacts, normalised beforehand, inserted with Core in one transaction."""
    from sqlalchemy import MetaData, Table, delete, insert, select

    from app.models.contact import search_text_of, tag_keys_of
    from app.sms import normalize_number
    from app.sms.errors import InvalidNumber

    numbers, seen = [], set()
    t0 = time.perf_counter()
    for raw in raws:
        try:
            number = normalize_number(raw, "NO")
        except InvalidNumber:
            continue
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    parse_s = time.perf_counter() - t0
    engine = stack.engine()
    try:
        meta = MetaData()
        contacts = Table("contacts", meta, autoload_with=engine)
        members = Table("contact_group_members", meta, autoload_with=engine)
        groups = Table("contact_groups", meta, autoload_with=engine)
        accounts = Table("accounts", meta, autoload_with=engine)
        with engine.connect() as conn:
            account_id = conn.execute(select(accounts.c.id).where(accounts.c.name == account_name)).scalar_one()
        from datetime import timezone

        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = []
        for i, number in enumerate(numbers):
            values = {"name": f"Person {i}", "first_name": "Person", "last_name": str(i), "company_name": None,
                      "phone_number": number, "email": f"p{i}@example.com", "tags": ["vip"], "notes": None}
            rows.append({**values, "id": str(uuid.uuid4()), "account_id": account_id, "type": "person",
                         "search_text": search_text_of(values), "tag_keys": tag_keys_of(values["tags"]),
                         "created_at": now, "updated_at": now, "anonymised_at": None})
        group_id = str(uuid.uuid4())
        member_rows = [{"group_id": group_id, "contact_id": r["id"], "added_at": now} for r in rows]
        group_row = {"id": group_id, "account_id": account_id, "name": "Baseline", "name_key": "baseline",
                     "description": None, "created_at": now, "updated_at": now}

        def clean_up() -> None:
            with engine.begin() as conn:
                conn.execute(delete(members).where(members.c.group_id == group_id))
                conn.execute(delete(contacts).where(contacts.c.account_id == account_id))
                conn.execute(delete(groups).where(groups.c.id == group_id))

        with engine.connect() as conn:
            t0 = time.perf_counter()
            conn.execute(insert(groups), [group_row])
            conn.execute(insert(contacts), rows)
            conn.execute(insert(members), member_rows)
            conn.commit()
            insert_s = time.perf_counter() - t0
        clean_up()
        copy_s = None
        if stack.is_postgres:  # the floor: COPY, as the import itself writes new rows on PostgreSQL
            import json

            with engine.connect() as conn:
                t0 = time.perf_counter()
                conn.execute(insert(groups), [group_row])
                cursor = conn.connection.dbapi_connection.cursor()
                for table, table_rows in ((contacts, rows), (members, member_rows)):
                    columns = list(table_rows[0])
                    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in table_rows:
                            copy.write_row([json.dumps(row[c]) if c == "tags" else row[c] for c in columns])
                conn.commit()
                copy_s = time.perf_counter() - t0
            clean_up()
        return {"rows": len(rows), "insert_s": insert_s, "copy_s": copy_s, "parse_s": parse_s, "parsed": len(raws)}
    finally:
        engine.dispose()


def create_group(browser: Browser, stack: h.Stack, account_name: str) -> str:
    from sqlalchemy import text

    engine = stack.engine()
    try:
        with engine.begin() as conn:
            account_id = conn.execute(text("SELECT id FROM accounts WHERE name = :n"), {"n": account_name}).scalar_one()
            group_id = str(uuid.uuid4())
            conn.execute(text("INSERT INTO contact_groups (id, account_id, name, name_key, created_at, updated_at) "
                              "VALUES (:id, :a, 'Imported', 'imported', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"id": group_id, "a": account_id})
        return group_id
    finally:
        engine.dispose()


def main() -> int:
    args = parse_args()
    h.banner(f"bench/import_contacts.py: a {args.rows:,}-row CSV imported end to end", args.wait_quiet)
    print("machine:", h.machine_notes())
    data, raws = make_file(args.rows, random.Random(3))
    with h.Stack(args, name="import") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else stack.database_url.split(':')[0]}; "
              f"file {len(data) / 1024 / 1024:.1f} MB, {args.rows:,} rows; gunicorn sync x2; 1 worker\n", flush=True)
        stack.flask("users", "create", "--account", "Bench", "--email", EMAIL, "--password", PASSWORD,
                    "--role", "marketer")
        stack.flask("accounts", "create", "Baseline")
        web, base = stack.start_gunicorn("sync", 2)
        worker = stack.start_worker()
        wait_for_worker(stack)
        browser = Browser(base)
        browser.login()
        group_id = create_group(browser, stack, "Bench")

        meter = h.CpuMeter({"gunicorn": [web.pid], "worker": [worker.pid], "redis": [stack.redis.pid]})
        meter.start()
        run = run_import(browser, data, group_id, args)
        used = meter.stop()
        wall = meter.wall
        row = import_row(stack, run["import_id"])
        base_figures = bulk_insert_baseline(stack, raws, "Baseline")

    total_s = run["total_s"]
    rate = args.rows / total_s
    base_rate = base_figures["rows"] / base_figures["insert_s"]
    print(f"  upload request (file stored, read, counted):   {run['upload_s'] * 1000:8.0f} ms")
    print(f"  mapping page with preview:                     {run['mapping_page_s'] * 1000:8.0f} ms")
    print(f"  start (mapping saved, job queued):             {run['start_s'] * 1000:8.0f} ms")
    print(f"  start -> progress page says done:              {run['until_done_s'] * 1000:8.0f} ms "
          f"({run['polls']} polls; progress bar seen at: {', '.join(f'{p} %' for p in run['progress_seen'])})")
    print(f"    of which the job itself (started -> finished): {row['job_s'] * 1000:6.0f} ms")
    print(f"  outcome: {row['total']:,} rows: {row['created']:,} new, {row['updated']:,} updated, "
          f"{row['skipped']:,} skipped, {row['rejected']:,} rejected; {row['members']:,} group members")
    print(f"  during the import: {h.CpuMeter.describe(used, wall)}")
    print(f"  baseline: Core bulk INSERT of {base_figures['rows']:,} prepared contacts + memberships, one transaction: "
          f"{base_figures['insert_s'] * 1000:.0f} ms = {base_rate:,.0f} rows/s")
    if base_figures["copy_s"]:
        print(f"  baseline: the same rows with PostgreSQL COPY, one transaction: {base_figures['copy_s'] * 1000:.0f} ms = "
              f"{base_figures['rows'] / base_figures['copy_s']:,.0f} rows/s")
    print(f"  baseline: normalize_number over the {base_figures['parsed']:,} raw numbers (this process): "
          f"{base_figures['parse_s'] * 1000:.0f} ms = {base_figures['parse_s'] / base_figures['parsed'] * 1e6:.0f} us/row")
    print("-" * 78)
    print(f"RESULT: {args.rows:,} rows in {total_s:.1f} s end to end = {rate:,.0f} rows/s "
          f"(job alone {args.rows / row['job_s']:,.0f} rows/s)")
    print(f"  ratio vs raw bulk insert (Core executemany): {base_rate / rate:.1f}x slower end to end "
          f"({base_rate / (args.rows / row['job_s']):.1f}x for the job alone)")
    if base_figures["copy_s"]:
        copy_rate = base_figures["rows"] / base_figures["copy_s"]
        print(f"  ratio vs COPY: {copy_rate / rate:.1f}x slower end to end; the rest is reading, checking and "
              f"normalising every row ({base_figures['parse_s'] / base_figures['parsed'] * 1e6:.0f} us/row for the "
              f"numbers alone)")
    scaled = total_s * TARGET_ROWS / args.rows
    print(f"  target {TARGET_ROWS:,} rows < {TARGET_SECONDS:.0f} s: "
          f"{h.verdict(scaled < TARGET_SECONDS)}{'' if args.rows == TARGET_ROWS else f' (scaled from {args.rows:,} rows: {scaled:.1f} s)'}")
    h.write_json(args.json, {"benchmark": "import_contacts", "rows": args.rows, "run": run,
                             "import": {k: str(v) for k, v in row.items()}, "baseline": base_figures, "cpu": used,
                             "machine": h.machine_notes()})
    return 0


def wait_for_worker(stack: h.Stack, timeout: float = 60) -> None:
    from redis import Redis
    from rq import Worker

    conn = Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + timeout
    while not Worker.all(connection=conn):
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not register:\n" + stack.log_tail("worker-*.log"))
        time.sleep(0.2)


if __name__ == "__main__":
    h.run_main(main)
