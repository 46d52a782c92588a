"""API keys, passwords and webhook secrets are never logged (ASVS V7.1.1), wherever they are sent:
the app's JSON log at DEBUG (every logger: app, werkzeug, RQ, SQLAlchemy), the development server's
request lines, and gunicorn's access line."""
from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config
from gunicorn.glogging import Logger
from werkzeug.serving import make_server

from app import logs
from app.extensions import db
from app.models import Account
from app.services.accounts import create_user
from tests.dashboard.conftest import Browser

PASSWORD, WRONG, NEW = "correct horse battery", "tr0ub4dor&3-wrong-one", "a new passphrase for logs"


@pytest.fixture
def every_log_line():
    """smsdesk's JSON handler on the root logger at DEBUG, so every logger's records are written,
    SQLAlchemy's statements included; ``text()`` is everything written."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    sql = logging.getLogger("sqlalchemy.engine")
    saved_sql = sql.level
    sql.setLevel(logging.INFO)  # statements and their parameters, as an operator debugging might
    buffer = io.StringIO()
    logs.configure("DEBUG", "json", stream=buffer)
    yield SimpleNamespace(text=buffer.getvalue, lines=lambda: buffer.getvalue().splitlines())
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    sql.setLevel(saved_sql)


def _secret_forms(key: str) -> set[str]:
    """The key, its secret part, and the shapes a log might print them in (URL-encoded)."""
    secret = key.rsplit("_", 1)[1]
    return {key, secret, urllib.request.quote(key, safe=""), urllib.request.quote(secret, safe="")}


def test_no_key_password_or_secret_is_logged_by_the_api_the_dashboard_or_the_jobs(
        ctx, client, account, api_key, run_jobs, monkeypatch, every_log_line):
    create_user(account, "admin@example.com", PASSWORD, "admin")
    webhook_secret = db.session.get(Account, account.id).webhook_secret
    wrong_key = api_key[:-4] + "abcd"

    # the API: a key in each place it is read, a wrong one, one in the URL by mistake
    assert client.post("/v1/sms/send", json={"to": "+4799999999", "message": "Hi"},
                       headers={"X-API-Key": api_key}).status_code == 200
    assert client.get("/v1/sms/messages", headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    assert client.get("/v1/sms/messages", headers={"X-API-Key": wrong_key}).status_code == 401
    for name in ("api_key", "key", "token"):  # never accepted from the URL ...
        assert client.get(f"/v1/sms/messages?{name}={api_key}").status_code == 401
    assert client.get("/v1/webhooks/secret", headers={"X-API-Key": api_key}).json  # shows the secret
    # ... and a request that fails inside the app
    monkeypatch.setattr("app.services.messages.get_message", _explode)
    failed = client.get("/v1/sms/messages/nope", headers={"Authorization": f"Bearer {api_key}"})
    assert failed.status_code == 500
    run_jobs()  # RQ's own job log lines

    # the dashboard: sign-in (wrong, right), a new API key, the webhook secret, a password change
    browser = Browser(ctx)
    assert browser.login("admin@example.com", WRONG).status_code == 401
    assert browser.login("admin@example.com", PASSWORD).status_code == 303
    created = browser.post("/api-keys", {"name": "logged?"}).get_data(as_text=True)
    dashboard_key = re.search(re.escape(ctx.config["API_KEY_PREFIX"]) + r"_[a-z0-9]{10}_[A-Za-z0-9_-]{20,}", created)
    assert dashboard_key, "the new key is shown once on the page"
    assert browser.get("/webhooks/secret").status_code == 200
    assert browser.post("/password", {"current": PASSWORD, "new": NEW, "confirm": NEW}).status_code == 303
    browser.get("/")  # the renewed session's CSRF token
    assert browser.post("/users", {"email": "new@example.com", "role": "viewer", "password": NEW + "!"}).status_code in (200, 303)

    written = every_log_line.text()
    assert len(every_log_line.lines()) > 20  # a lot was logged, so the absence below means something
    secrets = {PASSWORD, WRONG, NEW, NEW + "!", webhook_secret, *_secret_forms(api_key), *_secret_forms(wrong_key)}
    secrets |= _secret_forms(dashboard_key.group(0))
    leaked = {s for s in secrets if s in written}
    assert not leaked, f"written to the log: {leaked}"


def _explode(*args, **kwargs):
    raise RuntimeError("boom in the middle of a request")


@pytest.fixture
def dev_server(ctx):
    """The app behind Werkzeug's development server (``flask run``), on a free port."""
    server = make_server("127.0.0.1", 0, ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_the_development_servers_request_lines_leave_out_the_query_string(dev_server, api_key, every_log_line):
    for url in (f"{dev_server}/v1/sms/messages?api_key={api_key}", f"{dev_server}/v1/ping?x=1&key={api_key}"):
        try:
            urllib.request.urlopen(url, timeout=5).read()
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    request_lines = [json.loads(line)["message"] for line in every_log_line.lines()
                     if json.loads(line)["logger"] == "werkzeug"]
    assert any("/v1/sms/messages?…" in line for line in request_lines), request_lines
    assert not {s for s in _secret_forms(api_key) if s in every_log_line.text()}


def test_gunicorns_access_line_leaves_out_the_query_string_user_and_referer(api_key):
    """The settings gunicorn reads from ``app/gunicorn_conf.py`` (the Procfile's web process), applied
    by gunicorn's own logger to a request that carries a key in its URL, in Basic auth and in the
    Referer."""
    settings = Application.get_config_from_module_name(None, "app.gunicorn_conf")
    cfg = Config()
    cfg.set("access_log_format", settings["access_log_format"])
    cfg.set("accesslog", "-")
    logger = Logger(cfg)
    stream = io.StringIO()
    for handler in logger.access_log.handlers:
        handler.setStream(stream)
    basic = base64.b64encode(f"{api_key}:x".encode()).decode()
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/v1/sms/messages?api_key={api_key}",
               "PATH_INFO": "/v1/sms/messages", "QUERY_STRING": f"api_key={api_key}", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": f"Basic {basic}",
               "HTTP_REFERER": f"https://smsdesk.example/contacts?q=+4791234567&key={api_key}",
               "HTTP_USER_AGENT": "curl/8"}
    response = SimpleNamespace(status="401 UNAUTHORIZED", sent=120, headers=[("X-Request-ID", "req-123")])
    logger.access(response, [("Authorization", f"Basic {basic}")], environ, timedelta(milliseconds=7))
    line = stream.getvalue()
    assert '"GET /v1/sms/messages HTTP/1.1" 401 120' in line and "req-123" in line and "203.0.113.9" in line
    assert not {s for s in _secret_forms(api_key) if s in line} and "+4791234567" not in line
