"""Objects as the API returns them: the reference's fields exactly, plus documented extensions."""
from __future__ import annotations

from app.models import Message, SenderProfile
from app.models.base import iso


def message_json(m: Message) -> dict:
    return {
        "id": m.id,
        "direction": m.direction,
        "message_type": m.message_type,
        "from_number": m.from_number,
        "to_number": m.to_number,
        "body": m.body,
        "status": m.status,
        "units_count": m.units,
        "customer_ref": m.customer_ref,
        "created_at": iso(m.created_at),
        "scheduled_at": iso(m.scheduled_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "related_message_id": m.related_message_id,
        "error_message": m.error_message,
        # extensions
        "batch_id": m.batch_id,
        "campaign_id": m.campaign_id,
        "encoding": m.encoding,
        "cost": float(m.cost),
        "currency": m.currency,
        "error_code": m.error_code,
        "cancelled_at": iso(m.cancelled_at),
        "failed_at": iso(m.failed_at),
    }


def profile_json(p: SenderProfile) -> dict:
    return {
        "id": p.id,
        "name": p.name,
        "sender_id": p.sender_id,
        "is_default": p.is_default,
        "allow_reply": p.allow_reply,
        "is_custom_sender": p.is_custom_sender,
        "approval_status": p.approval_status,
        "monthly_price": float(p.monthly_price),
        "created_at": iso(p.created_at),
    }


def profile_brief(p: SenderProfile | None) -> dict | None:
    if p is None:
        return None
    return {"id": p.id, "name": p.name, "sender_id": p.sender_id, "is_default": p.is_default}
