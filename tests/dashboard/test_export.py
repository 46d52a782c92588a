"""Exporting contacts and groups as CSV: every role may, only the account's own rows, the list's
filters, cells a spreadsheet cannot run as formulas, phone numbers left intact, and a file our
importer reads back as it was."""
from __future__ import annotations

import csv
import io

import pytest

from app.services import export
from app.services.contacts import create_contact, gdpr_delete
from app.services.groups import add_members, create_group


def rows_of(response) -> list[list[str]]:
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel then reads ø as ø
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def as_dicts(response) -> list[dict]:
    header, *rows = rows_of(response)
    return [dict(zip(header, row)) for row in rows]


# -- formula injection ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, cell", [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
    ("=HYPERLINK(\"http://evil\",\"click\")", "'=HYPERLINK(\"http://evil\",\"click\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("+47 412 34 567", "'+47 412 34 567"),  # not a plain number: protected like any other text
    ("+4741234567", "+4741234567"),  # a plain E.164 number stays exactly as it is
    ("+1", "+1"),
    ("Kari Nordmann", "Kari Nordmann"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (42, "42"),
])
def test_cells_that_would_run_as_formulas_are_protected(value, cell):
    assert export.safe_cell(value) == cell


def test_a_written_file_reads_back_to_the_same_cells():
    text = export.to_csv(["a", "b"], [["=1+2", "+4741234567"], ["line\nbreak", 'quote "x"']])
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [["a", "b"], ["'=1+2", "+4741234567"],
                                                       ["line\nbreak", 'quote "x"']]


# -- contacts ------------------------------------------------------------------------------------

@pytest.fixture
def directory(account, other_account):
    vip = create_group(account, "VIP")
    kari = create_contact(account, {"first_name": "Kari", "last_name": "Nordmann", "phone_number": "+4741234567",
                                    "email": "kari@example.com", "tags": ["vip", "Oslo"], "notes": "=1+1"})
    evil = create_contact(account, {"name": "=HYPERLINK(\"http://evil.example\")", "phone_number": "+4741234568",
                                    "company_name": "@corp"})
    create_contact(account, {"name": "Åse Ødegård", "phone_number": "+4741234569", "tags": ["oslo"]})
    gone = create_contact(account, {"name": "Erased", "phone_number": "+4741234570"})
    gdpr_delete(account, gone.id)
    add_members(account, vip.id, [kari.id, evil.id])
    create_contact(other_account[0], {"name": "Not ours", "phone_number": "+4741234571"})
    return {"vip": vip.id, "kari": kari.id}


@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "viewer"])
def test_every_role_may_export_contacts(login_as, directory, role):
    response = login_as(role).get("/contacts/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="contacts-')
    assert len(as_dicts(response)) == 3


def test_contacts_export_has_the_accounts_contacts_protected_and_numbers_intact(login_as, directory):
    header, *rows = rows_of(login_as("viewer").get("/contacts/export.csv"))
    assert header == ["name", "first_name", "last_name", "company_name", "phone_number", "email", "tags", "notes",
                      "type", "created_at"]
    by_number = {row[4]: dict(zip(header, row)) for row in rows}
    assert list(by_number) == ["+4741234568", "+4741234567", "+4741234569"]  # alphabetical: "=", K, Å
    kari = by_number["+4741234567"]
    assert (kari["name"], kari["tags"], kari["notes"]) == ("Kari Nordmann", "vip, Oslo", "'=1+1")
    assert kari["created_at"].endswith("Z")
    evil = by_number["+4741234568"]
    assert evil["name"] == "'=HYPERLINK(\"http://evil.example\")" and evil["company_name"] == "'@corp"
    assert by_number["+4741234569"]["name"] == "Åse Ødegård"
    assert "Not ours" not in str(rows) and "Erased" not in str(rows)


@pytest.mark.parametrize("query, expected", [
    ("?search=nordmann", {"+4741234567"}),
    ("?search=412%2034%20569", {"+4741234569"}),
    ("?tag=OSLO", {"+4741234567", "+4741234569"}),
    ("?tags=oslo,vip", {"+4741234567"}),
    ("?tag=oslo&tag=vip", {"+4741234567"}),
    ("?type=company", set()),
    ("", {"+4741234567", "+4741234568", "+4741234569"}),
])
def test_contacts_export_takes_the_lists_filters(login_as, directory, query, expected):
    rows = as_dicts(login_as("viewer").get(f"/contacts/export.csv{query}"))
    assert {r["phone_number"] for r in rows} == expected


def test_contacts_export_of_a_group(login_as, directory):
    rows = as_dicts(login_as("viewer").get(f"/contacts/export.csv?group={directory['vip']}"))
    assert {r["phone_number"] for r in rows} == {"+4741234567", "+4741234568"}


def test_another_accounts_group_is_not_found(login_as, directory, other_account):
    theirs = create_group(other_account[0], "Theirs")
    response = login_as("viewer").get(f"/contacts/export.csv?group={theirs.id}")
    assert response.status_code == 404
    assert b"+47" not in response.get_data()


def test_a_big_export_is_streamed(login_as, account):
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Contact, new_id

    db.session.execute(insert(Contact.__table__), [
        {"id": new_id(), "account_id": account.id, "name": f"Person {i:05d}", "phone_number": f"+479{1000000 + i:07d}",
         "tags": []} for i in range(5000)])
    db.session.commit()
    response = login_as("viewer").get("/contacts/export.csv")
    assert "Content-Length" not in response.headers  # streamed, not built in memory first
    rows = as_dicts(response)
    assert len(rows) == 5000 and rows[0]["name"] == "Person 00000" and rows[-1]["name"] == "Person 04999"


def test_exported_contacts_import_back_unchanged(login_as, directory, other_account, run_jobs):
    """The export is a valid import file: same values, the formula protection removed again."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Contact
    from app.services import contact_import as imports

    data = login_as("viewer").get("/contacts/export.csv").get_data()
    target = other_account[0]
    target_id = target.id
    imp = imports.upload(target, None, "export.csv", data)
    assert imp.encoding == "UTF-8 with BOM"
    assert imports.start(target, imp, imp.mapping, "skip", None)
    run_jobs()
    db.session.rollback()
    copied = {c.phone_number: c for c in db.session.scalars(select(Contact).where(Contact.account_id == target_id))}
    assert copied["+4741234568"].name == "=HYPERLINK(\"http://evil.example\")"
    assert copied["+4741234568"].company_name == "@corp"
    kari = copied["+4741234567"]
    assert (kari.name, kari.first_name, kari.last_name, kari.email, kari.tags, kari.notes) == (
        "Kari Nordmann", "Kari", "Nordmann", "kari@example.com", ["vip", "Oslo"], "=1+1")
    assert copied["+4741234569"].name == "Åse Ødegård"


def test_signed_out_visitors_cannot_export(browser, directory):
    for path in ("/contacts/export.csv", "/groups/export.csv"):
        response = browser.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# -- groups --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "manager", "marketer", "viewer"])
def test_every_role_may_export_groups_with_member_counts(login_as, directory, account, other_account, role):
    create_group(account, "-empty", "=cmd")
    create_group(other_account[0], "Not ours")
    response = login_as(role).get("/groups/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="groups-')
    header, *rows = rows_of(response)
    assert header == ["name", "description", "members", "created_at"]
    assert [row[:3] for row in rows] == [["'-empty", "'=cmd", "0"], ["VIP", "", "2"]]


def test_groups_page_links_to_the_groups_export(login_as):
    html = login_as("viewer").get("/groups").get_data(as_text=True)
    assert 'href="/groups/export.csv"' in html
