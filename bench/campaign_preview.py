#!/usr/bin/env python3
"""Benchmark: the preview of a 100,000-recipient campaign with merge fields, on PostgreSQL.

In this process, against its own Redis and a fresh PostgreSQL database (as every benchmark here):
``--recipients`` contacts (default 100,000) in one group ``Customers`` with varied first names (some
missing, so the ``{first_name|there}`` fallback is used; a few outside GSM-7, so some messages are
UCS-2) and varied company names (some long, so some messages take two parts), plus contacts that
are left out (opted out, without a number, in an excluded group). Then ``campaigns.preview`` of

    Hi {first_name|there}, {company_name} has a spring offer for you: 20% off everything until
    Sunday. Reply STOP to opt out.

is timed ``--repeat`` times after one warm-up call (target: < 1 s), and checked against a count
made here the plain way (every text rendered and counted with ``count_segments``). The tables are
vacuumed and analysed first, as autovacuum would have done for a directory imported a while ago.

Baseline, same run and database: the plain SELECT of the same contacts' merge columns (phone
number, names, company) with SQLAlchemy Core, all rows fetched: the floor any preview that reads
every recipient must pay.

    .venv/bin/python bench/campaign_preview.py --quick     # 10,000 recipients
    .venv/bin/python bench/campaign_preview.py             # 100,000 recipients
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

TARGET_S = 1.0
MESSAGE = ("Hi {first_name|there}, {company_name} has a spring offer for you: 20% off everything until "
           "Sunday. Reply STOP to opt out.")
# Varied names, as a real directory has them: ~1,000 first names (a few outside GSM-7, so some
# messages are UCS-2; some missing, so the fallback is used) and ~600 company names (some long,
# so some messages take two or three parts); nearly every text is different.
_STEMS = ["Ad", "Bj", "Kar", "Ol", "Ås", "Øyv", "Ingr", "Lar", "Nor", "Em", "Sof", "Jak", "Maj", "Henr", "Ell",
          "Sand", "Tuv", "Magn", "Id", "Math", "Sig", "Tor", "Liv", "Hed", "Sølv", "Ragn", "Eir", "Frø", "Vil",
          "Aud", "Gun", "The", "Mar", "Kris", "Jon", "Pet", "Han", "Sus", "Gret", "Dag"]
_ENDINGS = ["a", "e", "i", "o", "ar", "en", "er", "ild", "ny", "rid", "und", "vin", "ve", "ine", "as", "ik",
            "unn", "dis", "ulf", "ja", "ste", "mund", "hild", "ny", "ald"]
FIRST_NAMES = ([stem + ending for stem in _STEMS for ending in _ENDINGS]
               + ["Łukasz", "Zoë", "Chloé", "Ğül", "Anaïs", "Dāvis"] * 12 + ["", None] * 40)
_WORDS = ["Nord", "Fjord", "Vest", "Polar", "Bergen", "Oslo", "Viking", "Troll", "Aurora", "Midnatt", "Lofoten",
          "Tinde", "Sør", "Øst", "Kyst", "Fjell", "Dal", "Skog", "Elv", "Bre", "Havn", "Nes", "Strand", "Vik",
          "Berg", "Lund", "Moe", "Haug", "Bakke", "Sjø", "Holm", "Øy", "Li", "Ås", "Vann", "Myr", "Foss", "Vang",
          "Torg", "Bryggen", "Solli", "Kvam", "Voss", "Lyng", "Furu", "Bjørk", "Gran", "Eik", "Rogn", "Ask"]
_KINDS = ["AS", "Bakeri", "Sykkel", "Eiendom", "Regnskap", "Transport", "Elektro", "Frisør", "Bilverksted",
          "Rørleggerservice og Varmepumpeinstallasjon Sør-Norge", "Tannlegesenter", "Blomster"]
COMPANIES = [f"{word} {kind}" for word in _WORDS for kind in _KINDS]

def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_common_args(p)
    p.add_argument("--recipients", type=int, help="recipients (default 100,000; quick 10,000)")
    p.add_argument("--repeat", type=int, default=5, help="timed previews (after one warm-up)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of one preview")
    args = p.parse_args()
    args.recipients = args.recipients or (10_000 if args.quick else 100_000)
    return args


def fill(account, recipients: int) -> tuple:
    """The audience: ``recipients`` usable contacts in Customers, and some that are left out."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Contact, OptOut, group_members, new_id
    from app.services.groups import create_group

    customers, blocked = create_group(account, "Customers"), create_group(account, "Blocked")
    rng = random.Random(7)
    extra = max(10, recipients // 100)  # opted out, no number, excluded: each this many
    total = recipients + 3 * extra
    for start in range(0, total, 10_000):
        contacts, members, excluded, optouts = [], [], [], []
        for i in range(start, min(total, start + 10_000)):
            first = rng.choice(FIRST_NAMES)
            number = f"+479{1000000 + i:07d}"
            contacts.append({"id": new_id(), "account_id": account.id, "name": f"{first or 'Contact'} {i}",
                             "first_name": first, "last_name": "Hansen", "company_name": rng.choice(COMPANIES),
                             "phone_number": None if recipients + extra <= i < recipients + 2 * extra else number,
                             "type": "person", "tags": []})
            members.append({"group_id": customers.id, "contact_id": contacts[-1]["id"]})
            if recipients <= i < recipients + extra:
                optouts.append({"id": new_id(), "account_id": account.id, "number": number, "source": "import"})
            if i >= recipients + 2 * extra:
                excluded.append({"group_id": blocked.id, "contact_id": contacts[-1]["id"]})
        db.session.execute(insert(Contact.__table__), contacts)
        db.session.execute(insert(group_members), members + excluded)
        if optouts:
            db.session.execute(insert(OptOut.__table__), optouts)
        db.session.commit()
    return customers, blocked, extra


def plain_count(account, spec) -> tuple[int, int]:
    """Recipients and units counted the plain way: every text rendered, every text counted."""
    from app.services import campaign_audience as audience_service
    from app.services.campaigns import check
    from app.sms import count_segments

    checked = check(account, spec)
    audience = audience_service.Audience()
    recipients = units = 0
    for r in audience_service.recipients(account, checked.template, checked.group_ids, checked.excluded_group_ids,
                                         None, audience):
        recipients += 1
        units += count_segments(r.text).parts
    return recipients, units


def stages(account, spec, repeat: int) -> dict[str, float]:
    """Median time of the preview's stages, each including the ones before it: the audience's
    page queries alone, then every recipient with its text rendered, then the whole preview
    (counting parts, units and cost)."""
    from app.extensions import db
    from app.services import campaign_audience as audience_service
    from app.services import campaigns
    from app.services.campaigns import check

    checked = check(account, spec)

    def pages() -> None:
        after = None
        while True:
            page = db.session.execute(audience_service._group_page(account, checked.group_ids, after)).all()
            if len(page) < audience_service.PAGE:
                return
            after = page[-1].contact_id

    def rendered() -> None:
        for _ in audience_service.recipients(account, checked.template, checked.group_ids,
                                             checked.excluded_group_ids, None, audience_service.Audience()):
            pass

    split = (("the page queries", pages), ("+ every recipient and its text", rendered),
             ("+ counting parts, units, cost (the preview)", lambda: campaigns.preview(account, spec)))
    if not hasattr(audience_service, "_group_page"):  # older code (--app-source REV) pages otherwise
        split = split[1:]
    return {name: statistics.median(timed(fn, repeat)) for name, fn in split}


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    args = parse_args()
    h.banner(f"bench/campaign_preview.py: preview of a {args.recipients:,}-recipient campaign", args.wait_quiet)
    print("machine:", h.machine_notes())
    with h.Stack(args, name="preview") as stack:
        print(f"code: {stack.app_source}")
        print(f"database: {'PostgreSQL' if stack.is_postgres else 'SQLite'}\n", flush=True)
        os.environ.update({k: v for k, v in stack.env.items() if k not in ("PYTHONPATH",)})
        sys.path.insert(0, str(stack.app_dir))
        from sqlalchemy import select

        from app import create_app
        from app.extensions import db
        from app.models import Account, Contact, group_members
        from app.services import campaigns
        from app.services.campaigns import CampaignSpec

        app = create_app()
        with app.app_context():
            account = db.session.scalar(select(Account).where(Account.name == "Bench"))
            t0 = time.perf_counter()
            customers, blocked, extra = fill(account, args.recipients)
            if stack.is_postgres:  # a directory imported a while ago: autovacuum has been by
                db.session.commit()
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "VACUUM ANALYZE contacts, contact_group_members, opt_outs")
            print(f"audience written in {time.perf_counter() - t0:.1f} s: {args.recipients:,} recipients, "
                  f"{extra:,} each opted out / without a number / in the excluded group\n", flush=True)
            spec = CampaignSpec(name="Spring", message=MESSAGE, group_ids=(customers.id,),
                                excluded_group_ids=(blocked.id,))

            preview = campaigns.preview(account, spec)  # warm-up (imports, caches, connection)
            times = timed(lambda: campaigns.preview(account, spec), args.repeat)
            expected = plain_count(account, spec)

            c, m = Contact.__table__, group_members
            baseline_query = (select(c.c.phone_number, c.c.first_name, c.c.last_name, c.c.name, c.c.company_name)
                              .join(m, m.c.contact_id == c.c.id)
                              .where(m.c.group_id == customers.id, c.c.account_id == account.id))
            rows = len(db.session.execute(baseline_query).all())
            base_times = timed(lambda: db.session.execute(baseline_query).all(), args.repeat)
            db.session.rollback()
            split = stages(account, spec, args.repeat)
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
                campaigns.preview(account, spec)
                prof.disable()
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
                print(out.getvalue())

    exact = (preview.recipients, preview.units) == expected
    best, median = min(times), statistics.median(times)
    base = statistics.median(base_times)
    print(f"preview: {preview.recipients:,} recipients, {preview.units:,} units, parts {preview.parts}, "
          f"encodings {preview.encodings}, skipped {preview.skipped}, cost {preview.cost[1]} {preview.cost[0]}")
    print(f"  matches the plain count ({expected[0]:,} recipients, {expected[1]:,} units): {exact}")
    print(f"  time: median {median * 1000:,.0f} ms, best {best * 1000:,.0f} ms over {args.repeat} "
          f"({', '.join(f'{t * 1000:.0f}' for t in times)} ms)")
    print(f"  baseline, plain SELECT of the merge columns of the group's {rows:,} contacts: median {base * 1000:,.0f} ms; "
          f"preview / baseline = {median / base:.1f}x")
    print("  where the time goes (medians, each stage includes the ones above it): "
          + "; ".join(f"{name} {t * 1000:,.0f} ms" for name, t in split.items()))
    print(f"  target < {TARGET_S:.0f} s: {h.verdict(median < TARGET_S and exact)}")
    h.write_json(args.json, {"benchmark": "campaign_preview", "recipients": preview.recipients,
                             "units": preview.units, "times_s": times, "baseline_s": base_times, "exact": exact,
                             "machine": h.machine_notes()})
    return 0 if exact else 1


if __name__ == "__main__":
    h.run_main(main)
