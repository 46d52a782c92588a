"""The demo account ``make run`` prints a login for."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Account, User
from app.services import accounts

DEMO_ACCOUNT = "Demo"
DEMO_EMAIL = "demo@smsdesk.local"


def seed(password: str) -> tuple[str, str, str]:
    """Create the demo account and admin once; every call makes a fresh API key, because a key is
    only ever shown when it is created. Returns (email, password, key)."""
    account = db.session.scalar(select(Account).where(Account.name == DEMO_ACCOUNT))
    if account is None:
        account = accounts.create_account(DEMO_ACCOUNT, "NOK", "Europe/Oslo")
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        accounts.create_user(account, DEMO_EMAIL, password, "admin")
    else:
        user.set_password(password)
        db.session.commit()
    _, key = accounts.create_api_key(account, "demo")
    return DEMO_EMAIL, password, key
