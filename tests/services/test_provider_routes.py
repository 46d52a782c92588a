"""PROVIDER_ROUTES: reading it, checking it at start-up, and the provider each new message gets."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import Message
from app.services.provider_routes import Route, Routes, check_routes, choose, parse_routes


@pytest.mark.parametrize("spec,accounts,senders", [
    (None, {}, {}),
    ("", {}, {}),
    (" , ,", {}, {}),
    ("account:a1=simulator", {"a1": "simulator"}, {}),
    ("account:a1=wayscloud, sender:s1=wayscloud.nordic", {"a1": "wayscloud"}, {"s1": "wayscloud.nordic"}),
    (" ACCOUNT : a1 = wayscloud ,Sender:s1=simulator,sender:s2=wayscloud",
     {"a1": "wayscloud"}, {"s1": "simulator", "s2": "wayscloud"}),
    ("account:a1=wayscloud,sender:a1=simulator", {"a1": "wayscloud"}, {"a1": "simulator"}),  # two kinds, one id
])
def test_parse_routes(spec, accounts, senders):
    routes = parse_routes(spec)
    assert (routes.accounts, routes.senders) == (accounts, senders)


def test_parse_routes_keeps_each_entry_as_written():
    routes = parse_routes("account:a1=wayscloud , sender:s1 = simulator")
    assert routes.entries == (Route("account", "a1", "wayscloud", "account:a1=wayscloud"),
                              Route("sender", "s1", "simulator", "sender:s1 = simulator"))


@pytest.mark.parametrize("spec,named", [
    ("a1=wayscloud", "'a1=wayscloud'"),
    ("account:a1", "'account:a1'"),
    ("account:=wayscloud", "'account:=wayscloud'"),
    ("account:a1=", "'account:a1='"),
    ("campaign:c1=wayscloud", "'campaign:c1=wayscloud'"),
    ("account:a1=simulator,sender=wayscloud", "'sender=wayscloud'"),
    ("account:a1=Wayscloud", "'account:a1=Wayscloud'"),  # codes are lower case
    ("account:a1=way cloud", "'account:a1=way cloud'"),
    ("account:a1=simulator,account:a1=wayscloud", "account 'a1' has two routes ('account:a1=wayscloud'"),
])
def test_parse_routes_refuses_bad_entries_naming_them(spec, named):
    with pytest.raises(RuntimeError, match="PROVIDER_ROUTES: .*" + named.replace("(", r"\(")):
        parse_routes(spec)


@pytest.mark.parametrize("spec,bad", [
    ("account:a1=nope", "account:a1=nope"),
    ("account:a1=simulator,sender:s1=wayscloud.nordic", "sender:s1=wayscloud.nordic"),
    ("sender:s1=wayscloud.other", "sender:s1=wayscloud.other"),
])
def test_check_routes_names_the_entry_with_an_unknown_provider(spec, bad):
    with pytest.raises(RuntimeError, match=f"'{bad}' names provider"):
        check_routes(parse_routes(spec), ("simulator", "wayscloud"))


ROUTES = parse_routes("account:acme=wayscloud,sender:brand=wayscloud.nordic,sender:plain=simulator")


@pytest.mark.parametrize("account_id,sender_profile_id,expected", [
    ("acme", None, "wayscloud"),  # the account's route
    ("acme", "other", "wayscloud"),
    ("acme", "brand", "wayscloud.nordic"),  # the sender's route beats the account's
    ("acme", "plain", "simulator"),
    ("globex", "brand", "wayscloud.nordic"),
    ("globex", "other", "default"),  # no route: SMS_PROVIDER
    ("globex", None, "default"),
])
def test_choice(account_id, sender_profile_id, expected):
    assert choose(ROUTES, "default", account_id, sender_profile_id) == expected
    assert choose(Routes(), "default", account_id, sender_profile_id) == "default"


# ------------------------------------------------------------------ at start-up


@pytest.mark.parametrize("overrides,message", [
    ({"PROVIDER_ROUTES": parse_routes("account:a1=nope")}, "'account:a1=nope' names provider 'nope'"),
    ({"PROVIDER_ROUTES": parse_routes("sender:s1=wayscloud")}, r"\(wayscloud needs WAYSCLOUD_API_KEY\)"),
    ({"SMS_PROVIDER": "wayscloud"}, r"SMS_PROVIDER='wayscloud' is not a known provider.*needs WAYSCLOUD_API_KEY"),
    ({"SMS_PROVIDER": "wayscloud.nordic", "WAYSCLOUD_API_KEY": "k"}, "needs WAYSCLOUD_NORDIC_API_KEY"),
    ({"WAYSCLOUD_API_KEY": "k", "SENDING_TIMEOUT_SECONDS": 30}, "must be less than SENDING_TIMEOUT_SECONDS"),
])
def test_misconfiguration_refuses_to_start(test_config, overrides, message):
    with pytest.raises(RuntimeError, match=message):
        create_app({**test_config, **overrides})


def test_a_malformed_environment_variable_refuses_to_start(test_config, monkeypatch):
    monkeypatch.setenv("PROVIDER_ROUTES", "account:a1=simulator;sender:s1=simulator")
    with pytest.raises(RuntimeError, match="PROVIDER_ROUTES: cannot read 'account:a1=simulator;sender:s1=simulator'"):
        create_app(test_config)


def test_labelled_connections_come_from_the_environment(test_config, monkeypatch):
    monkeypatch.setenv("WAYSCLOUD_NORDIC_API_KEY", "wayscloud_sms_n1_secret")
    monkeypatch.setenv("WAYSCLOUD_NORDIC_BASE_URL", "https://nordic.example")
    monkeypatch.setenv("PROVIDER_ROUTES", "account:a1=wayscloud.nordic")
    app = create_app({**test_config, "SMS_PROVIDER": "wayscloud.nordic"})
    assert app.config["PROVIDER_ROUTES"].accounts == {"a1": "wayscloud.nordic"}
    with app.app_context():
        from app.providers import get_provider, known_codes

        assert known_codes(app.config) == ("simulator", "wayscloud.nordic")
        provider = get_provider("wayscloud.nordic")
        assert (provider.code, provider.options.base_url) == ("wayscloud.nordic", "https://nordic.example")
        assert get_provider("wayscloud.nordic") is provider  # one instance, its connections kept
        with pytest.raises(LookupError, match="needs WAYSCLOUD_API_KEY"):
            get_provider("wayscloud")


# ------------------------------------------------------------------ where rows get their provider


@pytest.fixture
def routed(ctx, account, monkeypatch):
    from app.services.senders import create_profile

    brand = create_profile(account, "Brand", "+4791111111")
    monkeypatch.setitem(ctx.config, "WAYSCLOUD_API_KEY", "k")
    monkeypatch.setitem(ctx.config, "WAYSCLOUD_NORDIC_API_KEY", "k2")

    def route(spec: str) -> None:
        routes = parse_routes(spec.format(account=account.id, brand=brand.id))
        monkeypatch.setitem(ctx.config, "PROVIDER_ROUTES", routes)

    return brand, route


def _providers(batch_id: str) -> dict[str, str]:
    stmt = select(Message.to_number, Message.provider).where(Message.batch_id == batch_id)
    return dict(db.session.execute(stmt).all())


def test_sends_take_the_sender_route_then_the_account_route_then_the_default(client, auth, routed):
    brand, route = routed
    route("account:{account}=wayscloud,sender:{brand}=wayscloud.nordic")
    default = client.post("/v1/sms/send", headers=auth, json={"to": "+4799999999", "message": "Hi"}).json
    branded = client.post("/v1/sms/send", headers=auth, json={
        "to": ["+4798888888", "+4797777777"], "message": "Hi", "sender_profile_id": brand.id}).json
    assert _providers(default["batch_id"]) == {"+4799999999": "wayscloud"}
    assert _providers(branded["batch_id"]) == {"+4798888888": "wayscloud.nordic", "+4797777777": "wayscloud.nordic"}
    route("")
    plain = client.post("/v1/sms/send", headers=auth, json={"to": "+4799999999", "message": "Hi"}).json
    assert _providers(plain["batch_id"]) == {"+4799999999": "simulator"}


def test_campaign_ledgers_and_automatic_answers_use_the_same_choice(account, routed):
    from app.services.send import outbound_values

    brand, route = routed
    route("sender:{brand}=wayscloud.nordic")
    assert outbound_values(account, brand, "SCHEDULED", "c1", campaign_id="c1")["provider"] == "wayscloud.nordic"
    route("account:{account}=wayscloud")
    assert outbound_values(account, brand, "QUEUED", "b1")["provider"] == "wayscloud"
