"""Campaigns as people and clients handle them: drafts, preview, schedule, send, pause, resume,
cancel, resend to the failed ones, and a test send. The engine side (writing the ledger,
releasing it, completing) is in ``campaign_run``.

Every change of status is a conditional UPDATE through ``Campaign.transition``: if another
request or the engine moved the campaign first, the change is refused with a 409 that says where
the campaign is now, instead of being applied to a state nobody saw.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.queue import enqueue_campaign
from app.models import Account, Campaign, CampaignStatus, Group, Message, Status, get_owned, scoped, utcnow
from app.models.base import iso
from app.services import audit, budgets, campaign_audience as audience_service
from app.services.errors import Conflict, Invalid, NotFound
from app.services.paging import Page, paginate
from app.services.senders import resolve_for_send
from app.sms import Template, get_zone, parse_template, parse_window, resolve_schedule, validate_message

_S = CampaignStatus
NAME_MAX = 200


@dataclass(frozen=True)
class CampaignSpec:
    """A campaign as written in the composer or an API body, before it is checked."""

    name: str
    message: str
    group_ids: tuple = ()
    excluded_group_ids: tuple = ()
    sender_profile_id: str | None = None
    timezone: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    source_campaign_id: str | None = None
    # The most the campaign may release, in the account currency (None: no cap); see services.budgets.
    spend_cap: Decimal | None = None


def spec_of(campaign: Campaign) -> CampaignSpec:
    return CampaignSpec(
        name=campaign.name, message=campaign.body, group_ids=tuple(campaign.group_ids or ()),
        excluded_group_ids=tuple(campaign.excluded_group_ids or ()), sender_profile_id=campaign.sender_profile_id,
        timezone=campaign.timezone, window_start=campaign.window_start, window_end=campaign.window_end,
        source_campaign_id=campaign.source_campaign_id, spend_cap=campaign.spend_cap,
    )


@dataclass(frozen=True)
class Checked:
    """A spec that passed every check, with what the checks found."""

    spec: CampaignSpec
    template: Template
    profile_id: str
    timezone: str
    group_ids: list[str]
    excluded_group_ids: list[str]


def check(account: Account, spec: CampaignSpec) -> Checked:
    name = (spec.name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"A campaign needs a name of 1 to {NAME_MAX} characters", code="invalid_name",
                      fields=[_field("name", "Name is required")])
    validate_message(spec.message)
    template = parse_template(spec.message)
    profile = resolve_for_send(account, spec.sender_profile_id, None)
    zone = spec.timezone or account.timezone
    get_zone(zone)
    parse_window(spec.window_start, spec.window_end)
    groups = _owned_groups(account, spec.group_ids, "group_ids")
    excluded = _owned_groups(account, spec.excluded_group_ids, "excluded_group_ids")
    if spec.source_campaign_id:
        if get_owned(Campaign, account.id, spec.source_campaign_id) is None:
            raise Invalid("The campaign to resend from was not found", code="unknown_campaign")
    elif not groups:
        raise Invalid("Choose at least one group to send to", code="no_groups",
                      fields=[_field("group_ids", "Choose at least one group")])
    return Checked(spec, template, profile.id, zone, groups, excluded)


def _owned_groups(account: Account, ids, loc: str) -> list[str]:
    ids = list(dict.fromkeys(ids or ()))
    bad = [i for i in ids if not isinstance(i, str) or len(i) > 64]
    owned = set(db.session.scalars(
        scoped(Group, account.id).where(Group.id.in_([i for i in ids if i not in bad])).with_only_columns(Group.id)
    )) if ids else set()
    unknown = [i for i in ids if i not in owned]
    if unknown:
        raise Invalid(f"Group not found: {', '.join(map(str, unknown[:5]))}", code="unknown_group",
                      fields=[_field(loc, f"group {i} not found") for i in unknown])
    return ids


def _field(name: str, msg: str) -> dict:
    return {"loc": ["body", name], "msg": msg, "type": "value_error"}


# -- reading -------------------------------------------------------------------------------------

def get_campaign(account: Account, campaign_id: str) -> Campaign:
    campaign = get_owned(Campaign, account.id, campaign_id)
    if campaign is None:
        raise NotFound("Campaign not found")
    return campaign


def list_campaigns(account: Account, page: int, page_size: int, status: str | None = None) -> Page:
    query = scoped(Campaign, account.id)
    if status:
        query = query.where(Campaign.status == status.upper())
    return paginate(query, Campaign.created_at.desc(), Campaign.id, page=page, page_size=page_size)


def progress(campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's messages are in each status (read from the ledger)."""
    return progress_of(campaign.account_id, [campaign.id])[campaign.id]


def progress_of(account_id: str, campaign_ids: list[str]) -> dict[str, dict[str, int]]:
    """``progress`` for several campaigns in one query (a list page)."""
    result = {cid: {status: 0 for status in Status.ALL if status != Status.RECEIVED} for cid in campaign_ids}
    if campaign_ids:
        rows = db.session.execute(
            select(Message.batch_id, Message.status, func.count())
            .where(Message.batch_id.in_(campaign_ids), Message.account_id == account_id)
            .group_by(Message.batch_id, Message.status))
        for campaign_id, status, n in rows:
            result[campaign_id][status] = int(n)
    return result


# -- drafts and preview --------------------------------------------------------------------------

def create(account: Account, spec: CampaignSpec, user_id: str | None = None) -> Campaign:
    checked = check(account, spec)
    campaign = Campaign(account_id=account.id, created_by_id=user_id, status=_S.DRAFT)
    _apply(campaign, checked)
    db.session.add(campaign)
    audit.record(account.id, "campaign.resend_created" if spec.source_campaign_id else "campaign.created", "campaign",
                 campaign, name=campaign.name, source_campaign_id=spec.source_campaign_id)
    db.session.commit()
    return campaign


def update(account: Account, campaign: Campaign, spec: CampaignSpec) -> Campaign:
    if not campaign.is_editable and replace(spec, spend_cap=campaign.spend_cap) == spec_of(campaign):
        return change_cap(account, campaign, spec.spend_cap)
    if not campaign.is_editable:
        raise Conflict(f"Only a draft can be edited; this campaign is {campaign.status}. "
                       "Take it off the schedule first." if campaign.status == _S.SCHEDULED else
                       f"Only a draft can be edited; this campaign is {campaign.status}")
    _apply(campaign, check(account, spec))
    audit.record_changes(account.id, "campaign.changed", "campaign", campaign, AUDITED)
    db.session.commit()
    return campaign


def change_cap(account: Account, campaign: Campaign, cap: Decimal | None) -> Campaign:
    """Change only the spending cap: allowed until the campaign is over (raising it lets one the
    cap paused go on when it is resumed)."""
    if campaign.is_final:
        raise Conflict(f"A {campaign.status} campaign's spending cap cannot be changed",
                       code="invalid_campaign_status")
    budgets.set_cap(campaign, cap, account.currency)
    db.session.commit()
    return campaign


AUDITED = ("name", "body", "sender_profile_id", "group_ids", "excluded_group_ids", "timezone", "window_start",
           "window_end")


def _apply(campaign: Campaign, checked: Checked) -> None:
    spec = checked.spec
    campaign.name = spec.name.strip()
    campaign.body = spec.message
    campaign.sender_profile_id = checked.profile_id
    campaign.group_ids = checked.group_ids
    campaign.excluded_group_ids = checked.excluded_group_ids
    campaign.timezone = checked.timezone
    campaign.window_start = (spec.window_start or "").strip() or None
    campaign.window_end = (spec.window_end or "").strip() or None
    campaign.source_campaign_id = spec.source_campaign_id
    budgets.set_cap(campaign, spec.spend_cap)


def preview(account: Account, spec: CampaignSpec) -> audience_service.Preview:
    """Recipients, units and cost the spec would commit to, counted from the live directory."""
    checked = check(account, spec)
    audience = audience_service.Audience()
    stream = audience_service.recipients(account, checked.template, checked.group_ids,
                                         checked.excluded_group_ids, spec.source_campaign_id, audience)
    return audience_service.preview(account, stream, audience)


def test_send(account: Account, spec: CampaignSpec, number: str) -> dict:
    """Send the composed text, personalised for the first recipient, to one number now."""
    from app.services.send import SendRequest, send

    checked = check(account, spec)
    audience = audience_service.Audience()
    stream = audience_service.recipients(account, checked.template, checked.group_ids,
                                         checked.excluded_group_ids, spec.source_campaign_id, audience)
    first = next(stream, None)
    stream.close()
    text = first.text if first else checked.template.render({})
    response, _ = send(account, SendRequest(message=text, to=(number,), sender_profile_id=checked.profile_id,
                                            customer_ref="campaign test"))
    return response


# -- dispatch ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Commitment:
    """The numbers the person saw on the dispatch button; if the audience has changed since, the
    dispatch is refused so nobody sends to more (or fewer) people than they agreed to."""

    recipients: int
    units: int


def send_now(account: Account, campaign: Campaign, commitment: Commitment | None = None) -> Campaign:
    _check_ready(account, campaign, commitment)
    audit.record(account.id, "campaign.dispatched", "campaign", campaign.id, name=campaign.name)
    _move(campaign, _S.SENDING, expect=(_S.DRAFT, _S.SCHEDULED), scheduled_at=None)
    enqueue_campaign(campaign.id)
    return campaign


def schedule(account: Account, campaign: Campaign, local_time: str, timezone: str | None = None,
             commitment: Commitment | None = None, now: datetime | None = None) -> tuple[Campaign, str | None]:
    """Schedule (or reschedule) for a wall time in ``timezone`` (default: the campaign's zone).
    Returns the campaign and a note when the wall time occurs twice (the first one is taken)."""
    now = now or utcnow()
    zone = timezone or campaign.timezone or account.timezone
    config = current_app.config
    resolved = resolve_schedule(local_time, zone, now, max_ahead=timedelta(days=config["SCHEDULE_MAX_DAYS"]),
                                grace=timedelta(0))
    if resolved.utc <= now:
        raise Invalid("That time has passed; choose a later time or send now", code="invalid_schedule")
    _check_ready(account, campaign, commitment)
    audit.record(account.id, "campaign.scheduled", "campaign", campaign.id, scheduled_at=resolved.utc, timezone=zone)
    _move(campaign, _S.SCHEDULED, now=now, scheduled_at=resolved.utc, timezone=zone)
    note = None
    if resolved.ambiguous:
        note = (f"{local_time} occurs twice in {zone} (clocks go back); the first occurrence, "
                f"{iso(resolved.utc)}, was used")
    return campaign, note


def _check_ready(account: Account, campaign: Campaign, commitment: Commitment | None) -> None:
    check(account, spec_of(campaign))
    if commitment is None:
        return
    seen = preview(account, spec_of(campaign))
    if (seen.recipients, seen.units) != (commitment.recipients, commitment.units):
        raise Conflict(f"The audience changed since the preview: it is now {seen.recipients} recipients "
                       f"and {seen.units} units. Check the preview and confirm again.", code="audience_changed")


def unschedule(campaign: Campaign) -> Campaign:
    audit.record(campaign.account_id, "campaign.unscheduled", "campaign", campaign.id)
    return _move(campaign, _S.DRAFT, scheduled_at=None, expect=_S.SCHEDULED)


def pause(campaign: Campaign) -> Campaign:
    audit.record(campaign.account_id, "campaign.paused", "campaign", campaign.id)
    return _move(campaign, _S.PAUSED, note=None)


def resume(campaign: Campaign) -> Campaign:
    audit.record(campaign.account_id, "campaign.resumed", "campaign", campaign.id)
    _move(campaign, _S.SENDING, expect=_S.PAUSED, note=None, commit=False)
    # Its cap or the monthly limit leaves no room: it stays paused (the resume and its audit event
    # are undone), now saying why even if it was paused by hand, and the caller hears it refused.
    if note := budgets.blocked_note(db.session.get(Account, campaign.account_id), campaign):
        db.session.rollback()
        db.session.execute(Campaign.__table__.update().where(Campaign.id == campaign.id, Campaign.status == _S.PAUSED)
                           .values(note=note))
        db.session.commit()
        db.session.refresh(campaign)
        raise Conflict(f"Not resumed: {note}", code="budget_reached")
    db.session.commit()
    enqueue_campaign(campaign.id)
    return campaign


def cancel(campaign: Campaign) -> Campaign:
    """Cancel the campaign and every message of it not yet handed to a carrier."""
    now = utcnow()
    audit.record(campaign.account_id, "campaign.cancelled", "campaign", campaign.id)
    _move(campaign, _S.CANCELLED, now=now, commit=False)
    cancelled = db.session.execute(Message.transition(Status.CANCELLED, Message.batch_id == campaign.id, now=now,
                                                      error_message="The campaign was cancelled")
                                   .returning(*budgets.GIVE_BACK_COLUMNS)).all()
    # Released messages not yet handed to the carrier give their cost back to the monthly limit.
    budgets.give_back(db.session.get(Account, campaign.account_id), cancelled)
    db.session.commit()
    return campaign


def resend_failed(account: Account, campaign: Campaign, user_id: str | None = None) -> Campaign:
    """A new draft that reaches only the recipients this campaign failed to reach."""
    if campaign.status not in (_S.COMPLETED, _S.CANCELLED, _S.PAUSED):
        raise Conflict(f"Resend to failed recipients once the campaign has finished; it is {campaign.status}")
    failed = db.session.scalar(select(func.count()).where(
        Message.batch_id == campaign.id, Message.account_id == account.id, Message.status == Status.FAILED))
    if not failed:
        raise Conflict("No recipient of this campaign failed; there is nothing to resend")
    spec = spec_of(campaign)
    suffix = " (resend to failed)"
    name = campaign.name[:NAME_MAX - len(suffix)] + suffix
    return create(account, CampaignSpec(name=name, message=campaign.body, sender_profile_id=spec.sender_profile_id,
                                        timezone=spec.timezone, window_start=spec.window_start,
                                        window_end=spec.window_end, source_campaign_id=campaign.id), user_id)


def _move(campaign: Campaign, target: str, *, expect: str | tuple[str, ...] | None = None, now: datetime | None = None,
          commit: bool = True, **values) -> Campaign:
    """Move this campaign to ``target`` if it may (and, with ``expect``, only from that status)."""
    where = [Campaign.id == campaign.id]
    if expect:
        where.append(Campaign.status.in_((expect,) if isinstance(expect, str) else expect))
    moved = db.session.execute(Campaign.transition(target, *where, now=now or utcnow(), **values)).rowcount
    if not moved:
        db.session.rollback()
        db.session.refresh(campaign)
        raise Conflict(f"A {campaign.status} campaign cannot be {_VERBS.get(target, target.lower())}",
                       code="invalid_campaign_status")
    if commit:
        db.session.commit()
    db.session.refresh(campaign)
    return campaign


_VERBS = {_S.SENDING: "sent or resumed", _S.SCHEDULED: "scheduled", _S.PAUSED: "paused",
          _S.CANCELLED: "cancelled", _S.DRAFT: "taken off the schedule", _S.COMPLETED: "completed"}
