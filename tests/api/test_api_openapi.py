"""The OpenAPI document is valid, and real answers of every endpoint match it.

Every (operation, documented status) pair in the document must be exercised
here, so a new endpoint or a newly documented error fails this test until
it is covered, and every answer is checked against the document with openapi-core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from app.cards.services import find_card
from app.db import db
from app.members.models import Question

HTTP_METHODS = {"get", "post", "patch", "put", "delete"}
JSON = "application/json"


class SentRequest(WerkzeugOpenAPIRequest):
    """The test client's request after the app read its body; an answer needs only the route."""

    @property
    def body(self) -> bytes:
        return b""


class Checker:
    """Validates answers against the document and records which statuses were seen."""

    def __init__(self, app: Flask, spec: dict[str, Any]) -> None:
        self.app = app
        self.openapi = OpenAPI.from_dict(spec)
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, response: Any) -> Any:
        request = SentRequest(response.request)
        self.openapi.validate_response(request, WerkzeugOpenAPIResponse(response))
        self.seen.add((request.method, self.template(response.request), str(response.status_code)))
        return response

    def request(self, method: str, path: str, **kw: Any) -> None:
        """Check a request we send as valid against the document (the test client's is spent)."""
        built = EnvironBuilder(path=path, method=method, **kw).get_request()
        self.openapi.validate_request(WerkzeugOpenAPIRequest(built))

    def template(self, request: Any) -> str:
        rule, _ = (
            self.app.url_map.bind("localhost")
            .match(request.path, method=request.method, return_rule=True)
        )  # fmt: skip
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


@pytest.fixture
def spec(client) -> dict[str, Any]:
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    return document


@pytest.fixture
def check(app, spec) -> Checker:
    return Checker(app, spec)


#: The blueprints this test covers; other packages' API tests cover theirs.
TAGS = {"members", "cards"}


def documented(spec: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (method, path, status)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and TAGS & set(operation["tags"])
        for status in operation["responses"]
    }


def test_the_document_is_valid_openapi_3(spec):
    assert spec["openapi"] == "3.0.3"
    assert {"/api/v1/members", "/api/v1/members/{ref}", "/api/v1/cards"} <= set(spec["paths"])
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["code", "message"]


def test_every_answer_of_every_endpoint_matches_the_document(api, client, check, spec, make_level):
    make_level("Silver", rank=1)
    db.session.add(Question(key="visits_per_month", label="Visits", type="integer"))
    db.session.flush()  # requests run in their own sessions: they see flushed rows only
    key = {"Authorization": f"Bearer {api.key}"}
    no_body_types = {"content_type": "text/plain", "data": "hello"}

    def post(path: str, body: Any = None) -> Any:
        return api.post(path, json=body)

    def ok(method: str, path: str, body: Any = None) -> Any:
        """A request the document allows, and its successful answer."""
        check.request(method, path, json=body, headers=key)
        response = check(api.client.open(path, method=method, json=body, headers=key))
        assert response.status_code in (200, 201), response.json
        return response

    too_large = b"[" + b" " * client.application.config["MAX_CONTENT_LENGTH"] + b"]"

    def each_unauthorized_and_unsupported(method: str, path: str, body: Any) -> None:
        check(client.open(path, method=method, json=body))
        if method in ("POST", "PATCH"):
            check(client.open(path, method=method, headers=key, **no_body_types))
            big = check(
                client.open(path, method=method, headers=key, data=too_large, content_type=JSON)
            )
            assert big.status_code == 413, big.json

    # --- members ---
    joined = ok(
        "POST",
        "/api/v1/members",
        {
            "phone": "+86 138 0013 8000",
            "home_store": "SH01",
            "name": "王小明",
            "birthday": "2020-04-10",
            "birthday_calendar": "lunar",
            "lunar_leap_month": True,
            "answers": {"visits_per_month": 3},
            "tags": ["tea"],
        },
    )
    assert joined.json["lunar_leap_month"] is True
    ok("POST", "/api/v1/members", {"phone": "+14155552671", "home_store": "SH01"})
    check(post("/api/v1/members", {"phone": "13800138000", "home_store": "SH01"}))  # 409
    check(post("/api/v1/members", {"phone": "138", "home_store": "SH01"}))  # 400
    check(post("/api/v1/members", {"phone": "13800138009", "home_store": "SH01", "x": 1}))
    each_unauthorized_and_unsupported("POST", "/api/v1/members", {"phone": "1"})

    ok("GET", "/api/v1/members?q=138&per_page=5")
    check(api.get("/api/v1/members?page=0"))
    check(client.get("/api/v1/members"))

    for ref, phone in [
        ("13800138000", "+8613800138000"),
        ("%2B86%20138%200013%208000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("%2B1%20415-555-2671", "+14155552671"),
    ]:
        assert ok("GET", f"/api/v1/members/{ref}").json["phone"] == phone
    check(api.get("/api/v1/members/13912345678"))
    check(client.get("/api/v1/members/13800138000"))
    assert check(api.get("/api/v1/members/138%00")).status_code == 400

    ok("PATCH", "/api/v1/members/13800138000", {"name": "王大明", "birthday": None})
    check(api.patch("/api/v1/members/13800138000", json={"gender": "robot"}))
    check(api.patch("/api/v1/members/13800138000", json={"phone": "+14155552671"}))
    check(api.patch("/api/v1/members/13912345678", json={"name": "x"}))
    each_unauthorized_and_unsupported("PATCH", "/api/v1/members/13800138000", {"name": "x"})

    # --- cards ---
    gift = ok("POST", "/api/v1/cards", {"type": "gift", "pin": "1234"}).json["card"]["number"]
    ok("POST", "/api/v1/cards", {"type": "period", "member": "13800138000", "period": "month"})
    check(post("/api/v1/cards", {"type": "platinum"}))
    each_unauthorized_and_unsupported("POST", "/api/v1/cards", {"type": "gift"})

    primary = find_card("13800138000").number
    ok("GET", f"/api/v1/cards/{primary}")
    check(api.get("/api/v1/cards/8800000000000000"))
    assert check(api.get("/api/v1/cards/88%0000")).status_code == 400
    check(client.get(f"/api/v1/cards/{primary}"))

    for action, illegal in [
        ("report-lost", "found"),
        ("found", "unfreeze"),
        ("freeze", "found"),
        ("unfreeze", "found"),
    ]:
        check(post(f"/api/v1/cards/{primary}/{illegal}"))  # 409 while active
        ok("POST", f"/api/v1/cards/{primary}/{action}", {"reason": "asked at the counter"})
    check(post(f"/api/v1/cards/{primary}/unfreeze"))  # 409: active again
    for action in ("report-lost", "found", "freeze", "unfreeze", "cancel", "replace"):
        path = f"/api/v1/cards/{primary}/{action}"
        check(post(path, {"reason": "x" * 201}))
        check(post(f"/api/v1/cards/8800000000000000/{action}"))
        each_unauthorized_and_unsupported("POST", path, {})
    replaced = ok("POST", f"/api/v1/cards/{primary}/replace").json
    new = replaced["card"]["number"]
    assert replaced["replaced_card"]["replaced_by"] == new
    check(post(f"/api/v1/cards/{primary}/found"))  # 404: the old number stopped working
    ok("POST", f"/api/v1/cards/{new}/cancel")
    assert check(post(f"/api/v1/cards/{new}/cancel")).status_code == 409
    for action in ("report-lost", "freeze", "replace"):
        assert check(post(f"/api/v1/cards/{new}/{action}")).status_code == 409

    pin = f"/api/v1/cards/{gift}/pin"
    ok("POST", pin, {"pin": "4321", "old_pin": "1234"})
    check(post(pin, {"pin": "5678"}))  # 403 pin_required
    check(post(pin, {"pin": "12", "old_pin": "4321"}))  # 400
    check(post(pin, {"pin": 1234}))  # 400
    check(post("/api/v1/cards/8800000000000000/pin", {"pin": "1234"}))
    each_unauthorized_and_unsupported("POST", pin, {"pin": "1234"})

    verify = f"/api/v1/cards/{gift}/pin/verify"
    ok("POST", verify, {"pin": "4321"})
    check(post(verify, {}))
    check(post("/api/v1/cards/8800000000000000/pin/verify", {"pin": "1234"}))
    each_unauthorized_and_unsupported("POST", verify, {"pin": "1234"})
    for _ in range(4):
        assert check(post(verify, {"pin": "0000"})).status_code == 403
    assert check(post(verify, {"pin": "0000"})).status_code == 423
    assert check(post(pin, {"pin": "1111", "old_pin": "4321"})).status_code == 423

    media = f"/api/v1/cards/{gift}/media"
    ok("POST", media, {"kind": "barcode", "value": "6901234567892"})
    check(post(media, {"kind": "nfc", "value": "1"}))
    check(post("/api/v1/cards/8800000000000000/media", {"kind": "barcode", "value": "1"}))
    each_unauthorized_and_unsupported("POST", media, {"kind": "barcode", "value": "2"})

    missing = documented(spec) - check.seen
    assert not missing, f"documented answers never exercised: {sorted(missing)}"
    undocumented = check.seen - documented(spec)
    assert not undocumented, f"answers outside the document: {sorted(undocumented)}"


def test_an_answer_that_breaks_the_document_fails(api, check, make_member):
    make_member("13800138000")
    good = check(api.get("/api/v1/members/13800138000"))
    card = check(api.get("/api/v1/cards/13800138000"))
    error = check(api.get("/api/v1/members/13912345678"))

    def validate(template: Any, status: int, body: dict[str, Any]) -> None:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        check.openapi.validate_response(
            SentRequest(template.request), WerkzeugOpenAPIResponse(response)
        )

    def broken(template: Any, status: int, change: Callable[[dict[str, Any]], None]) -> None:
        body = json.loads(template.get_data())
        validate(template, template.status_code, body)  # the copy itself passes
        change(body)
        with pytest.raises(OpenAPIError):
            validate(template, status, body)

    broken(good, 200, lambda b: b.pop("phone"))
    broken(good, 200, lambda b: b.update(phone=8613800138000))
    broken(good, 200, lambda b: b.update(secret="not in the document"))
    broken(good, 200, lambda b: b.update(gender="robot"))
    broken(good, 200, lambda b: b.update(birthday="15/08/1990"))
    broken(good, 200, lambda b: b["cards"][0].update(state="misplaced"))
    broken(good, 200, lambda b: b["balances"].update(points="12"))
    broken(good, 200, lambda b: b.update(joined_at="yesterday"))
    broken(good, 418, lambda b: None)
    broken(card, 200, lambda b: b["card"].pop("has_pin"))
    broken(card, 200, lambda b: b.update(extra=True))
    broken(error, 404, lambda b: b["error"].pop("message"))
    broken(error, 404, lambda b: b.update(code="not_found"))
    broken(error, 500, lambda b: None)
