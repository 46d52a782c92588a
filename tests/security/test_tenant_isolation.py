"""Tenant isolation through every door (OWASP API1, broken object level authorization).

Account A and account B each own one object of every type (``tenants.seed_tenant``). Signed in as
B's admin (dashboard, with CSRF tokens) and with B's API key, every rule of the URL map that takes an
object in its path is called, with every method it allows, with A's objects: each answer is 404
("Another account's object: 404", API.md), and everything A owns is unchanged afterwards. Every
list, export, search and report B can read is scanned for anything of A's (ids, numbers, names,
bodies, emails). ``ID_RULES`` must name every rule with a path parameter: a new one fails
``test_every_rule_with_a_path_parameter_is_in_the_table`` until it is added here.
"""
from __future__ import annotations

import itertools

import pytest

from tests.dashboard.conftest import Browser
from tests.security.tenants import PASSWORD, Tenant, owned_models, seed_tenant, snapshot

# Which object each path parameter names. A rule with several parameters is also called with B's
# own object in all but one place (B's group with A's contact ...), since a check of only the first
# id is a classic leak.
PARAMETERS = {
    "contact_id": ("contact",), "group_id": ("group",), "campaign_id": ("campaign",),
    "message_id": ("message", "campaign_message", "inbound"), "profile_id": ("sender_profile",),
    "keyword_id": ("keyword",), "key_id": ("api_key",), "user_id": ("user", "admin"),
    "import_id": ("contact_import",), "optout_id": ("optout",), "delivery_id": ("webhook_delivery",),
    "number": ("number:direct",),  # the inbox: a conversation is named by the person's number
}

# Every rule with a path parameter, by endpoint. "404": another account's object is not found.
ID_RULES = {
    # dashboard
    "dashboard.revoke_api_key": "404",
    "dashboard.campaign": "404", "dashboard.cancel_campaign": "404", "dashboard.edit_campaign": "404",
    "dashboard.update_campaign": "404", "dashboard.pause_campaign": "404", "dashboard.campaign_report": "404",
    "dashboard.campaign_report_csv": "404", "dashboard.campaign_report_json": "404",
    "dashboard.resend_campaign": "404", "dashboard.resume_campaign": "404", "dashboard.schedule_campaign": "404",
    "dashboard.send_campaign": "404", "dashboard.test_campaign": "404", "dashboard.unschedule_campaign": "404",
    "dashboard.set_campaign_cap": "404",
    "dashboard.contact": "404", "dashboard.update_contact": "404", "dashboard.anonymise_contact": "404",
    "dashboard.delete_contact": "404", "dashboard.edit_contact": "404",
    "dashboard.contact_import": "404", "dashboard.delete_contact_import": "404",
    "dashboard.contact_import_report": "404", "dashboard.requeue_contact_import": "404",
    "dashboard.start_contact_import": "404",
    "dashboard.group": "404", "dashboard.update_group": "404", "dashboard.find_members": "404",
    "dashboard.delete_group": "404", "dashboard.edit_group": "404", "dashboard.add_group_members": "404",
    "dashboard.remove_group_member": "404",
    "dashboard.thread": "404", "dashboard.reply": "404", "dashboard.simulate_reply": "404",
    "dashboard.keyword_row": "404", "dashboard.update_keyword": "404", "dashboard.delete_keyword": "404",
    "dashboard.edit_keyword": "404",
    "dashboard.message": "404", "dashboard.cancel_message": "404",
    "dashboard.remove_optout": "404",
    "dashboard.approve_sender_profile": "404", "dashboard.set_default_sender_profile": "404",
    "dashboard.delete_sender_profile": "404", "dashboard.reject_sender_profile": "404",
    "dashboard.deactivate_user": "404", "dashboard.reactivate_user": "404", "dashboard.change_user_role": "404",
    "dashboard.webhook_delivery": "404", "dashboard.replay_webhook": "404",
    # API
    "campaigns.get_campaign": "404", "campaigns.update_campaign": "404", "campaigns.cancel_campaign": "404",
    "campaigns.pause_campaign": "404", "campaigns.preview_campaign": "404", "campaigns.resume_campaign": "404",
    "campaigns.schedule_campaign": "404", "campaigns.send_campaign": "404", "campaigns.unschedule_campaign": "404",
    "contacts.get_contact": "404", "contacts.update_contact": "404", "contacts.replace_contact": "404",
    "contacts.delete_contact": "404", "contacts.gdpr_delete": "404",
    "contacts.get_group": "404", "contacts.update_group": "404", "contacts.replace_group": "404",
    "contacts.delete_group": "404", "contacts.list_members": "404", "contacts.add_members": "404",
    "contacts.remove_member": "404",
    "sms.get_keyword": "404", "sms.update_keyword": "404", "sms.delete_keyword": "404",
    "sms.get_message": "404", "sms.cancel_message": "404", "sms.delete_sender_profile": "404",
    "dashboard_sms.get_keyword": "404", "dashboard_sms.update_keyword": "404", "dashboard_sms.delete_keyword": "404",
    "dashboard_sms.get_message": "404", "dashboard_sms.cancel_message": "404",
    "dashboard_sms.delete_sender_profile": "404",
    "webhooks.get_delivery": "404", "webhooks.replay_delivery": "404",
}

# Rules whose path parameter names no tenant's object, and why.
NOT_OBJECTS = {
    "static": "the static files",
    "providers.receive_reports": "a provider's callback: authenticated by the provider's token, not an account",
    "providers.receive_inbound": "a provider's callback: authenticated by the provider's token, not an account",
    "sms.check_keyword": "a word, not an object: checked in test_keyword_availability_is_per_account",
    "dashboard_sms.check_keyword": "a word, not an object: checked in test_keyword_availability_is_per_account",
}

# Every kind of row an account owns must be seeded, so a new table is a question for this file.
SEEDED_TABLES = {
    "accounts", "users", "api_keys", "contacts", "contact_groups", "opt_outs", "contact_imports", "keywords",
    "sender_profiles", "campaigns", "messages", "webhook_deliveries", "webhook_attempts", "usage_rollups",
    "usage_daily", "audit_events", "account_spend", "idempotency_keys",
}
# Owned tables the seed may leave empty: an idempotency key is only kept when a client sends one,
# and the month's committed spend only while the account has a spend limit.
MAY_BE_EMPTY = {"idempotency_keys", "account_spend"}

SKIP_METHODS = {"HEAD", "OPTIONS"}

# API bodies that pass validation, so the call reaches the ownership check (a 422 for a missing field
# would say nothing about isolation). The objects in them are B's own.
BODIES = {
    "campaigns.schedule_campaign": lambda b: {"scheduled_at": "2031-06-01T10:00:00", "timezone": "Europe/Oslo"},
    "contacts.add_members": lambda b: {"contact_ids": [b.ids["contact"]]},
}


def id_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.arguments]


def test_every_rule_with_a_path_parameter_is_in_the_table(app):
    rules = {rule.endpoint for rule in id_rules(app)}
    missing = rules - set(ID_RULES) - set(NOT_OBJECTS)
    assert not missing, f"add these endpoints to ID_RULES (or NOT_OBJECTS, with a reason): {sorted(missing)}"
    gone = (set(ID_RULES) | set(NOT_OBJECTS)) - rules
    assert not gone, f"these endpoints no longer exist; remove them from the table: {sorted(gone)}"
    for rule in id_rules(app):
        if rule.endpoint in ID_RULES:
            unknown = set(rule.arguments) - set(PARAMETERS)
            assert not unknown, f"{rule.rule}: say which object {unknown} names in PARAMETERS"


def test_every_table_an_account_owns_is_seeded(ctx):
    unseeded = set(owned_models()) - SEEDED_TABLES
    assert not unseeded, f"seed an object of these tables in tenants.seed_tenant, then list them: {unseeded}"


@pytest.fixture
def tenants(ctx, client, run_jobs, monkeypatch):
    """A (the victim) and B (the one trying), and B's admin signed in to the dashboard."""
    for name, value in (("ALLOW_HTTP_CALLBACKS", True), ("WEBHOOK_ALLOWED_HOSTS", frozenset({"127.0.0.1"})),
                        ("WEBHOOK_TIMEOUT_SECONDS", 1.0)):
        monkeypatch.setitem(ctx.config, name, value)
    a = seed_tenant(client, run_jobs, "Acme", 1)
    b = seed_tenant(client, run_jobs, "Globex", 2)
    browser = Browser(ctx)
    assert browser.login(b.admin_email, PASSWORD).status_code == 303
    return a, b, browser


def _value(tenant: Tenant, kind: str) -> str:
    if kind.startswith("number:"):
        return tenant.numbers[kind.partition(":")[2]]
    return tenant.ids[kind]


def _paths(rule, a: Tenant, b: Tenant):
    """The rule's path with A's objects, and for several parameters each mix with B's own."""
    names = list(rule.arguments)
    choices = [[(kind, owner) for kind in PARAMETERS[name] for owner in (a, b)] for name in names]
    for combo in itertools.product(*choices):
        if all(owner is b for _, owner in combo):
            continue
        values = {name: _value(owner, kind) for name, (kind, owner) in zip(names, combo)}
        yield rule.build(values, append_unknown=False)[1]


def _call(client, browser: Browser, b: Tenant, endpoint: str, method: str, path: str):
    if path.startswith("/v1/"):
        body = None
        if method in ("POST", "PUT", "PATCH"):
            body = BODIES[endpoint](b) if endpoint in BODIES else {}
        return client.open(path, method=method, json=body, headers=b.auth)
    if method == "GET":
        return browser.get(path)
    return browser.post(path, {}) if method == "POST" else browser.request(method, path)


def test_another_accounts_objects_are_404_everywhere_and_stay_unchanged(tenants, client, app):
    a, b, browser = tenants
    before = snapshot(a.account_id)
    empty = {table for table in SEEDED_TABLES - MAY_BE_EMPTY if not before.get(table)}
    assert not empty, f"the seed made no rows of A in {sorted(empty)}: those objects would go untested"
    wrong = []
    calls = 0
    for rule in sorted(id_rules(app), key=lambda r: r.rule):
        if rule.endpoint not in ID_RULES:
            continue
        for method in sorted(rule.methods - SKIP_METHODS):
            for path in _paths(rule, a, b):
                response = _call(client, browser, b, rule.endpoint, method, path)
                calls += 1
                if response.status_code != 404:
                    wrong.append(f"{method} {path} ({rule.endpoint}): {response.status_code} "
                                 f"{response.get_data(as_text=True)[:160]!r}")
    assert calls > 100
    assert not wrong, "another account's object was not a 404:\n" + "\n".join(wrong)
    after = snapshot(a.account_id)
    changed = {table for table in set(before) | set(after) if before.get(table) != after.get(table)}
    assert not changed, f"account A's rows changed in: {sorted(changed)}"


# Search and filter parameters the lists, exports and reports take, each tried with A's values.
def _searches(a: Tenant) -> list[dict]:
    name, number = "SecretnameAcme", a.numbers["contact"]
    return [{}, {"q": name}, {"search": name}, {"q": number}, {"search": number}, {"to": a.numbers["direct"]},
            {"number": a.numbers["direct"]}, {"customer_ref": "ref-Acme"}, {"batch_id": a.ids["batch"]},
            {"campaign_id": a.ids["campaign"]}, {"group_id": a.ids["group"]}, {"contact_id": a.ids["contact"]},
            {"sender_profile_id": a.ids["sender_profile"]}, {"message_id": a.ids["message"]},
            {"direction": "INBOUND"}, {"status": "DELIVERED"}, {"event": "message.delivered"}]


def _readable_rules(app):
    """Every GET rule except the static files, the provider callbacks and the scrape endpoint."""
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint not in NOT_OBJECTS and rule.endpoint != "metrics.scrape"]


def _own_path(rule, b: Tenant) -> str:
    values = {name: _value(b, PARAMETERS[name][0]) for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def test_lists_exports_searches_and_reports_show_nothing_of_another_account(tenants, client, app):
    """B reads every page, fragment, list, export and report there is (its own objects' pages too,
    such as its group's "add members" search), plain and with A's names, numbers and ids as search
    terms: nothing of A's is in any answer (apart from the search term itself, echoed in its box)."""
    a, b, browser = tenants
    leaks, pages, seen_own = [], 0, set()
    for rule in sorted(_readable_rules(app), key=lambda r: r.rule):
        path = _own_path(rule, b)
        # An object's own page takes no search, except the group's "add members" search.
        searches = _searches(a) if not rule.arguments or rule.endpoint == "dashboard.find_members" else [{}]
        for query, htmx in itertools.product(searches, (False, True)):
            if htmx and (path.startswith("/v1/") or query):  # fragments: the plain list is enough
                continue
            if path.startswith("/v1/"):
                response = client.get(path, query_string=query, headers=b.auth)
            else:
                response = browser.request("GET", path, query_string=query, htmx=htmx)
            pages += response.status_code == 200
            text = response.get_data(as_text=True)
            seen_own.update(secret for secret in b.secrets if secret in text)
            found = {secret for secret in a.secrets - set(query.values()) if secret in text}
            if found:
                leaks.append(f"GET {path} {query or ''}{' (htmx)' if htmx else ''}: {sorted(found)}")
    assert pages > 200
    # The control: the same pages do show B's own objects of every type, so the scan reads real lists.
    for kind in ("contact", "group", "campaign", "message", "inbound", "keyword", "sender_profile", "user",
                 "contact_import", "webhook_delivery", "optout", "api_key"):
        assert b.ids[kind] in seen_own, f"no page showed B's own {kind}"
    assert {"SecretnameGlobex", "Direct text of Globex", "Inbound reply of Globex", b.numbers["optout"]} <= seen_own
    assert not leaks, "account B saw account A's data:\n" + "\n".join(leaks)


def test_keyword_availability_is_per_account(tenants, client):
    """A's keyword does not make the word taken for B, and the answer says nothing about A."""
    a, b, browser = tenants
    for path in ("/v1/sms/keywords/check/WORDACME", "/v1/dashboard/sms/keywords/check/WORDACME"):
        response = client.get(path, headers=b.auth)
        assert response.status_code == 200 and response.json["available"] is True, response.json
        assert not {s for s in a.secrets - {"WORDACME"} if s in response.get_data(as_text=True)}
    own = client.get("/v1/sms/keywords/check/WORDGLOBEX", headers=b.auth).json
    assert own["available"] is False


def test_ids_of_another_account_in_request_bodies_are_refused(tenants, client):
    """Objects named in a body (not the path) are checked too: B cannot put A's contact in its own
    group, send to A's group or contact, or build a campaign on A's group."""
    a, b, browser = tenants
    before = snapshot(a.account_id)
    group_members = f"/v1/contacts/groups/{b.ids['group']}/members"
    calls = [
        ("POST", group_members, {"contact_ids": [a.ids["contact"]]}),
        ("POST", "/v1/campaigns", {"name": "Theirs", "message": "Hi", "group_ids": [a.ids["group"]]}),
        ("POST", "/v1/sms/send", {"to": "+4799999999", "message": "Hi", "sender_profile_id": a.ids["sender_profile"]}),
        ("PATCH", f"/v1/campaigns/{b.ids['campaign']}", {"group_ids": [a.ids["group"]]}),
    ]
    for method, path, body in calls:
        response = client.open(path, method=method, json=body, headers=b.auth)
        assert response.status_code in (404, 409, 422), (path, response.status_code, response.json)
        assert not {s for s in a.secrets - _flat(body) if s in response.get_data(as_text=True)}, path
    members = client.get(group_members, headers=b.auth).get_data(as_text=True)
    assert a.ids["contact"] not in members and a.numbers["contact"] not in members

    browser.post("/contacts/add-to-group", {"group_id": b.ids["group"], "contact_ids": a.ids["contact"]})
    browser.post(f"/groups/{b.ids['group']}/members", {"contact_ids": a.ids["contact"]})
    browser.post("/send", {"contact_ids": a.ids["contact"], "group_ids": a.ids["group"], "message": "Hi"})
    assert a.numbers["contact"] not in browser.get(f"/groups/{b.ids['group']}").get_data(as_text=True)
    assert snapshot(a.account_id) == before


def _flat(body: dict) -> set[str]:
    values = set()
    for value in body.values():
        values.update(value if isinstance(value, list) else [value])
    return {str(v) for v in values}
