"""The built-in carrier simulator: a carrier for demos, tests and benchmarks.

It behaves like a real carrier where it matters: it keeps its own record of every submission
(committed on its own connection, so it "has" a message even if our worker dies before recording
the answer), it de-duplicates by our reference, and its delivery reports arrive later and
asynchronously. Behaviour is configured with ``SIMULATOR_*`` settings:

- ``SIMULATOR_SUBMIT_LATENCY_MS``: time each batch submission takes;
- ``SIMULATOR_REPORT_LATENCY_MS``: delay between acceptance and the delivery report;
- ``SIMULATOR_DELIVERY_RATE``: share of messages delivered (decided per reference, reproducibly);
- ``SIMULATOR_FAIL_RULES``: ``suffix=CODE:text;...`` — numbers ending in ``suffix`` fail with it.

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
import re
import time
from dataclasses import dataclass
from datetime import timedelta

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
        if self.submit_latency:
            time.sleep(self.submit_latency)
        now = utcnow()
        rows = [self._row(item, now) for item in batch]
        with db.engine.begin() as conn:
            conn.execute(_upsert_submissions(conn.dialect.name), rows)
        from app.jobs.queue import enqueue_simulator_reports  # jobs import providers, not the reverse at load

        enqueue_simulator_reports(self.report_latency.total_seconds())
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
            "report_due_at": now + self.report_latency,
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
    due = (
        select(table.c.reference)
        .where(table.c.reported_at.is_(None), table.c.report_due_at <= now)
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
