"""``GET /healthz`` and ``GET /metrics``: for load balancers and Prometheus, not people."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from app.ops.health import database_reachable
from app.ops.metrics import exposition

bp = Blueprint("ops", __name__)

#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever
#: address it arrives from.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers, else 503; no sign-in, one ``SELECT 1``."""
    if database_reachable():
        response, status = jsonify(status="ok", database="ok"), 200
    else:
        response, status = jsonify(status="unavailable", database="unreachable"), 503
    response.headers["Cache-Control"] = "no-store"
    return response, status


@bp.get("/metrics")
def metrics() -> Response:
    refused = _refused()
    if refused is not None:
        return refused
    body, content_type = exposition(request.headers.get("Accept"))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _refused() -> Response | None:
    """Who may scrape: with ``METRICS_TOKEN``, whoever sends it as a bearer token;
    without it, only a scraper on this machine talking to the service directly."""
    token: str = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        response = Response("metrics: a bearer token is required\n", status=401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if _loopback(request.remote_addr) and not any(h in request.headers for h in FORWARDED):
        return None
    return Response(
        "metrics: only from this machine; set METRICS_TOKEN to scrape from elsewhere\n",
        status=403,
    )


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
