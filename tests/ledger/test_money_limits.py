"""Issue 9, money and points: a per-transaction maximum, JSON integers only, no zero sale,
signed points in alerts, refunds that say what they did, refunds at the store of sale."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_support import THURSDAY, counts
from sqlalchemy import func, select

from app.cards.models import Card
from app.clock import frozen
from app.db import db
from app.ledger import journal, operations
from app.ledger.balances import card_balances
from app.ledger.models import IdempotencyRecord, Transaction
from app.members.models import Member
from app.messaging.models import OutboxMessage

MAX = 10_000_000  # MAX_TRANSACTION_FEN's default


def rows() -> dict[str, int]:
    """Journal, idempotency records, outbox, cards and members: a refusal changes none."""
    db.session.expire_all()
    return {
        **counts(),
        **{
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (IdempotencyRecord, OutboxMessage, Card)
        },
    }


def post(api: Any, path: str, body: Any, key: str) -> Any:
    return api.post(path, json=body, headers={"Idempotency-Key": key})


def recharge(api: Any, card: Any, amount_fen: int, key: str = "r-1") -> Any:
    r = post(
        api,
        f"/api/v1/cards/{card.number}/recharge",
        {"amount_fen": amount_fen, "store": "SH01"},
        key,
    )
    assert r.status_code == 201, r.json
    return r


def checkout(api: Any, card: Any, key: str = "c-1", **body: Any) -> Any:
    full = {"card": card.number, "store": "SH01", "amount_fen": 1000, "pay_with": "cash", **body}
    with frozen(THURSDAY):
        return post(api, "/api/v1/checkout", full, key)


def alerts(member: Member) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.member_id == member.id, OutboxMessage.alert_type == "transaction")
            .order_by(OutboxMessage.id)
        )
    )


# --- 1. a per-transaction maximum -----------------------------------------------------------


def test_a_typo_of_a_billion_yuan_mints_nothing(api: Any, member_card: Any) -> None:
    """The issue's case: a cash checkout of ¥1,000,000,000 answered 201 with 980,000,000 points."""
    member, card = member_card()
    level_before = member.level_id
    before = rows()
    r = checkout(api, card, amount_fen=100_000_000_000)
    assert (r.status_code, r.json["error"]["code"]) == (400, "amount_too_large")
    assert r.json["error"]["details"] == {"field": "amount_fen", "maximum_fen": MAX}
    assert rows() == before
    assert card_balances(card.id).points == 0
    assert db.session.get(Member, member.id).level_id == level_before


@pytest.mark.parametrize("operation", ["checkout", "recharge"])
def test_the_maximum_itself_is_allowed_and_one_fen_more_is_refused(
    api: Any, member_card: Any, operation: str
) -> None:
    _, card = member_card()

    def send(amount_fen: int, key: str) -> Any:
        if operation == "checkout":
            return checkout(api, card, key, amount_fen=amount_fen)
        path = f"/api/v1/cards/{card.number}/recharge"
        return post(api, path, {"amount_fen": amount_fen, "store": "SH01"}, key)

    before = rows()
    refused = send(MAX + 1, "k-1")
    assert (refused.status_code, refused.json["error"]["code"]) == (400, "amount_too_large")
    assert rows() == before
    assert send(MAX, "k-2").status_code == 201


class TestAConfiguredMaximum:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"MAX_TRANSACTION_FEN": 500_000}

    def test_it_is_enforced_and_stated_in_the_document(
        self, api: Any, client: Any, member_card: Any
    ) -> None:
        _, card = member_card()
        refused = post(
            api,
            f"/api/v1/cards/{card.number}/recharge",
            {"amount_fen": 500_001, "store": "SH01"},
            "r",
        )
        assert (refused.status_code, refused.json["error"]["details"]["maximum_fen"]) == (
            400,
            500_000,
        )
        assert checkout(api, card, amount_fen=500_001).json["error"]["code"] == "amount_too_large"

        spec = client.get("/api/v1/openapi.json").json
        for path in ("/api/v1/checkout", "/api/v1/cards/{number}/recharge"):
            operation = spec["paths"][path]["post"]
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            field = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["amount_fen"]
            assert field["maximum"] == 500_000
            assert field["x-maximum-setting"] == "MAX_TRANSACTION_FEN"
            assert "amount_too_large" in field["description"]
            assert "400" in operation["responses"]


# --- 2. amounts are JSON integers only ---------------------------------------------------------

BAD_NUMBERS = [10.5, "100", 100.0]


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=["fraction", "string", "float"])
@pytest.mark.parametrize(
    ("target", "body", "field"),
    [
        ("checkout", {"amount_fen": "?"}, "amount_fen"),
        ("checkout", {"points_offset": "?"}, "points_offset"),
        ("checkout", {"items": [{"sku": "A", "amount_fen": "?"}]}, "items.0.amount_fen"),
        (
            "checkout",
            {"items": [{"sku": "A", "amount_fen": 1000, "quantity": "?"}]},
            "items.0.quantity",
        ),
        ("recharge", {"amount_fen": "?"}, "amount_fen"),
        ("refund", {"amount_fen": "?"}, "amount_fen"),
        ("redemption", {"quantity": "?"}, "quantity"),
        ("card", {"credit_limit_fen": "?"}, "credit_limit_fen"),
    ],
)
def test_amounts_are_json_integers_only(
    api: Any, member_card: Any, target: str, body: dict[str, Any], field: str, bad: Any
) -> None:
    member, card = member_card()
    recharge(api, card, 5000)
    bought = checkout(api, card, "c-0", pay_with="stored_value")
    assert bought.status_code == 201, bought.json

    def put(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: put(v) for k, v in value.items()}
        if isinstance(value, list):
            return [put(v) for v in value]
        return bad if value == "?" else value

    path, base = {
        "checkout": (
            "/api/v1/checkout",
            {"card": card.number, "store": "SH01", "amount_fen": 1000, "pay_with": "cash"},
        ),
        "recharge": (
            f"/api/v1/cards/{card.number}/recharge",
            {"amount_fen": 1000, "store": "SH01"},
        ),
        "refund": (f"/api/v1/transactions/{bought.json['transaction_id']}/refund", {}),
        "redemption": ("/api/v1/redemptions", {"card": card.number, "gift": "MUG"}),
        "card": ("/api/v1/cards", {"type": "stored_value", "member": member.phone}),
    }[target]
    before = rows()
    balances = card_balances(card.id)
    r = post(api, path, {**base, **put(body)}, "bad")
    assert (r.status_code, r.json["error"]["code"]) == (400, "invalid_request"), r.json
    assert r.json["error"]["details"]["field"] == field
    assert field in r.json["error"]["message"]
    assert rows() == before
    assert card_balances(card.id) == balances


# --- 3. no zero checkout, except a count-card visit -----------------------------------------


@pytest.mark.parametrize("pay_with", ["stored_value", "cash", "points"])
def test_a_zero_checkout_is_refused_and_texts_nothing(
    api: Any, member_card: Any, pay_with: str
) -> None:
    member, card = member_card()
    recharge(api, card, 5000)
    before = rows()
    r = checkout(api, card, amount_fen=0, pay_with=pay_with)
    assert (r.status_code, r.json["error"]["code"]) == (400, "invalid_request")
    assert r.json["error"]["details"] == {"field": "amount_fen"}
    assert "count-card visit" in r.json["error"]["message"]
    assert rows() == before
    assert len(alerts(member)) == 1  # the recharge's: no "消费 0.00 元"


def test_a_count_card_visit_may_be_zero(api: Any, member_card: Any, make_card: Any) -> None:
    member, _ = member_card()
    count_card = make_card("count", member=member)
    operations.load_value(count_card, 0, visits=2, idempotency_key="load", actor="test")
    r = checkout(api, count_card, amount_fen=0, pay_with="visits")
    assert r.status_code == 201, r.json
    assert r.json["balances"]["visits"] == 1


# --- 4. alerts and answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("zh-Hans", "积分 -88（共 12 分）"),
        ("zh-Hant", "積分 -88（共 12 分）"),
        ("en", "Points -88 (total 12)"),
    ],
)
def test_a_points_offset_larger_than_the_points_earned_alerts_the_net_change(
    api: Any, member_card: Any, language: str, expected: str
) -> None:
    """100 points pay ¥1 of ¥13; the ¥12 charged earns 12: the card lost 88 (was "+-88")."""
    member, card = member_card(language=language)
    journal.credit_points(card, 100, kind="gift", key="gift", expires_on=None, actor="test")
    r = checkout(api, card, amount_fen=1300, points_offset=100)
    assert r.status_code == 201, r.json
    assert (r.json["charged_fen"], r.json["points_earned"]) == (1200, 12)
    (text,) = alerts(member)
    assert expected in text
    assert "+-" not in text


def test_points_earned_still_show_a_plus(api: Any, member_card: Any) -> None:
    member, card = member_card(language="en")
    assert checkout(api, card, amount_fen=1300).status_code == 201
    assert "Points +13 (total 13)" in alerts(member)[0]


def test_a_refund_without_a_store_names_the_store_of_sale(
    api: Any, member_card: Any, make_store: Any
) -> None:
    """The demo refunds from the command line (no API key, no store): "在-退款" named none."""
    member, card = member_card(language="zh-Hans")
    recharge(api, card, 5000)
    bought = checkout(api, card, pay_with="stored_value")
    with frozen(THURSDAY):
        operations.refund(bought.json["transaction_id"], 500, key="cli-refund", actor="cli")
    refund_alert = alerts(member)[-1]
    assert f"在{make_store('SH01').name}退款" in refund_alert
    assert "在-" not in refund_alert
    refund_txn = db.session.scalar(select(Transaction).where(Transaction.kind == "refund"))
    assert refund_txn.store_id == make_store("SH01").id


def test_a_refund_answers_what_it_gave_back_and_the_points_it_moved(
    api: Any, member_card: Any
) -> None:
    _, card = member_card()
    journal.credit_points(card, 100, kind="gift", key="gift", expires_on=None, actor="test")
    bought = checkout(api, card, amount_fen=1300, points_offset=100)
    refund = f"/api/v1/transactions/{bought.json['transaction_id']}/refund"
    with frozen(THURSDAY):
        part = post(api, refund, {"amount_fen": 600}, "f-1")
        assert part.status_code == 201, part.json
        assert {
            k: part.json[k] for k in ("refunded_fen", "points_taken_back", "points_returned")
        } == {
            "refunded_fen": 600,
            "points_taken_back": 6,
            "points_returned": 50,
        }
        rest = post(api, refund, None, "f-2")
        assert {
            k: rest.json[k] for k in ("refunded_fen", "points_taken_back", "points_returned")
        } == {
            "refunded_fen": 600,
            "points_taken_back": 6,
            "points_returned": 50,
        }
        assert rest.json["balances"]["points"] == 100
        # Replaying the first key answers the first refund again.
        assert post(api, refund, {"amount_fen": 600}, "f-1").json == part.json

        before = rows()
        nothing_left = post(api, refund, None, "f-3")
    assert (nothing_left.status_code, nothing_left.json["error"]["code"]) == (
        409,
        "refund_exceeds_purchase",
    )
    assert nothing_left.json["error"]["message"] == "this purchase is already refunded in full"
    assert nothing_left.json["error"]["details"] == {
        "requested_fen": None,
        "refunded_fen": 1200,
        "refundable_fen": 0,
    }
    assert rows() == before


def test_a_refund_of_more_than_is_left_says_what_was_asked_and_refunded(
    api: Any, member_card: Any
) -> None:
    _, card = member_card()
    bought = checkout(api, card)
    refund = f"/api/v1/transactions/{bought.json['transaction_id']}/refund"
    with frozen(THURSDAY):
        assert post(api, refund, {"amount_fen": 700}, "f-1").status_code == 201
        r = post(api, refund, {"amount_fen": 400}, "f-2")
    assert r.status_code == 409
    assert r.json["error"]["details"] == {
        "requested_fen": 400,
        "refunded_fen": 700,
        "refundable_fen": 300,
    }


# --- 6. refunds at the store of sale ------------------------------------------------------------


def test_another_store_cannot_refund_a_sale(api: Any, member_card: Any, make_api_key: Any) -> None:
    _, card = member_card()
    bought = checkout(api, card)
    other = make_api_key("SH02")
    before = rows()
    r = api.client.post(
        f"/api/v1/transactions/{bought.json['transaction_id']}/refund",
        json={},
        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "f-1"},
    )
    assert (r.status_code, r.json["error"]["code"]) == (403, "refund_other_store")
    assert r.json["error"]["details"] == {"store_of_sale": "SH01"}
    assert rows() == before
    # The store of sale still can.
    assert (
        post(
            api, f"/api/v1/transactions/{bought.json['transaction_id']}/refund", {}, "f-2"
        ).status_code
        == 201
    )


class TestRefundsAnywhereInTheChain:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"REFUND_SCOPE": "chain"}

    def test_any_store_may_refund(self, api: Any, member_card: Any, make_api_key: Any) -> None:
        member, card = member_card()
        bought = checkout(api, card)
        r = api.client.post(
            f"/api/v1/transactions/{bought.json['transaction_id']}/refund",
            json={},
            headers={"Authorization": f"Bearer {make_api_key('SH02')}", "Idempotency-Key": "f"},
        )
        assert r.status_code == 201, r.json
        assert r.json["refunded_fen"] == 1000
        statement = api.get(f"/api/v1/members/{member.phone}/transactions").json
        assert (statement["transactions"][0]["kind"], statement["transactions"][0]["store"]) == (
            "refund",
            "SH02",
        )
