"""The contact import job, run for real (RQ + Redis): what each row becomes, de-duplication in both
modes, groups, the rejected-rows report, and all-or-nothing when it fails or its worker dies."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select, update

from app.extensions import db, redis_conn
from app.models import Account, Contact, ContactImport, group_members
from app.services import contact_import as imports
from app.services import contact_import_run as job
from app.services.contacts import ContactFilter, create_contact, list_contacts
from app.services.groups import add_members, create_group
from tests.jobs.conftest import wait_until


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+479{1000000 + start + i:07d}" for i in range(count)]


def start_import(account, data: bytes, dedupe: str = "skip", group_id: str | None = None, mapping=None) -> str:
    imp = imports.upload(account, None, "contacts.csv", data)
    assert imports.start(account, imp, mapping or imp.mapping, dedupe, group_id)
    return imp.id


def load(import_id: str) -> ContactImport:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(ContactImport, import_id)


def contacts_by_number(account_id: str) -> dict[str, Contact]:
    db.session.rollback()
    db.session.expire_all()
    return {c.phone_number: c for c in db.session.scalars(select(Contact).where(Contact.account_id == account_id))}


@pytest.fixture
def account_id(account) -> str:
    """The account's id: running a job ends the session, which detaches the ``account`` object."""
    return account.id


def again(account_id: str) -> Account:
    return db.session.get(Account, account_id)


def members_of(group_id: str) -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(group_members.c.contact_id).where(group_members.c.group_id == group_id)))


def report_rows(imp: ContactImport) -> list[dict]:
    assert imp.report.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(imp.report[1:])))


def test_imports_every_valid_row_and_reports_every_rejected_one(account, account_id, run_jobs):
    data = csv_bytes([
        ["Name", "Mobile", "E-mail", "Tags", "Notes"],
        ["Kari Nordmann", "+47 412 34 567", "kari@example.com", "vip, oslo", "likes tulips"],
        ["Ola", "98765432", "", "", ""],                      # national, read in the account's region (NO)
        ["Per", "", "per@example.com", "", ""],              # no number
        ["Bad", "12", "", "", ""],                           # too short
        ["Letters", "+47 4ABC", "", "", ""],
        ["Again", "0047 41234567", "", "", ""],              # Kari's number, written differently
        ["Mail", "+4741234568", "not-an-email", "", ""],
        ["", "+4741234569", "", "", ""],                     # no name: the number is the name
        ["Ragged", "+4741234570", "", "", "", "extra"],
    ])
    import_id = start_import(account, data)
    run_jobs()

    imp = load(import_id)
    assert imp.status == "completed", imp.error
    assert (imp.total, imp.created, imp.updated, imp.skipped, imp.rejected) == (9, 3, 0, 0, 6)
    contacts = contacts_by_number(account_id)
    assert set(contacts) == {"+4741234567", "+4798765432", "+4741234569"}
    kari = contacts["+4741234567"]
    assert (kari.name, kari.email, kari.tags, kari.notes, kari.type) == (
        "Kari Nordmann", "kari@example.com", ["vip", "oslo"], "likes tulips", "person")
    assert contacts["+4741234569"].name == "+4741234569"
    # The hidden search keys are filled, so search and tag filters find imported contacts.
    found = list_contacts(again(account_id), ContactFilter(search="NORDMANN", tags=("VIP",)), 1, 10).items
    assert [c.phone_number for c in found] == ["+4741234567"]

    reasons = {row["row"]: row["reason"] for row in report_rows(imp)}
    assert reasons["4"] == "no phone number"
    assert reasons["5"].startswith("invalid phone number: '12' is too short")
    assert "contains letters" in reasons["6"]
    assert reasons["7"] == "same phone number as row 2"
    assert "not a valid email address" in reasons["8"]
    assert reasons["10"] == "6 values, but the header names 5 columns"
    first = report_rows(imp)[0]
    assert (first["Name"], first["Mobile"]) == ("Per", "")  # the row as it was in the file


def test_existing_numbers_are_skipped_but_still_join_the_group(account, account_id, run_jobs):
    existing_id = create_contact(account, {"name": "Old Name", "phone_number": "+4741234567", "tags": ["keep"]}).id
    group_id = create_group(account, "Newsletter").id
    data = csv_bytes([["name", "phone"], ["New Name", "+4741234567"], ["Fresh", "+4741234568"]])
    import_id = start_import(account, data, dedupe="skip", group_id=group_id)
    run_jobs()

    imp = load(import_id)
    assert (imp.status, imp.created, imp.updated, imp.skipped, imp.rejected) == ("completed", 1, 0, 1, 0)
    contacts = contacts_by_number(account_id)
    assert contacts["+4741234567"].name == "Old Name" and contacts["+4741234567"].tags == ["keep"]
    assert members_of(group_id) == {existing_id, contacts["+4741234568"].id}


def test_update_mode_changes_only_the_values_the_row_has(account, account_id, run_jobs):
    existing = create_contact(account, {"first_name": "Kari", "last_name": "Hansen", "phone_number": "+4741234567",
                                        "email": "kari@old.example", "tags": ["vip"], "notes": "keep me"})
    existing_id, created_at = existing.id, existing.created_at
    group_id = create_group(account, "Customers").id
    add_members(account, group_id, [existing_id])  # already a member: no error, no duplicate
    data = csv_bytes([["first name", "last name", "phone", "email", "notes", "tags"],
                      ["", "Nordmann", "41234567", "kari@new.example", "", "VIP;oslo"]])
    import_id = start_import(account, data, dedupe="update", group_id=group_id)
    run_jobs()

    imp = load(import_id)
    assert (imp.status, imp.created, imp.updated, imp.skipped) == ("completed", 0, 1, 0)
    kari = contacts_by_number(account_id)["+4741234567"]
    assert kari.id == existing_id
    assert (kari.first_name, kari.last_name, kari.name) == ("Kari", "Nordmann", "Kari Nordmann")
    assert (kari.email, kari.notes, kari.tags) == ("kari@new.example", "keep me", ["vip", "oslo"])
    assert kari.updated_at > created_at
    assert [c.id for c in list_contacts(again(account_id), ContactFilter(search="nordmann", tags=("oslo",)), 1, 10).items] == [kari.id]
    assert members_of(group_id) == {existing_id}


def test_duplicates_within_the_file_keep_the_first_row(account, account_id, run_jobs):
    data = csv_bytes([["name", "phone"], ["First", "+4741234567"], ["Second", "+47 41 23 45 67"],
                      ["Third", "004741234567"]])
    import_id = start_import(account, data, dedupe="update")
    run_jobs()
    imp = load(import_id)
    assert (imp.created, imp.updated, imp.rejected) == (1, 0, 2)
    assert contacts_by_number(account_id)["+4741234567"].name == "First"
    assert {r["reason"] for r in report_rows(imp)} == {"same phone number as row 2"}


def test_company_rows_and_windows_1252_files(account, account_id, run_jobs):
    data = csv_bytes([["Firma", "Fornavn", "Etternavn", "Mobil"], ["Ødegård AS", "", "", "41234567"],
                      ["", "Åse", "Ærø", "41234568"]], delimiter=";", encoding="cp1252")
    import_id = start_import(account, data)
    run_jobs()
    imp = load(import_id)
    assert (imp.encoding, imp.delimiter, imp.created) == ("Windows-1252", ";", 2)
    contacts = contacts_by_number(account_id)
    company = contacts["+4741234567"]
    assert (company.type, company.name, company.company_name) == ("company", "Ødegård AS", "Ødegård AS")
    assert contacts["+4741234568"].name == "Åse Ærø"


def test_other_accounts_are_untouched(account, account_id, other_account, run_jobs):
    stranger_id = create_contact(other_account[0], {"name": "Theirs", "phone_number": "+4741234567"}).id
    import_id = start_import(account, csv_bytes([["name", "phone"], ["Mine", "+4741234567"]]), dedupe="update")
    run_jobs()
    assert load(import_id).created == 1
    db.session.expire_all()
    assert db.session.get(Contact, stranger_id).name == "Theirs"
    assert contacts_by_number(account_id)["+4741234567"].name == "Mine"


def test_a_failure_after_the_first_chunk_leaves_nothing_behind_and_a_retry_imports_all(
        account, account_id, run_jobs, monkeypatch):
    group_id = create_group(account, "All").id
    monkeypatch.setattr(job, "CHUNK_ROWS", 10)
    original, calls = job._store, []

    def store_then_fail(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        original(*args)

    monkeypatch.setattr(job, "_store", store_then_fail)
    data = csv_bytes([["name", "phone"], *([f"P{i}", n] for i, n in enumerate(numbers(35)))])
    import_id = start_import(account, data, group_id=group_id)
    run_jobs()

    imp = load(import_id)
    assert len(calls) == 2  # the first chunk was written (in the transaction), then it failed
    assert imp.status == "failed"
    assert "nothing was imported" in imp.error and "RuntimeError" in imp.error
    assert contacts_by_number(account_id) == {}
    assert members_of(group_id) == set()
    assert (imp.created, imp.rejected) == (0, 0)

    monkeypatch.setattr(job, "_store", original)
    assert imports.start(again(account_id), imp, imp.mapping, "skip", group_id)
    run_jobs()
    imp = load(import_id)
    assert (imp.status, imp.created, imp.attempts, imp.error) == ("completed", 35, 2, None)
    assert len(members_of(group_id)) == 35


def test_progress_is_reported_through_redis_while_the_transaction_is_open(account, account_id, run_jobs, monkeypatch):
    monkeypatch.setattr(job, "CHUNK_ROWS", 10)
    seen = []
    original = job.set_progress

    def spy(import_id, stage, done, of, at=None):
        original(import_id, stage, done, of, at)
        state = imports.read_progress(import_id)
        seen.append((state["stage"], int(state["done"]), int(state["of"])))

    monkeypatch.setattr(job, "set_progress", spy)
    rows = [[n] for n in numbers(24)] + [["12"]]  # one row rejected: 24 to save
    import_id = start_import(account, csv_bytes([["phone"], *rows]))
    run_jobs()
    assert seen == [("checking", 0, 25), ("checking", 10, 25), ("checking", 20, 25), ("saving", 0, 24),
                    ("saving", 10, 24), ("saving", 20, 24), ("saving", 24, 24)]
    assert [imports.Progress(*s).percent for s in seen] == [0, 24, 48, 60, 76, 93, 100]
    imp = load(import_id)
    assert imports.progress(imp) == imports.Progress("done", 25, 25)


def test_a_second_job_for_the_same_import_finds_nothing_to_do(account, account_id, run_jobs):
    import_id = start_import(account, csv_bytes([["phone"], *([n] for n in numbers(5))]))
    imp = load(import_id)
    assert imports.requeue(imp)  # two jobs queued for one import
    run_jobs()
    imp = load(import_id)
    assert (imp.status, imp.created, imp.attempts) == ("completed", 5, 1)
    assert len(contacts_by_number(account_id)) == 5


def test_an_attempt_taken_over_meanwhile_undoes_its_work(account, account_id, monkeypatch, run_jobs):
    """A job presumed dead (its import was marked failed and started again) that then finishes
    must not complete the import: its transaction is rolled back."""
    original = job._store

    def taken_over(imp, *args):
        with db.engine.begin() as conn:  # another process: marks it failed, then claims it again
            conn.execute(update(ContactImport).where(ContactImport.id == imp.id)
                         .values(attempts=ContactImport.attempts + 1))
        original(imp, *args)

    monkeypatch.setattr(job, "_store", taken_over)
    import_id = start_import(account, csv_bytes([["phone"], *([n] for n in numbers(3))]))
    run_jobs()
    imp = load(import_id)
    assert imp.status == "running" and imp.created == 0
    assert contacts_by_number(account_id) == {}


def test_a_running_import_without_a_heartbeat_is_failed_and_can_be_run_again(account, account_id, app, monkeypatch, run_jobs):
    imp = imports.upload(account, None, "c.csv", csv_bytes([["phone"], *([n] for n in numbers(3))]))
    imp.start({"phone_number": 0}, "skip", None)
    db.session.commit()
    db.session.execute(ContactImport.claim(imp.id))
    db.session.commit()
    db.session.refresh(imp)
    imports.set_progress(imp.id, "checking", 0, 3)  # the job started, reported once, then its worker died

    assert imports.check_stalled(imp) is False  # it reported just now
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_STALE_SECONDS", 0)
    assert imports.fail_stalled_imports() == 1
    imp = load(imp.id)
    assert imp.status == "failed" and "stopped before it finished" in imp.error

    assert imports.start(again(account_id), imp, imp.mapping, "skip", None)
    import_id = imp.id
    run_jobs()
    assert load(import_id).created == 3


def test_without_redis_nothing_is_concluded_about_a_running_import(account, account_id, app, monkeypatch, redis_server):
    imp = imports.upload(account, None, "c.csv", csv_bytes([["phone"], numbers(1)]))
    imp.start({"phone_number": 0}, "skip", None)
    db.session.commit()
    db.session.execute(ContactImport.claim(imp.id))
    db.session.commit()
    db.session.refresh(imp)
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_STALE_SECONDS", 0)
    monkeypatch.setattr(redis_conn(), "hgetall", _raise_redis_error)
    assert imports.check_stalled(imp) is False
    assert load(imp.id).status == "running"


def _raise_redis_error(*_args, **_kwargs):
    from redis.exceptions import ConnectionError

    raise ConnectionError("down")


@pytest.mark.parametrize("rows", [30_000])
def test_killing_the_worker_mid_import_leaves_nothing_and_a_retry_completes(
        account, account_id, app, start_worker, monkeypatch, run_jobs, rows):
    """A real worker process, SIGKILLed while its transaction is half written."""
    import_id = start_import(account, csv_bytes([["name", "phone"], *([f"P{i}", n] for i, n in enumerate(numbers(rows)))]))
    worker = start_worker()

    def half_way():
        state = imports.read_progress(import_id) or {}
        return state.get("stage") == "saving" and int(state.get("done", 0)) >= 2000

    wait_until(half_way, timeout=60, interval=0.01, what="the import to be under way")
    worker.kill()
    assert load(import_id).status == "running"
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0

    monkeypatch.setitem(app.config, "CONTACT_IMPORT_STALE_SECONDS", 0)
    imp = load(import_id)
    assert imports.check_stalled(imp)
    assert imports.start(again(account_id), imp, imp.mapping, "skip", None)
    run_jobs()
    imp = load(import_id)
    assert (imp.status, imp.created, imp.attempts) == ("completed", rows, 2)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == rows


def test_an_import_whose_job_was_lost_is_queued_again_by_the_sweep(account, account_id, monkeypatch, run_jobs):
    from redis.exceptions import ConnectionError

    from app.jobs import queue

    def redis_down():
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(queue, "get_queue", redis_down)
    imp = imports.upload(account, None, "c.csv", csv_bytes([["phone"], *([n] for n in numbers(4))]))
    import_id = imp.id
    assert imports.start(account, imp, imp.mapping, "skip", None) is False  # saved, not queued
    assert load(import_id).status == "mapped"
    monkeypatch.undo()

    assert imports.requeue_waiting_imports(older_than=60) == 0  # not waiting long enough yet
    assert imports.requeue_waiting_imports(older_than=0) == 1
    run_jobs()
    imp = load(import_id)
    assert (imp.status, imp.created) == ("completed", 4)
    assert imports.requeue_waiting_imports(older_than=0) == 0
