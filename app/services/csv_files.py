"""Reading the CSV files people get out of spreadsheets and address books.

Spreadsheets write CSV in many shapes: comma or semicolon separated (Excel in most of Europe uses
semicolons), tab separated, UTF-8 with or without a byte order mark, UTF-16 ("Unicode text"),
or Windows-1252 (older Excel). This module turns such a file into a header and rows of strings,
and everything it cannot read into an :class:`Invalid` with a message a marketer can act on.

Rows are numbered as the spreadsheet shows them: the header is row 1, and a blank line or a value
spanning several lines still counts as one row, so "row 7" in a message is row 7 on screen.

No Flask, no database: plain functions over bytes and strings.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator

from app.services.errors import Invalid

MAX_COLUMNS = 100
MAX_ROWS = 250_000
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
SAMPLE_CHARS = 64 * 1024
# A spreadsheet writing a header cell never produces this; a contact row does.
LOOKS_LIKE_NUMBER = re.compile(r"\+?[0-9]{6,}")
NUMBER_SEPARATORS = re.compile(r"[\s\-.()/]")
# Exports (ours included) put ' before a value starting like a formula; a round trip removes it.
ESCAPED_FORMULA = re.compile(r"'[=+\-@\t\r]")

ARCHIVES = {b"PK\x03\x04": "an Excel or OpenDocument workbook (.xlsx/.ods)",
            b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)", b"%PDF": "a PDF document"}
SAVE_AS_CSV = 'In your spreadsheet choose "Save as" (or "Download as") and pick "CSV UTF-8".'


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # what we say to people: "UTF-8", "UTF-8 with BOM", "Windows-1252" ...
    codec: str  # what Python decodes with
    notice: str | None = None


@dataclass(frozen=True)
class CsvFile:
    """A readable file: its header (names made unique), how it was read, and its row count."""

    decoded: Decoded
    delimiter: str
    columns: list[str]
    total: int  # non-blank rows below the header


# -- bytes to text -------------------------------------------------------------------------------

def decode(data: bytes) -> Decoded:
    """The file's text. UTF-8 (with or without BOM) and UTF-16 with a BOM are read as such; other
    bytes as Windows-1252, or Latin-1 when even that fails, with a notice to check the letters."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise Invalid("The file is empty. Choose a CSV file with a header row and one contact per row.",
                      code="empty_file")
    for magic, kind in ARCHIVES.items():
        if data.startswith(magic):
            raise Invalid(f"This is {kind}, not a CSV file. {SAVE_AS_CSV}", code="not_csv")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _checked(Decoded(data.decode("utf-16"), "UTF-16", "utf-16"))
        except UnicodeDecodeError:
            raise _unreadable() from None
    if b"\x00" in data[:8192]:
        raise _unreadable()
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return _checked(Decoded(data.decode("utf-8-sig"), "UTF-8 with BOM", "utf-8-sig"))
        except UnicodeDecodeError:
            pass  # a BOM followed by something else: read it like any other non-UTF-8 file
    try:
        return _checked(Decoded(data.decode("utf-8"), "UTF-8", "utf-8"))
    except UnicodeDecodeError:
        pass
    for codec, name in (("cp1252", "Windows-1252"), ("latin-1", "ISO-8859-1 (Latin-1)")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        notice = (f"The file is not UTF-8, so it was read as {name}. Check that letters such as æ, ø, å and é "
                  f"look right in the preview; if they do not, {SAVE_AS_CSV[0].lower()}{SAVE_AS_CSV[1:]}")
        return _checked(Decoded(text.lstrip("\ufeff"), name, codec, notice))
    raise _unreadable()  # pragma: no cover - latin-1 decodes every byte


def _checked(decoded: Decoded) -> Decoded:
    """Text with NUL characters (which no database text column can hold), or with many control
    characters, is some binary file that happened to decode."""
    if "\x00" in decoded.text:
        raise _unreadable()
    sample = decoded.text[:SAMPLE_CHARS]
    controls = sum(1 for c in sample if c not in "\t\r\n" and unicodedata.category(c) in ("Cc", "Cs"))
    if controls > max(2, len(sample) // 200):
        raise _unreadable()
    return decoded


def _unreadable() -> Invalid:
    return Invalid(f"This file does not look like a CSV file (it contains binary data). {SAVE_AS_CSV}",
                   code="not_csv")


# -- text to rows --------------------------------------------------------------------------------

def sniff_delimiter(text: str) -> str:
    """The separator (comma, semicolon or tab) that splits the header into the most columns while
    giving the rows below the same number of values. A file with one column reads as commas."""
    sample = text[:SAMPLE_CHARS]
    if len(text) > SAMPLE_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # no half row at the end
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in DELIMITERS:
        rows = [r for r in _reader(sample, delimiter) if _filled(r)][:50]
        if not rows:
            continue
        width = len(rows[0])
        fits = sum(1 for r in rows[1:] if len(r) == width) / max(1, len(rows) - 1)
        score = (width > 1, fits, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _reader(text: str, delimiter: str, strict: bool = False):
    # Lenient by default: a stray quote inside a value ('Kari "KK" Nordmann') is kept as written.
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)


def _filled(row: list[str]) -> bool:
    return any(cell.strip() for cell in row)


def rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """``(row number, values)`` for every non-blank row, the header first."""
    number = 0
    reader = _reader(text, delimiter)
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _row_error(number, exc) from None
        if _filled(row):
            yield number, row


def _row_error(number: int, exc: csv.Error) -> Invalid:
    if "field larger than field limit" in str(exc):
        return Invalid(f"Row {number} could not be read: a value is longer than {csv.field_size_limit():,} "
                       'characters. Is a quote (") opened and never closed?', code="malformed_csv")
    return Invalid(f"Row {number} could not be read ({exc}).", code="malformed_csv")


def read(data: bytes) -> CsvFile:
    """Decode, find the separator, read the header and count the rows, or say what is wrong."""
    decoded = decode(data)
    delimiter = sniff_delimiter(decoded.text)
    _check_quotes(decoded.text, delimiter)
    found = rows(decoded.text, delimiter)
    first = next(found, None)
    if first is None:
        raise Invalid("The file is empty. Choose a CSV file with a header row and one contact per row.",
                      code="empty_file")
    columns = header(first[1])
    total = 0
    for total, _ in enumerate(found, start=1):
        if total > MAX_ROWS:
            raise Invalid(f"The file has more than {MAX_ROWS:,} contacts. Split it into smaller files and "
                          "import them one after the other.", code="too_many_rows")
    if total == 0:
        raise Invalid("The file has a header row but no contacts below it.", code="no_rows")
    return CsvFile(decoded, delimiter, columns, total)


def _check_quotes(text: str, delimiter: str) -> None:
    """A quote that is never closed swallows the rest of the file into one value; say so."""
    reader = _reader(text, delimiter, strict=True)
    number = 0
    try:
        for number, _ in enumerate(reader, start=1):
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise Invalid(f'Row {number + 1} has a quote (") that is never closed, so the rest of the file '
                          "would be read as one value. Fix the quote and upload the file again.",
                          code="malformed_csv") from None
        # Anything else strict parsing dislikes, the lenient reader reads as written.


def header(row: list[str]) -> list[str]:
    """Column names, trimmed, each unique ('Phone', 'Phone (2)'); a blank one becomes 'Column 3'."""
    if len(row) > MAX_COLUMNS:
        raise Invalid(f"The file has {len(row)} columns; at most {MAX_COLUMNS} are supported. Delete the columns "
                      "you do not need and upload it again.", code="too_many_columns")
    cells = [cell.strip().lstrip("\ufeff") for cell in row]
    if sum(1 for c in cells if LOOKS_LIKE_NUMBER.fullmatch(NUMBER_SEPARATORS.sub("", c))):
        raise Invalid("The first row should name the columns (for example name, phone), but it looks like a "
                      "contact. Add a header row at the top and upload the file again.", code="no_header")
    names: list[str] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells, start=1):
        name = cell[:100] or f"Column {index}"
        unique, n = name, 1
        while unique.casefold() in seen:
            n += 1
            unique = f"{name} ({n})"
        seen.add(unique.casefold())
        names.append(unique)
    return names


def unescape(value: str) -> str:
    """A value our export protected against formula injection ("'=SUM(..)") as it was."""
    return value[1:] if ESCAPED_FORMULA.match(value) else value


# -- which column is which field ------------------------------------------------------------------

# Exact header names (normalised: case-folded, letters and digits only) in the languages of the
# people using smsdesk, then word stems for headers such as "Mobile phone (work)".
SYNONYMS = {
    "phone_number": {"phone", "phonenumber", "phoneno", "mobile", "mobilephone", "mobilenumber", "mobileno",
                     "mobil", "mobilnummer", "mobilnr", "mobiltelefon", "telefon", "telefonnummer", "telefonnr",
                     "tlf", "tlfnr", "tel", "telephone", "cell", "cellphone", "msisdn", "number", "nummer",
                     "gsm", "recipient"},
    "name": {"name", "navn", "namn", "fullname", "fulltnavn", "contact", "contactname", "kontakt",
             "kontaktperson", "displayname"},
    "first_name": {"firstname", "first", "givenname", "fornavn", "förnamn", "fornamn"},
    "last_name": {"lastname", "last", "surname", "familyname", "etternavn", "efternavn", "efternamn"},
    "company_name": {"company", "companyname", "organisation", "organization", "org", "business", "firma",
                     "firmanavn", "bedrift", "foretak", "företag", "virksomhet", "virksomhed"},
    "email": {"email", "emailaddress", "mail", "epost", "epostadresse", "epostadress", "emailadresse"},
    "tags": {"tags", "tag", "labels", "label", "keywords", "stikkord", "etiketter", "etikett"},
    "notes": {"notes", "note", "comment", "comments", "remarks", "kommentar", "kommentarer", "notat",
              "notater", "anteckning", "anteckningar"},
}
STEMS = {
    "phone_number": ("phone", "mobil", "telefon", "tlf", "cell"),
    "email": ("email", "epost", "mail"),
    "first_name": ("firstname", "fornavn", "förnamn", "givenname"),
    "last_name": ("lastname", "etternavn", "efternamn", "efternavn", "surname"),
    "company_name": ("company", "firma", "organi", "bedrift"),
    "tags": ("tag",),
    "notes": ("note", "comment", "kommentar", "notat"),
    "name": ("name", "navn", "namn"),
}
_NOT_ALNUM = re.compile(r"[\W_]+")


def _key(name: str) -> str:
    return _NOT_ALNUM.sub("", name.casefold())


def guess_mapping(columns: list[str]) -> dict[str, int]:
    """``{field: column index}`` for the columns whose names say what they hold; each column is
    used for one field at most."""
    keys = [_key(c) for c in columns]
    mapping: dict[str, int] = {}
    for field, names in SYNONYMS.items():
        found = next((i for i, k in enumerate(keys) if k in names and i not in mapping.values()), None)
        if found is not None:
            mapping[field] = found
    for field, stems in STEMS.items():
        if field in mapping:
            continue
        found = next((i for i, k in enumerate(keys)
                      if i not in mapping.values() and any(s in k for s in stems)), None)
        if found is not None:
            mapping[field] = found
    return mapping
