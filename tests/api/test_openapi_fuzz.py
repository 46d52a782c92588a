"""Property-based fuzzing of every documented operation with schemathesis, from the OpenAPI document.

The document is ``openapi_document()``, the very dict ``/v1/openapi.json`` serves (test_openapi.py
checks that), loaded once at import; requests go to the Flask app in process (WSGI). Each operation
is its own test on a clean slate (``ctx``) with an account seeded with one real object of every kind:
about two in three generated path ids are swapped for the seeded object's id, so operations on an
object do more than 404. In the positive phase about two in three phone numbers, object ids, times and
URLs in a body are likewise made valid, so the success paths are reached, not only the 422s.

Checks on every response: no 5xx; the status code, content type and headers are documented; the
body matches the schema documented for that status; and our own walk: no object in a body has a
field the document does not name. Positive data is the core (the API is liberal: unknown JSON fields
are ignored, so schemathesis' negative_data_rejection does not apply); negative data must still never
give a 5xx or an undocumented answer. A wrong key, a wrong bearer token or none is a documented 401.
A stateful phase follows the links schemathesis infers (create, then get/patch/delete ...).

Hypothesis is derandomized (a fixed seed per test) with a moderate number of examples, so a run is
reproducible and the file stays within about a minute per database. FUZZ_EXAMPLES=300 runs a
longer hunt locally.
"""
from __future__ import annotations

import itertools
import os
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)

from app.api.openapi import openapi_document
from tests.api.fuzz_seed import make_realistic, seed_account, undocumented_fields

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
PUBLIC = "^/(healthz|v1/ping|v1/openapi.json)$"
WRONG_CREDENTIALS = ({"X-API-Key": "wayscloud_sms_aaaaaaaaaa_wrong", "X-Callback-Token": "wrong"},
                     {"Authorization": "Bearer wayscloud_sms_aaaaaaaaaa_wrong"}, {})
CREDENTIAL_HEADERS = {"x-api-key", "authorization", "x-callback-token"}


def _schema(mode: GenerationMode):
    schema = schemathesis.openapi.from_dict(openapi_document())
    schema.config.generation.update(modes=[mode])
    return schema


POSITIVE = _schema(GenerationMode.POSITIVE)
NEGATIVE = _schema(GenerationMode.NEGATIVE)
UNAUTHENTICATED = _schema(GenerationMode.POSITIVE).exclude(path_regex=PUBLIC)

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), derandomize=True, deadline=None, database=None,
    # One seeded account serves every example of an operation (what one example creates or deletes
    # is simply there for the next, as with any client), and ``ctx`` wipes it all after the test.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


@pytest.fixture
def seeded(ctx):
    return seed_account(ctx)


def _use_seeded_ids(case, seeded) -> None:
    """Most generated ids become the seeded object's id; which ones is decided by a hash of the
    generated value, so a derandomized run stays reproducible and some unknown ids remain."""
    for name, value in list((case.path_parameters or {}).items()):
        if name in seeded.ids and zlib.crc32(str(value).encode()) % 3:
            case.path_parameters[name] = seeded.ids[name]


def _validate(case, response, seeded) -> None:
    case.validate_response(response, checks=CHECKS, transport_kwargs={"app": seeded.app})
    undocumented = undocumented_fields(case.operation.definition.raw, response, case.operation.schema.raw_schema)
    assert not undocumented, f"{case.operation.label} {response.status_code}: undocumented fields {undocumented}"


def _call(case, seeded, headers: dict, realistic: bool = False):
    if realistic and isinstance(case.body, (dict, list)):
        case.body = make_realistic(case.body, seeded)
    _use_seeded_ids(case, seeded)
    # Every request, the checks' own probes included, goes to the app in process.
    case.operation.schema.app = seeded.app
    response = case.call(headers=headers, app=seeded.app)
    _validate(case, response, seeded)
    return response


@POSITIVE.parametrize()
@FUZZ
def test_positive(case, seeded):
    _call(case, seeded, seeded.headers_for(case.operation.path), realistic=True)


@NEGATIVE.parametrize()
@settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 1))
def test_negative(case, seeded):
    _call(case, seeded, seeded.headers_for(case.operation.path))


@UNAUTHENTICATED.parametrize()
@settings(FUZZ, max_examples=3)
def test_wrong_or_missing_credentials_are_a_documented_401(case, seeded):
    for headers in WRONG_CREDENTIALS:
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIAL_HEADERS}
        response = _call(case, seeded, headers)
        # A query parameter holding NUL is refused for the whole app before any view runs, so that
        # documented 422 may come first; anything else without valid credentials is 401.
        refused_text = response.status_code == 422 and "must not contain" in response.text
        assert response.status_code == 401 or refused_text, (case.operation.label, response.status_code,
                                                               response.text)


def test_stateful_workflows(seeded):
    """Chains of calls along the links schemathesis infers from the document (create a group, then
    get, patch, add members, delete it ...), each answer checked like the single calls above."""

    scenarios = itertools.count(1)

    class Workflow(POSITIVE.as_state_machine()):
        def setup(self):
            # Every scenario starts from the same state, in a tenant of its own: hypothesis replays
            # scenarios and needs each answer (so each link's value) to be the same again.
            fresh = seed_account(seeded.app, name=f"Fuzz {next(scenarios)}")
            seeded.api_key, seeded.ids = fresh.api_key, fresh.ids

        def get_call_kwargs(self, case):
            case.operation.schema.app = seeded.app
            if isinstance(case.body, (dict, list)):
                case.body = make_realistic(case.body, seeded)
            return {"headers": seeded.headers_for(case.operation.path), "app": seeded.app}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            _validate(case, response, seeded)

    Workflow.run(settings=settings(FUZZ, stateful_step_count=10))


# -- the "no undocumented fields" walk itself ---------------------------------------------------------

DOCUMENT = {"components": {"schemas": {
    "Item": {"type": "object", "properties": {"id": {"type": "string"}}, "additionalProperties": False},
    "Open": {"type": "object", "properties": {"id": {"type": "string"}}, "additionalProperties": True},
    "Map": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Item"}},
    "List": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        "maybe": {"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]}}},
}}}


class _Response:
    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content


@pytest.mark.parametrize("schema, body, found", [
    ("Item", b'{"id": "a"}', []),
    ("Item", b'{"id": "a", "secret": 1}', ["/secret"]),
    ("Open", b'{"id": "a", "secret": 1}', ["/secret"]),  # named fields: true does not document the rest
    ("Map", b'{"x": {"id": "a"}, "y": {"id": "b", "extra": 1}}', ["/y/extra"]),
    ("List", b'{"items": [{"id": "a"}, {"id": "b", "z": 0}], "maybe": null}', ["/items/1/z"]),
    ("List", b'{"items": [], "maybe": {"id": "a", "q": 1}}', ["/maybe/q"]),
    ("Item", b"not json", []),  # content_type/response_schema conformance judge that
])
def test_undocumented_fields_walk(schema, body, found):
    operation = {"responses": {"200": {"content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{schema}"}}}}}}
    assert undocumented_fields(operation, _Response(200, body), DOCUMENT) == found
    assert undocumented_fields(operation, _Response(418, body), DOCUMENT) == []  # no schema for it
