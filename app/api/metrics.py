"""``GET /metrics``: Prometheus metrics, for operators (``app.services.metrics`` says what is in it).

Who may scrape: with ``METRICS_TOKEN`` set, whoever presents it as ``Authorization: Bearer <token>``;
without it, only a client on this machine (loopback) that did not come through a proxy, because a
reverse proxy on the same machine makes every outside request look local.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from app.services.metrics import exposition

metrics = Blueprint("metrics", __name__)

LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


@metrics.get("/metrics")
def scrape():
    if refusal := _refusal():
        return refusal
    body, content_type = exposition(request.headers.get("Accept"))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal() -> Response | None:
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return _plain(401, "Missing or wrong metrics token: send Authorization: Bearer <METRICS_TOKEN>",
                      {"WWW-Authenticate": 'Bearer realm="metrics"'})
    if request.remote_addr in LOOPBACK and not any(h in request.headers for h in PROXY_HEADERS):
        return None
    return _plain(403, "Metrics are served to this machine only; set METRICS_TOKEN to scrape from elsewhere")


def _plain(status: int, message: str, headers: dict | None = None) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)
