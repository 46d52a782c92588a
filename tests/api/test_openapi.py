"""The OpenAPI document keeps the API honest, and the API keeps the document honest.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator) and passes our own structural checks.
2. Every /v1 route of the app is documented with its methods, and every documented path is a route.
3. Real requests to every endpoint, success and error, are validated against the schema the document
   gives for the status code they answered with. Response schemas set ``additionalProperties: false``
   and list every field in ``required``, so an undocumented, renamed or missing field fails here.
   The last test checks that every documented (operation, status code) and every documented query
   parameter was actually produced/used by a real request.
"""
from __future__ import annotations

import copy
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.api.openapi import MIRROR_PREFIX, REQUEST_MODELS, SMS_PREFIX, openapi_document

DOC_URI = "urn:smsdesk:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
# Fields of a response object that may be absent; every other documented field must always be present.
OPTIONAL_RESPONSE_FIELDS = {("Error", "errors"), ("RejectedRecipient", "to"), ("RejectedRecipient", "contact_id"),
                            ("RejectedRecipient", "group_id")}
# Documented paths outside /v1 that are part of the JSON API.
EXTRA_API_PATHS = {"/healthz"}

# What every (documented operation, status) and documented query parameter got from real requests.
PRODUCED: set[tuple[str, str, str]] = set()
QUERY_PARAMS_USED: set[tuple[str, str, str]] = set()
RAN: set[str] = set()


@pytest.fixture(autouse=True)
def _record_run(request):
    yield
    RAN.add(request.node.name)


SPEC = copy.deepcopy(openapi_document())
REGISTRY = Registry().with_resource(DOC_URI, Resource(contents=SPEC, specification=DRAFT202012))
FORMATS = FormatChecker()


def pointer(*parts) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validator_at(*parts) -> Draft202012Validator:
    """A validator for the schema at this place in the document, its $refs resolved in the document."""
    return Draft202012Validator({"$ref": f"{DOC_URI}#{pointer(*parts)}"}, registry=REGISTRY, format_checker=FORMATS)


def errors_of(validator: Draft202012Validator, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


def operations(spec=SPEC):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(node: dict, spec=SPEC) -> dict:
    while "$ref" in node:
        assert node["$ref"].startswith("#/"), node["$ref"]
        target = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


# --------------------------------------------------------------------------------------------------
# Calling the API through the contract
# --------------------------------------------------------------------------------------------------

def call(client, method: str, template: str, *, path_params: dict | None = None, query: dict | None = None,
         json=None, data=None, headers: dict | None = None, check_request: bool = True):
    """Make a real request to a documented operation and validate the response against the document.

    ``check_request``: the JSON body is valid input, so it must validate against the documented
    request body (so the document does not under-describe what clients may send)."""
    operation = SPEC["paths"][template][method]
    url = template
    for name, value in (path_params or {}).items():
        url = url.replace("{" + name + "}", str(value))
    assert "{" not in url, f"unfilled path parameter in {url}"
    documented_query = {resolve(p)["name"] for p in operation.get("parameters", []) if resolve(p)["in"] == "query"}
    for name in query or {}:
        assert name in documented_query, f"{method.upper()} {template}: query parameter {name!r} is not documented"
        QUERY_PARAMS_USED.add((method, template, name))
    if query:
        url += "?" + urlencode(query)
    if json is not None and check_request and "requestBody" in operation:
        problems = errors_of(validator_at("paths", template, method, "requestBody", "content",
                                          "application/json", "schema"), json)
        assert not problems, f"valid request body rejected by the documented schema: {problems}"
    response = client.open(url, method=method.upper(), json=json, data=data, headers=headers or {})
    check_response(method, template, response)
    return response


def check_response(method: str, template: str, response) -> None:
    operation = SPEC["paths"][template][method]
    status = str(response.status_code)
    body = response.get_json(silent=True)
    assert status in operation["responses"], (
        f"{method.upper()} {template} answered {status}, which the document does not list: {body}")
    documented = resolve(operation["responses"][status])
    content = documented.get("content")
    if content:
        assert response.mimetype == "application/json", f"{method.upper()} {template} {status}: {response.mimetype}"
        problems = errors_of(validator_at("paths", template, method, "responses", status, "content",
                                          "application/json", "schema"), body)
        assert not problems, f"{method.upper()} {template} {status} does not match the document: {problems}\n{body}"
    documented_headers = {name.lower() for name in documented.get("headers", {})}
    for name in ("Idempotent-Replayed", "Retry-After"):
        if name in response.headers:
            assert name.lower() in documented_headers, f"{method.upper()} {template} {status}: header {name}"
            schema = documented["headers"][name]["schema"]
            assert not errors_of(Draft202012Validator(schema), response.headers[name])
    PRODUCED.add((method, template, status))


def sms(path: str) -> str:
    return SMS_PREFIX + path


def dashboard(path: str) -> str:
    return MIRROR_PREFIX + path


# --------------------------------------------------------------------------------------------------
# 1. The document itself
# --------------------------------------------------------------------------------------------------

def test_document_is_valid_openapi_3_1():
    import openapi_spec_validator  # a test dependency: missing, the suite fails rather than skips
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    openapi_spec_validator.validate(SPEC, cls=OpenAPIV31SpecValidator)


_OPERATION_SHAPE = {
    "type": "object",
    "required": ["operationId", "summary", "description", "responses", "security", "tags"],
    "properties": {
        "operationId": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$"},
        "summary": {"type": "string", "minLength": 3},
        "description": {"type": "string", "minLength": 10},
        "security": {"type": "array"},
        "parameters": {"type": "array", "items": {"type": "object", "required": ["$ref"]}},
        "requestBody": {
            "type": "object", "required": ["required", "content"],
            "properties": {"content": {"type": "object", "required": ["application/json"]}},
        },
        "responses": {
            "type": "object", "minProperties": 1,
            "propertyNames": {"pattern": "^[1-5][0-9]{2}$"},
            "additionalProperties": {
                "type": "object", "required": ["description", "content"],
                "properties": {"content": {
                    "type": "object", "required": ["application/json"],
                    "additionalProperties": {"type": "object", "required": ["schema"]},
                }},
            },
        },
    },
}
_DOCUMENT_SHAPE = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.[0-9]+$"},
        "info": {"type": "object", "required": ["title", "version", "description"]},
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object", "minProperties": 1,
                "propertyNames": {"enum": sorted(HTTP_METHODS)},
                "additionalProperties": _OPERATION_SHAPE,
            },
        },
        "components": {
            "type": "object", "required": ["schemas", "parameters", "securitySchemes"],
            "properties": {"securitySchemes": {
                "type": "object", "required": ["ApiKey", "Bearer"],
                "properties": {
                    "ApiKey": {"const": {**SPEC["components"]["securitySchemes"]["ApiKey"],
                                         "type": "apiKey", "in": "header", "name": "X-API-Key"}},
                    "Bearer": {"type": "object", "required": ["type", "scheme"],
                               "properties": {"type": {"const": "http"}, "scheme": {"const": "bearer"}}},
                },
            }},
        },
    },
}


def _walk_refs(node, found: list):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for value in node.values():
            _walk_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(value, found)
    return found


def test_document_structure():
    """Our own sanity check, independent of openapi-spec-validator."""
    problems = errors_of(Draft202012Validator(_DOCUMENT_SHAPE), SPEC)
    assert not problems, problems
    for name, schema in SPEC["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)  # each is a valid JSON Schema 2020-12
    for ref in _walk_refs(SPEC, []):
        assert ref.startswith("#/components/"), ref
        resolve({"$ref": ref})  # raises KeyError if dangling
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    schemes = set(SPEC["components"]["securitySchemes"])
    for path, method, op in operations():
        for requirement in op["security"]:
            assert set(requirement) <= schemes
        declared = {resolve(p)["name"] for p in op.get("parameters", []) if resolve(p)["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), f"{method} {path}: path parameters"
        for p in op.get("parameters", []):
            if resolve(p)["in"] == "path":
                assert resolve(p)["required"] is True


def _response_schemas() -> set[str]:
    """Names of the component schemas that responses use, transitively."""
    names: set[str] = set()
    todo = [ref for _, _, op in operations() for ref in _walk_refs(op["responses"], [])]
    while todo:
        name = todo.pop().rsplit("/", 1)[-1]
        if name not in names:
            names.add(name)
            todo.extend(_walk_refs(SPEC["components"]["schemas"][name], []))
    return names


def _object_schemas(node, where: str):
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _object_schemas(value, f"{where}/{i}")


def test_response_schemas_are_closed_and_complete():
    """additionalProperties: false on every response object (so undocumented fields fail validation),
    and `required` lists every field except the few documented as optional."""
    names = _response_schemas()
    assert {"SendResponse", "Message", "MessageList", "CancelResponse", "SenderProfile", "ServiceStatus", "Usage",
            "Stats", "SMSStatsPeriod", "Pricing", "MessagePricing", "Estimate", "Health", "Ping", "Error"} <= names
    found = [*(found for n in sorted(names) for found in _object_schemas(SPEC["components"]["schemas"][n], n)),
             *(found for p, m, op in operations() for found in _object_schemas(op["responses"], f"{m} {p}"))]
    for where, node in found:
        _check_object(where, node)


def _check_object(where: str, node: dict) -> None:
    if "properties" in node:
        assert node.get("additionalProperties") is False, f"{where}: additionalProperties must be false"
        owner = where.split("/", 1)[0]
        optional = {field for name, field in OPTIONAL_RESPONSE_FIELDS if name == owner}
        assert set(node.get("required", [])) == set(node["properties"]) - optional, f"{where}: required"
    elif node.get("type") == "object":
        assert "additionalProperties" in node, f"{where}: a map must say what its values are"


def test_request_bodies_are_the_pydantic_models():
    schemas = SPEC["components"]["schemas"]
    assert {"SendBody", "EstimateBody", "SenderProfileBody"} <= {m.__name__ for m in REQUEST_MODELS if m}
    for model in filter(None, REQUEST_MODELS):
        documented = schemas[model.__name__]
        assert set(documented["properties"]) == set(model.model_fields), model.__name__
        assert set(documented.get("required", [])) == {n for n, f in model.model_fields.items() if f.is_required()}
        assert documented.get("additionalProperties") is not False, "unknown request fields are ignored"
        for name, prop in documented["properties"].items():
            assert prop.get("description"), f"{model.__name__}.{name} has no description"


def test_served_document(client):
    response = call(client, "get", "/v1/openapi.json")
    assert response.status_code == 200
    assert response.json == openapi_document()


def test_docs_page_shows_every_operation(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for path, method, op in operations():
        assert f'id="{op["operationId"]}"' in html
        assert op["summary"] in html
    assert "1600" in html and "Idempotency-Key" in html and "Idempotent-Replayed" in html
    for name in ("SendResponse", "Message", "Error", "SMSStatsPeriod"):
        assert f'id="schema-{name}"' in html


# --------------------------------------------------------------------------------------------------
# 2. Routes and documented paths are the same set
# --------------------------------------------------------------------------------------------------

def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = _openapi_path(rule.rule)
        if path.startswith("/v1/") or path in EXTRA_API_PATHS:
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {path: {m for m in item if m in HTTP_METHODS} for path, item in SPEC["paths"].items()}
    missing = {p: sorted(m - documented.get(p, set())) for p, m in routes.items() if m - documented.get(p, set())}
    assert not missing, f"routes missing from the OpenAPI document: {missing}"
    phantom = {p: sorted(m - routes.get(p, set())) for p, m in documented.items() if m - routes.get(p, set())}
    assert not phantom, f"documented operations the app does not serve: {phantom}"


def test_dashboard_mirror_is_the_sms_surface():
    sms_ops = {(p[len(SMS_PREFIX):], m): op for p, m, op in operations() if p.startswith(SMS_PREFIX + "/")}
    mirror_ops = {(p[len(MIRROR_PREFIX):], m): op for p, m, op in operations() if p.startswith(MIRROR_PREFIX + "/")}
    assert sms_ops and set(sms_ops) == set(mirror_ops)
    for key, op in sms_ops.items():
        twin = mirror_ops[key]
        assert twin["operationId"] != op["operationId"]
        assert twin["security"] == [{"Bearer": []}, {"DashboardSession": []}]
        same = ("summary", "parameters", "requestBody", "responses")
        assert {k: twin.get(k) for k in same} == {k: op.get(k) for k in same}, key


# --------------------------------------------------------------------------------------------------
# 3. Real responses against the document
# --------------------------------------------------------------------------------------------------

def _send(client, auth, body, **kwargs):
    response = call(client, "post", sms("/send"), json=body, headers=auth, **kwargs)
    assert response.status_code == 200, response.json
    return response.json


def test_send(client, auth):
    plain = _send(client, auth, {"to": ["+4799999999"], "message": "Hello"})
    assert plain["status"] == "QUEUED" and plain["scheduled_at"] is None and plain["customer_ref"] is None
    rich = _send(client, auth, {"to": ["+4799999999", "+47 999 99 999", "not a number", "+4798765432"],
                                "message": "Hei 😀 {ok}", "customer_ref": "order-1", "sender_id": "+4759440000",
                                "unknown_field": "ignored"})
    assert len(rich["rejected"]) == 2 and rich["encoding"] == "UCS-2"
    one = _send(client, auth, {"to": "+4799999999", "message": "x" * 1600, "callback_url": "https://example.com/cb"})
    assert one["parts"] == 11 and one["units_estimate"] == 11  # the 1600-character decision, as documented


def test_send_scheduled(client, auth):
    from app.models import utcnow

    when = (utcnow() + timedelta(days=2)).replace(tzinfo=None, microsecond=0).isoformat()
    sent = _send(client, auth, {"to": ["+4799999999"], "message": "Later", "scheduled_at": when,
                                "timezone": "Europe/Oslo"})
    assert sent["status"] == "SCHEDULED" and sent["scheduled_at"].endswith("Z")


def test_send_idempotency(client, auth):
    body = {"to": ["+4799999999"], "message": "Once"}
    first = call(client, "post", sms("/send"), json=body, headers={**auth, "Idempotency-Key": "k-1"})
    again = call(client, "post", sms("/send"), json=body, headers={**auth, "Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and "Idempotent-Replayed" not in first.headers
    conflict = call(client, "post", sms("/send"), json={**body, "message": "Twice"},
                    headers={**auth, "Idempotency-Key": "k-1"})
    assert conflict.status_code == 409


@pytest.mark.parametrize("body", [
    {"to": ["+4799999999"]},                              # missing message: pydantic, with `errors`
    {"to": ["+4799999999"], "message": 5},                # wrong type
    {"to": ["+4799999999"], "message": ""},               # empty
    {"to": ["+4799999999"], "message": "x" * 1601},       # too long
    {"message": "Hi"},                                    # no recipient
    {"to": ["nope"], "message": "Hi"},                    # no valid recipient
    {"to": ["+4799999999"], "message": "Hi", "scheduled_at": "2001-01-01T00:00:00Z"},
    {"to": ["+4799999999"], "message": "Hi", "timezone": "Mars/Olympus"},
    {"to": ["+4799999999"], "message": "Hi", "callback_url": "http://example.com"},
    [1, 2],                                               # not an object
])
def test_send_422(client, auth, body):
    response = call(client, "post", sms("/send"), json=body, headers=auth, check_request=False)
    assert response.status_code == 422, response.json


def test_send_invalid_idempotency_key(client, auth):
    response = call(client, "post", sms("/send"), json={"to": ["+4799999999"], "message": "Hi"},
                    headers={**auth, "Idempotency-Key": "k" * 300})
    assert response.status_code == 422


@pytest.mark.parametrize("method, template", [(m, p) for p, m, op in operations()
                                              if "requestBody" in op and not p.startswith(MIRROR_PREFIX)])
def test_body_too_large(client, auth, method, template):
    params = {name: "00000000-0000-0000-0000-000000000000" for name in re.findall(r"{(\w+)}", template)}
    response = call(client, method, template, path_params=params, data="{" + " " * (1024 * 1024 + 10) + "}",
                    headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wayscloud_sms_abc12_wrong"}, {"Authorization": "Bearer nope"}])
def test_unauthorized_everywhere(client, headers):
    for path, method, op in operations():
        if not op["security"]:
            continue
        params = {name: "00000000-0000-0000-0000-000000000000" for name in re.findall(r"{(\w+)}", path)}
        response = call(client, method, path, path_params=params, headers=headers,
                        json={} if "requestBody" in op else None, check_request=False)
        assert response.status_code == 401, (method, path)


def test_estimate(client, auth):
    gsm = call(client, "post", sms("/estimate"), json={"message": "Hello {world}", "recipients": 3}, headers=auth)
    assert gsm.status_code == 200 and gsm.json["units"] == 3 and gsm.json["ucs2_characters"] == []
    ucs2 = call(client, "post", sms("/estimate"), json={"message": "It’s 😀", "to": "+4799999999"}, headers=auth)
    assert ucs2.status_code == 200 and ucs2.json["encoding"] == "UCS-2" and ucs2.json["suggestions"]
    for body in ({}, {"message": ""}, {"message": "Hi", "recipients": 0}):
        assert call(client, "post", sms("/estimate"), json=body, headers=auth, check_request=False).status_code == 422


@pytest.fixture
def traffic(client, auth, account, run_jobs):
    """Messages in every state the API can show: delivered, failed, cancelled, scheduled, queued,
    and an inbound reply (written directly: the inbound path has no API yet)."""
    from app.extensions import db
    from app.models import Message, utcnow

    account_id, currency = account.id, account.currency  # before requests end the session
    delivered = _send(client, auth, {"to": ["+4799999999", "+4799990000"], "message": "Order shipped",
                                     "customer_ref": "order-1"})
    cancelled = _send(client, auth, {"to": ["+4798765432"], "message": "Oops"})
    call(client, "post", sms("/messages/{message_id}/cancel"),
         path_params={"message_id": cancelled["sms_message_id"]}, headers=auth)
    run_jobs()
    when = (utcnow() + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    scheduled = _send(client, auth, {"to": ["+4799999999"], "message": "Later", "scheduled_at": when})
    queued = _send(client, auth, {"to": ["+4791234567"], "message": "Queued, not yet run"})
    reply = Message(account_id=account_id, direction="INBOUND", message_type="REPLY", from_number="+4799999999",
                    to_number="+4759440000", body="Thanks", encoding="GSM-7", units=1, status="RECEIVED",
                    received_at=utcnow(), currency=currency, related_message_id=delivered["sms_message_id"])
    db.session.add(reply)
    db.session.commit()
    return {"delivered": delivered["message_ids"][0], "failed": delivered["message_ids"][1],
            "cancelled": cancelled["sms_message_id"], "scheduled": scheduled["sms_message_id"],
            "queued": queued["sms_message_id"], "inbound": reply.id, "batch_id": delivered["batch_id"],
            "account_id": account_id}


def test_get_message_in_every_state(client, auth, traffic):
    expected = {"delivered": "DELIVERED", "failed": "FAILED", "cancelled": "CANCELLED", "scheduled": "SCHEDULED",
                "queued": "QUEUED", "inbound": "RECEIVED"}
    for name, status in expected.items():
        response = call(client, "get", sms("/messages/{message_id}"), path_params={"message_id": traffic[name]},
                        headers=auth)
        assert response.status_code == 200 and response.json["status"] == status, response.json
    missing = call(client, "get", sms("/messages/{message_id}"), path_params={"message_id": "nope"}, headers=auth)
    assert missing.status_code == 404


def test_list_messages_with_every_filter(client, auth, traffic):
    everything = call(client, "get", sms("/messages"), headers=auth)
    assert everything.status_code == 200 and everything.json["total"] == 6
    queries = [
        {"page": 2, "page_size": 2}, {"per_page": 1}, {"status": "delivered,failed"}, {"direction": "inbound"},
        {"customer_ref": "order-1"}, {"batch_id": traffic["batch_id"]}, {"campaign_id": "none"},
        {"to": "+4799999999"}, {"to_number": "+4799999999"}, {"number": "99999999"},
        {"from": "2000-01-01", "to": "2999-12-31"}, {"date_from": "2000-01-01T00:00:00Z", "date_to": "2999-12-31"},
    ]
    for query in queries:
        response = call(client, "get", sms("/messages"), query=query, headers=auth)
        assert response.status_code == 200, (query, response.json)
    for query in ({"page": 0}, {"page_size": "x"}, {"status": "LOST"}, {"direction": "up"}, {"from": "yesterday"},
                  {"to_number": "12"}):
        assert call(client, "get", sms("/messages"), query=query, headers=auth).status_code == 422, query


def test_cancel(client, auth, traffic):
    ok = call(client, "post", sms("/messages/{message_id}/cancel"), path_params={"message_id": traffic["scheduled"]},
              headers=auth)
    assert ok.status_code == 200 and ok.json["status"] == "CANCELLED"
    for name in ("delivered", "failed", "inbound", "scheduled"):
        response = call(client, "post", sms("/messages/{message_id}/cancel"), path_params={"message_id": traffic[name]},
                        headers=auth)
        assert response.status_code == 409 and "status is" in response.json["detail"]
    missing = call(client, "post", sms("/messages/{message_id}/cancel"), path_params={"message_id": "nope"},
                   headers=auth)
    assert missing.status_code == 404


def test_sender_profiles(client, auth):
    listed = call(client, "get", sms("/sender-profiles"), headers=auth)
    assert listed.status_code == 200 and len(listed.json) == 1
    only = listed.json[0]["id"]
    assert call(client, "delete", sms("/sender-profiles/{profile_id}"), path_params={"profile_id": only},
                headers=auth).status_code == 409
    number = call(client, "post", sms("/sender-profiles"), headers=auth,
                  json={"name": "support", "sender_id": "+4798765432", "allow_reply": True})
    assert number.status_code == 201 and number.json["approval_status"] == "approved"
    brand = call(client, "post", sms("/sender-profiles"), headers=auth,
                 json={"name": "marketing", "sender_id": "MyBrand", "brand_confirmation": True})
    assert brand.status_code == 201 and brand.json["is_custom_sender"] and brand.json["approval_status"] == "pending"
    assert len(call(client, "get", sms("/sender-profiles"), headers=auth).json) == 3
    for body in ({"sender_id": "MyBrand"}, {"name": "x", "sender_id": "MyBrand"},
                 {"name": "x", "sender_id": "BrandØ", "brand_confirmation": True},
                 {"name": "x", "sender_id": "TooLongBrandName", "brand_confirmation": True}):
        assert call(client, "post", sms("/sender-profiles"), json=body, headers=auth,
                    check_request=False).status_code == 422, body
    deleted = call(client, "delete", sms("/sender-profiles/{profile_id}"), path_params={"profile_id": brand.json["id"]},
                   headers=auth)
    assert deleted.status_code == 200
    assert call(client, "delete", sms("/sender-profiles/{profile_id}"), path_params={"profile_id": brand.json["id"]},
                headers=auth).status_code == 404


def test_status(client, auth, traffic):
    response = call(client, "get", sms("/status"), headers=auth)
    assert response.status_code == 200 and response.json["default_sender"]["is_default"] is True

    from app.extensions import db
    from app.models import SenderProfile

    db.session.query(SenderProfile).filter_by(account_id=traffic["account_id"]).delete()
    db.session.commit()
    empty = call(client, "get", sms("/status"), headers=auth)
    assert empty.status_code == 200 and empty.json["default_sender"] is None


def test_usage_and_stats(client, auth, traffic):
    from app.models import utcnow

    current = call(client, "get", sms("/usage"), headers=auth)
    assert current.status_code == 200 and current.json["messages_sent"] >= 2
    period = utcnow().strftime("%Y-%m")
    assert call(client, "get", sms("/usage"), query={"period": "2020-01"}, headers=auth).json["units_used"] == 0
    assert call(client, "get", sms("/usage"), query={"period": period}, headers=auth).status_code == 200
    for bad in ("2025", "2025-13", "soon"):
        assert call(client, "get", sms("/usage"), query={"period": bad}, headers=auth).status_code == 422
    stats = call(client, "get", sms("/stats"), headers=auth)
    assert stats.status_code == 200 and stats.json["status_breakdown"]["DELIVERED"] == 1


def test_overview(client, auth, traffic):
    overview = call(client, "get", sms("/overview"), headers=auth)
    assert overview.status_code == 200 and overview.json["default_sender"]["is_default"] is True
    assert overview.json["usage"]["messages_sent"] >= 2 and overview.json["stats"]["status_breakdown"]["DELIVERED"] == 1


def test_empty_account_figures(client, auth):
    for path in ("/usage", "/stats", "/status", "/overview", "/messages"):
        assert call(client, "get", sms(path), headers=auth).status_code == 200


def test_pricing(client, auth):
    prices = call(client, "get", sms("/pricing"), headers=auth)
    assert prices.status_code == 200 and prices.json["currency"] == "NOK"
    table = call(client, "get", sms("/pricing/messages"), headers=auth)
    assert table.status_code == 200 and table.json["messages"]


def test_meta(client, monkeypatch):
    assert call(client, "get", "/v1/ping").json == {"pong": True}
    assert call(client, "get", "/healthz").status_code == 200

    from redis.exceptions import ConnectionError as RedisConnectionError

    class DownRedis:
        def ping(self):
            raise RedisConnectionError("down")

    import sys

    monkeypatch.setattr(sys.modules["app.api.meta"], "redis_conn", lambda: DownRedis())
    down = call(client, "get", "/healthz")
    assert down.status_code == 503 and down.json["redis"] == "unreachable"


def test_dashboard_mirror_with_bearer(client, api_key, auth, traffic):
    bearer = {"Authorization": f"Bearer {api_key}"}
    sent = call(client, "post", dashboard("/send"), json={"to": ["+4799999999"], "message": "Hi"}, headers=bearer)
    assert sent.status_code == 200
    message_id = sent.json["sms_message_id"]
    assert call(client, "post", dashboard("/estimate"), json={"message": "Hi"}, headers=bearer).status_code == 200
    assert call(client, "get", dashboard("/messages"), query={"status": "queued"}, headers=bearer).status_code == 200
    assert call(client, "get", dashboard("/messages/{message_id}"), path_params={"message_id": message_id},
                headers=bearer).status_code == 200
    assert call(client, "post", dashboard("/messages/{message_id}/cancel"), path_params={"message_id": message_id},
                headers=bearer).status_code == 200
    created = call(client, "post", dashboard("/sender-profiles"), json={"name": "n", "sender_id": "12345"},
                   headers=bearer)
    assert created.status_code == 201
    assert call(client, "get", dashboard("/sender-profiles"), headers=bearer).status_code == 200
    assert call(client, "delete", dashboard("/sender-profiles/{profile_id}"),
                path_params={"profile_id": created.json["id"]}, headers=bearer).status_code == 200
    for path in ("/status", "/usage", "/stats", "/overview", "/pricing", "/pricing/messages"):
        assert call(client, "get", dashboard(path), headers=bearer).status_code == 200
    assert call(client, "get", dashboard("/messages/{message_id}"), path_params={"message_id": "nope"},
                headers=bearer).status_code == 404


def _contact(client, auth, body) -> dict:
    response = call(client, "post", "/v1/contacts", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_contacts(client, auth):
    CONTACT = "/v1/contacts/{contact_id}"
    ola = _contact(client, auth, {"name": "Ola Nordmann", "first_name": "Ola", "last_name": "Nordmann",
                                  "phone_number": "+4799999999", "email": "ola@example.com", "tags": ["vip", "oslo"],
                                  "notes": "Prefers SMS"})
    kari = _contact(client, auth, {"first_name": "Kari", "tags": "vip, bergen", "contact_type": "person"})
    acme = _contact(client, auth, {"type": "company", "company_name": "Acme AS", "phone_number": "22 22 22 22"})
    assert kari["name"] == "Kari" and kari["phone_number"] is None and acme["type"] == "company"
    assert call(client, "post", "/v1/contacts", json={"name": "Dup", "phone_number": "+4799999999"},
                headers=auth).status_code == 409
    for body in ({}, {"name": 5}, {"name": "x", "type": "robot"}, {"name": "x", "phone_number": "12"},
                 {"name": "x", "email": "nope"}, {"name": "x", "type": "person", "contact_type": "company"}):
        assert call(client, "post", "/v1/contacts", json=body, headers=auth,
                    check_request=False).status_code == 422, body

    assert call(client, "get", CONTACT, path_params={"contact_id": ola["id"]}, headers=auth).json == ola
    assert call(client, "get", CONTACT, path_params={"contact_id": "nope"}, headers=auth).status_code == 404

    listed = call(client, "get", "/v1/contacts", headers=auth)
    assert listed.status_code == 200 and listed.json["total"] == 3
    for query in ({"type": "company"}, {"contact_type": "PERSON"}, {"search": "nord"}, {"q": "9999"},
                  {"tags": "vip,oslo"}, {"tag": "bergen"}, {"page": 2, "page_size": 1}, {"per_page": 2}):
        assert call(client, "get", "/v1/contacts", query=query, headers=auth).status_code == 200, query
    assert call(client, "get", "/v1/contacts", query={"group_id": "nope"}, headers=auth).status_code == 404
    for query in ({"type": "robot"}, {"search": "x" * 201}, {"page": "zero"}):
        assert call(client, "get", "/v1/contacts", query=query, headers=auth).status_code == 422, query

    for method in ("patch", "put"):
        changed = call(client, method, CONTACT, path_params={"contact_id": kari["id"]}, headers=auth,
                       json={"first_name": "Kari", "last_name": "Nordmann", "notes": None})
        assert changed.status_code == 200, changed.json
        assert call(client, method, CONTACT, path_params={"contact_id": kari["id"]}, headers=auth,
                    json={"name": "Kari", "phone_number": "+4799999999"}).status_code == 409
        assert call(client, method, CONTACT, path_params={"contact_id": kari["id"]}, headers=auth,
                    json={"name": "Kari", "email": "nope"}).status_code == 422
        assert call(client, method, CONTACT, path_params={"contact_id": "nope"}, headers=auth,
                    json={"name": "Kari"}).status_code == 404

    erased = call(client, "post", CONTACT + "/gdpr-delete", path_params={"contact_id": ola["id"]}, headers=auth)
    assert erased.status_code == 200 and erased.json["anonymised_at"] and erased.json["phone_number"] is None
    assert call(client, "patch", CONTACT, path_params={"contact_id": ola["id"]}, headers=auth,
                json={"notes": "x"}).status_code == 409
    assert call(client, "post", CONTACT + "/gdpr-delete", path_params={"contact_id": "nope"},
                headers=auth).status_code == 404
    deleted = call(client, "delete", CONTACT, path_params={"contact_id": acme["id"]}, headers=auth)
    assert deleted.status_code == 200
    assert call(client, "delete", CONTACT, path_params={"contact_id": acme["id"]}, headers=auth).status_code == 404


def test_groups(client, auth):
    GROUP, MEMBERS = "/v1/contacts/groups/{group_id}", "/v1/contacts/groups/{group_id}/members"
    ola = _contact(client, auth, {"name": "Ola", "phone_number": "+4799999999", "tags": ["vip"]})
    kari = _contact(client, auth, {"name": "Kari"})
    vip = call(client, "post", "/v1/contacts/groups", json={"name": "VIP", "description": "Best customers"},
               headers=auth)
    assert vip.status_code == 201 and vip.json["member_count"] == 0
    other = call(client, "post", "/v1/contacts/groups", json={"name": "Oslo"}, headers=auth).json
    assert call(client, "post", "/v1/contacts/groups", json={"name": "vip"}, headers=auth).status_code == 409
    for body in ({}, {"name": " "}, {"name": "x" * 101}, {"name": 5}):
        assert call(client, "post", "/v1/contacts/groups", json=body, headers=auth,
                    check_request=False).status_code == 422, body
    group = {"group_id": vip.json["id"]}

    assert call(client, "get", "/v1/contacts/groups", headers=auth).json["total"] == 2
    assert call(client, "get", "/v1/contacts/groups", query={"search": "vi", "page": 1, "page_size": 1, "per_page": 1},
                headers=auth).status_code == 200
    assert call(client, "get", "/v1/contacts/groups", query={"page": -1}, headers=auth).status_code == 422
    assert call(client, "get", GROUP, path_params=group, headers=auth).status_code == 200
    assert call(client, "get", GROUP, path_params={"group_id": "nope"}, headers=auth).status_code == 404
    for method in ("patch", "put"):
        assert call(client, method, GROUP, path_params=group, json={"name": "VIP", "description": None},
                    headers=auth).status_code == 200
        assert call(client, method, GROUP, path_params=group, json={"name": "OSLO"}, headers=auth).status_code == 409
        assert call(client, method, GROUP, path_params=group, json={"name": ""}, headers=auth).status_code == 422
        assert call(client, method, GROUP, path_params={"group_id": "nope"}, json={"name": "x"},
                    headers=auth).status_code == 404

    added = call(client, "post", MEMBERS, path_params=group, json={"contact_ids": [ola["id"]]}, headers=auth)
    assert added.status_code == 200 and added.json["added"] == [ola["id"]]
    again = call(client, "post", MEMBERS, path_params=group, json={"contact_ids": ola["id"]}, headers=auth)
    assert again.json["already_members"] == [ola["id"]] and again.json["added"] == []
    assert call(client, "post", MEMBERS, path_params=group, json={"contact_ids": [kari["id"], "nope"]},
                headers=auth).status_code == 422
    assert call(client, "post", MEMBERS, path_params=group, json={"contact_ids": []}, headers=auth).status_code == 422
    assert call(client, "post", MEMBERS, path_params={"group_id": "nope"}, json={"contact_ids": [ola["id"]]},
                headers=auth).status_code == 404
    members = call(client, "get", MEMBERS, path_params=group, headers=auth)
    assert members.status_code == 200 and members.json["total"] == 1
    for query in ({"type": "person", "contact_type": "person", "search": "ol", "q": "ol", "tags": "vip", "tag": "vip"},
                  {"page": 1, "page_size": 10, "per_page": 10}):
        assert call(client, "get", MEMBERS, path_params=group, query=query, headers=auth).status_code == 200
    assert call(client, "get", MEMBERS, path_params=group, query={"type": "robot"}, headers=auth).status_code == 422
    assert call(client, "get", MEMBERS, path_params={"group_id": "nope"}, headers=auth).status_code == 404
    assert call(client, "get", "/v1/contacts", query={"group_id": vip.json["id"]}, headers=auth).json["total"] == 1

    MEMBER = MEMBERS + "/{contact_id}"
    removed = call(client, "delete", MEMBER, path_params={**group, "contact_id": ola["id"]}, headers=auth)
    assert removed.status_code == 200 and removed.json["member_count"] == 0
    assert call(client, "delete", MEMBER, path_params={**group, "contact_id": ola["id"]},
                headers=auth).status_code == 404
    assert call(client, "delete", GROUP, path_params={"group_id": other["id"]}, headers=auth).status_code == 200
    assert call(client, "delete", GROUP, path_params={"group_id": other["id"]}, headers=auth).status_code == 404


def test_campaigns(client, auth, run_jobs):
    """Every campaign operation and status code; the behaviour itself is tested in test_campaigns.py."""
    from app.models import utcnow
    from app.services import campaign_run
    from app.services.simulator import deliver_due_reports

    CAMPAIGN = "/v1/campaigns/{campaign_id}"
    group = call(client, "post", "/v1/contacts/groups", json={"name": "Customers"}, headers=auth).json["id"]
    ola = _contact(client, auth, {"name": "Ola", "first_name": "Ola", "phone_number": "+4799999999"})
    call(client, "post", "/v1/contacts/groups/{group_id}/members", path_params={"group_id": group},
         json={"contact_ids": [ola["id"]]}, headers=auth)
    body = {"name": "Spring", "message": "Hi {first_name|there}", "group_ids": [group], "timezone": "Europe/Oslo",
            "send_window": {"start": "00:00", "end": "23:59"}}
    created = call(client, "post", "/v1/campaigns", json=body, headers=auth)
    assert created.status_code == 201, created.json
    one = {"campaign_id": created.json["id"]}
    for bad in ({"name": "x", "message": "Hi {nope}", "group_ids": [group]}, {"name": "x", "message": "Hi"},
                {"message": "Hi", "group_ids": [group]}):
        assert call(client, "post", "/v1/campaigns", json=bad, headers=auth, check_request=False).status_code == 422
    assert call(client, "get", "/v1/campaigns", query={"status": "draft", "page": 1, "page_size": 10, "per_page": 10},
                headers=auth).json["total"] == 1
    assert call(client, "get", "/v1/campaigns", query={"status": "lost"}, headers=auth).status_code == 422
    assert call(client, "get", CAMPAIGN, path_params=one, headers=auth).status_code == 200
    assert call(client, "patch", CAMPAIGN, path_params=one, json={"send_window": None}, headers=auth).status_code == 200
    assert call(client, "patch", CAMPAIGN, path_params=one, json={"group_ids": []}, headers=auth).status_code == 422
    preview = call(client, "get", CAMPAIGN + "/preview", path_params=one, headers=auth)
    assert preview.status_code == 200 and preview.json["recipients"] == 1

    when = (utcnow() + timedelta(days=2)).replace(tzinfo=None, microsecond=0).isoformat()
    scheduled = call(client, "post", CAMPAIGN + "/schedule", path_params=one, json={"scheduled_at": when}, headers=auth)
    assert scheduled.status_code == 200 and scheduled.json["scheduled_local"].startswith(when)
    assert call(client, "post", CAMPAIGN + "/schedule", path_params=one, json={"scheduled_at": "2001-01-01T09:00:00"},
                headers=auth).status_code == 422
    assert call(client, "post", CAMPAIGN + "/unschedule", path_params=one, headers=auth).status_code == 200
    assert call(client, "post", CAMPAIGN + "/unschedule", path_params=one, headers=auth).status_code == 409
    for verb in ("pause", "resume"):
        assert call(client, "post", CAMPAIGN + "/" + verb, path_params=one, headers=auth).status_code == 409
    assert call(client, "post", CAMPAIGN + "/send", path_params=one, json={"expected_recipients": 1},
                headers=auth).status_code == 422
    assert call(client, "post", CAMPAIGN + "/send", path_params=one, json={"expected_recipients": 2,
                                                                             "expected_units": 2},
                headers=auth).status_code == 409
    assert call(client, "post", CAMPAIGN + "/send", path_params=one, json={"expected_recipients": 1,
                                                                             "expected_units": 1},
                headers=auth).status_code == 200
    assert call(client, "patch", CAMPAIGN, path_params=one, json={"name": "x"}, headers=auth).status_code == 409
    assert call(client, "post", CAMPAIGN + "/schedule", path_params=one, json={"scheduled_at": when},
                headers=auth).status_code == 409
    assert call(client, "post", CAMPAIGN + "/pause", path_params=one, headers=auth).status_code == 200
    assert call(client, "post", CAMPAIGN + "/resume", path_params=one, headers=auth).status_code == 200
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()
    done = call(client, "get", CAMPAIGN, path_params=one, headers=auth)
    assert done.json["status"] == "COMPLETED" and done.json["progress"]["DELIVERED"] == 1
    assert call(client, "post", CAMPAIGN + "/send", path_params=one, headers=auth).status_code == 409
    assert call(client, "post", CAMPAIGN + "/cancel", path_params=one, headers=auth).status_code == 409

    other = call(client, "post", "/v1/campaigns", json=body, headers=auth).json
    assert call(client, "post", CAMPAIGN + "/cancel", path_params={"campaign_id": other["id"]},
                headers=auth).status_code == 200
    # A draft whose group was deleted no longer checks out.
    call(client, "delete", "/v1/contacts/groups/{group_id}", path_params={"group_id": group}, headers=auth)
    assert call(client, "get", CAMPAIGN + "/preview", path_params=one, headers=auth).status_code == 422

    missing = {"campaign_id": "nope"}
    for method, path, json in (("get", CAMPAIGN, None), ("patch", CAMPAIGN, {"name": "x"}),
                               ("get", CAMPAIGN + "/preview", None), ("post", CAMPAIGN + "/send", None),
                               ("post", CAMPAIGN + "/schedule", {"scheduled_at": when}),
                               *(("post", CAMPAIGN + "/" + verb, None)
                                 for verb in ("unschedule", "pause", "resume", "cancel"))):
        assert call(client, method, path, path_params=missing, json=json, headers=auth).status_code == 404, path


def test_keywords(client, auth):
    """Every keyword operation and status code; the behaviour itself is tested in test_keywords.py."""
    KEYWORD = sms("/keywords/{keyword_id}")
    created = call(client, "post", sms("/keywords"), headers=auth,
                   json={"keyword": "Promo", "description": "Spring", "webhook_url": "https://example.com/hook",
                         "auto_reply_message": "Thanks!", "auto_reply_enabled": True, "is_active": True})
    assert created.status_code == 201, created.json
    one = {"keyword_id": created.json["id"]}
    assert call(client, "post", sms("/keywords"), json={"keyword": "PROMO"}, headers=auth).status_code == 409
    for bad in ({"keyword": "STOP"}, {"keyword": "a"}, {"keyword": "Promo2", "webhook_url": "http://10.0.0.1/"}):
        assert call(client, "post", sms("/keywords"), json=bad, headers=auth).status_code == 422, bad
    assert call(client, "post", sms("/keywords"), json={}, headers=auth, check_request=False).status_code == 422
    assert call(client, "get", sms("/keywords"), headers=auth).json[0]["keyword"] == "Promo"
    for word in ("promo", "PROMO2", "stopp", "ÆØÅ"):
        assert call(client, "get", sms("/keywords/check/{keyword}"), path_params={"keyword": word},
                    headers=auth).status_code == 200
    assert call(client, "get", KEYWORD, path_params=one, headers=auth).status_code == 200
    assert call(client, "patch", KEYWORD, path_params=one, json={"keyword": "Promo", "description": None},
                headers=auth).status_code == 200
    assert call(client, "patch", KEYWORD, path_params=one, json={"keyword": "Other"}, headers=auth).status_code == 422
    assert call(client, "delete", KEYWORD, path_params=one, headers=auth).status_code == 200
    for method, json in (("get", None), ("patch", {"is_active": False}), ("delete", None)):
        assert call(client, method, KEYWORD, path_params=one, json=json, headers=auth).status_code == 404, method


def test_providers(client, auth, account):
    """Every provider callback operation and status code; the behaviour is tested in test_providers.py."""
    from app.services.senders import create_profile

    INBOUND, DLR = "/v1/providers/{code}/inbound", "/v1/providers/{code}/dlr"
    sim = {"code": "simulator"}
    token = {"X-Callback-Token": client.application.config["PROVIDER_CALLBACK_TOKENS"]["simulator"]}
    create_profile(account, "Replies", "+4791234567", allow_reply=True)
    text = {"id": "in-1", "from": "+4799999999", "to": "+4791234567", "message": "STOP",
            "received_at": "2026-03-30T10:00:00Z"}
    stored = call(client, "post", INBOUND, path_params=sim, json={"messages": [text]}, headers=token)
    assert stored.status_code == 200 and stored.json["messages"][0]["action"] == "opt_out", stored.json
    again = call(client, "post", INBOUND, path_params=sim, json=text, headers=token, check_request=False)
    assert again.json["messages"][0]["duplicate"] is True
    assert call(client, "post", INBOUND, path_params=sim, json={"messages": [{**text, "id": "2", "to": "+4711111111"}]},
                headers=token).status_code == 404
    tokens = client.application.config["PROVIDER_CALLBACK_TOKENS"]
    tokens["nope"] = "nope-token"  # a token for a provider that does not exist: 404 once authenticated
    try:
        for path in (INBOUND, DLR):
            assert call(client, "post", path, path_params={"code": "nope"}, json={"messages": [text]},
                        headers={"X-Callback-Token": "nope-token"}, check_request=False).status_code == 404
    finally:
        del tokens["nope"]
    assert call(client, "post", INBOUND, path_params=sim, json={"messages": [text]}, headers=auth).status_code == 401
    assert call(client, "post", INBOUND, path_params=sim, json={"messages": []}, headers=token,
                check_request=False).status_code == 422

    sent = call(client, "post", sms("/send"), json={"to": "+4798765432", "message": "Hi"}, headers=auth).json
    report = {"reports": [{"reference": sent["sms_message_id"], "status": "FAILED", "error_code": "ABSENT",
                           "error_message": "Absent", "occurred_at": "2026-03-30T10:00:00Z"}]}
    recorded = call(client, "post", DLR, path_params=sim, json=report, headers=token)
    assert recorded.status_code == 200 and recorded.json == {"recorded": 1}
    assert call(client, "post", DLR, path_params=sim, json=report, headers=auth).status_code == 401
    assert call(client, "post", DLR, path_params=sim, json={"reports": [{"status": "LOST"}]}, headers=token,
                check_request=False).status_code == 422



def test_webhooks(client, auth, account, other_account):
    """Every webhook operation and status code; the behaviour is tested in test_webhooks_api.py."""
    from tests.api.test_webhooks_api import add_delivery

    DELIVERY = "/v1/webhooks/deliveries/{delivery_id}"
    delivered = add_delivery(account, state="DELIVERED", attempts=[200])
    pending = add_delivery(account, state="PENDING", attempts=[503], url="https://hooks.example.org/sms?order=1")
    foreign = add_delivery(other_account[0], state="DELIVERED", attempts=[200])
    listed = call(client, "get", "/v1/webhooks/deliveries", headers=auth,
                  query={"page": 1, "per_page": 10, "page_size": 10, "state": "delivered",
                         "message_id": delivered["message_id"], "endpoint": delivered["endpoint"]})
    assert listed.status_code == 200 and [d["id"] for d in listed.json["deliveries"]] == [delivered["id"]]
    for query in ({"state": "LOST"}, {"page": "x"}, {"per_page": "0"}):
        assert call(client, "get", "/v1/webhooks/deliveries", query=query, headers=auth).status_code == 422, query
    detail = call(client, "get", DELIVERY, path_params={"delivery_id": delivered["id"]}, headers=auth)
    assert detail.status_code == 200 and detail.json["attempt_log"][0]["status_code"] == 200
    for missing in ("nope", foreign["id"]):
        assert call(client, "get", DELIVERY, path_params={"delivery_id": missing}, headers=auth).status_code == 404
        assert call(client, "post", DELIVERY + "/replay", path_params={"delivery_id": missing},
                    headers=auth).status_code == 404
    assert call(client, "post", DELIVERY + "/replay", path_params={"delivery_id": pending["id"]},
                headers=auth).status_code == 409
    replayed = call(client, "post", DELIVERY + "/replay", path_params={"delivery_id": delivered["id"]}, headers=auth)
    assert replayed.status_code == 202 and replayed.json["state"] == "PENDING"
    health = call(client, "get", "/v1/webhooks/endpoints", headers=auth)
    assert health.status_code == 200 and len(health.json["endpoints"]) == 2
    secret = call(client, "get", "/v1/webhooks/secret", headers=auth)
    assert secret.status_code == 200 and secret.json["previous_secret_valid_until"] is None
    rotated = call(client, "post", "/v1/webhooks/secret/rotate", headers=auth)
    assert rotated.status_code == 200 and rotated.json["secret"] != secret.json["secret"]
    assert rotated.json["previous_secret_valid_until"] is not None

def test_rate_limited(client, auth, monkeypatch):
    """Every operation counted against the API key answers the documented 429 once the key is out of
    requests (the limiter runs before the view, so the path parameters need not name anything)."""
    monkeypatch.setitem(client.application.config, "API_RATE_LIMIT", 0.01)
    monkeypatch.setitem(client.application.config, "API_RATE_BURST", 1)
    call(client, "get", "/v1/sms/status", headers=auth)
    for path, method, op in operations():
        if "429" in op["responses"] and not path.startswith(MIRROR_PREFIX):
            response = call(client, method, path, path_params={n: "x" for n in re.findall(r"{(\w+)}", path)},
                            headers=auth, check_request=False)
            assert response.status_code == 429 and response.json["error"]["code"] == "rate_limited", path


def test_spending_limit_reached(client, auth, account):
    """A send past the account's monthly spending limit answers the documented 402."""
    from app.extensions import db

    account.monthly_spend_limit = 1
    db.session.commit()
    response = call(client, "post", sms("/send"), json={"to": ["+4790000001", "+4790000002"], "message": "hi"},
                    headers=auth)
    assert response.status_code == 402 and response.json["error"]["code"] == "spending_limit_reached"


def test_a_query_parameter_holding_nul_is_refused_by_every_operation_as_documented(client, auth):
    """Found by the schemathesis fuzz: ``?anything=%00`` is refused before any view runs, also on
    operations that read no query parameter; the document lists that answer on every operation."""
    for path, method, _ in operations():
        url = re.sub(r"{\w+}", "x", path) + "?x=%00"
        response = client.open(url, method=method.upper(), headers={**auth, "X-Callback-Token": "x"})
        check_response(method, path, response)
        expected = (422, "invalid_input") if path.startswith("/v1/") else (400, "bad_request")
        assert (response.status_code, response.json["error"]["code"]) == expected, path


# --------------------------------------------------------------------------------------------------
# The document promises nothing that no request produced
# --------------------------------------------------------------------------------------------------

def test_every_documented_response_and_parameter_was_exercised(request):
    others = {item.name for item in request.session.items
              if item.module is request.module and item.name != request.node.name}
    if not others <= RAN:
        pytest.skip("only meaningful when the whole module runs")
    not_produced = sorted((m.upper(), p, s) for p, m, op in operations() for s in op["responses"]
                          if not p.startswith(MIRROR_PREFIX) and (m, p, s) not in PRODUCED)
    assert not not_produced, f"documented responses no test request produced: {not_produced}"
    not_used = sorted((m.upper(), p, resolve(q)["name"]) for p, m, op in operations() for q in op.get("parameters", [])
                      if resolve(q)["in"] == "query" and not p.startswith(MIRROR_PREFIX)
                      and (m, p, resolve(q)["name"]) not in QUERY_PARAMS_USED)
    assert not not_used, f"documented query parameters no test request used: {not_used}"
