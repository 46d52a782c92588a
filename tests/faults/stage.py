"""One fault scenario's world and its run: an account with a campaign to ``RECIPIENTS`` contacts,
API sends with a callback to a real webhook receiver (one of them with an Idempotency-Key), a
Redis of its own, real worker processes, and the fault put in half-way through the campaign."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Account, Campaign, CampaignStatus, Contact, Message, Status, group_members, new_id
from app.models.webhook import DeliveryState, WebhookDelivery
from app.services import campaigns
from app.services.campaigns import CampaignSpec
from app.services.groups import create_group
from tests.jobs.conftest import wait_until

RECIPIENTS = 2000
API_SEND = 20
SILENT_SUFFIX = "99"  # API numbers ending in it may be made silent; no campaign number ends in it
CAMPAIGN_SILENT_SUFFIX = "770"  # 1 % of the campaign's numbers (i % 100 == 77); no API number ends in it
FINISH_TIMEOUT = 60  # a scenario's bound, from the fault to everything settled
WEBHOOK_TIMEOUT = 1.0

# Fast enough to finish well inside the scenario's bound, slow enough that the fault lands
# half-way; a short run lock and sending timeout let the tick replace what a fault broke within
# seconds instead of the defaults' minutes.
WORKER = {
    "CAMPAIGN_SLICE_SIZE": "200", "DISPATCH_BATCH_SIZE": "50", "SIMULATOR_SUBMIT_LATENCY_MS": "40",
    "CAMPAIGN_LOCK_SECONDS": "3", "ALLOW_HTTP_CALLBACKS": "1", "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT),
}


def campaign_number(i: int) -> str:
    return f"+4790{i:05d}0"


def api_number(phase: int, i: int) -> str:
    """Phase 1 is sent before the fault, 2 during it; every fifth ends in SILENT_SUFFIX."""
    return f"+479{phase}{i:04d}{SILENT_SUFFIX if i % 5 == 0 else '10'}"


@dataclass
class Stage:
    app: object
    client: object
    account_id: str
    headers: dict
    redis: object  # ScenarioRedis
    database_url: str
    receiver: object  # WebhookReceiver
    start: Callable  # start_worker(**env)
    clock_file: str
    workers: list = field(default_factory=list)
    campaign_id: str = ""
    recipients: int = RECIPIENTS
    accepted: list[str] = field(default_factory=list)
    idempotency_key: str = "fault-suite-1"
    idempotent_body: dict = field(default_factory=dict)
    idempotent_response: dict = field(default_factory=dict)
    expect_webhooks: bool = True
    webhook_timeout: float = WEBHOOK_TIMEOUT

    def worker(self, **env):
        worker = self.start(**{**WORKER, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url,
                               "SMSDESK_TEST_CLOCK_FILE": self.clock_file, **env})
        self.workers.append(worker)
        return worker

    # ------------------------------------------------------------------ what is accepted

    def prepare(self) -> None:
        """The draft campaign (contacts inserted in bulk) and the first API send, with its key."""
        account = self._account()
        group = create_group(account, "Everyone")
        rows = [{"id": new_id(), "account_id": account.id, "type": "person", "tags": [],
                 "name": f"Contact {i}", "first_name": ("Ada", "Bjørn", None, "Kari")[i % 4],
                 "phone_number": campaign_number(i)} for i in range(self.recipients)]
        db.session.execute(insert(Contact.__table__), rows)
        db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": r["id"]} for r in rows])
        db.session.commit()
        spec = CampaignSpec(name="Fault suite", message="Hi {first_name|there}", group_ids=(group.id,))
        self.campaign_id = campaigns.create(account, spec).id
        self.idempotent_body = self._body(1)
        self.idempotent_response = self.send(self.idempotent_body, key=self.idempotency_key)

    def _account(self) -> Account:
        return db.session.get(Account, self.account_id)

    def _body(self, phase: int) -> dict:
        return {"to": [api_number(phase, i) for i in range(API_SEND)], "message": f"Fault suite {phase}",
                "callback_url": self.receiver.url()}

    def send(self, body: dict | None = None, key: str | None = None) -> dict:
        body = body or self._body(2)
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        response = self.client.post("/v1/sms/send", json=body, headers=headers)
        assert response.status_code == 200 and not response.json["rejected"], response.json
        self.accepted += response.json["message_ids"]
        return response.json

    def launch(self) -> None:
        account = self._account()
        campaigns.send_now(account, db.session.get(Campaign, self.campaign_id))

    def silent_ids(self, campaign: bool = False) -> frozenset[str]:
        """The accepted API messages to silent numbers, with ``campaign`` the campaign's too."""
        db.session.rollback()
        api = select(Message.id).where(Message.id.in_(self.accepted), Message.to_number.like(f"%{SILENT_SUFFIX}"))
        ledger = select(Message.id).where(Message.campaign_id == self.campaign_id,
                                          Message.to_number.like(f"%{CAMPAIGN_SILENT_SUFFIX}"))
        return frozenset(db.session.scalars(api.union(ledger) if campaign else api))

    # ------------------------------------------------------------------ watching it

    def ledger(self) -> Counter:
        """The campaign's messages by status; held ones (SCHEDULED without a time) are HELD."""
        db.session.rollback()  # a new snapshot: the workers write from other processes
        rows = db.session.execute(
            select(Message.status, Message.scheduled_at.is_(None), func.count())
            .where(Message.campaign_id == self.campaign_id)
            .group_by(Message.status, Message.scheduled_at.is_(None)))
        return Counter({("HELD" if s == Status.SCHEDULED and held else s): n for s, held, n in rows})

    def under_way(self) -> Counter | None:
        """Some messages delivered and at least a quarter still to go: the moment for a fault.
        Fails if the campaign got past it first (the scenario would prove nothing)."""
        counts = self.ledger()
        done = counts[Status.DELIVERED] + counts[Status.FAILED]
        assert done < self.recipients * 3 // 4, f"too late to put the fault in: {dict(counts)}"
        return counts if done >= self.recipients // 10 else None

    def wait_under_way(self) -> Counter:
        return wait_until(self.under_way, timeout=30, interval=0.02, what="the campaign to get under way")

    def unsettled(self, in_flight: frozenset[str] = frozenset()) -> dict:
        """What is still to happen: the campaign's status unless COMPLETED, API messages not
        final (``in_flight`` ones aside), messages owing webhook events, events not delivered."""
        db.session.rollback()
        campaign = db.session.get(Campaign, self.campaign_id)
        open_api = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.id.in_(self.accepted), Message.status.not_in(Status.FINAL), Message.id.not_in(in_flight)))
        owing = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.account_id == self.account_id, Message.callback_url.is_not(None),
            Message.notified_status != Message.status))
        pending = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.account_id == self.account_id, WebhookDelivery.state == DeliveryState.PENDING))
        left = {"campaign": None if campaign.status == CampaignStatus.COMPLETED else campaign.status,
                "api messages open": open_api, "messages owing events": owing, "events pending": pending}
        return {name: value for name, value in left.items() if value}

    def wait_settled(self, in_flight: frozenset[str] = frozenset(), timeout: float = FINISH_TIMEOUT) -> None:
        try:
            wait_until(lambda: not self.unsettled(in_flight), timeout=timeout, interval=0.25,
                       what="the campaign to complete and every event to be delivered")
        except AssertionError:
            print(f"at timeout: ledger {dict(self.ledger())}, still to happen {self.unsettled(in_flight)}")
            for d in db.session.scalars(select(WebhookDelivery).where(
                    WebhookDelivery.account_id == self.account_id,
                    WebhookDelivery.state == DeliveryState.PENDING).limit(5)):
                print(f"pending event {d.id} seq {d.seq} attempts {d.attempts} next {d.next_attempt_at} "
                      f"created {d.created_at} last {d.last_status_code} {d.last_error}")
            raise

    def jump_clock(self, seconds: float) -> None:
        """Step the wall clock of the workers started with the clock hook (see clock/)."""
        with open(self.clock_file, "w") as handle:
            handle.write(str(seconds))


def pause(seconds: float) -> None:
    time.sleep(seconds)
