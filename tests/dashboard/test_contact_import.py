"""Importing contacts from CSV in the dashboard: reading files as spreadsheets write them (and
saying clearly what is wrong with the ones we cannot read), guessing the mapping, the preview,
starting and watching the job, the rejected-rows download, roles, CSRF and tenant isolation."""
from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Contact, ContactImport, utcnow
from app.services import contact_import as imports
from app.services import csv_files
from app.services.contacts import create_contact
from app.services.errors import Invalid
from app.services.groups import create_group
from tests.dashboard.conftest import full_page, htmx_fragment

SIMPLE = b"name,phone,email\nKari Nordmann,+4741234567,kari@example.com\nOla,98765432,\n"


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue()


def upload(browser, data: bytes, filename: str = "contacts.csv", **kwargs):
    return browser.post("/contacts/import", {"file": (io.BytesIO(data), filename)},
                        content_type="multipart/form-data", **kwargs)


def uploaded_id(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = re.fullmatch(r"/contacts/import/([0-9a-f-]{36})", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def imports_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(ContactImport))


def contacts_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Contact))


def fresh_import(import_id: str) -> ContactImport:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(ContactImport, import_id)


@pytest.fixture
def marketer(login_as):
    return login_as("marketer")


# -- reading files: a table of what spreadsheets write ---------------------------------------------

ROWS = [["Name", "Phone", "Notes"], ["Kari Nordmann", "+4741234567", "Likes æøå"], ["Ola", "98765432", ""]]


@pytest.mark.parametrize("data, encoding, delimiter", [
    (csv_text(ROWS).encode(), "UTF-8", ","),
    (csv_text(ROWS, ";").encode(), "UTF-8", ";"),
    (csv_text(ROWS, "\t").encode(), "UTF-8", "\t"),
    (codecs.BOM_UTF8 + csv_text(ROWS, ";").encode(), "UTF-8 with BOM", ";"),
    (csv_text(ROWS, ";").encode("cp1252"), "Windows-1252", ";"),
    (csv_text(ROWS, "\t").encode("utf-16"), "UTF-16", "\t"),  # Excel's "Unicode text"
    (csv_text(ROWS).replace("\r\n", "\r").encode(), "UTF-8", ","),  # old Mac line ends
    (csv_text(ROWS).replace("\r\n", "\n").encode(), "UTF-8", ","),
])
def test_reads_files_as_spreadsheets_write_them(data, encoding, delimiter):
    found = csv_files.read(data)
    assert (found.decoded.encoding, found.delimiter) == (encoding, delimiter)
    assert found.columns == ["Name", "Phone", "Notes"] and found.total == 2
    rows = list(csv_files.rows(found.decoded.text, found.delimiter))
    assert rows[1] == (2, ["Kari Nordmann", "+4741234567", "Likes æøå"])
    assert (found.decoded.notice is not None) == (encoding == "Windows-1252")


def test_a_file_that_is_not_utf8_says_how_it_was_read():
    notice = csv_files.read("name,phone\nÅse,41234567\n".encode("cp1252")).decoded.notice
    assert "not UTF-8" in notice and "Windows-1252" in notice and "CSV UTF-8" in notice


def test_quoted_values_may_hold_separators_quotes_and_line_breaks():
    data = b'name;phone;notes\n"Nordmann; Kari";41234567;"line one\nline two ""quoted"""\nOla;41234568;x\n'
    found = csv_files.read(data)
    assert found.delimiter == ";" and found.total == 2
    rows = list(csv_files.rows(found.decoded.text, ";"))
    assert rows[1] == (2, ["Nordmann; Kari", "41234567", 'line one\nline two "quoted"'])
    assert rows[2][0] == 3  # a value over two lines is still one spreadsheet row


def test_blank_lines_are_skipped_but_counted_as_spreadsheet_rows():
    found = csv_files.read(b"name,phone\n\nKari,41234567\n , \nOla,41234568\n")
    assert found.total == 2
    assert [n for n, _ in csv_files.rows(found.decoded.text, ",")] == [1, 3, 5]


def test_header_names_are_trimmed_made_unique_and_never_blank():
    found = csv_files.read(b" Phone ,phone,,Name\n41234567,41234568,x,Kari\n")
    assert found.columns == ["Phone", "phone (2)", "Column 3", "Name"]


def test_fifty_columns_are_fine():
    header = [f"col{i}" for i in range(48)] + ["name", "phone"]
    row = [f"v{i}" for i in range(48)] + ["Kari", "41234567"]
    found = csv_files.read(csv_text([header, row]).encode())
    assert len(found.columns) == 50
    assert csv_files.guess_mapping(found.columns) == {"phone_number": 49, "name": 48}


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty"),
    (b"   \r\n\r\n", "The file is empty"),
    (codecs.BOM_UTF8, "The file is empty"),
    (b"name,phone\n", "has a header row but no contacts"),
    (b"name,phone\n\n\n", "has a header row but no contacts"),
    (b"41234567,Kari\n41234568,Ola\n", "The first row should name the columns"),
    (",".join(f"c{i}" for i in range(101)).encode() + b"\n" + b"1," * 100 + b"1\n", "The file has 101 columns; at most 100"),
    (b"PK\x03\x04\x14\x00\x06\x00rest of a zip", "This is an Excel or OpenDocument workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", "This is an old Excel workbook (.xls)"),
    (b"%PDF-1.7 ...", "This is a PDF document"),
    (bytes(range(256)) * 20, "does not look like a CSV file (it contains binary data)"),
    (b"name,phone\nKari,\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17",
     "does not look like a CSV file"),
    (b'name,phone,notes\nKari,41234567,"never closed\nOla,41234568,x\n', 'Row 2 has a quote (") that is never closed'),
    (b"name,phone\n" + b"Kari,41234567\n" * 1000 + b"Ola,\x004123\n", "does not look like a CSV file"),
    (b'name,notes\nKari,"' + b"x" * 200_000 + b'"\n', "a value is longer than 131,072 characters"),
])
def test_files_we_cannot_read_get_a_clear_message(data, message):
    with pytest.raises(Invalid) as exc:
        csv_files.read(data)
    assert message in exc.value.message


def test_too_many_rows_get_a_clear_message(monkeypatch):
    monkeypatch.setattr(csv_files, "MAX_ROWS", 3)
    with pytest.raises(Invalid, match="more than 3 contacts. Split it"):
        csv_files.read(b"phone\n" + b"41234567\n" * 4)


def test_ragged_rows_are_read_as_they_are():
    found = csv_files.read(b"name,phone,notes\nKari,41234567\nOla,41234568,x,y\n")
    assert found.total == 2
    assert [r for _, r in csv_files.rows(found.decoded.text, ",")][1:] == [["Kari", "41234567"], ["Ola", "41234568", "x", "y"]]


def test_a_value_our_export_protected_is_read_back_as_it_was():
    assert csv_files.unescape("'=SUM(A1)") == "=SUM(A1)"
    assert csv_files.unescape("'-5") == "-5"
    assert csv_files.unescape("'quoted'") == "'quoted'"  # not a protected formula: kept
    assert csv_files.unescape("+4741234567") == "+4741234567"


# -- guessing the mapping ------------------------------------------------------------------------

@pytest.mark.parametrize("columns, expected", [
    (["Name", "Phone", "Email"], {"name": 0, "phone_number": 1, "email": 2}),
    (["name", "first_name", "last_name", "company_name", "phone_number", "email", "tags", "notes", "type",
      "created_at"],  # our own export
     {"name": 0, "first_name": 1, "last_name": 2, "company_name": 3, "phone_number": 4, "email": 5, "tags": 6,
      "notes": 7}),
    (["Fornavn", "Etternavn", "Mobilnummer", "E-post", "Firma"],
     {"first_name": 0, "last_name": 1, "phone_number": 2, "email": 3, "company_name": 4}),
    (["Förnamn", "Efternamn", "Telefonnummer", "Företag", "Anteckningar"],
     {"first_name": 0, "last_name": 1, "phone_number": 2, "company_name": 3, "notes": 4}),
    (["Customer ID", "Full name", "Mobile phone (work)", "Work e-mail address", "Labels"],
     {"name": 1, "phone_number": 2, "email": 3, "tags": 4}),
    (["MSISDN"], {"phone_number": 0}),
    (["foo", "bar"], {}),
    (["Phone", "Phone (2)"], {"phone_number": 0}),
])
def test_mapping_is_guessed_from_the_header(columns, expected):
    assert csv_files.guess_mapping(columns) == expected


# -- the upload page -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "marketer"])
def test_importers_see_the_upload_page(login_as, role):
    html = full_page(login_as(role).get("/contacts/import"))
    assert 'id="import-upload"' in html and 'enctype="multipart/form-data"' in html
    assert "Up to 20 MB" in html and "No imports yet." in html


def test_htmx_get_returns_the_list_of_imports(marketer):
    uploaded_id(upload(marketer, SIMPLE, "first.csv"))
    html = htmx_fragment(marketer.get("/contacts/import", htmx=True))
    assert html.lstrip().startswith('<tbody id="import-rows"')
    assert "first.csv" in html and "choose columns" in html and 'id="import-upload"' not in html


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_viewers_and_managers_may_not_import(login_as, account, role):
    browser = login_as(role)
    assert browser.get("/contacts/import").status_code == 403
    assert upload(browser, SIMPLE).status_code == 403
    imp = imports.upload(account, None, "c.csv", SIMPLE)
    for path in ("", "/rejected.csv"):
        assert browser.get(f"/contacts/import/{imp.id}{path}").status_code == 403
    for action in ("start", "requeue", "delete"):
        assert browser.post(f"/contacts/import/{imp.id}/{action}", {"phone_number": "1"}).status_code == 403
    assert fresh_import(imp.id).status == "uploaded"
    assert imports_count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(browser):
    response = browser.get("/contacts/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_upload_leads_to_the_mapping_with_guesses_and_a_preview(marketer, account):
    create_contact(account, {"name": "Known", "phone_number": "+4798765432"})
    import_id = uploaded_id(upload(marketer, SIMPLE))
    html = full_page(marketer.get(f"/contacts/import/{import_id}"))
    assert "2 rows · 3 columns · comma separated · UTF-8" in html
    assert re.search(r'<select id="phone_number" name="phone_number">.*?<option selected value="1">phone</option>',
                     html, re.S)
    assert re.search(r'<select id="email" name="email">.*?<option selected value="2">email</option>', html, re.S)
    assert re.search(r'<select id="notes" name="notes"><option selected value="">', html)
    preview = html[html.index('id="import-preview"'):]
    assert "+4741234567" in preview and "New contact" in preview
    assert "+4798765432" in preview and "Already a contact: skipped" in preview
    assert "Import 2 rows" in html
    imp = fresh_import(import_id)
    assert (imp.status, imp.filename, imp.total, imp.user_id) == ("uploaded", "contacts.csv", 2, marketer.user.id)


def test_a_rejected_row_is_previewed_as_written_with_its_reason(marketer):
    import_id = uploaded_id(upload(marketer, b"name,phone\nAda Lovelace,+4741234567\nHakon Berg,12 34\n"))
    html = full_page(marketer.get(f"/contacts/import/{import_id}"))
    preview = html[html.index('id="import-preview"'):]
    rejected = preview[preview.index('class="preview-rejected"'):]
    assert "Hakon Berg" in rejected and "12 34" in rejected and "too short" in rejected


def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_kept(marketer):
    response = upload(marketer, b"name,phone\n")
    assert response.status_code == 422
    html = full_page(response)
    assert '<p class="error" id="file-error">The file has a header row but no contacts below it.</p>' in html
    assert imports_count() == 0


def test_no_file_chosen(marketer):
    response = marketer.post("/contacts/import", {}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to import." in response.get_data(as_text=True)


def test_a_file_over_the_limit_is_refused_before_it_is_read(marketer, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_MAX_BYTES", 1000)
    response = upload(marketer, b"phone\n" + b"41234567\n" * 20_000)
    assert response.status_code == 413
    html = full_page(response)
    assert "The file is 0.2 MB; files of up to 0 MB can be imported. Split it into smaller files." in html
    assert 'id="import-upload"' in html
    assert imports_count() == 0


def test_a_file_over_the_limit_that_fits_in_the_request_is_refused_too(marketer, app, monkeypatch):
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_MAX_BYTES", 1000)
    response = upload(marketer, b"phone\n" + b"41234567\n" * 200)  # 1.8 KB: within the form overhead
    assert response.status_code == 422
    assert "files of up to 0 MB can be imported" in response.get_data(as_text=True)
    assert imports_count() == 0


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_a_file_over_the_limit_from_a_non_importer_is_still_refused_as_forbidden(login_as, app, monkeypatch, role):
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_MAX_BYTES", 1000)
    response = upload(login_as(role), b"phone\n" + b"41234567\n" * 20_000)
    assert response.status_code == 403


def test_other_dashboard_forms_keep_the_usual_body_limit(marketer, app):
    response = marketer.post("/contacts", {"name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert response.status_code == 413
    assert imports_count() == 0


def test_a_file_just_under_the_limit_but_over_the_api_body_limit_is_accepted(marketer, app):
    # The app's request limit (MAX_BODY_BYTES, 1 MB) is for API calls; an upload may be larger.
    assert app.config["MAX_CONTENT_LENGTH"] < 3 * 1024 * 1024
    rows = "".join(f"Person {i},+479{1000000 + i:07d}\n" for i in range(110_000))
    data = ("name,phone\n" + rows).encode()
    assert len(data) > 2 * app.config["MAX_CONTENT_LENGTH"]
    import_id = uploaded_id(upload(marketer, data, "big.csv"))
    assert fresh_import(import_id).total == 110_000


def test_upload_needs_the_csrf_token(marketer):
    response = upload(marketer, SIMPLE, csrf=False)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert imports_count() == 0


@pytest.mark.parametrize("sent, kept", [
    ("../../etc/Kunder 2024.csv", "Kunder 2024.csv"),
    ("kun\x00der\t.csv", "kunder.csv"),
])
def test_upload_keeps_only_the_file_name(marketer, sent, kept):
    import_id = uploaded_id(upload(marketer, SIMPLE, sent))
    assert fresh_import(import_id).filename == kept


# -- mapping, preview, start -------------------------------------------------------------------------

def test_the_preview_follows_the_mapping_being_chosen(marketer):
    import_id = uploaded_id(upload(marketer, b"a,b\n41234567,not a number\n"))
    html = full_page(marketer.get(f"/contacts/import/{import_id}"))
    assert "Choose the column with the phone numbers to see a preview." in html  # nothing guessed

    response = marketer.get(f"/contacts/import/{import_id}?phone_number=0&name=1&dedupe=skip&group_id=", htmx=True)
    fragment = htmx_fragment(response)
    assert fragment.lstrip().startswith('<section id="import-state"')
    assert "+4741234567" in fragment and "not a number" in fragment and "New contact" in fragment

    fragment = htmx_fragment(marketer.get(f"/contacts/import/{import_id}?phone_number=1", htmx=True))
    assert "Rejected" in fragment and "invalid phone number: &#39;not a number&#39; contains letters" in fragment


def test_start_runs_the_import_and_the_page_follows_it_to_the_end(marketer, account, run_jobs):
    group_id = create_group(account, "Spring campaign").id
    data = b"name;mobil\nKari;41234567\nOla;12\nPer;\n"
    import_id = uploaded_id(upload(marketer, data))
    response = marketer.post(f"/contacts/import/{import_id}/start",
                             {"phone_number": "1", "name": "0", "dedupe": "update", "group_id": group_id})
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/import/{import_id}"
    imp = fresh_import(import_id)
    assert (imp.status, imp.mapping, imp.dedupe, imp.group_id) == ("mapped", {"phone_number": 1, "name": 0},
                                                                    "update", group_id)
    waiting = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert 'hx-trigger="every 1s"' in waiting and "Waiting for a worker" in waiting

    run_jobs()
    done = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert "hx-trigger" not in done  # the polling stops
    assert re.search(r"New contacts</dt><dd class=\"figure\">1<", done)
    assert re.search(r"Rejected</dt><dd class=\"figure\">2<", done)
    assert f'href="/contacts/import/{import_id}/rejected.csv"' in done
    assert contacts_count() == 1

    report = marketer.get(f"/contacts/import/{import_id}/rejected.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert 'attachment; filename=contacts-rejected-rows.csv' in report.headers["Content-Disposition"]
    text = report.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "reason", "name", "mobil"]
    assert rows[1][:3] == ["3", "invalid phone number: '12' is too short", "Ola"]
    assert rows[2] == ["4", "no phone number", "Per", ""]

    listing = full_page(marketer.get("/contacts/import"))
    assert "completed" in listing and f"/contacts/import/{import_id}/rejected.csv" in listing


def test_the_page_shows_progress_while_the_job_runs(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    with db.engine.begin() as conn:  # the job claimed it and has written half of the rows
        conn.execute(ContactImport.claim(import_id))
    html = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert "Starting… 0 % done" in html
    imports.set_progress(import_id, "checking", 1, 2)
    html = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert 'hx-trigger="every 1s"' in html
    assert "Checking rows… 1 of 2 · 30 % done" in html and '<progress max="100" value="30"' in html
    imports.set_progress(import_id, "saving", 1, 2)
    html = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert "Saving contacts… 1 of 2 · 80 % done" in html
    page = full_page(marketer.get(f"/contacts/import/{import_id}"))
    assert '<section id="import-state" class="import-state" hx-get=' in page


def test_a_stalled_import_shows_as_failed_and_can_be_started_again(marketer, app, monkeypatch, run_jobs):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    with db.engine.begin() as conn:
        conn.execute(ContactImport.claim(import_id))
    monkeypatch.setitem(app.config, "CONTACT_IMPORT_STALE_SECONDS", 0)
    html = full_page(marketer.get(f"/contacts/import/{import_id}"))
    assert "The import stopped before it finished" in html and "nothing was imported" in html
    assert 'id="import-mapping"' in html  # the mapping again, to start it once more
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"}, htmx=True)
    assert "Waiting for a worker" in htmx_fragment(response)
    run_jobs()
    assert fresh_import(import_id).status == "completed" and contacts_count() == 2


@pytest.mark.parametrize("htmx", [False, True])
def test_start_without_a_phone_column_is_refused(marketer, htmx):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "", "name": "0",
                                                                      "dedupe": "skip"}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert '<p class="error" id="phone_number-error">Choose the column that holds the phone numbers.</p>' in html
    assert fresh_import(import_id).status == "uploaded"
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<section id="import-state"')


def test_start_refuses_a_column_used_twice(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "name": "1",
                                                                      "dedupe": "skip"})
    assert response.status_code == 422
    assert "Column &#39;phone&#39; is chosen for more than one field" in response.get_data(as_text=True)


def test_start_refuses_another_accounts_group(marketer, other_account):
    theirs = create_group(other_account[0], "Theirs").id
    import_id = uploaded_id(upload(marketer, SIMPLE))
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip",
                                                                      "group_id": theirs})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    assert fresh_import(import_id).status == "uploaded"


def test_start_needs_the_csrf_token(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"},
                             csrf=False)
    assert response.status_code == 400
    assert fresh_import(import_id).status == "uploaded"


def test_a_started_import_cannot_be_started_twice(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    response = marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "0", "dedupe": "update"})
    assert response.status_code == 303
    assert "This import is mapped already." in marketer.get(response.headers["Location"]).get_data(as_text=True)
    assert fresh_import(import_id).mapping["phone_number"] == 1


def test_requeue_a_waiting_import(marketer, run_jobs):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    assert "No worker has started it yet" not in marketer.get(f"/contacts/import/{import_id}").get_data(as_text=True)
    with db.engine.begin() as conn:  # queued a minute ago, and no worker took it
        conn.execute(update(ContactImport).where(ContactImport.id == import_id)
                     .values(queued_at=utcnow() - timedelta(minutes=1)))
    html = htmx_fragment(marketer.get(f"/contacts/import/{import_id}", htmx=True))
    assert "No worker has started it yet" in html and "Queue it again" in html
    assert marketer.post(f"/contacts/import/{import_id}/requeue", htmx=True).headers["HX-Location"] == \
        f"/contacts/import/{import_id}"
    run_jobs()
    assert fresh_import(import_id).created == 2


def test_delete_an_upload(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    response = marketer.post(f"/contacts/import/{import_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/contacts/import"
    assert imports_count() == 0


def test_a_queued_import_cannot_be_deleted(marketer):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    response = marketer.post(f"/contacts/import/{import_id}/delete")
    assert response.status_code == 303
    assert "cannot be deleted" in marketer.get(response.headers["Location"]).get_data(as_text=True)
    assert imports_count() == 1


def test_no_report_when_nothing_was_rejected(marketer, run_jobs):
    import_id = uploaded_id(upload(marketer, SIMPLE))
    marketer.post(f"/contacts/import/{import_id}/start", {"phone_number": "1", "dedupe": "skip"})
    run_jobs()
    assert marketer.get(f"/contacts/import/{import_id}/rejected.csv").status_code == 404


# -- isolation -----------------------------------------------------------------------------------

def test_another_accounts_import_is_not_found(marketer, other_account):
    theirs = imports.upload(other_account[0], None, "theirs.csv", SIMPLE)
    theirs_id = theirs.id
    for path in ("", "/rejected.csv"):
        assert marketer.get(f"/contacts/import/{theirs_id}{path}").status_code == 404
    for action in ("start", "requeue", "delete"):
        assert marketer.post(f"/contacts/import/{theirs_id}/{action}", {"phone_number": "1"}).status_code == 404
    assert "theirs.csv" not in marketer.get("/contacts/import").get_data(as_text=True)
    assert fresh_import(theirs_id).status == "uploaded"


def test_made_up_import_ids_are_not_found(marketer):
    for made_up in ("nope", "x" * 100, "%00"):
        assert marketer.get(f"/contacts/import/{made_up}").status_code == 404
