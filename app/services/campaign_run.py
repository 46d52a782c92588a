"""The engine side of campaigns: start the due ones, write their ledger, release it to the
dispatcher a slice at a time, and complete them when nothing is left in flight.

Crash safety comes from the ledger's uniqueness, not from bookkeeping: writing the ledger again
after a crash inserts only the recipients that are missing (ON CONFLICT DO NOTHING on
``(campaign_id, to_number)``), releasing is a conditional UPDATE, and the dispatcher claims rows
atomically. So a run killed at any point and started again sends every recipient exactly once.

One run per campaign at a time holds a Redis lock that it renews as it goes; a run that dies
lets its lock expire, and the tick starts a new run for any SENDING campaign without one.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice

from flask import current_app
from sqlalchemy import exists, func, select, update
from redis.exceptions import RedisError

from app.extensions import db, redis_conn
from app.jobs.queue import request_dispatch
from app.models import Account, Campaign, CampaignStatus, Message, OptOut, Status, utcnow
from app.models.base import picked_once
from app.services import budgets
from app.services import audit, campaign_audience as audience_service
from app.services.campaigns import check, spec_of
from app.services.contacts import insert_ignoring_duplicates
from app.services.errors import ServiceError
from app.sms import SmsError, basic_gsm7_parts, count_segments, get_zone, parse_window, price_per_unit
from app.sms.budget import fitting
from app.sms.encoding import GSM7

log = logging.getLogger(__name__)
_S = CampaignStatus
_MSG = Message.__table__
_CAMPAIGN = Campaign.__table__
# A campaign message is settled in one of these; SENT still waits for its delivery report, for
# REPORT_WAIT_HOURS at most (see ``counts_as_settled``).
SETTLED = (Status.DELIVERED, Status.FAILED, Status.CANCELLED)
# Not handed to the carrier yet (or not accepted by it yet): these always hold a campaign open.
UNSENT = tuple(s for s in Status.ALL if s not in SETTLED and s != Status.SENT)
LEDGER_CHUNK = 5000


def start_due(now: datetime | None = None) -> list[str]:
    """SCHEDULED -> SENDING for every campaign whose time has come; returns their ids."""
    now = now or utcnow()
    due = list(db.session.scalars(
        select(_CAMPAIGN.c.id).where(_CAMPAIGN.c.status == _S.SCHEDULED, _CAMPAIGN.c.scheduled_at <= now)))
    started = []
    for campaign_id in due:
        moved = db.session.execute(Campaign.transition(
            _S.SENDING, _CAMPAIGN.c.id == campaign_id, _CAMPAIGN.c.status == _S.SCHEDULED,
            _CAMPAIGN.c.scheduled_at <= now, now=now)).rowcount
        if moved:
            started.append(campaign_id)
    db.session.commit()
    return started


def run(campaign_id: str, now: datetime | None = None) -> dict:
    """Write the ledger if needed, then release and dispatch it until the campaign is paused,
    cancelled, outside its send window, or has nothing left to release. ``now`` (default: the
    clock, read before each slice) decides whether the window is open."""
    token = uuid.uuid4().hex
    if not _lock(campaign_id, token):
        return {"campaign": campaign_id, "skipped": "another run holds it"}
    try:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or campaign.status != _S.SENDING:
            return {"campaign": campaign_id, "skipped": "not sending"}
        if campaign.materialized_at is None and not write_ledger(campaign, lambda: _lock(campaign_id, token, True)):
            return {"campaign": campaign_id, "ledger": "not written"}
        sent = _release_and_dispatch(campaign_id, token, now)
        completed = complete_finished(campaign_id)
        return {"campaign": campaign_id, "dispatched": sent, "completed": bool(completed)}
    finally:
        _unlock(campaign_id, token)


def write_ledger(campaign: Campaign, still_ours=lambda: True) -> bool:
    """One Message row per recipient, held as SCHEDULED without a time until released. Committed
    in chunks; a re-run after a crash adds only what is missing. Returns False when the campaign
    can no longer be sent as written (it is paused with a note saying why), or when ``still_ours``
    (called after each chunk, renewing the run's lock) says another run has taken over."""
    account = db.session.get(Account, campaign.account_id)
    try:
        checked = check(account, spec_of(campaign))
    except (ServiceError, SmsError) as exc:
        _pause_with_note(campaign.id, f"Paused before sending: {exc}")
        return False
    audience = audience_service.Audience()
    stream = audience_service.recipients(account, checked.template, checked.group_ids, checked.excluded_group_ids,
                                         campaign.source_campaign_id, audience)
    common = _common_values(account, campaign, checked.profile_id)
    unit_price = price_per_unit(account.currency, current_app.config["SMS_PRICES"])
    while chunk := list(islice(stream, LEDGER_CHUNK)):
        _insert_ledger([_ledger_row(common, r, unit_price) for r in chunk])
        db.session.commit()
        if not still_ours():
            return False
    count = db.session.scalar(select(func.count()).where(_MSG.c.campaign_id == campaign.id))
    db.session.execute(_CAMPAIGN.update().where(_CAMPAIGN.c.id == campaign.id, _CAMPAIGN.c.materialized_at.is_(None))
                       .values(materialized_at=utcnow(), recipients=count, skipped=dict(audience.skipped)))
    db.session.commit()
    return True


def _insert_ledger(rows: list[dict]) -> None:
    """Insert ledger rows, skipping recipients the ledger already has. On PostgreSQL by COPY into
    a temporary table and one INSERT ... SELECT, in less than half the time of a row-by-row
    executemany: writing the ledger is the one part of a campaign no other worker can help with."""
    if db.session.get_bind().dialect.name != "postgresql":
        insert_ignoring_duplicates(_MSG, rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    # Timestamps are stored as naive UTC (see UTCDateTime); COPY bypasses the column types.
    stamps = [i for i, name in enumerate(columns) if isinstance(rows[0][name], datetime)]
    driver = db.session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE ledger_rows ON COMMIT DROP AS SELECT {names} FROM messages WITH NO DATA")
        with cursor.copy(f"COPY ledger_rows ({names}) FROM STDIN") as copy:
            for row in rows:
                values = [row[name] for name in columns]
                for i in stamps:
                    values[i] = values[i] and values[i].astimezone(timezone.utc).replace(tzinfo=None)
                copy.write_row(values)
        cursor.execute(f'INSERT INTO messages ("id", {names}) SELECT gen_random_uuid()::text, {names} '
                       "FROM ledger_rows ON CONFLICT DO NOTHING")


def _common_values(account: Account, campaign: Campaign, profile_id: str) -> dict:
    from app.models import SenderProfile
    from app.services.send import outbound_values

    profile = db.session.get(SenderProfile, profile_id)
    # Held: SCHEDULED without a time, so only this campaign's release (not the schedule) moves them.
    return outbound_values(account, profile, Status.SCHEDULED, campaign.id, campaign_id=campaign.id)


def _ledger_row(common: dict, recipient: audience_service.Recipient, unit_price) -> dict:
    parts = basic_gsm7_parts(recipient.text)  # most texts: no need for the full count
    encoding = GSM7
    if parts is None:
        segments = count_segments(recipient.text)
        encoding, parts = segments.encoding, segments.parts
    # No id: the column's default gives one (on PostgreSQL the database, see _insert_ledger).
    return {**common, "to_number": recipient.number, "body": recipient.text,
            "encoding": encoding, "units": parts, "cost": unit_price * parts}


def _release_and_dispatch(campaign_id: str, token: str, now: datetime | None = None) -> int:
    from app.services.dispatch import dispatch

    slice_size = _slice_size(current_app.config)
    handled = 0
    while _may_release(campaign_id, now) and _lock(campaign_id, token, renew=True):
        skip_opted_out(campaign_id)
        released = release(campaign_id, slice_size)
        sent = dispatch(campaign_id)
        handled += sent
        if not released and not sent:
            break
    return handled


def _slice_size(config) -> int:
    per_second = config["THROTTLE_PER_SECOND"]
    size = config["CAMPAIGN_SLICE_SIZE"]
    # Throttled, a slice is at most ten seconds' worth, so a pause still takes effect promptly.
    return min(size, per_second * 10) if per_second > 0 else size


def _may_release(campaign_id: str, now: datetime | None = None) -> bool:
    row = db.session.execute(select(_CAMPAIGN.c.status, _CAMPAIGN.c.timezone, _CAMPAIGN.c.window_start,
                                    _CAMPAIGN.c.window_end).where(_CAMPAIGN.c.id == campaign_id)).one_or_none()
    db.session.commit()
    return row is not None and row.status == _S.SENDING and window_open(row, now or utcnow())


def window_open(campaign, now: datetime) -> bool:
    window = parse_window(campaign.window_start, campaign.window_end)
    return window is None or window.is_open(now, get_zone(campaign.timezone))


def release(campaign_id: str, limit: int) -> int:
    """SCHEDULED -> QUEUED for up to ``limit`` held messages of the campaign, and a dispatch job
    requested for them, so other workers help and released messages go even if the run stops.

    Only while the campaign is SENDING, checked again here, so a pause that lands after the run
    last looked (``_may_release``) stops this release too. On PostgreSQL the campaign row is held
    (FOR NO KEY UPDATE, which the messages' foreign keys do not wait for) until the release
    commits, so a concurrent pause, and a second run's release, wait for it: once a pause has
    returned, nothing more is released. (SQLite serialises writers; there the condition inside
    the UPDATE is enough.)"""
    dialect = db.session.get_bind().dialect.name
    still_sending = db.session.execute(
        select(_CAMPAIGN.c.id, _CAMPAIGN.c.account_id, _CAMPAIGN.c.spend_cap)
        .where(_CAMPAIGN.c.id == campaign_id, _CAMPAIGN.c.status == _S.SENDING)
        .with_for_update(key_share=True)).first()
    if still_sending is None:
        db.session.commit()
        return 0
    account = db.session.get(Account, still_sending.account_id)
    if still_sending.spend_cap is not None or account.monthly_spend_limit is not None:
        return _release_within_budget(account, still_sending, limit, dialect)
    sending = exists().where(_CAMPAIGN.c.id == campaign_id, _CAMPAIGN.c.status == _S.SENDING)
    pick = (select(_MSG.c.id)
            .where(_MSG.c.batch_id == campaign_id, _MSG.c.status == Status.SCHEDULED, _MSG.c.scheduled_at.is_(None),
                   sending)
            .limit(limit))
    moved = db.session.execute(Message.transition(
        Status.QUEUED, picked_once(dialect, _MSG.c.id, pick), now=utcnow())).rowcount
    db.session.commit()
    if moved:
        request_dispatch()
    return moved


def _release_within_budget(account: Account, campaign, limit: int, dialect: str) -> int:
    """``release`` for a campaign with a spending cap or an account with a monthly limit: release
    the part of the next slice that fits both (in the order it was picked), charge it to the
    month in the same transaction, and when the rest does not fit, pause the campaign with a
    note saying which budget stopped it. Resuming continues from the held messages, so nobody is
    sent twice or skipped."""
    now = utcnow()
    # Take the campaign for writing before reading its room. On SQLite this starts the write
    # transaction (the SELECT above locked nothing), so neither a pause nor a second run's release
    # can commit between our look at the room and our charge; the condition re-checks SENDING.
    if not db.session.execute(update(_CAMPAIGN).where(_CAMPAIGN.c.id == campaign.id, _CAMPAIGN.c.status == _S.SENDING)
                              .values(status=_S.SENDING)).rowcount:
        db.session.commit()
        return 0
    room = budgets.campaign_room(account, campaign.id, campaign.spend_cap, now)
    pick = (select(_MSG.c.id, _MSG.c.cost)
            .where(_MSG.c.batch_id == campaign.id, _MSG.c.status == Status.SCHEDULED, _MSG.c.scheduled_at.is_(None))
            .limit(limit))
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    held = db.session.execute(pick).all()
    count, _ = fitting((Decimal(row.cost) for row in held), room.amount)
    ids = [row.id for row in held[:count]]
    released = db.session.execute(Message.transition(
        Status.QUEUED, _MSG.c.id.in_(ids), _MSG.c.status == Status.SCHEDULED, now=now)
        .returning(_MSG.c.cost)).all() if ids else []
    if room.month is not None and released:
        budgets.charge(account, room.month, sum((Decimal(r.cost) for r in released), Decimal("0")))
    if count < len(held):
        if db.session.execute(Campaign.transition(_S.PAUSED, _CAMPAIGN.c.id == campaign.id,
                                                  _CAMPAIGN.c.status == _S.SENDING, now=now, note=room.note)).rowcount:
            audit.record(account.id, "campaign.paused", "campaign", campaign.id, note=room.note)  # by the budget
        log.warning("campaign %s paused: %s", campaign.id, room.note)
    db.session.commit()
    if released:
        request_dispatch()
    return len(released)


# Opt-outs older than the run were left out when the ledger was read; with this margin for
# clocks, older ones need not be looked for again.
OPT_OUT_MARGIN = timedelta(hours=1)


def skip_opted_out(campaign_id: str) -> int:
    """Cancel held messages to numbers that opted out after the ledger was written."""
    campaign = db.session.execute(select(_CAMPAIGN.c.account_id, _CAMPAIGN.c.started_at)
                                  .where(_CAMPAIGN.c.id == campaign_id)).one_or_none()
    if campaign is None:
        return 0
    # Only the opt-outs since the run started, and the account as a value: those few are looked
    # up in the ledger's unique index (campaign_id is batch_id here). Matching every held message
    # against all the account's opt-outs on every slice grew with the square of the campaign
    # (correlated to each message, 100,000 held x 1,000 opt-outs took 15 s a slice).
    since = (campaign.started_at or utcnow()) - OPT_OUT_MARGIN
    opted_out = select(OptOut.number).where(OptOut.account_id == campaign.account_id, OptOut.created_at >= since)
    moved = db.session.execute(Message.transition(
        Status.CANCELLED, _MSG.c.campaign_id == campaign_id, _MSG.c.batch_id == campaign_id,
        _MSG.c.status == Status.SCHEDULED, _MSG.c.to_number.in_(opted_out), now=utcnow(),
        error_code="OPTED_OUT", error_message="The recipient opted out before the message was sent")).rowcount
    db.session.commit()
    return moved


def complete_finished(campaign_id: str | None = None, now: datetime | None = None) -> int:
    """SENDING -> COMPLETED for campaigns whose ledger is written and whose every message counts
    as settled (:func:`counts_as_settled`). The tick calls this for every SENDING campaign, so one
    whose last SENT messages age past the wait is completed by the first tick after it."""
    now = now or utcnow()
    # Two probes rather than one OR: each is a seek in ix_messages_batch_status (batch_id, status).
    # The second reads sent_at of the campaign's SENT rows only, and stops at the first recent one.
    unsent = exists().where(_MSG.c.batch_id == _CAMPAIGN.c.id, _MSG.c.status.in_(UNSENT))
    awaiting_report = exists().where(
        _MSG.c.batch_id == _CAMPAIGN.c.id, _MSG.c.status == Status.SENT,
        _MSG.c.sent_at.is_(None) | (_MSG.c.sent_at >= now - report_wait()))
    where = [_CAMPAIGN.c.materialized_at.is_not(None), ~unsent, ~awaiting_report]
    if campaign_id:
        where.append(_CAMPAIGN.c.id == campaign_id)
    moved = db.session.execute(Campaign.transition(_S.COMPLETED, *where, now=now)).rowcount
    db.session.commit()
    return moved


def report_wait(config=None) -> timedelta:
    """How long a SENT campaign message may go without a delivery report before its campaign stops
    waiting for it (``REPORT_WAIT_HOURS``; fractions allowed)."""
    return timedelta(hours=(config or current_app.config)["REPORT_WAIT_HOURS"])


def counts_as_settled(status: str, sent_at: datetime | None, now: datetime, wait: timedelta) -> bool:
    """Whether a campaign message no longer holds its campaign open: it is DELIVERED, FAILED or
    CANCELLED, or the carrier accepted it (SENT) more than ``wait`` ago and never reported on it.
    Some carriers never do; the message stays SENT (that is all we know of it), but the campaign
    completes. ``complete_finished`` asks the database the same question."""
    if status in SETTLED:
        return True
    return status == Status.SENT and sent_at is not None and sent_at < now - wait


def runs_to_resume(now: datetime | None = None, limit: int = 200) -> list[str]:
    """SENDING campaigns that need a run and have none (their run died, or their window has
    opened again): no lock, and a ledger still to write or messages still held."""
    now = now or utcnow()
    held = exists().where(_MSG.c.batch_id == _CAMPAIGN.c.id, _MSG.c.status == Status.SCHEDULED,
                          _MSG.c.scheduled_at.is_(None))
    rows = db.session.execute(
        select(_CAMPAIGN.c.id, _CAMPAIGN.c.timezone, _CAMPAIGN.c.window_start, _CAMPAIGN.c.window_end)
        .where(_CAMPAIGN.c.status == _S.SENDING, _CAMPAIGN.c.materialized_at.is_(None) | held)
        .order_by(_CAMPAIGN.c.started_at).limit(limit)).all()
    candidates = [row.id for row in rows if window_open(row, now)]
    if not candidates:
        return []
    pipe = redis_conn().pipeline(transaction=False)
    for campaign_id in candidates:
        pipe.exists(_lock_key(campaign_id))
    return [cid for cid, locked in zip(candidates, pipe.execute()) if not locked]


def _pause_with_note(campaign_id: str, note: str) -> None:
    db.session.rollback()
    moved = db.session.execute(Campaign.transition(_S.PAUSED, _CAMPAIGN.c.id == campaign_id, now=utcnow(),
                                                   note=note[:500])).rowcount
    if moved:  # the engine's own pause, as the system
        audit.record(db.session.scalar(select(Campaign.account_id).where(Campaign.id == campaign_id)),
                     "campaign.paused", "campaign", campaign_id, note=note)
    db.session.commit()
    log.warning("campaign %s paused: %s", campaign_id, note)


def _lock_key(campaign_id: str) -> str:
    return f"smsdesk:campaign-run:{campaign_id}"


def _lock(campaign_id: str, token: str, renew: bool = False) -> bool:
    """Take the run lock, or with ``renew`` extend it; False if another run holds it (a run that
    was too slow to renew and lost it stops, leaving the campaign to the run that took over)."""
    key = _lock_key(campaign_id)
    seconds = current_app.config["CAMPAIGN_LOCK_SECONDS"]
    try:
        if renew and redis_conn().get(key) == token.encode():
            return bool(redis_conn().expire(key, seconds))
        return bool(redis_conn().set(key, token, nx=True, ex=seconds))
    except RedisError as exc:
        # Without Redis there is no lock to take; the ledger keeps a second run harmless anyway.
        log.warning("campaign run lock unavailable (%s); running without it", exc)
        return True


def _unlock(campaign_id: str, token: str) -> None:
    key = _lock_key(campaign_id)
    try:
        if redis_conn().get(key) == token.encode():
            redis_conn().delete(key)
    except RedisError:
        pass  # it expires by itself
