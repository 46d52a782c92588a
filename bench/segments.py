#!/usr/bin/env python3
"""Benchmark: ``app.sms.encoding.count_segments`` over a mixed GSM-7 / UCS-2 corpus.

The corpus is generated deterministically (seeded) and mixes what an SMS platform sees:

* ``gsm-short``   plain GSM-7 text up to 160 characters (the common case: one part);
* ``gsm-long``    plain GSM-7 multipart text (161-1,600 characters);
* ``gsm-ext``     GSM-7 with extension characters (``€ { } [ ] ~ ^ | \\``), some multipart, with
                  extension characters placed on part boundaries;
* ``ucs2-bmp``    UCS-2 text from the Basic Multilingual Plane (Cyrillic, Greek, CJK, smart quotes);
* ``emoji``       text with emoji (outside the BMP: UTF-16 surrogate pairs), short and multipart;
* ``gsm-norsk``   Norwegian text (æ ø å are GSM-7 basic characters).

Prints messages/s per category and for the whole corpus. Baseline, same corpus and loop:
``len(text)`` + ``text.isascii()`` (the cheapest test that could say "plain ASCII, one part"),
so the ratio says how many times that trivial test ``count_segments`` costs.

    .venv/bin/python bench/segments.py --quick
    .venv/bin/python bench/segments.py
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

h.ensure_venv()

GSM_BASIC = ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
             "¿abcdefghijklmnopqrstuvwxyzäöñüà")
WORDS = ("your order has shipped and will arrive tomorrow between 10 and 14 please reply STOP to opt out "
         "code verification meeting reminder invoice payment due balance account welcome thanks").split()
NORSK = "Hei! Møtet på fredag er flyttet til kl. 14:00 i Ålesund. Ta med blåbærsyltetøy og smørbrød. Hilsen Kjærsti".split()
EXT = "€{}[]~^|\\"
BMP = ("Привет мир", "Γειά σου", "你好世界", "こんにちは", "\u201cquoted\u201d", "naïve café", "Straße → weiter", "Ünïcödé ✓")
EMOJI = ("😀", "🎉", "👍", "🚀", "❤️", "🇳🇴", "👩‍💻", "🙏")


def sentence(rng: random.Random, words, length: int) -> str:
    out = []
    n = 0
    while n < length:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:length]


def corpus(n: int, seed: int = 42) -> dict[str, list[str]]:
    rng = random.Random(seed)
    per = n // 6
    cats: dict[str, list[str]] = {k: [] for k in ("gsm-short", "gsm-long", "gsm-ext", "ucs2-bmp", "emoji", "gsm-norsk")}
    for _ in range(per):
        cats["gsm-short"].append(sentence(rng, WORDS, rng.randint(10, 160)))
        cats["gsm-long"].append(sentence(rng, WORDS, rng.randint(161, 1600)))
        # Extension characters, sometimes right at the last septet of a 153-septet part.
        base = list(sentence(rng, WORDS, rng.randint(20, 1200)))
        for _ in range(rng.randint(1, 6)):
            base.insert(rng.randrange(len(base) + 1), rng.choice(EXT))
        if len(base) > 153 and rng.random() < 0.5:
            base[152] = rng.choice(EXT)
        cats["gsm-ext"].append("".join(base)[:1600])
        bmp = sentence(rng, WORDS, rng.randint(10, 300))
        cut = rng.randrange(len(bmp) + 1)
        cats["ucs2-bmp"].append((bmp[:cut] + " " + rng.choice(BMP) + " " + bmp[cut:])[:1600])
        emo = list(sentence(rng, WORDS, rng.randint(10, 700)))
        for _ in range(rng.randint(1, 8)):
            emo.insert(rng.randrange(len(emo) + 1), rng.choice(EMOJI))
        cats["emoji"].append("".join(emo)[:1600])
        cats["gsm-norsk"].append(sentence(rng, NORSK, rng.randint(20, 400)))
    return cats


def timed(fn, texts: list[str], min_seconds: float, max_rounds: int) -> tuple[float, int]:
    """Best-of rounds: each round runs fn over every text; returns (seconds per text, rounds)."""
    best = float("inf")
    rounds = 0
    deadline = time.perf_counter() + min_seconds
    while rounds < max_rounds and (rounds < 3 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
        rounds += 1
    return best / len(texts), rounds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--messages", type=int, help="corpus size (default 60,000; quick 6,000)")
    p.add_argument("--seconds", type=float, help="minimum seconds per measurement (default 2; quick 0.3)")
    p.add_argument("--app-source", default="copy", help="copy (default), live, or a git revision")
    p.add_argument("--wait-quiet", type=float, default=30)
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args()
    n = args.messages or (6_000 if args.quick else 60_000)
    seconds = args.seconds or (0.3 if args.quick else 2.0)

    h.banner("bench/segments.py: count_segments over a mixed GSM-7 / UCS-2 corpus", args.wait_quiet)
    print("machine:", h.machine_notes().split(";")[0] + "; single thread")
    with tempfile.TemporaryDirectory(prefix="smsdesk-segments-") as tmp:
        app_dir, description = h.prepare_source(args.app_source, Path(tmp))
        sys.path.insert(0, str(app_dir))
        from app.sms.encoding import count_segments
        print(f"code: {description} ({sys.modules['app.sms.encoding'].__file__})")

        # A few known answers first, so a fast but wrong implementation is not reported as fast.
        checks = [("a" * 160, 1), ("a" * 161, 2), ("a" * 153 * 3, 3), ("€" * 80, 1), ("a" * 152 + "€" + "a" * 152, 3),
                  ("😀" * 35, 1), ("😀" * 36, 2), ("ø" * 160, 1)]
        for text, parts in checks:
            got = count_segments(text).parts
            if got != parts:
                raise SystemExit(f"count_segments is wrong for {text[:20]!r}... ({len(text)} chars): "
                                 f"{got} parts, expected {parts}")

        cats = corpus(n)
        everything = [t for texts in cats.values() for t in texts]
        random.Random(1).shuffle(everything)

        def run_segments(texts):
            for t in texts:
                count_segments(t)

        def run_baseline(texts):
            for t in texts:
                len(t)
                t.isascii()

        rows = {}
        for name, texts in [("ALL (mixed)", everything), *cats.items()]:
            seg, rounds = timed(run_segments, texts, seconds, 200)
            base, _ = timed(run_baseline, texts, seconds / 2, 200)
            parts = sum(count_segments(t).parts for t in texts)
            rows[name] = {"messages": len(texts), "per_s": 1 / seg, "baseline_per_s": 1 / base,
                          "us": seg * 1e6, "ratio": seg / base, "avg_chars": sum(map(len, texts)) / len(texts),
                          "avg_parts": parts / len(texts), "rounds": rounds}
    print(f"corpus: {len(everything):,} messages, {sum(map(len, everything)) / 1e6:.1f} M characters "
          f"(best of repeated rounds, >= {seconds} s each)\n")
    print(f"  {'category':<12} {'msgs':>6} {'chars':>6} {'parts':>5} {'count_segments':>16} {'us/msg':>7} "
          f"{'baseline len+isascii':>21} {'ratio':>7}")
    for name, r in rows.items():
        print(f"  {name:<12} {r['messages']:>6} {r['avg_chars']:>6.0f} {r['avg_parts']:>5.1f} "
              f"{r['per_s']:>12,.0f} /s {r['us']:>7.2f} {r['baseline_per_s']:>17,.0f} /s {r['ratio']:>6.1f}x")
    all_row = rows["ALL (mixed)"]
    print("-" * 78)
    print(f"RESULT: {all_row['per_s']:,.0f} messages/s ({all_row['us']:.2f} us/message) over the mixed corpus; "
          f"baseline len()+isascii() {all_row['baseline_per_s']:,.0f}/s; count_segments costs "
          f"{all_row['ratio']:.1f}x the baseline")
    print(f"  for scale: a 1,000-recipient send counts its text once: {all_row['us']:.1f} us of a ~70 ms request")
    h.write_json(args.json, {"benchmark": "segments", "rows": rows, "machine": h.machine_notes()})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
