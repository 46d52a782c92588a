"""Operations and response schemas of /v1/sms/keywords (mirrored under /v1/dashboard/sms like
every /v1/sms operation), field for field as ``app/api/keywords.py`` builds them."""
from __future__ import annotations

from app.api.keyword_schemas import KeywordBody, KeywordChanges
from app.api.openapi.builders import (
    PAYLOAD_TOO_LARGE, UNAUTHORIZED, Operation, array, boolean, error, integer, json_content, obj, ref, string,
    timestamp, uuid,
)
from app.sms.keywords import RESERVED

KEYWORD_MODELS = (KeywordBody, KeywordChanges)

KEYWORD_PARAMETERS = {
    "KeywordIdPath": {"name": "keyword_id", "in": "path", "required": True, "description": "Keyword ID",
                      "schema": {"type": "string"}},
    "KeywordPath": {"name": "keyword", "in": "path", "required": True,
                    "description": "The keyword to check, any case", "schema": {"type": "string"}},
}

RULES = (f"A keyword is 2 to 20 ASCII letters and digits (no Æ/Ø/Å, spaces or punctuation), unique in the account "
         f"ignoring case, stored as written and matched against the first word of inbound messages ignoring case. "
         f"Reserved (opt-out, opt-in and help words every sender must honour): {', '.join(RESERVED)}.")

KEYWORD_404 = error("No keyword with this id in your account (code not_found)")
FIELDS_422 = ("invalid webhook_url (not https, or a private/loopback address; code invalid_webhook_url), "
              "auto_reply_message too long (invalid_message), auto_reply_enabled without auto_reply_message "
              "(auto_reply_message_required), description over 500 characters, wrong field types")


def keyword_operations() -> list[Operation]:
    """Paths relative to /v1/sms."""
    one = ("KeywordIdPath",)
    keyword = {"description": "The keyword", "content": json_content(ref("Keyword"))}
    return [
        Operation(
            "get", "/keywords", "listKeywords", "List keywords",
            "The account's inbound keywords, in alphabetical order. The response is a bare array.\n\n" + RULES,
            "Keywords",
            responses={"200": {"description": "The account's keywords", "content": json_content(array(ref("Keyword")))},
                       "401": UNAUTHORIZED},
        ),
        Operation(
            "post", "/keywords", "createKeyword", "Create keyword",
            "Claim a keyword: inbound messages whose first word is it are counted, POSTed to webhook_url (event "
            "sms.inbound) and answered with auto_reply_message when auto_reply_enabled.\n\n" + RULES,
            "Keywords", body=KeywordBody,
            responses={
                "201": {"description": "Created", "content": json_content(ref("Keyword"))},
                "401": UNAUTHORIZED,
                "409": error("The account already has this keyword, in any case (code keyword_taken)"),
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: keyword missing or breaking the rules (code invalid_keyword), a "
                             "reserved word (code reserved_keyword), " + FIELDS_422),
            },
        ),
        Operation(
            "get", "/keywords/check/{keyword}", "checkKeyword", "Check keyword availability",
            "Whether the keyword could be created now; if not, why (reason invalid, reserved or taken). Always "
            "200: the answer is in the body.\n\n" + RULES, "Keywords", parameters=("KeywordPath",),
            responses={"200": {"description": "Availability", "content": json_content(ref("KeywordAvailability"))},
                       "401": UNAUTHORIZED},
        ),
        Operation(
            "get", "/keywords/{keyword_id}", "getKeyword", "Get keyword", "One keyword with its counters.",
            "Keywords", parameters=one, responses={"200": keyword, "401": UNAUTHORIZED, "404": KEYWORD_404},
        ),
        Operation(
            "patch", "/keywords/{keyword_id}", "updateKeyword", "Update keyword",
            "Change a keyword's settings: only the fields sent change. The keyword itself cannot change "
            "(sending it unchanged is fine; another value is 422 keyword_immutable): delete it and create "
            "another.", "Keywords", parameters=one, body=KeywordChanges,
            responses={
                "200": {"description": "The changed keyword", "content": json_content(ref("Keyword"))},
                "401": UNAUTHORIZED,
                "404": KEYWORD_404,
                "413": PAYLOAD_TOO_LARGE,
                "422": error("Invalid input: keyword changed (code keyword_immutable), " + FIELDS_422),
            },
        ),
        Operation(
            "delete", "/keywords/{keyword_id}", "deleteKeyword", "Delete keyword",
            "Delete a keyword: inbound messages starting with it are no longer routed. The word becomes free.",
            "Keywords", parameters=one,
            responses={"200": {"description": "Deleted", "content": json_content(ref("KeywordDeleted"))},
                       "401": UNAUTHORIZED, "404": KEYWORD_404},
        ),
    ]


def keyword_response_schemas() -> dict:
    return {
        "Keyword": obj({
            "id": uuid(),
            "keyword": string("As written at creation (immutable)", example="PROMO"),
            "description": string(nullable=True),
            "webhook_url": string("Where inbound messages with this keyword are POSTed", nullable=True),
            "auto_reply_message": string(nullable=True),
            "auto_reply_enabled": boolean(),
            "is_active": boolean("Whether the keyword routes inbound messages"),
            "messages_received": integer("Inbound messages matched"),
            "last_message_at": timestamp("When the last matching message arrived", nullable=True),
            "created_at": timestamp(),
            "updated_at": timestamp(),
        }, description="An inbound keyword."),
        "KeywordAvailability": obj({
            "keyword": string("The keyword checked (trimmed when it is valid)"),
            "available": boolean("True if it can be created now"),
            "reason": string("Why not: invalid (breaks the spelling rules), reserved (an opt-out, opt-in or help "
                             "word), taken (the account has it, in some case)", nullable=True,
                             enum=("invalid", "reserved", "taken")),
            "message": string("Human-readable explanation; null when available", nullable=True),
        }),
        "KeywordDeleted": obj({"message": string(), "id": string()}),
    }
