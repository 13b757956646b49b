"""Manual adjustments in the panel: posted at once, or approved by a second admin above the
thresholds; with a reason, once per form, only for one's own store's members."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from app.approvals.models import ApprovalRequest
from app.audit.models import AuditEntry
from app.cards.services import member_cards
from app.db import db
from app.ledger.balances import card_balances
from app.ledger.models import Transaction
from tests.admin.conftest import csrf_token


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"ADJUSTMENT_APPROVAL_FEN": 10_000, "ADJUSTMENT_APPROVAL_POINTS": 1_000}


@pytest.fixture
def card(make_member: Any) -> Any:
    member = make_member("+8613700001111", card_type="stored_value")  # at SH01
    return member_cards(member)[0]


def _form(staff: Any) -> str:
    page = staff.get("/admin/adjust")
    assert page.status_code == 200
    match = re.search(r'name="key" value="([0-9a-f]+)"', page.text)
    assert match
    staff.token = csrf_token(page.text)
    return match.group(1)


def _adjustments() -> list[Transaction]:
    return list(db.session.scalars(select(Transaction).where(Transaction.kind == "adjustment")))


def test_under_the_threshold_it_is_posted_at_once_and_audited(signed_in: Any, card: Any) -> None:
    admin = signed_in("admin", username="boss")
    key = _form(admin)

    answer = admin.post(
        "/admin/adjust",
        {
            "key": key,
            "card": "137 0000 1111",
            "points": "+200",
            "amount_yuan": "12.50",
            "reason": "顾客投诉补偿",
        },
    )

    assert answer.status_code == 302
    page = admin.get(answer.headers["Location"])
    assert f"卡 {card.number} 现有 200 积分、余额 ¥12.50" in page.text
    balances = card_balances(card.id)
    assert (balances.points, balances.stored_value_fen) == (200, 1250)
    (txn,) = _adjustments()
    assert (txn.actor, txn.details["reason"]) == ("staff:boss", "顾客投诉补偿")
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "balance.adjust")
    ).one()
    assert (entry.actor, entry.object_id) == ("boss", card.number)
    assert entry.before == {"points": 0, "stored_value_fen": 0}
    assert entry.after["points"] == 200 and entry.after["stored_value_fen"] == 1250

    # The same form sent twice (a double click, a reload) posts once.
    again = admin.post(
        "/admin/adjust",
        {
            "key": key,
            "card": card.number,
            "points": "200",
            "amount_yuan": "12.50",
            "reason": "顾客投诉补偿",
        },
    )
    assert again.status_code == 302
    assert card_balances(card.id).points == 200 and len(_adjustments()) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"points": "10", "reason": " "}, "调整必须填写原因"),
        ({"points": "1.5", "reason": "x"}, "积分请填整数"),
        ({"amount_yuan": "1.234", "reason": "x"}, "积分请填整数"),
        ({"points": "0", "amount_yuan": "", "reason": "x"}, "请填写积分或储值金额"),
        ({"points": "-5", "reason": "x"}, "卡内余额不足"),
        ({"amount_yuan": "-0.01", "reason": "x"}, "卡内余额不足"),
        ({"points": "9" * 40, "reason": "x"}, "积分请填整数"),
    ],
)
def test_bad_adjustments_are_refused_and_post_nothing(
    signed_in: Any, card: Any, fields: dict[str, str], message: str
) -> None:
    admin = signed_in("admin")
    key = _form(admin)

    answer = admin.post("/admin/adjust", {"key": key, "card": card.number, **fields})

    assert answer.status_code == 400
    assert message in answer.text
    assert _adjustments() == []


def test_an_unknown_card_is_a_clear_refusal(signed_in: Any) -> None:
    admin = signed_in("admin")
    key = _form(admin)

    answer = admin.post("/admin/adjust", {"key": key, "card": "0000", "points": "5", "reason": "x"})

    assert answer.status_code == 400
    assert "没有匹配的会员卡或会员" in answer.text


def test_above_the_threshold_a_second_admin_approves(signed_in: Any, card: Any) -> None:
    boss = signed_in("admin", username="boss")
    boss2 = signed_in("admin", username="boss2")

    asked = boss.post(
        "/admin/adjust",
        {"key": _form(boss), "card": card.number, "amount_yuan": "500", "reason": "开业充值补录"},
    )

    assert asked.status_code == 302
    assert "等待另一位管理员审批" in boss.get(asked.headers["Location"]).text
    assert card_balances(card.id).stored_value_fen == 0  # not yet
    req = db.session.scalars(select(ApprovalRequest)).one()
    own_page = boss.get("/admin/approvals")
    assert f"/admin/approvals/{req.id}/approve" not in own_page.text  # no button for one's own
    refused = boss.post(f"/admin/approvals/{req.id}/approve")
    assert refused.status_code == 403
    assert "须由另一位管理员审批" in refused.text
    assert card_balances(card.id).stored_value_fen == 0

    page = boss2.get("/admin/approvals")
    assert f"/admin/approvals/{req.id}/approve" in page.text and "开业充值补录" in page.text
    assert boss2.post(f"/admin/approvals/{req.id}/approve").status_code == 302

    assert card_balances(card.id).stored_value_fen == 50_000
    (txn,) = _adjustments()
    assert txn.actor == "staff:boss"
    assert txn.details == {
        "reason": "开业充值补录",
        "points": 0,
        "stored_value_fen": 50000,
        # Value given by hand is bonus value: a return later refunds only money paid in.
        "stored_value_paid_fen": 0,
        "stored_value_bonus_fen": 50000,
        "requested_by": "boss",
        "approved_by": "boss2",
    }
    twice = boss2.post(f"/admin/approvals/{req.id}/approve")
    assert twice.status_code == 409
    assert card_balances(card.id).stored_value_fen == 50_000


def test_a_rejected_request_is_never_posted(signed_in: Any, card: Any) -> None:
    boss = signed_in("admin", username="boss")
    boss2 = signed_in("admin", username="boss2")
    boss.post(
        "/admin/adjust",
        {"key": _form(boss), "card": card.number, "points": "5000", "reason": "活动积分"},
    )
    req = db.session.scalars(select(ApprovalRequest)).one()

    assert boss2.post(f"/admin/approvals/{req.id}/reject").status_code == 302

    assert card_balances(card.id).points == 0 and _adjustments() == []
    assert "已拒绝" in boss2.get("/admin/approvals").text


def test_a_store_manager_adjusts_only_their_own_stores_members(
    signed_in: Any, make_member: Any, make_store: Any, card: Any
) -> None:
    manager = signed_in("store_manager", username="mgr", store="SH01")
    make_store("BJ01")
    other = member_cards(make_member("+8613700002222", home_store="BJ01"))[0]

    mine = manager.post(
        "/admin/adjust", {"key": _form(manager), "card": card.number, "points": "10", "reason": "x"}
    )
    theirs = manager.post(
        "/admin/adjust",
        {"key": _form(manager), "card": other.number, "points": "10", "reason": "x"},
    )

    assert mine.status_code == 302
    assert theirs.status_code == 403
    assert card_balances(other.id).points == 0
