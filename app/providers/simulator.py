"""The built-in carrier simulator: a carrier for demos, tests and benchmarks.

It behaves like a real carrier where it matters: it keeps its own record of every submission
(committed on its own connection, so it "has" a message even if our worker dies before recording
the answer), it de-duplicates by our reference, and its delivery reports arrive later and
asynchronously. Behaviour is configured with ``SIMULATOR_*`` settings:

- ``SIMULATOR_SUBMIT_LATENCY_MS``: time each batch submission takes;
- ``SIMULATOR_REPORT_LATENCY_MS``: delay between acceptance and the delivery report;
- ``SIMULATOR_DELIVERY_RATE``: share of messages delivered (decided per reference, reproducibly);
- ``SIMULATOR_FAIL_RULES``: ``suffix=CODE:text;...`` — numbers ending in ``suffix`` fail with it;
- ``SIMULATOR_FAULT`` (off by default), ``SIMULATOR_FAULT_EVERY``, ``SIMULATOR_FAULT_DELAY_MS``: every
  Nth batch call of a process fails as a whole — ``timeout`` keeps the batch (the carrier has it)
  but hangs and then raises, as when the answer is lost on the way back; ``5xx`` refuses it
  and keeps nothing. Either leaves the rows SENDING for the reconciler;
- ``SIMULATOR_SILENT_SUFFIXES``: ``suffix;...`` — numbers ending in one are accepted and never reported.

Its callbacks (for demos and tests: the simulator's own reports go straight to ``apply_reports``)
are JSON, one object or a list of them under ``messages`` / ``reports``:

- inbound: ``{"messages": [{"id": "in-1", "from": "+4799999999", "to": "+4759440000",
  "message": "STOP", "received_at": "2026-03-30T10:00:00Z"}]}`` (``received_at`` optional;
  ``body`` is accepted for ``message`` and ``message_id`` for ``id``);
- delivery reports: ``{"reports": [{"message_id": "sim-<our id>", "reference": "<our id>",
  "status": "DELIVERED", "error_code": null, "error_message": null}]}`` (``message_id`` or
  ``reference`` required; status DELIVERED or FAILED, any case).
"""
from __future__ import annotations

import hashlib
import itertools
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import SimulatorSubmission, utcnow
from app.models.base import picked_once
from app.providers.base import Inbound, Outbound, Report, SendResult
from app.providers.callbacks import MAX_INBOUND_CHARACTERS, Reader, items_of, raise_if

EXPIRED = ("EXPIRED", "Message validity period expired")
# ASCII only: str.isdigit() also accepts e.g. "²" or Arabic-Indic digits, which no E.164 number
# ends with, so such a rule would be accepted and silently never match.
_DIGITS = re.compile(r"[0-9]+")
FAULTS = ("", "timeout", "5xx")
# "Never" for a report that is not coming: far enough that no tick ever finds it due.
NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
# Batch calls made by this process: SIMULATOR_FAULT_EVERY counts them (a new provider object
# is made for every call, so the count lives here).
_CALLS = itertools.count(1)


class CarrierTimeout(TimeoutError):
    """The simulated carrier took the batch but its answer never came."""


class CarrierUnavailable(RuntimeError):
    """The simulated carrier answered 503 to a whole batch and kept nothing of it."""

    status_code = 503


@dataclass(frozen=True)
class FailRule:
    suffix: str
    code: str
    text: str


def parse_fail_rules(spec: str) -> list[FailRule]:
    """``"0000=UNKNOWN_SUBSCRIBER:Unknown subscriber;13=ABSENT:Absent subscriber"``."""
    rules = []
    for item in filter(None, (part.strip() for part in (spec or "").split(";"))):
        suffix, _, rest = item.partition("=")
        code, _, text = rest.partition(":")
        if not _DIGITS.fullmatch(suffix.strip()) or not code.strip():
            raise ValueError(f"SIMULATOR_FAIL_RULES: cannot read '{item}'; write suffix=CODE:text")
        rules.append(FailRule(suffix.strip(), code.strip(), text.strip() or code.strip()))
    return rules


def parse_suffixes(spec: str, name: str) -> tuple[str, ...]:
    """``"77;123"`` -> ("77", "123")."""
    suffixes = tuple(filter(None, (part.strip() for part in (spec or "").split(";"))))
    for suffix in suffixes:
        if not _DIGITS.fullmatch(suffix):
            raise ValueError(f"{name}: '{suffix}' is not a number suffix; write digits separated by ';'")
    return suffixes


def _fraction(reference: str) -> float:
    """A stable number in [0, 1) per reference, so a re-run decides the same fate."""
    return int(hashlib.sha256(reference.encode()).hexdigest()[:8], 16) / 2**32


class SimulatorProvider:
    code = "simulator"

    def __init__(self, config) -> None:
        self.submit_latency = config["SIMULATOR_SUBMIT_LATENCY_MS"] / 1000
        self.report_latency = timedelta(milliseconds=config["SIMULATOR_REPORT_LATENCY_MS"])
        self.delivery_rate = config["SIMULATOR_DELIVERY_RATE"]
        self.rules = parse_fail_rules(config["SIMULATOR_FAIL_RULES"])
        self.fault = (config.get("SIMULATOR_FAULT") or "").strip().lower()
        if self.fault not in FAULTS:
            raise ValueError(f"SIMULATOR_FAULT: '{self.fault}' is not one of timeout, 5xx")
        self.fault_every = max(1, int(config.get("SIMULATOR_FAULT_EVERY") or 1))
        self.fault_delay = int(config.get("SIMULATOR_FAULT_DELAY_MS") or 0) / 1000
        self.silent = parse_suffixes(config.get("SIMULATOR_SILENT_SUFFIXES", ""), "SIMULATOR_SILENT_SUFFIXES")

    def fate(self, item: Outbound) -> tuple[str, str | None, str | None]:
        for rule in self.rules:
            if item.to.endswith(rule.suffix):
                return "FAILED", rule.code, rule.text
        if _fraction(item.reference) >= self.delivery_rate:
            return "FAILED", *EXPIRED
        return "DELIVERED", None, None

    def send(self, batch: list[Outbound]) -> list[SendResult]:
        if not batch:
            return []
        fault = self.fault if self.fault and next(_CALLS) % self.fault_every == 0 else ""
        if fault == "5xx":
            raise CarrierUnavailable(f"simulated carrier answered 503 to a batch of {len(batch)}")
        if self.submit_latency:
            time.sleep(self.submit_latency)
        now = utcnow()
        rows = [self._row(item, now) for item in batch]
        with db.engine.begin() as conn:
            conn.execute(_upsert_submissions(conn.dialect.name), rows)
        from app.jobs.queue import enqueue_simulator_reports  # jobs import providers, not the reverse at load

        enqueue_simulator_reports(self.report_latency.total_seconds())
        if fault == "timeout":
            time.sleep(self.fault_delay)
            raise CarrierTimeout(f"simulated carrier kept a batch of {len(batch)} but did not answer")
        return [SendResult(row["reference"], row["provider_message_id"]) for row in rows]

    def _row(self, item: Outbound, now) -> dict:
        outcome, code, text = self.fate(item)
        return {
            "reference": item.reference,
            "provider_message_id": "sim-" + item.reference,
            "to_number": item.to,
            "sender": item.sender,
            "submissions": 1,
            "outcome": outcome,
            "error_code": code,
            "error_message": text,
            "first_submitted_at": now,
            "report_due_at": NEVER if self.silent and item.to.endswith(self.silent) else now + self.report_latency,
        }

    def parse_inbound(self, payload: object) -> list[Inbound]:
        items, problems = items_of(payload, "messages"), []
        found = []
        for i, item in items:
            read = Reader(item, ["messages", i] if i is not None else [], problems)
            values = (read.text(("from",), 32), read.text(("to",), 32),
                      read.text(("message", "body"), MAX_INBOUND_CHARACTERS, strip=False),
                      read.text(("id", "message_id"), 128), read.time("received_at"))
            if not read.failed:
                found.append(Inbound(*values))
        raise_if(problems)
        return found

    def parse_reports(self, payload: object) -> list[Report]:
        items, problems = items_of(payload, "reports"), []
        found = []
        for i, item in items:
            read = Reader(item, ["reports", i] if i is not None else [], problems)
            pmid = read.text(("message_id",), 128, required=False)
            reference = read.text(("reference",), 36, required=False)
            if read.required and not (pmid or reference):
                read.problem("message_id", "message_id or reference is required", "missing")
            status = read.text(("status",), 12)
            if status is not None and status.upper() not in ("DELIVERED", "FAILED"):
                read.problem("status", "must be DELIVERED or FAILED", "enum")
            values = dict(reference=reference, provider_message_id=pmid,
                          error_code=read.text(("error_code",), 64, required=False),
                          error_message=read.text(("error_message",), 500, required=False),
                          occurred_at=read.time("occurred_at"))
            if not read.failed:
                found.append(Report(status=status.upper(), **values))
        raise_if(problems)
        return found

    def query(self, references: list[str]) -> dict[str, SendResult]:
        rows = db.session.execute(
            select(SimulatorSubmission.reference, SimulatorSubmission.provider_message_id)
            .where(SimulatorSubmission.reference.in_(references))
        )
        return {reference: SendResult(reference, pmid) for reference, pmid in rows}


def _upsert_submissions(dialect: str):
    """INSERT, or count one more submission of a reference we already have (a duplicate)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = SimulatorSubmission.__table__
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.reference], set_={"submissions": table.c.submissions + 1}
    )


def take_due_reports(limit: int = 1000) -> list[Report]:
    """Claim up to ``limit`` reports that are due and not yet sent, in the caller's transaction,
    so a report counts as sent only if the caller's commit (which applies it) succeeds."""
    table = SimulatorSubmission.__table__
    now = utcnow()
    # A submission stamped after ``now`` means our wall clock was stepped back since: a carrier's
    # reports run on its own clock, so its (short) report delay is over; waiting for our clock to
    # catch up would hold them back for as long as the step. A silent one stays silent.
    stepped_back = (table.c.first_submitted_at > now) & (table.c.report_due_at < NEVER)
    due = (
        select(table.c.reference)
        .where(table.c.reported_at.is_(None), (table.c.report_due_at <= now) | stepped_back)
        .limit(limit)
    )
    due_now = picked_once(db.session.get_bind().dialect.name, table.c.reference, due)
    stmt = (
        update(table)
        .where(due_now, table.c.reported_at.is_(None))
        .values(reported_at=now)
        .returning(table.c.reference, table.c.provider_message_id, table.c.outcome,
                   table.c.error_code, table.c.error_message)
    )
    return [
        Report(status=row.outcome, reference=row.reference, provider_message_id=row.provider_message_id,
               error_code=row.error_code, error_message=row.error_message, occurred_at=now)
        for row in db.session.execute(stmt)
    ]


def summary() -> dict:
    """``{"submissions", "unique_references", "duplicates"}`` over everything the carrier received."""
    total, unique = db.session.execute(
        select(func.coalesce(func.sum(SimulatorSubmission.submissions), 0), func.count())
    ).one()
    return {"submissions": int(total), "unique_references": int(unique), "duplicates": int(total) - int(unique)}
