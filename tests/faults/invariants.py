"""The checks every fault scenario ends with, written once (see :func:`verify`): no accepted
message lost, none duplicated at the carrier, statuses only moved forward, webhook event ids
stable across retries with each event taken once, an Idempotency-Key send still answered with
its original response, and the campaign completed."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Campaign, CampaignStatus, DeliveryReport, Message, Status
from app.models.message import PATH, STAMPS
from app.models.webhook import DeliveryState, WebhookAttempt, WebhookDelivery
from app.providers.simulator import summary
from app.services.webhook_events import STATUS_EVENT, event_id


@dataclass
class Verdict:
    messages: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def verify(stage, *, in_flight: frozenset[str] = frozenset(), clock_slack: float = 0.0,
           redelivery: bool = False) -> Verdict:
    """Every invariant over what ``stage`` accepted. ``in_flight``: ids the scenario leaves
    legitimately unsettled (accepted by the carrier, never reported): they must be SENT.
    ``clock_slack``: seconds a stamp may lie before the previous one (a clock stepped back).
    ``redelivery``: the fault may strike between a receiver's 2xx and our recording it (a worker
    killed, the database gone), so the event is posted again, under the same id and with the
    same bytes, which is what the receiver de-duplicates by (Standard Webhooks is at least once)."""
    db.session.rollback()  # a fresh snapshot: the workers wrote from other processes
    verdict = Verdict()
    rows = _messages(stage)
    _check_none_lost(stage, rows, in_flight, verdict)
    _check_no_duplicates(stage, verdict)
    _check_forward_only(rows, clock_slack, verdict)
    _check_reports(rows, verdict)
    _check_campaign(stage, verdict)
    _check_webhooks(stage, verdict, redelivery)
    _check_idempotency(stage, verdict)
    return verdict


def _messages(stage) -> dict[str, Message]:
    found = db.session.scalars(select(Message).where(Message.account_id == stage.account_id,
                                                     Message.direction == "OUTBOUND")).all()
    return {m.id: m for m in found}


def _check_none_lost(stage, rows, in_flight, verdict: Verdict) -> None:
    campaign_ids = {m.id for m in rows.values() if m.campaign_id == stage.campaign_id}
    accepted = set(stage.accepted) | campaign_ids
    verdict.messages = len(accepted) + max(0, stage.recipients - len(campaign_ids))
    missing = [i for i in stage.accepted if i not in rows]
    short = max(0, stage.recipients - len(campaign_ids))  # recipients with no ledger row
    unsettled = Counter(rows[i].status for i in accepted & rows.keys()
                        if rows[i].status not in Status.FINAL and i not in in_flight)
    wrongly_in_flight = Counter(rows[i].status for i in in_flight if i in rows and rows[i].status != Status.SENT)
    verdict.lost = len(missing) + short + sum(unsettled.values())
    if missing or short:
        verdict.problem(f"{len(missing)} accepted ids have no row; {short} recipients have no ledger row")
    if unsettled:
        verdict.problem(f"left unsettled: {dict(unsettled)}")
    if wrongly_in_flight:
        verdict.problem(f"never reported by design, so expected SENT, but: {dict(wrongly_in_flight)}")


def _check_no_duplicates(stage, verdict: Verdict) -> None:
    carrier = summary()
    rows, distinct = db.session.execute(
        select(func.count(), func.count(Message.to_number.distinct())).where(Message.campaign_id == stage.campaign_id)
    ).one()
    verdict.duplicates = carrier["duplicates"] + (rows - distinct)
    if carrier["duplicates"]:
        verdict.problem(f"the carrier was handed {carrier['duplicates']} messages more than once")
    if rows != distinct:
        verdict.problem(f"the campaign ledger has {rows - distinct} recipients twice")


def _check_forward_only(rows, slack: float, verdict: Verdict) -> None:
    """Stamps follow the lifecycle order, and the current status is stamped and is the last."""
    allowance = timedelta(seconds=slack)
    backwards, unstamped = [], []
    for m in rows.values():
        stamps = [(s, getattr(m, STAMPS[s])) for s in PATH if getattr(m, STAMPS[s]) is not None]
        if m.status in STAMPS and m.status != Status.SCHEDULED and (not stamps or stamps[-1][0] != m.status):
            unstamped.append(m.id)
        for (_, earlier), (status, later) in zip(stamps, stamps[1:]):
            if later + allowance < earlier:
                backwards.append((m.id, status))
                break
    if backwards:
        verdict.problem(f"{len(backwards)} messages have a stamp before the previous one, e.g. {backwards[:3]}")
    if unstamped:
        verdict.problem(f"{len(unstamped)} messages' status is not their last stamp, e.g. {unstamped[:3]}")


def _check_reports(rows, verdict: Verdict) -> None:
    """At most one delivery report applied per message, the first one received, and it is the
    message's status now: a later report never changed a final status."""
    reports = defaultdict(list)
    for report in db.session.scalars(select(DeliveryReport).where(DeliveryReport.message_id.in_(list(rows)))
                                      if len(rows) < 30000 else select(DeliveryReport)):
        reports[report.message_id].append(report)
    wrong = []
    for message_id, found in reports.items():
        found.sort(key=lambda r: r.received_at)
        applied = [r for r in found if r.applied]
        message = rows.get(message_id)
        if message is None:
            continue
        if len(applied) > 1 or (applied and (applied[0] is not found[0] or applied[0].status != message.status)):
            wrong.append(message_id)
    if wrong:
        verdict.problem(f"{len(wrong)} messages have delivery reports applied out of order, e.g. {wrong[:3]}")


def _check_campaign(stage, verdict: Verdict) -> None:
    campaign = db.session.get(Campaign, stage.campaign_id)
    if campaign.status != CampaignStatus.COMPLETED:
        verdict.problem(f"the campaign is {campaign.status}, not COMPLETED")


def _check_webhooks(stage, verdict: Verdict, redelivery: bool) -> None:
    """Each event: DELIVERED, exactly one 2xx attempt in our log, and every request the receiver
    saw for it carried its one id and the same bytes; the receiver took it in once (answers that
    came after our client had given up do not count: we never heard them)."""
    deliveries = {d.id: d for d in db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.account_id == stage.account_id))}
    if stage.expect_webhooks and not deliveries:
        verdict.problem("no webhook events were generated")
    states = Counter(d.state for d in deliveries.values())
    if set(states) - {DeliveryState.DELIVERED}:
        verdict.problem(f"webhook deliveries not all DELIVERED: {dict(states)}")
    ok_attempts = Counter(db.session.scalars(
        select(WebhookAttempt.delivery_id).where(WebhookAttempt.account_id == stage.account_id,
                                                 WebhookAttempt.status_code >= 200, WebhookAttempt.status_code < 300)))
    twice = [i for i, n in ok_attempts.items() if n > 1]
    if twice:
        verdict.problem(f"{len(twice)} webhook events were delivered more than once, e.g. {twice[:3]}")
    _check_receiver(stage, deliveries, verdict, redelivery)


def _check_receiver(stage, deliveries, verdict: Verdict, redelivery: bool) -> None:
    bodies, taken, unknown = defaultdict(set), Counter(), set()
    last_seq, out_of_order = {}, []  # message id -> seq of the last event taken
    with stage.receiver.lock:
        requests = list(stage.receiver.requests)
    for request in requests:
        seen_id = request.headers.get("webhook-id")
        if seen_id not in deliveries:
            unknown.add(seen_id)
            continue
        bodies[seen_id].add(request.body)
        if 200 <= request.answered < 300 and request.seconds < stage.webhook_timeout:
            taken[seen_id] += 1
            delivery = deliveries[seen_id]
            if delivery.seq < last_seq.get(delivery.message_id, 0):
                out_of_order.append(seen_id)
            last_seq[delivery.message_id] = max(delivery.seq, last_seq.get(delivery.message_id, 0))
    if out_of_order:
        verdict.problem(f"{len(out_of_order)} events reached the receiver after a later one of their message")
    if unknown:
        verdict.problem(f"the receiver saw {len(unknown)} event ids we have no delivery for, e.g. {sorted(unknown)[:3]}")
    changed = [i for i, seen in bodies.items() if len(seen) > 1]
    if changed:
        verdict.problem(f"{len(changed)} events were sent with different bytes under one id, e.g. {changed[:3]}")
    # An event's id is derived from its message and status, never minted per attempt or per run.
    renamed = [d.id for d in deliveries.values() if d.event == STATUS_EVENT
               and d.id != event_id(d.message_id, json.loads(d.payload)["status"])]
    if renamed:
        verdict.problem(f"{len(renamed)} events' ids are not their message's and status's, e.g. {renamed[:3]}")
    never = [i for i, d in deliveries.items() if d.state == DeliveryState.DELIVERED and not taken[i]]
    more = [i for i, n in taken.items() if n > 1]
    if more and redelivery:
        print(f"{len(more)} events were posted again after a 2xx we could not record (same id and bytes)")
        more = []
    if never or more:
        verdict.problem(f"receiver took {len(never)} delivered events never and {len(more)} more than once")


def _check_idempotency(stage, verdict: Verdict) -> None:
    before = db.session.scalar(select(func.count()).select_from(Message).where(Message.account_id == stage.account_id))
    response = stage.client.post("/v1/sms/send", json=stage.idempotent_body, headers={
        **stage.headers, "Idempotency-Key": stage.idempotency_key})
    db.session.rollback()
    after = db.session.scalar(select(func.count()).select_from(Message).where(Message.account_id == stage.account_id))
    if response.status_code != 200 or response.json != stage.idempotent_response:
        verdict.problem(f"the repeated Idempotency-Key send answered {response.status_code} {response.json}")
    if after != before:
        verdict.problem(f"the repeated Idempotency-Key send wrote {after - before} messages")
