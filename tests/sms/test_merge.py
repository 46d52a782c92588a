"""Merge fields: parsing templates and rendering them per recipient."""
from __future__ import annotations

import pytest

from app.sms.errors import InvalidMessage
from app.sms.merge import parse_template

ADA = {"first_name": "Ada", "last_name": "Lovelace", "name": "Ada Lovelace", "company_name": "Engines AS"}
EMPTY = {"first_name": None, "last_name": "", "name": "  ", "company_name": None}


@pytest.mark.parametrize("text, values, expected", [
    ("Hello", ADA, "Hello"),
    ("Hi {first_name}!", ADA, "Hi Ada!"),
    ("Hi {first_name}!", EMPTY, "Hi !"),
    ("Hi {first_name|there}!", EMPTY, "Hi there!"),
    ("Hi {first_name|there}!", ADA, "Hi Ada!"),
    ("{name} at {company_name|your company}", EMPTY, " at your company"),
    ("{name} at {company_name|your company}", ADA, "Ada Lovelace at Engines AS"),
    ("{first_name}{last_name}", ADA, "AdaLovelace"),
    ("Hi {first_name|}", EMPTY, "Hi "),
    ("Sale {50%} off {first_name}", ADA, "Sale {50%} off Ada"),  # not a field: plain text
    ("{ first_name }", ADA, "{ first_name }"),
    ("{FIRST_NAME}", ADA, "{FIRST_NAME}"),  # fields are lower case; anything else is text
    ("{first_name|a {50%}}", ADA, "{first_name|a {50%}}"),  # braces cannot nest
    ("Hi {first_name|Kjære kunde} ✓", EMPTY, "Hi Kjære kunde ✓"),
    ("Hi {first_name}", {"first_name": "  Ada  "}, "Hi Ada"),
    ("Hi {first_name}", {}, "Hi "),
])
def test_render(text, values, expected):
    assert parse_template(text).render(values) == expected


@pytest.mark.parametrize("text, fields, personal", [
    ("Hello", (), False),
    ("{first_name} {first_name|x} {company_name}", ("first_name", "company_name"), True),
    ("{last_name}{name}", ("last_name", "name"), True),
    ("{50%}", (), False),
])
def test_fields(text, fields, personal):
    template = parse_template(text)
    assert template.fields == fields
    assert template.is_personal is personal


@pytest.mark.parametrize("text, named", [
    ("Hi {firstname}", "{firstname}"),
    ("Hi {email|none}", "{email}"),
    ("{first_name} {phone_number}", "{phone_number}"),
])
def test_unknown_fields_are_refused(text, named):
    with pytest.raises(InvalidMessage) as caught:
        parse_template(text)
    assert caught.value.code == "unknown_merge_field"
    assert named in caught.value.message and "{first_name}" in caught.value.message
