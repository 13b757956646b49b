"""API keys, and the JSON error shape for what Flask and the parser refuse themselves."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.auth.models import ApiKey
from app.auth.services import revoke_api_key
from app.cards.models import CardEvent
from app.clock import frozen
from app.db import db

MEMBER = {"phone": "13800138000", "home_store": "SH01"}


def _assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="laoyou"'


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer lyk_not-a-key-we-made"},
        {"Authorization": "Bearer something-else"},
    ],
)
def test_a_missing_or_unknown_key_is_refused_and_writes_nothing(client, make_store, rows, headers):
    make_store("SH01")
    before = rows()
    _assert_unauthorized(client.post("/api/v1/members", json=MEMBER, headers=headers))
    _assert_unauthorized(client.get("/api/v1/members/13800138000", headers=headers))
    _assert_unauthorized(client.post("/api/v1/cards", json={"type": "gift"}, headers=headers))
    assert rows() == before


def test_the_key_is_checked_before_the_body(client, make_store):
    make_store("SH01")
    _assert_unauthorized(client.post("/api/v1/members", json={"phone": 5}))
    _assert_unauthorized(client.post("/api/v1/members", data="{", content_type="text/plain"))


def test_a_revoked_key_is_refused(api, rows):
    assert api.post("/api/v1/members", json=MEMBER).status_code == 201
    revoke_api_key(api.key[:12])
    before = rows()
    response = api.post("/api/v1/members", json=MEMBER | {"phone": "13800138001"})
    _assert_unauthorized(response)
    assert response.json["error"]["message"] == "this API key has been revoked"
    assert api.get("/api/v1/members/13800138000").status_code == 401
    assert rows() == before


def test_the_keys_store_issues_cards_and_the_key_is_the_actor(api, make_store):
    make_store("BJ01", region="North")
    response = api.post("/api/v1/cards", json={"type": "gift"})
    assert response.json["card"]["issued_store"] == "SH01"
    key = db.session.scalar(select(ApiKey))
    actors = set(db.session.scalars(select(CardEvent.actor)))
    assert actors == {f"apikey:{key.id}"}


def test_last_used_is_written_at_most_once_a_minute(api, make_member):
    make_member("13800138000")
    key = db.session.scalar(select(ApiKey))
    start = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)

    def last_used() -> dt.datetime | None:
        db.session.expire_all()
        return db.session.get(ApiKey, key.id).last_used_at

    assert last_used() is None
    with frozen(start):
        assert api.get("/api/v1/members/13912345678").status_code == 404
    assert last_used() is None, "a refused request leaves no trace"
    with frozen(start):
        assert api.get("/api/v1/members/13800138000").status_code == 200
    assert last_used() == start
    with frozen(start + dt.timedelta(seconds=59)):
        assert api.get("/api/v1/members/13800138000").status_code == 200
    assert last_used() == start
    with frozen(start + dt.timedelta(seconds=60)):
        assert api.get("/api/v1/members/13800138000").status_code == 200
    assert last_used() == start + dt.timedelta(seconds=60)


def test_the_openapi_document_needs_no_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"] == "3.0.3"
    assert response.json["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert response.json["security"] == [{"bearerAuth": []}]


def test_no_docs_ui_is_served(client):
    for path in ("/api/v1/swagger-ui", "/api/v1/redoc", "/api/v1/rapidoc", "/api/v1/docs"):
        assert client.get(path).status_code == 404


# --- errors Flask and the parser raise ---------------------------------------------------


def test_unknown_path_is_a_json_404(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.mimetype == "application/json"


def test_pages_outside_the_api_keep_flasks_error_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_wrong_method_is_a_json_405(api):
    response = api.client.delete(
        "/api/v1/members/13800138000", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "PATCH" in response.headers["Allow"]


def test_a_body_that_is_not_json_is_refused(api, rows):
    before = rows()
    response = api.post(
        "/api/v1/members", data="phone=13800138000&home_store=SH01",
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    assert rows() == before


def test_malformed_json_is_refused(api, rows):
    before = rows()
    response = api.post(
        "/api/v1/members", data='{"phone": "13800138000",', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json == {
        "error": {"code": "invalid_request", "message": "the request body is not valid JSON"}
    }
    assert rows() == before


def test_a_body_that_is_not_an_object_is_refused(api, rows):
    before = rows()
    response = api.post("/api/v1/members", json=["13800138000", "SH01"])
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_request"
    assert response.json["error"]["message"].startswith("the request body: ")
    assert rows() == before


def test_validation_errors_name_every_field(api):
    response = api.post("/api/v1/members", json={"gender": "robot"})
    assert response.status_code == 400
    assert response.json["error"]["details"] == {
        "field": "gender",
        "fields": {
            "gender": ["Must be one of: female, male, other, unknown."],
            "home_store": ["Missing data for required field."],
            "phone": ["Missing data for required field."],
        },
    }


def test_an_unexpected_failure_is_a_json_500_and_writes_nothing(app, client, rows):
    from app.stores.services import create_store

    def broken_view() -> str:
        create_store("XX01", "Half-made", "Nowhere")
        raise RuntimeError("a bug")

    app.add_url_rule("/api/v1/broken", "broken", broken_view)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    before = rows()
    response = client.get("/api/v1/broken")
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "code": "internal_error",
            "message": "internal error; the request changed nothing",
        }
    }
    assert rows() == before
    assert client.get("/api/v1/openapi.json").status_code == 200
