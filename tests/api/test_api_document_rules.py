"""The OpenAPI document states the rules the server applies, so a request it calls valid is
not refused for its shape, and one it calls invalid is refused (found by the fuzzer,
tests/api/test_api_fuzz.py): PINs, one redemption target, card-type rules, birthdays,
points offsets in whole yuan, media that are not blank and not repeated, JSON booleans,
and no unknown query parameters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.exceptions import OpenAPIError
from werkzeug.test import EnvironBuilder

from app.api.schemas import NOT_BLANK_PATTERN
from app.cards.services import member_cards, set_pin
from app.ledger.rules.io import import_rules

EXAMPLE_RULES = Path(__file__).parents[2] / "docs" / "rules.example.json"


@pytest.fixture
def document(client: Any) -> OpenAPI:
    return OpenAPI.from_dict(client.get("/api/v1/openapi.json").json)


def valid_in_document(document: OpenAPI, path: str, body: dict[str, Any], key: str) -> bool:
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "doc-1"}
    built = EnvironBuilder(path=path, method="POST", json=body, headers=headers).get_request()
    try:
        document.validate_request(WerkzeugOpenAPIRequest(built))
    except OpenAPIError:
        return False
    return True


@pytest.fixture
def chain(app: Any, make_store: Any, make_member: Any) -> dict[str, str]:
    for code in ("SH01", "SH02", "BJ01"):
        make_store(code)
    import_rules(json.loads(EXAMPLE_RULES.read_text(encoding="utf-8")))
    member = make_member("+8613800138000", card_type="points")
    card = member_cards(member)[0]
    set_pin(card, "1357")  # points pay only with the card's PIN
    return {"card": card.number}


def cases(card: str) -> list[tuple[str, dict[str, Any], bool]]:
    """(path, body, valid): the document's verdict and the server's must both be this."""
    pin = f"/api/v1/cards/{card}/pin"
    sale = {"card": card, "store": "SH01", "amount_fen": 10000, "pay_with": "cash", "pin": "1357"}
    return [
        ("/api/v1/cards", {"type": "gift", "pin": "1234"}, True),
        ("/api/v1/cards", {"type": "gift", "pin": "١٢٣٤"}, False),  # Arabic-Indic digits
        ("/api/v1/cards", {"type": "gift", "pin": "12a4"}, False),
        (pin, {"pin": "87654321"}, True),
        (pin, {"pin": "123"}, False),
        ("/api/v1/cards", {"type": "stored_value", "credit_limit_fen": 5000}, True),
        ("/api/v1/cards", {"type": "points", "credit_limit_fen": 0}, True),
        ("/api/v1/cards", {"type": "points", "credit_limit_fen": 5000}, False),
        ("/api/v1/cards", {"type": "period", "period": "month"}, True),
        ("/api/v1/cards", {"type": "period", "valid_until": "2030-01-31"}, True),
        ("/api/v1/cards", {"type": "period"}, False),
        (
            "/api/v1/cards",
            {"type": "gift", "media": [{"kind": "barcode", "value": "1"}] * 2},
            False,
        ),
        ("/api/v1/members", {"phone": "13700001111", "home_store": "SH01"}, True),
        (
            "/api/v1/members",
            {"phone": "13700001112", "home_store": "SH01", "birthday": "1990-13-01"},
            False,
        ),
        (
            "/api/v1/members",
            {"phone": "13700001113", "home_store": "SH01", "birthday": "1990-02-32"},
            False,
        ),
        (
            "/api/v1/members",
            {"phone": "13700001114", "home_store": "SH01", "card_type": "count"},
            True,
        ),
        (
            "/api/v1/members",
            {"phone": "13700001115", "home_store": "SH01", "card_type": "period"},
            False,
        ),
        (
            "/api/v1/members",
            {"phone": "13700001116", "home_store": "SH01", "lunar_leap_month": "yes"},
            False,
        ),
        ("/api/v1/cards", {"type": "gift", "rechargeable": 0}, False),
        ("/api/v1/cards", {"type": "gift", "rechargeable": True}, True),
        (f"/api/v1/cards/{card}/media", {"kind": "barcode", "value": " 6901234567892 "}, True),
        (f"/api/v1/cards/{card}/media", {"kind": "barcode", "value": "\x0b"}, False),
        (f"/api/v1/cards/{card}/media", {"kind": "barcode", "value": "\u3000 "}, False),
        ("/api/v1/checkout", {**sale, "points_offset": 100}, True),
        ("/api/v1/checkout", {**sale, "amount_fen": 0}, False),
        ("/api/v1/checkout", {**sale, "amount_fen": 0, "pay_with": "visits"}, True),
        ("/api/v1/checkout", {**sale, "points_offset": 150}, False),
        ("/api/v1/checkout", {**sale, "stored_value_fen": 100}, True),  # split tender
        ("/api/v1/checkout", {**sale, "stored_value_fen": 100, "cash_fen": 9900}, True),
        ("/api/v1/checkout", {**sale, "stored_value_fen": 100, "pay_with": "stored_value"}, False),
        ("/api/v1/checkout", {**sale, "cash_fen": 100}, False),
        ("/api/v1/checkout", {**sale, "stored_value_fen": 0}, False),
        ("/api/v1/redemptions", {"card": card, "gift": "TOTE"}, True),
        ("/api/v1/redemptions", {"card": card, "coupon_type": "C90", "gift": None}, True),
        ("/api/v1/redemptions", {"card": card}, False),
        ("/api/v1/redemptions", {"card": card, "gift": "TOTE", "coupon": "X1"}, False),
        ("/api/v1/redemptions", {"card": card, "gift": "TOTE", "coupon_type": "C90"}, False),
    ]


def test_the_document_and_the_server_agree_on_what_is_valid(api, chain, document):
    for path, body, valid in cases(chain["card"]):
        assert valid_in_document(document, path, body, api.key) is valid, (path, body)
        response = api.post(path, json=body, headers={"Idempotency-Key": f"k-{id(body)}"})
        refused = response.status_code == 400
        assert refused is not valid, (path, body, response.status_code, response.json)
        if refused:
            assert response.json["error"]["code"] == "invalid_request"


def test_points_offset_is_documented_in_whole_yuan(document, client):
    spec = client.get("/api/v1/openapi.json").json
    offset = spec["components"]["schemas"]["Checkout"]["properties"]["points_offset"]
    assert offset["multipleOf"] == 100
    pin = spec["components"]["schemas"]["CardCreate"]["properties"]["pin"]
    assert pin["pattern"] == "^[0-9]{4,8}$"


def test_not_blank_is_what_the_services_strip():
    """The pattern's class is exactly ``str.isspace``, spelled out for every regex engine;
    a NUL character, which the boundary refuses anywhere, is outside it too."""
    for code in range(1, 0x10000):
        char = chr(code)
        assert (re.fullmatch(NOT_BLANK_PATTERN, char) is None) is char.isspace(), hex(code)
    assert re.fullmatch(NOT_BLANK_PATTERN, "\x00") is None
    assert re.fullmatch(NOT_BLANK_PATTERN, "a\x00b") is None


@pytest.mark.parametrize(
    "path", ["/api/v1/members?per_pag=5", "/api/v1/members/13800138000/transactions?pages=2"]
)
def test_an_unknown_query_parameter_is_refused(api, chain, path):
    response = api.get(path)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_request"
    assert "Unknown field" in error["message"]
