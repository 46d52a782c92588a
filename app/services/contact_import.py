"""Importing contacts from a CSV file: upload, map columns, preview, run, report.

1. :func:`upload` reads the file (encoding, separator, header, row count; see ``csv_files``) and
   keeps it, with a guess of which column is which field. Nothing is imported yet.
2. :func:`preview` shows the first rows as they would be imported, for a mapping being chosen.
3. :func:`start` saves the mapping and options and queues the job, which writes every contact of
   the file in ONE transaction together with the import's final counts (``contact_import_run``),
   so a failure leaves nothing half-imported and running it again is always safe. While it runs
   it reports its progress through Redis (:func:`set_progress`), and :func:`check_stalled`
   notices when its worker is gone.

The rules for one row, the same for preview and import, are in ``import_rows``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from app.extensions import db, redis_conn
from app.models import Account, Contact, ContactImport, Group, get_owned, scoped, utcnow
from app.models.contact_import import DEDUPE_MODES
from app.services import audit, csv_files
from app.services.contacts import chunks
from app.services.errors import Invalid
from app.services.import_rows import (
    FIELDS, WRITTEN, Rejected, check_repeat, contact_fields, new_name, raw_fields,
)

PREVIEW_ROWS = 10
WAITING_SECONDS = 10
PROGRESS_KEY = "smsdesk:contact-import:{}"
PROGRESS_TTL = 24 * 3600


def max_bytes() -> int:
    return current_app.config["CONTACT_IMPORT_MAX_BYTES"]


def _stale_seconds() -> float:
    return current_app.config["CONTACT_IMPORT_STALE_SECONDS"]


# -- upload, read, discard -----------------------------------------------------------------------

def upload(account: Account, user_id: str | None, filename: str, data: bytes) -> ContactImport:
    """Keep a readable file for mapping, or raise :class:`Invalid` saying what is wrong with it."""
    if len(data) > max_bytes():
        raise Invalid(too_large_message(len(data)), code="file_too_large")
    found = csv_files.read(data)
    filename = "".join(c for c in filename or "" if c.isprintable())[-255:] or "contacts.csv"
    imp = ContactImport(
        account_id=account.id, user_id=user_id, filename=filename, size=len(data),
        content=data, encoding=found.decoded.encoding, delimiter=found.delimiter, notice=found.decoded.notice,
        columns=found.columns, mapping=csv_files.guess_mapping(found.columns), total=found.total,
    )
    db.session.add(imp)
    db.session.commit()
    return imp


def too_large_message(size: int | None) -> str:
    limit = f"{max_bytes() / 1024 / 1024:.0f} MB"
    shown = f"The file is {size / 1024 / 1024:.1f} MB" if size else "The file is too large"
    return f"{shown}; files of up to {limit} can be imported. Split it into smaller files."


def recent_imports(account: Account, limit: int = 20) -> list[ContactImport]:
    query = scoped(ContactImport, account.id).order_by(ContactImport.created_at.desc()).limit(limit)
    return list(db.session.scalars(query))


def discard(account: Account, imp: ContactImport) -> None:
    """Forget an import that is not running (its contacts, if it completed, stay)."""
    if imp.is_active:
        raise Invalid("An import that is queued or running cannot be deleted; wait until it has finished.")
    db.session.delete(imp)
    db.session.commit()


# -- mapping and preview -------------------------------------------------------------------------

def usable_mapping(imp: ContactImport, chosen: dict) -> dict[str, int]:
    """``{field: column index}`` for the known fields and existing columns among ``chosen``."""
    mapping: dict[str, int] = {}
    for name, index in chosen.items():
        try:
            index = int(index)
        except (TypeError, ValueError):
            continue
        if name in FIELDS and 0 <= index < len(imp.columns):
            mapping[name] = index
    return mapping


def check_mapping(imp: ContactImport, chosen: dict) -> dict[str, int]:
    """The mapping to import with: the phone number column is required, a column serves one field."""
    mapping = usable_mapping(imp, chosen)
    if "phone_number" not in mapping:
        raise Invalid("Choose the column that holds the phone numbers.", code="phone_column_required",
                      fields=[{"loc": ["phone_number"], "msg": "required", "type": "missing"}])
    used = list(mapping.values())
    for name, index in mapping.items():
        if used.count(index) > 1:
            raise Invalid(f"Column '{imp.columns[index]}' is chosen for more than one field; choose it once.",
                          code="column_used_twice", fields=[{"loc": [name], "msg": "used twice", "type": "value_error"}])
    return mapping


@dataclass
class PreviewRow:
    number: int  # the row in the spreadsheet
    values: dict = field(default_factory=dict)
    outcome: str = ""  # "new", "update", "skip" or "rejected"
    reason: str | None = None


def preview(account: Account, imp: ContactImport, mapping: dict, dedupe: str) -> list[PreviewRow]:
    """The first rows as they would be imported with this mapping."""
    text = csv_files.decode(imp.content).text
    rows = csv_files.rows(text, imp.delimiter)
    next(rows, None)  # the header
    shown: list[PreviewRow] = []
    seen: dict[str, int] = {}
    for number, cells in rows:
        row = PreviewRow(number)
        try:
            row.values = contact_fields(account, cells, mapping, len(imp.columns))
            check_repeat(seen, row.values["phone_number"], number)
        except Rejected as exc:
            # Shown as written, so the person can tell whose row it is and what to fix.
            row.outcome, row.reason, row.values = "rejected", exc.reason, raw_fields(cells, mapping)
        shown.append(row)
        if len(shown) == PREVIEW_ROWS:
            break
    existing = existing_contacts(account.id, [r.values["phone_number"] for r in shown if not r.outcome])
    for row in shown:
        if not row.outcome:
            row.outcome = "new" if row.values["phone_number"] not in existing else dedupe
            if row.outcome == "new":
                row.values["name"] = new_name(row.values)
    return shown


# -- start and progress --------------------------------------------------------------------------

def start(account: Account, imp: ContactImport, mapping: dict, dedupe: str, group_id: str | None) -> bool:
    """Save the mapping and options and queue the job. True when it was queued; when the queue is
    unavailable the import waits (MAPPED) and :func:`requeue` or the tick queues it later."""
    from app.jobs.queue import enqueue_contact_import

    if not imp.can_start:
        raise Invalid(f"This import is {imp.status} and cannot be started again.", code="not_startable")
    if dedupe not in DEDUPE_MODES:
        raise Invalid("Choose whether to skip or update contacts that already exist.")
    if group_id:
        group = get_owned(Group, account.id, group_id)
        if group is None:
            raise Invalid("That group does not exist (any more); choose another.", code="unknown_group",
                          fields=[{"loc": ["group_id"], "msg": "not found", "type": "not_found"}])
    imp.start(check_mapping(imp, mapping), dedupe, group_id or None)
    audit.record(account.id, "contact_import.started", "contact_import", imp.id, filename=imp.filename, rows=imp.total)
    db.session.commit()
    set_progress(imp.id, "waiting", 0, imp.total, at=0)
    return enqueue_contact_import(imp.id)


def requeue(imp: ContactImport) -> bool:
    """Queue a waiting import again. Harmless when its job is in the queue already: only one job
    can claim it."""
    from app.jobs.queue import enqueue_contact_import

    if imp.status != ContactImport.MAPPED:
        return False
    imp.queued_at = utcnow()
    db.session.commit()
    return enqueue_contact_import(imp.id)


def waiting_too_long(imp: ContactImport) -> bool:
    """Queued for a while and no worker has taken it: worth telling the person."""
    return (imp.status == ContactImport.MAPPED and imp.queued_at is not None
            and (utcnow() - imp.queued_at).total_seconds() > WAITING_SECONDS)


def requeue_waiting_imports(older_than: float = 60) -> int:
    """For the periodic tick: queue again every import that has waited longer than ``older_than``
    seconds (its job was lost, e.g. Redis restarted). Each one waits ``older_than`` again before
    the next try, so a busy worker is not flooded with duplicates."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    waiting = db.session.scalars(select(ContactImport).where(
        ContactImport.status == ContactImport.MAPPED, ContactImport.queued_at < cutoff)).all()
    return sum(requeue(imp) for imp in waiting)


# Where each stage of the job runs on the progress bar: checking rows (parsing phone numbers is
# most of the work) takes roughly the first 60 %, saving them the rest.
STAGE_SPANS = {"waiting": (0, 0), "checking": (0, 60), "saving": (60, 100), "done": (100, 100)}


@dataclass(frozen=True)
class Progress:
    stage: str  # waiting, checking, saving, done
    done: int
    of: int

    @property
    def percent(self) -> int:
        low, high = STAGE_SPANS.get(self.stage, (0, 0))
        return low + (high - low) * self.done // self.of if self.of else low


def progress(imp: ContactImport) -> Progress:
    if imp.status == ContactImport.COMPLETED:
        return Progress("done", imp.total, imp.total)
    state = read_progress(imp.id) or {}
    if imp.status != ContactImport.RUNNING or state.get("stage") not in STAGE_SPANS:
        return Progress("waiting", 0, imp.total)
    return Progress(state["stage"], int(state.get("done", 0)), int(state.get("of", 0)))


def check_stalled(imp: ContactImport) -> bool:
    """A RUNNING import whose job has not reported for a while lost its worker (killed, machine
    gone): its transaction died with it, so nothing was imported. Mark it FAILED so it can be
    started again. When Redis cannot be asked, nothing is concluded."""
    if imp.status != ContactImport.RUNNING:
        return False
    try:
        state = redis_conn().hgetall(PROGRESS_KEY.format(imp.id))
    except RedisError:
        return False
    last = float(state.get(b"at") or 0) or imp.started_at.timestamp()
    if time.time() - last < _stale_seconds():
        return False
    message = ("The import stopped before it finished (its worker was stopped or lost), so nothing was imported. "
               "Start it again.")
    stopped = db.session.execute(ContactImport.fail(imp.id, message, imp.attempts)).rowcount
    db.session.commit()
    db.session.refresh(imp)
    return bool(stopped)


def fail_stalled_imports() -> int:
    """For the periodic tick: every stalled import marked FAILED."""
    running = db.session.scalars(select(ContactImport).where(ContactImport.status == ContactImport.RUNNING)).all()
    return sum(check_stalled(imp) for imp in running)


def set_progress(import_id: str, stage: str, done: int, of: int, at: float | None = None) -> None:
    """What the job is at, for the progress bar; ``at`` is its heartbeat (see :func:`check_stalled`)."""
    try:
        pipe = redis_conn().pipeline()
        key = PROGRESS_KEY.format(import_id)
        pipe.hset(key, mapping={"stage": stage, "done": done, "of": of, "at": time.time() if at is None else at})
        pipe.expire(key, PROGRESS_TTL)
        pipe.execute()
    except RedisError:
        pass  # progress is a courtesy; the import itself does not depend on Redis


def read_progress(import_id: str) -> dict | None:
    try:
        state = redis_conn().hgetall(PROGRESS_KEY.format(import_id))
    except RedisError:
        return None
    return {k.decode(): v.decode() for k, v in state.items()}


def existing_contacts(account_id: str, numbers: list[str]) -> dict[str, dict]:
    """The account's contacts with these numbers, by number: id, number and the imported fields."""
    table = Contact.__table__
    found: dict[str, dict] = {}
    for part in chunks(list(dict.fromkeys(numbers))):
        query = (select(table.c.id, table.c.phone_number, *(table.c[f] for f in WRITTEN))
                 .where(table.c.account_id == account_id, table.c.phone_number.in_(part)))
        found.update((row.phone_number, dict(row._mapping)) for row in db.session.execute(query))
    return found
