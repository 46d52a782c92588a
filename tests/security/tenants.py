"""Two tenants with one object of every type each, made through the product's own services and API
(so the rows are the shapes the product writes), and a snapshot of everything one tenant owns."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import insert, select

from app.extensions import db
from app.models import Account, Campaign, Message, UsageDaily, UsageRollup, WebhookDelivery, new_id, utcnow
from app.services import campaign_run, contact_import, contacts, groups, keywords, optouts, senders, webhooks
from app.services.accounts import create_account, create_api_key, create_user
from app.services.simulator import deliver_due_reports
from app.services.simulator_inbound import simulate_inbound

PASSWORD = "isolation test passphrase"


@dataclass
class Tenant:
    """One account's objects: ``ids`` by type, and ``secrets``: every text of its own (ids, numbers,
    names, bodies, emails) that must never appear in another account's answers."""

    account_id: str
    auth: dict
    admin_email: str
    ids: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)


def seed_tenant(client, run_jobs, name: str, n: int) -> Tenant:
    """Account ``name`` with a contact, group, sender profile (two-way), keyword, opt-out, API key,
    extra user, contact import, a completed campaign (its messages and report), a direct message with
    a callback (so a webhook delivery), an inbound reply, and a stored usage day. ``n`` (1..9) keeps
    the two tenants' numbers apart."""
    account = create_account(name, "NOK", "Europe/Oslo")
    key, key_text = create_api_key(account, f"{name} key")
    auth = {"X-API-Key": key_text}
    admin = create_user(account, f"admin-{name.lower()}@example.com", PASSWORD, "admin")
    other_user = create_user(account, f"viewer-{name.lower()}@example.com", PASSWORD, "viewer")
    t = Tenant(account.id, auth, admin.email)
    t.numbers = {"contact": f"+479{n}110001", "direct": f"+479{n}110002", "optout": f"+479{n}110003",
                 "two_way": f"+4759{n}40001"}

    key_id, admin_id, other_user_id = key.id, admin.id, other_user.id
    contact = contacts.create_contact(account, {"first_name": f"Secretname{name}", "last_name": "Person",
                                                "phone_number": t.numbers["contact"]})
    group = groups.create_group(account, f"Group of {name}", f"Only {name} may see this")
    contact_id, group_id = contact.id, group.id
    groups.add_members(account, group_id, [contact_id])
    profile_id = senders.create_profile(account, f"Two-way {name}", t.numbers["two_way"], allow_reply=True).id
    keyword_id = keywords.create_keyword(account, f"WORD{name.upper()}", description=f"Keyword of {name}",
                                      auto_reply_message=f"Auto reply of {name}", auto_reply_enabled=True).id
    optout = optouts.add_optout(account, t.numbers["optout"], "api")
    optout_id = optout.id
    import_id = contact_import.upload(account, admin_id, f"{name}-contacts.csv",
                                f"first_name,phone_number\nImported{name},+479{n}110009\n".encode()).id

    campaign_body = {"name": f"Campaign of {name}", "message": f"Campaign text of {name}", "group_ids": [group_id]}
    campaign = client.post("/v1/campaigns", json=campaign_body, headers=auth)
    assert campaign.status_code == 201, campaign.json
    campaign_id = campaign.json["id"]
    assert client.post(f"/v1/campaigns/{campaign_id}/send", headers=auth).status_code == 200

    direct = client.post("/v1/sms/send", headers=auth, json={
        "to": t.numbers["direct"], "message": f"Direct text of {name}", "customer_ref": f"ref-{name}",
        "callback_url": "http://127.0.0.1:9/hook"})
    assert direct.status_code == 200, direct.json
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()
    webhooks.pump_once()  # the receiver is closed: the delivery is recorded, failed, to retry

    account = db.session.get(Account, t.account_id)  # requests end with the shared session removed
    received = simulate_inbound(account, t.numbers["direct"], f"Inbound reply of {name}")
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.account_id == account.id))
    assert delivery is not None, "no webhook delivery was recorded"
    campaign_message = db.session.scalar(select(Message.id).where(Message.campaign_id == campaign_id))
    assert db.session.get(Campaign, campaign_id).status == "COMPLETED"
    _store_usage_day(account, campaign_id, profile_id)

    t.ids = {
        "contact": contact_id, "group": group_id, "sender_profile": profile_id, "keyword": keyword_id,
        "optout": optout_id, "api_key": key_id, "user": other_user_id, "admin": admin_id,
        "contact_import": import_id, "campaign": campaign_id, "message": direct.json["sms_message_id"],
        "campaign_message": campaign_message, "inbound": received.message.id, "webhook_delivery": delivery.id,
        "batch": direct.json["batch_id"],
    }
    t.secrets = {*t.ids.values(), *t.numbers.values(), key_text.split("_")[-2], key_text, t.admin_email,
                 f"viewer-{name.lower()}@example.com",
                 f"Secretname{name}", f"Group of {name}", f"Two-way {name}", f"WORD{name.upper()}",
                 f"Campaign of {name}", f"Campaign text of {name}", f"Direct text of {name}", f"ref-{name}",
                 f"Inbound reply of {name}", f"Imported{name}", f"{name}-contacts.csv", t.account_id,
                 account.webhook_secret}
    db.session.commit()
    return t


def _store_usage_day(account: Account, campaign_id: str, profile_id: str) -> None:
    """A rolled-up day, as the usage pages store them for closed days."""
    day = (utcnow() - timedelta(days=3)).date()
    db.session.execute(insert(UsageRollup.__table__).values(
        account_id=account.id, zone=account.timezone, day=day, computed_at=utcnow(), unsettled=0))
    db.session.execute(insert(UsageDaily.__table__).values(
        id=new_id(), account_id=account.id, zone=account.timezone, day=day, campaign_id=campaign_id,
        sender_profile_id=profile_id, sent=7, units=9, delivered=6, failed=1, received=2))
    db.session.commit()


def snapshot(account_id: str) -> dict[str, list[tuple]]:
    """Every row the account owns, in every table: those with an ``account_id``, and the rows that
    hang off them (group members, delivery reports, webhook attempts), all columns, sorted."""
    db.session.rollback()
    db.session.expire_all()
    found: dict[str, list[tuple]] = {}
    owned_ids: dict[str, set] = {}
    tables = db.metadata.sorted_tables
    for table in tables:
        if "account_id" in table.c:
            rows = db.session.execute(select(table).where(table.c.account_id == account_id)).all()
            found[table.name] = sorted((tuple(map(repr, row)) for row in rows))
            if "id" in table.c:
                owned_ids[table.name] = {row._mapping["id"] for row in rows}
    owned_ids["accounts"] = {account_id}
    for table in tables:
        if "account_id" in table.c or table.name == "accounts":
            continue
        for fk in table.foreign_keys:
            parents = owned_ids.get(fk.column.table.name)
            if parents:
                rows = db.session.execute(select(table).where(fk.parent.in_(parents))).all()
                found.setdefault(table.name, []).extend(tuple(map(repr, row)) for row in rows)
    found["accounts"] = [tuple(map(repr, db.session.execute(
        select(Account.__table__).where(Account.id == account_id)).one()))]
    return {name: sorted(set(rows)) for name, rows in found.items()}


def owned_models() -> list[str]:
    """The tables with an ``account_id``: a new one is a new object type the seed must cover."""
    return sorted(t.name for t in db.metadata.sorted_tables if "account_id" in t.c)
