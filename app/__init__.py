"""smsdesk: a self-hosted SMS platform. ``create_app`` reads like the table of contents."""
from __future__ import annotations

import logging

from flask import Flask

from app import config as settings
from app.extensions import db, init_redis, migrate


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(settings.load())
    app.config.update(config or {})
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    # Batch mode lets Alembic alter tables on SQLite too.
    migrate.init_app(app, db, directory=str(settings.PROJECT_ROOT / "migrations"), render_as_batch=True)
    init_redis(app)
    _register_blueprints(app)
    _register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from app.api import register_api
    from app.dashboard import dashboard

    register_api(app)
    app.register_blueprint(dashboard)


def _register_cli(app: Flask) -> None:
    from app.cli import register_cli

    register_cli(app)
