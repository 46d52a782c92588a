"""Health and the API's own description."""
from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.api.openapi import openapi_document
from app.extensions import db, redis_conn

meta = Blueprint("meta", __name__)


@meta.get("/v1/ping")
def ping():
    """Liveness without touching the database or Redis (and the benchmarks' baseline)."""
    return jsonify({"pong": True})


@meta.get("/healthz")
def healthz():
    checks = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "unavailable", **checks}), 200 if healthy else 503


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError:
        db.session.rollback()
        return "unreachable"


def _check_redis() -> str:
    try:
        redis_conn().ping()
        return "ok"
    except RedisError:
        return "unreachable"


@meta.get("/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())
