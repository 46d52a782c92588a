"""Helpers of the schemathesis fuzz test: an account with one object of every kind (made through the
API itself, so the objects are real), and the "no undocumented fields" walk over a response body."""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

from app.models import utcnow
from app.services.accounts import create_account, create_api_key
from tests.api.test_webhooks_api import add_delivery

PROVIDER = "simulator"
KEYWORD = "PIZZA"


@dataclass
class Seeded:
    app: object
    api_key: str
    callback_token: str
    ids: dict = field(default_factory=dict)

    def headers_for(self, path: str) -> dict:
        if path.startswith("/v1/providers/"):
            return {"X-Callback-Token": self.callback_token}
        return {"X-API-Key": self.api_key}


def _post(client, headers: dict, url: str, body: dict) -> dict:
    response = client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), (url, response.status_code, response.get_json())
    return response.get_json()


def seed_account(app, name: str = "Fuzz") -> Seeded:
    """An account with a sender profile, a contact in a group, a campaign draft to that group, a
    keyword, a scheduled message (so it can still be cancelled) and a webhook delivery."""
    account = create_account(name, "NOK", "Europe/Oslo")
    seeded = Seeded(app, create_api_key(account)[1], app.config["PROVIDER_CALLBACK_TOKENS"][PROVIDER])
    client, auth = app.test_client(), {"X-API-Key": seeded.api_key}
    ids = seeded.ids
    ids["profile_id"] = _post(client, auth, "/v1/sms/sender-profiles",
                              {"name": "Shop", "sender_id": "+4790000000", "allow_reply": True})["id"]
    ids["contact_id"] = _post(client, auth, "/v1/contacts", {"name": "Ada", "phone_number": "+4791000001"})["id"]
    ids["group_id"] = _post(client, auth, "/v1/contacts/groups", {"name": "Customers"})["id"]
    _post(client, auth, f"/v1/contacts/groups/{ids['group_id']}/members", {"contact_ids": [ids["contact_id"]]})
    ids["campaign_id"] = _post(client, auth, "/v1/campaigns", {"name": "Spring", "message": "Hello",
                                                                "group_ids": [ids["group_id"]]})["id"]
    ids["keyword_id"] = _post(client, auth, "/v1/sms/keywords", {"keyword": KEYWORD,
                                                                 "auto_reply_message": "Thanks"})["id"]
    ids["keyword"] = KEYWORD
    later = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = _post(client, auth, "/v1/sms/send", {"to": ["+4791000001"], "message": "Hi", "scheduled_at": later})
    ids["message_id"] = sent["sms_message_id"]
    ids["delivery_id"] = add_delivery(account, message_id=ids["message_id"])["id"]
    ids["code"] = PROVIDER
    return seeded


# -- realistic values -------------------------------------------------------------------------------

def _realistic(seeded: Seeded) -> dict:
    """Field name -> a valid value for it: random strings are almost never phone numbers or ids of
    the account's objects, so without these the success paths would hardly be reached."""
    ids, later = seeded.ids, (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "to": lambda v: "+4790000000" if isinstance(v, str) and len(v) % 2 else ["+4791000001", "+4791000002"],
        "from": lambda v: "+4791000001", "phone_number": lambda v: "+4791000003",
        "sender_id": lambda v: "+4790000000", "sender_profile_id": lambda v: ids["profile_id"],
        "to_contacts": lambda v: [ids["contact_id"]], "contact_ids": lambda v: [ids["contact_id"]],
        "to_groups": lambda v: [ids["group_id"]], "group_ids": lambda v: [ids["group_id"]],
        "excluded_group_ids": lambda v: [], "scheduled_at": lambda v: later, "timezone": lambda v: "Europe/Oslo",
        "callback_url": lambda v: "https://example.com/callback", "webhook_url": lambda v: "https://example.com/kw",
        "email": lambda v: "ada@example.com", "keyword": lambda v: "SALE" + str(len(str(v)) % 10),
        "reference": lambda v: ids["message_id"], "status": lambda v: "DELIVERED" if len(str(v)) % 2 else "FAILED",
        "message": lambda v: v if isinstance(v, str) and v.strip() else "Hello {first_name|there}",
    }


def make_realistic(value, seeded: Seeded, replacements: dict | None = None):
    """The body with about two in three of the fields named above set to a valid value (which ones
    is decided by a hash of the generated value, so a run stays reproducible)."""
    replacements = replacements or _realistic(seeded)
    if isinstance(value, dict):
        return {key: (replacements[key](item) if key in replacements and zlib.crc32(repr(item).encode()) % 3
                      else make_realistic(item, seeded, replacements)) for key, item in value.items()}
    if isinstance(value, list):
        return [make_realistic(item, seeded, replacements) for item in value]
    return value


# -- no undocumented fields --------------------------------------------------------------------------

def _resolve(node: dict, document: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _branches(schema: dict, document: dict) -> list[dict]:
    """The schema and every schema it combines (allOf/anyOf/oneOf), resolved."""
    schema = _resolve(schema, document)
    found = [schema]
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key, []):
            found += _branches(branch, document)
    return found


def _walk(instance, schema: dict, document: dict, where: str, found: list[str]) -> None:
    branches = _branches(schema, document)
    if isinstance(instance, dict):
        named = {k: p for b in branches for k, p in b.get("properties", {}).items()}
        # Only an object documented as a map (no named fields) may have keys the document does not
        # name; named fields plus ``additionalProperties: true`` would still hide undocumented ones.
        values = [b["additionalProperties"] for b in branches if b.get("additionalProperties") not in (None, False)]
        for key, value in instance.items():
            if key in named:
                _walk(value, named[key], document, f"{where}/{key}", found)
            elif named or not values:
                found.append(f"{where}/{key}")
            elif isinstance(values[0], dict):
                _walk(value, values[0], document, f"{where}/{key}", found)
    elif isinstance(instance, list):
        items = [b["items"] for b in branches if isinstance(b.get("items"), dict)]
        for i, value in enumerate(instance):
            if items:
                _walk(value, items[0], document, f"{where}/{i}", found)


def response_schema(operation: dict, status: int, document: dict) -> dict | None:
    responses = operation.get("responses", {})
    response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if response is None:
        return None
    content = _resolve(response, document).get("content", {})
    return (content.get("application/json") or {}).get("schema")


def undocumented_fields(operation: dict, response, document: dict) -> list[str]:
    """Paths of every field in a JSON response body that the documented schema does not name
    (an object documented as a map with ``additionalProperties`` may have any keys)."""
    schema = response_schema(operation, response.status_code, document)
    if schema is None or not response.content:
        return []
    try:
        body = json.loads(response.content)
    except ValueError:
        return []  # content_type_conformance and response_schema_conformance judge that
    found: list[str] = []
    _walk(body, schema, document, "", found)
    return found
