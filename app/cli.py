"""``flask --app app ...`` commands: the bootstrap and operations a self-hosted user needs."""
from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.extensions import db
from app.models import SenderProfile
from app.services import accounts as account_service
from app.services import senders
from app.services.errors import ServiceError
from app.sms.errors import SmsError

accounts = AppGroup("accounts", help="Manage accounts (tenants).")
users = AppGroup("users", help="Manage dashboard users.")
api_keys = AppGroup("api-keys", help="Manage API keys.")
sender_profiles = AppGroup("sender-profiles", help="Approve or reject sender profiles.")
simulator = AppGroup("simulator", help="The built-in carrier simulator.")


def _fail_cleanly(func):
    """Service and validation errors end the command with their message, not a traceback."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ServiceError, SmsError) as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


@accounts.command("create")
@click.argument("name")
@click.option("--currency", default="NOK", show_default=True)
@click.option("--timezone", default="Europe/Oslo", show_default=True)
@_fail_cleanly
def create_account(name: str, currency: str, timezone: str) -> None:
    account = account_service.create_account(name, currency, timezone)
    click.echo(f"Created account {account.name} ({account.id}), {account.currency}, {account.timezone}")


@users.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", default="viewer", show_default=True)
@_fail_cleanly
def create_user(account_name: str, email: str, password: str, role: str) -> None:
    account = account_service.find_account(account_name)
    user = account_service.create_user(account, email, password, role)
    click.echo(f"Created {user.role} {user.email} in {account.name}")


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given, so it need not be in the shell's history.")
@_fail_cleanly
def set_password(email: str, password: str) -> None:
    """Set a user's password (for a user locked out); their sessions end."""
    user = account_service.reset_password(email, password)
    click.echo(f"Password of {user.email} is set; their sessions are ended")


@api_keys.command("create")
@click.option("--account", "account_name", required=True)
@click.option("--name", default="", help="A label to recognise the key by.")
@_fail_cleanly
def create_api_key(account_name: str, name: str) -> None:
    account = account_service.find_account(account_name)
    _, text = account_service.create_api_key(account, name)
    click.echo(f"API key for {account.name} (shown once; store it now):")
    click.echo(text)


@_fail_cleanly
def _set_approval(profile_id: str, approve: bool) -> None:
    # The operator acts across accounts, so the profile is looked up by id alone.
    profile = db.session.get(SenderProfile, profile_id)
    if profile is None:
        raise click.ClickException(f"No sender profile {profile_id}")
    senders.review_profile(profile, approve)
    click.echo(f"Sender profile {profile.sender_id} ({profile.id}) is now {profile.approval_status}")


@sender_profiles.command("approve")
@click.argument("profile_id")
def approve_sender(profile_id: str) -> None:
    _set_approval(profile_id, True)


@sender_profiles.command("reject")
@click.argument("profile_id")
def reject_sender(profile_id: str) -> None:
    _set_approval(profile_id, False)


@simulator.command("report")
def simulator_report() -> None:
    """Print what the simulated carrier received: submissions, unique references, duplicates."""
    from app.providers.simulator import summary

    click.echo(json.dumps(summary()))


@simulator.command("inbound")
@click.option("--account", "account_name", required=True)
@click.option("--from", "from_number", required=True, help="The person's number.")
@click.option("--text", required=True)
@click.option("--to", default=None, help="Which of the account's numbers (default: its number that allows replies).")
@_fail_cleanly
def simulator_inbound(account_name: str, from_number: str, text: str, to: str | None) -> None:
    """A text from a person to one of the account's numbers, as the simulated carrier delivers it."""
    from app.services.simulator_inbound import describe, simulate_inbound

    received = simulate_inbound(account_service.find_account(account_name), from_number, text, to)
    click.echo(f"{describe(received)} Message id: {received.message.id}")


@simulator.command("reply")
@click.option("--account", "account_name", required=True)
@click.option("--message-id", default=None, help="The message replied to (default: the latest one sent).")
@click.option("--text", required=True)
@_fail_cleanly
def simulator_reply(account_name: str, message_id: str | None, text: str) -> None:
    """A reply from the recipient of a message the account sent."""
    from app.services.simulator_inbound import describe, simulate_reply

    received = simulate_reply(account_service.find_account(account_name), message_id, text)
    click.echo(f"{describe(received)} Message id: {received.message.id}")


@click.command("seed-demo")
@_fail_cleanly
def seed_demo() -> None:
    """A demo account with an admin login and a fresh API key (printed last)."""
    from app.services.demo import seed

    email, password, key = seed(current_app.config["DEMO_PASSWORD"])
    click.echo(f"Dashboard login: {email} / {password}")
    click.echo("Demo API key (shown once):")
    click.echo(key)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit (no tick).")
def worker(burst: bool) -> None:
    """An RQ worker with its scheduler and the periodic tick."""
    from app.jobs.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


@click.command("tick")
def tick() -> None:
    """Run one tick now: promote due messages, sweep, reconcile, deliver simulator reports."""
    from app.jobs.ticker import run_tick

    click.echo(json.dumps(run_tick()))


@click.command("up")
@click.option("--port", type=int, default=None, help="Default: $PORT, else 5000.")
def up(port: int | None) -> None:
    """Everything on one machine: embedded Redis if REDIS_URL is unset, migrations, demo data,
    web and worker. Ctrl-C stops it all."""
    from app.devserver import run_all

    run_all(port or current_app.config["PORT"])


def register_cli(app: Flask) -> None:
    for group in (accounts, users, api_keys, sender_profiles, simulator):
        app.cli.add_command(group)
    for command in (seed_demo, worker, tick, up):
        app.cli.add_command(command)
