"""The contact import job: every row of the file checked, then all of it written in ONE transaction.

1. Check: every row read and validated (``import_rows``); reading phone numbers is most of the
   work. Nothing is written yet.
2. Look up which of the file's numbers the account has already, all of them before anything is
   written. (Asked between our own inserts, PostgreSQL plans the lookups on statistics that do
   not know about the rows just inserted and filters all of them for every chunk: quadratic.)
3. Save: new contacts inserted, existing ones updated or left alone, all of them added to the
   group, in chunks of Core bulk statements (no ORM object per row); then the import's counts
   and report, and one commit.

A failure anywhere rolls everything back and records the error on the import; a killed worker
takes its uncommitted transaction with it. Either way nothing of the file is left behind, and
the import can simply be run again.
"""
from __future__ import annotations

import logging

from sqlalchemy import Table, bindparam, insert, update

from app.extensions import db
from app.models import Account, Contact, ContactImport, group_members, new_id, utcnow
from app.models.contact import search_text_of, tag_keys_of
from app.models.contact_import import COUNTS
from app.services import audit, csv_files
from app.services.contact_import import existing_contacts, set_progress
from app.services.contacts import insert_ignoring_duplicates
from app.services.errors import ServiceError
from app.services.export import to_csv
from app.services.import_rows import WRITTEN, Rejected, check_repeat, contact_fields, merged, new_name

log = logging.getLogger(__name__)

CHUNK_ROWS = 2000  # rows per progress report and per bulk statement


def run(import_id: str) -> dict | None:
    """Claim the import and write all of it in one transaction. Returns the counts, or None when
    another job has it (or had it). A failure is recorded on the import and raised again."""
    claimed = db.session.execute(ContactImport.claim(import_id)).rowcount
    db.session.commit()
    if not claimed:
        log.info("contact import %s: not waiting to be run; nothing to do", import_id)
        return None
    imp = db.session.get(ContactImport, import_id)
    db.session.refresh(imp)
    attempt = imp.attempts
    set_progress(import_id, "checking", 0, imp.total)
    try:
        counts, report = _import(imp)
        finished = db.session.execute(ContactImport.finish(import_id, attempt, counts, report)).rowcount
        if not finished:  # marked failed as stalled meanwhile, and perhaps running again
            db.session.rollback()
            log.warning("contact import %s: attempt %s was taken over; its work is undone", import_id, attempt)
            return None
        audit.record(imp.account_id, "contact_import.finished", "contact_import", import_id, **counts)
        db.session.commit()
        return counts
    except Exception as exc:
        db.session.rollback()
        db.session.execute(ContactImport.fail(import_id, failure_message(exc), attempt))
        db.session.commit()
        raise


def failure_message(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return f"{exc.message} Nothing was imported."
    return (f"The import failed ({type(exc).__name__}), so nothing was imported. Try again; if it fails again, "
            "tell your administrator.")


class _Run:
    """One run of one import: its counts and rejected rows so far."""

    def __init__(self, imp: ContactImport) -> None:
        self.imp = imp
        self.account = db.session.get(Account, imp.account_id)
        self.counts = dict.fromkeys(COUNTS, 0)
        self.rejected: list[list] = []

    def reject(self, number: int, reason: str, cells: list[str]) -> None:
        self.counts["rejected"] += 1
        self.rejected.append([number, reason, *cells])


def _import(imp: ContactImport) -> tuple[dict, str | None]:
    state = _Run(imp)
    accepted = _check(state)
    existing = existing_contacts(imp.account_id, [values["phone_number"] for _, _, values in accepted])
    for start in range(0, len(accepted), CHUNK_ROWS):
        _save(state, accepted[start:start + CHUNK_ROWS], existing)
        set_progress(imp.id, "saving", min(start + CHUNK_ROWS, len(accepted)), len(accepted))
    state.rejected.sort(key=lambda row: row[0])
    report = to_csv(["row", "reason", *imp.columns], state.rejected) if state.rejected else None
    return state.counts, report


def _check(state: _Run) -> list[tuple[int, list[str], dict]]:
    """``(row number, cells, contact values)`` of every acceptable row; the others are rejected."""
    imp, account = state.imp, state.account
    rows = csv_files.rows(csv_files.decode(imp.content).text, imp.delimiter)
    next(rows, None)  # the header
    accepted, seen, width = [], {}, len(imp.columns)
    for checked, (number, cells) in enumerate(rows, start=1):
        try:
            values = contact_fields(account, cells, imp.mapping, width)
            check_repeat(seen, values["phone_number"], number)
        except Rejected as exc:
            state.reject(number, exc.reason, cells)
        else:
            accepted.append((number, cells, values))
        if checked % CHUNK_ROWS == 0:
            set_progress(imp.id, "checking", checked, imp.total)
    set_progress(imp.id, "saving", 0, len(accepted))
    return accepted


def _save(state: _Run, batch: list[tuple[int, list[str], dict]], existing: dict[str, dict]) -> None:
    imp, now = state.imp, utcnow()
    new_rows, changes, members = [], [], []
    for number, cells, values in batch:
        found = existing.get(values["phone_number"])
        if found is None:
            new_rows.append(_new_row(imp.account_id, values, now))
            members.append(new_rows[-1]["id"])
            continue
        if imp.dedupe == "update":
            try:
                changes.append(_change(found, merged(found, values), now))
            except Rejected as exc:
                state.reject(number, exc.reason, cells)
                continue
        members.append(found["id"])
    _store(imp, new_rows, changes, members, now)
    state.counts["created"] += len(new_rows)
    state.counts["updated"] += len(changes)
    state.counts["skipped"] += len(members) - len(new_rows) - len(changes)


def _new_row(account_id: str, values: dict, now) -> dict:
    row = {f: values[f] for f in WRITTEN}
    row.update(id=new_id(), account_id=account_id, phone_number=values["phone_number"], name=new_name(values),
               created_at=now, updated_at=now)
    return _with_keys(row)


def _change(found: dict, values: dict, now) -> dict:
    row = _with_keys({**values, "phone_number": found["phone_number"], "updated_at": now})
    del row["phone_number"]  # only needed for the search keys; the number is what matched
    return {**row, "_id": found["id"]}


def _with_keys(row: dict) -> dict:
    # Core statements skip the model's ORM hooks, so the derived search keys are written here.
    row["search_text"] = search_text_of(row)
    row["tag_keys"] = tag_keys_of(row["tags"])
    return row


def _store(imp: ContactImport, new_rows: list[dict], changes: list[dict], members: list[str], now) -> None:
    table = Contact.__table__
    bulk_insert(table, new_rows)
    if changes:
        # Executed with many parameter sets: the SET clause is every column the rows name.
        db.session.execute(update(table).where(table.c.id == bindparam("_id")), changes)
    if imp.group_id and members:
        # A new contact cannot be a member yet; an existing one may be already.
        new = {row["id"] for row in new_rows}
        rows = [{"group_id": imp.group_id, "contact_id": cid, "added_at": now} for cid in members]
        bulk_insert(group_members, [r for r in rows if r["contact_id"] in new])
        insert_ignoring_duplicates(group_members, [r for r in rows if r["contact_id"] not in new])


def bulk_insert(table: Table, rows: list[dict]) -> None:
    """INSERT rows that are known to be new, in this transaction. On PostgreSQL with COPY, which
    takes a fraction of the server's and our time per row that an INSERT per row does; elsewhere
    (SQLite, where inserts are cheap anyway) with one executemany."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    # The columns' own bind processing (JSON to text, aware UTC datetimes to naive UTC ...).
    convert = [table.c[c].type._cached_bind_processor(connection.dialect) for c in columns]
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    with connection.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([f(row[c]) if f else row[c] for c, f in zip(columns, convert)])
