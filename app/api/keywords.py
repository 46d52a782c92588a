"""``/v1/sms/keywords``: inbound keyword routing (also under ``/v1/dashboard/sms/keywords``, as
every route of the ``sms`` blueprint). Each view parses input, calls one service, renders JSON."""
from __future__ import annotations

from flask import g, jsonify

from app.api.keyword_schemas import KeywordBody, KeywordChanges
from app.api.sms import json_body, sms
from app.models import Keyword
from app.models.base import iso
from app.services import keywords as keyword_service


def keyword_json(k: Keyword) -> dict:
    return {
        "id": k.id,
        "keyword": k.keyword,
        "description": k.description,
        "webhook_url": k.webhook_url,
        "auto_reply_message": k.auto_reply_message,
        "auto_reply_enabled": k.auto_reply_enabled,
        "is_active": k.is_active,
        "messages_received": k.messages_received,
        "last_message_at": iso(k.last_message_at),
        "created_at": iso(k.created_at),
        "updated_at": iso(k.updated_at),
    }


@sms.get("/keywords")
def list_keywords():
    return jsonify([keyword_json(k) for k in keyword_service.list_keywords(g.account)])


@sms.post("/keywords")
def create_keyword():
    values = KeywordBody.model_validate(json_body()).values()
    keyword = keyword_service.create_keyword(g.account, values.pop("keyword"), **values)
    return jsonify(keyword_json(keyword)), 201


@sms.get("/keywords/check/<keyword>")
def check_keyword(keyword: str):
    result = keyword_service.check_availability(g.account, keyword)
    return jsonify({"keyword": result.keyword, "available": result.available, "reason": result.reason,
                    "message": result.message})


@sms.get("/keywords/<keyword_id>")
def get_keyword(keyword_id: str):
    return jsonify(keyword_json(keyword_service.get_keyword(g.account, keyword_id)))


@sms.patch("/keywords/<keyword_id>")
def update_keyword(keyword_id: str):
    values = KeywordChanges.model_validate(json_body()).values()
    return jsonify(keyword_json(keyword_service.update_keyword(g.account, keyword_id, values)))


@sms.delete("/keywords/<keyword_id>")
def delete_keyword(keyword_id: str):
    keyword_service.delete_keyword(g.account, keyword_id)
    return jsonify({"message": "Keyword deleted", "id": keyword_id})
