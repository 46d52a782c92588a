"""``/v1/campaigns``: campaign drafts, their preview, and their life (send, schedule, pause,
resume, cancel). A campaign's messages are listed by ``GET /v1/sms/messages?campaign_id=...``.

Each view parses input, calls one service, renders JSON. A body is parsed before the campaign is
looked up, so a malformed or oversized request is refused the same way whichever id it names.
"""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, g, jsonify, request

from app.api.auth import authenticate
from app.api.campaign_schemas import CampaignBody, CampaignChanges, DispatchBody, ScheduleBody
from app.api.campaign_serializers import campaign_json, preview_json
from app.api.params import page_envelope, paging
from app.api.sms import json_body
from app.models import Campaign, CampaignStatus
from app.services import campaigns as campaign_service
from app.services.campaigns import CampaignSpec, Commitment
from app.services.errors import Invalid

campaigns = Blueprint("campaigns", __name__)


@campaigns.before_request
def _authenticate() -> None:
    authenticate()


def _json(campaign: Campaign) -> dict:
    return campaign_json(campaign, campaign_service.progress(campaign))


def _optional_body() -> dict:
    """The JSON object in the body, or nothing: an empty body means "no options"."""
    return json_body() if request.get_data(cache=True).strip() else {}


def _commitment(parsed: DispatchBody) -> Commitment | None:
    if parsed.expected_recipients is None:
        return None
    return Commitment(recipients=parsed.expected_recipients, units=parsed.expected_units)


def _status_filter() -> str | None:
    raw = (request.args.get("status") or "").strip().upper()
    if raw and raw not in CampaignStatus.ALL:
        raise Invalid(f"Unknown status {raw[:32]}; use one of {', '.join(CampaignStatus.ALL)}",
                      code="invalid_query")
    return raw or None


# -- drafts --------------------------------------------------------------------------------------

@campaigns.get("")
def list_campaigns():
    page, size = paging()
    result = campaign_service.list_campaigns(g.account, page, size, _status_filter())
    progress = campaign_service.progress_of(g.account.id, [c.id for c in result.items])
    return jsonify(page_envelope("campaigns", [campaign_json(c, progress[c.id]) for c in result.items], result))


@campaigns.post("")
def create_campaign():
    values = CampaignBody.model_validate(json_body()).values()
    campaign = campaign_service.create(g.account, CampaignSpec(**values))
    return jsonify(_json(campaign)), 201


@campaigns.get("/<campaign_id>")
def get_campaign(campaign_id: str):
    return jsonify(_json(campaign_service.get_campaign(g.account, campaign_id)))


@campaigns.patch("/<campaign_id>")
def update_campaign(campaign_id: str):
    values = CampaignChanges.model_validate(json_body()).values()
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    spec = replace(campaign_service.spec_of(campaign), **values)
    return jsonify(_json(campaign_service.update(g.account, campaign, spec)))


@campaigns.get("/<campaign_id>/preview")
def preview_campaign(campaign_id: str):
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    preview = campaign_service.preview(g.account, campaign_service.spec_of(campaign))
    return jsonify(preview_json(campaign.id, preview))


# -- its life ------------------------------------------------------------------------------------

@campaigns.post("/<campaign_id>/send")
def send_campaign(campaign_id: str):
    parsed = DispatchBody.model_validate(_optional_body())
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    return jsonify(_json(campaign_service.send_now(g.account, campaign, _commitment(parsed))))


@campaigns.post("/<campaign_id>/schedule")
def schedule_campaign(campaign_id: str):
    parsed = ScheduleBody.model_validate(json_body())
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    campaign, note = campaign_service.schedule(g.account, campaign, parsed.scheduled_at, parsed.timezone,
                                               _commitment(parsed))
    return jsonify({**_json(campaign), "schedule_note": note})


@campaigns.post("/<campaign_id>/unschedule")
def unschedule_campaign(campaign_id: str):
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    return jsonify(_json(campaign_service.unschedule(campaign)))


@campaigns.post("/<campaign_id>/pause")
def pause_campaign(campaign_id: str):
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    return jsonify(_json(campaign_service.pause(campaign)))


@campaigns.post("/<campaign_id>/resume")
def resume_campaign(campaign_id: str):
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    return jsonify(_json(campaign_service.resume(campaign)))


@campaigns.post("/<campaign_id>/cancel")
def cancel_campaign(campaign_id: str):
    campaign = campaign_service.get_campaign(g.account, campaign_id)
    return jsonify(_json(campaign_service.cancel(campaign)))
