"""Campaigns and their previews as the API returns them (documented in
``openapi/responses_campaigns.py``, field for field)."""
from __future__ import annotations

from app.models import Campaign
from app.models.base import iso
from app.services.campaign_audience import Preview
from app.sms import get_zone


def campaign_json(c: Campaign, progress: dict[str, int]) -> dict:
    """``progress`` is the ledger's count per message status (``services.campaigns.progress``)."""
    return {
        "id": c.id,
        "name": c.name,
        "message": c.body,
        "status": c.status,
        "sender_profile_id": c.sender_profile_id,
        "group_ids": list(c.group_ids or []),
        "excluded_group_ids": list(c.excluded_group_ids or []),
        "source_campaign_id": c.source_campaign_id,
        "timezone": c.timezone,
        "send_window": {"start": c.window_start, "end": c.window_end} if c.window_start else None,
        "scheduled_at": iso(c.scheduled_at),
        "scheduled_local": scheduled_local(c),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
        "started_at": iso(c.started_at),
        "paused_at": iso(c.paused_at),
        "completed_at": iso(c.completed_at),
        "cancelled_at": iso(c.cancelled_at),
        "recipients": c.recipients,
        "skipped": dict(c.skipped or {}),
        "note": c.note,
        "spend_cap": None if c.spend_cap is None else float(c.spend_cap),
        "progress": progress,
    }


def scheduled_local(c: Campaign) -> str | None:
    """The schedule as the wall time in the campaign's zone, with its offset: the offset tells the
    two occurrences of an ambiguous (clocks going back) time apart."""
    if c.scheduled_at is None:
        return None
    return c.scheduled_at.astimezone(get_zone(c.timezone)).isoformat(timespec="seconds")


def preview_json(campaign_id: str, p: Preview) -> dict:
    currency, cost = p.cost
    return {
        "campaign_id": campaign_id,
        "recipients": p.recipients,
        "skipped": dict(p.skipped),
        "encoding": p.encoding,
        "encodings": dict(p.encodings),
        "parts": {str(parts): n for parts, n in p.parts.items()},
        "worst_parts": p.worst_parts,
        "units": p.units,
        "cost": float(cost),
        "currency": currency,
        "costs": {code: float(amount) for code, amount in p.costs},
        "ucs2_characters": list(p.ucs2_characters),
        "suggestions": dict(p.replacements),
        "samples": [{"to": r.number, "name": r.name, "message": r.text} for r in p.samples],
    }
