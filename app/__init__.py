"""smsdesk: a self-hosted SMS platform. ``create_app`` reads like the table of contents."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import config as settings
from app import logs
from app import security_headers
from app.extensions import csrf, db, init_redis, login_manager, migrate
from app.text import refuse_unsafe_request_text


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(settings.load())
    app.config.update(config or {})
    logs.init_app(app)

    db.init_app(app)
    # Batch mode lets Alembic alter tables on SQLite too.
    migrate.init_app(app, db, directory=str(settings.PROJECT_ROOT / "migrations"), render_as_batch=True)
    init_redis(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    _check_provider(app)
    app.before_request(refuse_unsafe_request_text)
    security_headers.init_app(app)
    _register_blueprints(app)
    _exempt_api_from_csrf(app)
    _register_cli(app)
    _trust_proxies(app)
    return app


def _check_provider(app: Flask) -> None:
    """Fail at start, not by leaving every accepted message QUEUED for a provider nobody knows
    (SMS_PROVIDER, PROVIDER_ROUTES, the providers' own settings)."""
    from app.providers import check_configuration

    check_configuration(app.config)


def _register_blueprints(app: Flask) -> None:
    from app.api import register_api
    from app.api.metrics import metrics
    from app.dashboard import register_dashboard

    register_api(app)
    register_dashboard(app)
    app.register_blueprint(metrics)


def _exempt_api_from_csrf(app: Flask) -> None:
    """The /v1 API authenticates with API keys, never with the session cookie, so a forged
    cross-site request gains nothing there: exempt every blueprint whose state-changing routes all
    live under /v1/. Any other blueprint (the dashboard, or a new HTML one) stays protected."""
    api, html_writers = set(), set()
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if not blueprint:
            continue
        if rule.rule.startswith("/v1/"):
            api.add(blueprint)
        elif rule.methods - {"GET", "HEAD", "OPTIONS"}:
            html_writers.add(blueprint)
    for name in api - html_writers:
        csrf.exempt(app.blueprints[name])


def _trust_proxies(app: Flask) -> None:
    """Behind a proxy every request would seem to come from the proxy, and one person's failed
    sign-ins would lock out everyone; trust exactly the configured number of hops."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _register_cli(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)
