"""Rate limits per signed-in user: every dashboard page, fragment and form (DASHBOARD_RATE_LIMIT),
and the /v1/dashboard/sms mirror against the API limit; sign-in attempts keep their own throttle."""
from __future__ import annotations

import pytest

from app.extensions import redis_conn

from tests.dashboard.conftest import PASSWORD, Browser, full_page, htmx_fragment


@pytest.fixture
def limits(app, monkeypatch):
    def set_limits(scope: str, rate: float, burst: int) -> None:
        monkeypatch.setitem(app.config, f"{scope}_RATE_LIMIT", rate)
        monkeypatch.setitem(app.config, f"{scope}_RATE_BURST", burst)
        with app.app_context():  # start from full buckets: signing in made requests already
            redis = redis_conn()
            for key in redis.scan_iter("smsdesk:ratelimit:*"):
                redis.delete(key)
    return set_limits


def test_pages_count_against_the_user(login_as, limits):
    browser = login_as("viewer")
    limits("DASHBOARD", 0.1, 2)
    first = browser.get("/")
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "1"
    assert browser.get("/messages").status_code == 200
    refused = browser.get("/messages")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == 10
    assert "Too many requests" in full_page(refused)
    fragment = browser.get("/messages", htmx=True)
    assert fragment.status_code == 429 and fragment.headers["Retry-After"]
    assert "Too many requests" in htmx_fragment(fragment)
    # Another user of the same account is not affected.
    assert login_as("viewer").get("/messages").status_code == 200


def test_forms_count_too(login_as, limits):
    browser = login_as("marketer")
    limits("DASHBOARD", 0.1, 1)
    assert browser.get("/contacts").status_code == 200
    assert browser.post("/contacts", {"phone_number": "+4791234567"}).status_code == 429


def test_generous_default_lets_a_busy_person_work(login_as, app):
    assert app.config["DASHBOARD_RATE_BURST"] >= 100
    browser = login_as("admin")
    for path in ("/", "/messages", "/contacts", "/groups", "/campaigns", "/usage") * 5:
        assert browser.get(path).status_code == 200, path


def test_mirror_session_counts_against_the_user_under_the_api_limit(login_as, limits):
    browser = login_as("viewer")
    limits("API", 0.1, 2)
    limits("DASHBOARD", 0.1, 1000)
    codes = [browser.get("/v1/dashboard/sms/messages").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = browser.get("/v1/dashboard/sms/messages")
    assert refused.json["error"]["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    assert login_as("marketer").get("/v1/dashboard/sms/messages").status_code == 200
    assert browser.get("/").status_code == 200  # the page limit is a separate bucket


def test_sign_in_throttle_still_holds(browser, make_user, app, limits, monkeypatch):
    limits("DASHBOARD", 1000, 1000)
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", 2)
    user = make_user("admin")
    for _ in range(2):
        assert browser.post("/login", {"email": user.email, "password": "wrong password"}).status_code == 401
    refused = browser.post("/login", {"email": user.email, "password": PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert Browser(app, remote_addr="10.9.9.9").login(user.email).status_code == 303
