"""The demo account ``make run`` prints a login for."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Account, User
from app.services import accounts, contacts, groups, keywords, senders
from app.services.passwords import check_password_policy

DEMO_ACCOUNT = "Demo"
DEMO_EMAIL = "demo@smsdesk.local"


def seed(password: str) -> tuple[str, str, str]:
    """Create the demo account and admin once; every call makes a fresh API key, because a key is
    only ever shown when it is created. Returns (email, password, key)."""
    account = db.session.scalar(select(Account).where(Account.name == DEMO_ACCOUNT))
    if account is None:
        account = accounts.create_account(DEMO_ACCOUNT, "NOK", "Europe/Oslo")
        _seed_directory(account)
    _seed_two_way(account)
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        accounts.create_user(account, DEMO_EMAIL, password, "admin")
    else:
        check_password_policy(password, DEMO_EMAIL)  # DEMO_PASSWORD is the operator's to choose
        user.set_password(password)
        db.session.commit()
    _, key = accounts.create_api_key(account, "demo")
    return DEMO_EMAIL, password, key


# A small audience to try a campaign on at once. The names vary the length of a personal text; one
# person has no first name (so a merge-field fallback shows), and one number ends in 0000, which
# the carrier simulator fails as an unknown subscriber (so a report has a failure to show).
DEMO_PEOPLE = [
    ("Ada", "Lovelace", "Analytical Engines AS"), ("Kari", "Nordmann", "Fjord Fisk"),
    ("Ola", "Nordmann", "Fjord Fisk"), ("Ingrid", "Bergström", None), ("Bjørn", "Hansen", "Nordlys Kaffe"),
    ("Sofie", "Lund", None), ("Mohammed", "Ali", "Bergen Bakeri"), ("Emma", "Johansen", None),
    ("Lars", "Olsen", "Tromsø Tech"), (None, "Berg", None), ("Nora", "Larsen", "Oslo Sykkel"),
    ("Henrik", "Dahl", None),
]


def _seed_directory(account: Account) -> None:
    ids = [
        contacts.create_contact(account, {
            "first_name": first, "last_name": last, "company_name": company,
            "phone_number": f"+479000{i:04d}",
        }).id
        for i, (first, last, company) in enumerate(DEMO_PEOPLE)
    ]
    group = groups.create_group(account, "Demo customers", "People to try a campaign on")
    groups.add_members(account, group.id, ids)


# A number of the demo's own that takes replies, so the inbox, STOP and keywords can be tried at once
# (the platform's number is every account's default and allows no replies), and one keyword with an
# auto-reply. Seeded once, with the number: an account seeded before it existed gets both on the next
# start, and a keyword deleted afterwards stays deleted. (INFO, the classic example, is a help word.)
DEMO_REPLY_NUMBER = "+4759440001"
DEMO_KEYWORD = ("TILBUD", "Ukens tilbud", "Takk! Ukens tilbud: 20 % på alt tilbehør. Svar STOPP for å melde deg av.")


def _seed_two_way(account: Account) -> None:
    if any(p.allow_reply and not p.is_custom_sender for p in senders.list_profiles(account)):
        return
    senders.create_profile(account, "Two-way", DEMO_REPLY_NUMBER, allow_reply=True)
    word, description, answer = DEMO_KEYWORD
    if keywords.check_availability(account, word).available:
        keywords.create_keyword(account, word, description=description, auto_reply_message=answer,
                                auto_reply_enabled=True)
