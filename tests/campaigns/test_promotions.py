"""Promotions: made and checked by campaigns, applied by the ledger at checkout, listed by
keyword, counted in the report. Points are hand-computed: with no rules imported a member
earns 1 point per yuan charged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

import app.kept as kept_module
from app.audit.models import AuditEntry
from app.campaigns import promotions
from app.campaigns.promotion_models import Promotion, PromotionUse
from app.campaigns.promotions import PromotionEnded, PromotionTerms
from app.cards.services import member_cards
from app.clock import frozen
from app.db import db
from app.errors import InvalidRequest
from app.ledger.balances import member_balances
from app.ledger.models import Transaction
from app.ledger.operations import checkout, refund
from app.ledger.redemption.models import Coupon, CouponType
from app.stores.services import get_store

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
#: Inside the week-long window of ``promotion`` below (Asia/Shanghai).
DURING = dt.datetime(2026, 12, 9, 12, 0, tzinfo=SHANGHAI)
START = dt.datetime(2026, 12, 7, 0, 0, tzinfo=SHANGHAI)
END = dt.datetime(2026, 12, 14, 0, 0, tzinfo=SHANGHAI)
PHONE = "+8613800138000"


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def gold(make_level: Any) -> Any:
    make_level("Silver", rank=1)
    return make_level("Gold", rank=2)


@pytest.fixture
def tea_coupon(app: Any) -> CouponType:
    kind = CouponType(code="TEA10", name="奶茶九折券", kind="coupon", discount_bp=9000)
    db.session.add(kind)
    db.session.flush()
    return kind


def terms(**changes: Any) -> PromotionTerms:
    values: dict[str, Any] = {
        "names": {"zh-Hans": "双倍积分周", "zh-Hant": "雙倍積分週", "en": "Double points week"},
        "starts_at": START,
        "ends_at": END,
        "multiplier_bp": 20000,
    }
    values.update(changes)
    return PromotionTerms(**values)


@pytest.fixture
def member(make_member: Any, gold: Any) -> Any:
    member = make_member(PHONE, language="en")
    member.level = gold
    db.session.flush()
    return member


def pay(member: Any, amount_fen: int, key: str, *, at: dt.datetime = DURING, **kw: Any) -> Any:
    card = member_cards(member)[0]
    kw.setdefault("pay_with", "cash")
    with frozen(at):
        return checkout(card, get_store("SH01"), amount_fen, key=key, actor="t", **kw)


def test_a_promotion_is_applied_at_checkout_in_the_same_transaction(
    member: Any, gold: Any, tea_coupon: CouponType
) -> None:
    promotion = promotions.create_promotion(
        terms(level_id=gold.id, store_code="sh01", bonus_points=30, coupon_type="TEA10")
    )
    result = pay(member, 10000, "p1")
    # 100.00 yuan: 100 points from the rules, +100 for 2×, +30 bonus.
    assert result.points_earned == 230
    assert member_balances(member.id).points == 230
    (line,) = result.promotions
    assert (line["id"], line["points"], line["coupon_type"]) == (promotion.id, 130, "TEA10")
    assert line["names"]["en"] == "Double points week"
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == line["coupon"]))
    assert coupon is not None and coupon.member_id == member.id and coupon.state == "issued"
    txn = db.session.get(Transaction, result.transaction_id)
    assert txn.details["promotions"] == [line]
    assert txn.details["points_earned"] == 230
    use = db.session.scalar(select(PromotionUse))
    assert (use.transaction_id, use.member_id, use.points, use.coupon_code) == (
        txn.id,
        member.id,
        130,
        coupon.code,
    )
    figures = promotions.figures([promotion.id])[promotion.id]
    assert figures == promotions.PromotionFigures(1, 1, 130, 1)


def test_extras_of_two_promotions_add_up_and_floor(member: Any) -> None:
    promotions.create_promotion(terms())  # 2×
    promotions.create_promotion(terms(multiplier_bp=15000))  # 1.5×
    result = pay(member, 999, "p2")  # 9.99 yuan: 9 points
    # 9 + 9 (2×) + floor(9 × 0.5) = 4 → 22.
    assert result.points_earned == 22
    assert [p["points"] for p in result.promotions] == [9, 4]


def test_the_same_key_again_gives_nothing_twice(member: Any, tea_coupon: CouponType) -> None:
    promotions.create_promotion(terms(coupon_type="TEA10"))
    first = pay(member, 5000, "same")
    again = pay(member, 5000, "same")
    assert again.replayed and again.promotions == first.promotions
    assert count(PromotionUse) == 1 and count(Coupon) == 1
    assert member_balances(member.id).points == 100


def test_a_whole_refund_takes_the_promotions_points_back(member: Any) -> None:
    promotions.create_promotion(terms(bonus_points=7))
    sale = pay(member, 3000, "sale")
    assert sale.points_earned == 30 + 30 + 7
    with frozen(DURING):
        refund(sale.transaction_id, key="back", actor="t")
    assert member_balances(member.id).points == 0


@pytest.mark.parametrize(
    ("label", "changes", "at", "amount_fen", "kw"),
    [
        ("before its start", {}, START - dt.timedelta(minutes=1), 10000, {}),
        ("at its end", {}, END, 10000, {}),
        ("another level", {"level": "Silver"}, DURING, 10000, {}),
        ("below the minimum spend", {"min_spend_fen": 10001}, DURING, 10000, {}),
        ("another store", {"store_code": "SH02"}, DURING, 10000, {}),
        ("no item of the category", {"category": "tea"}, DURING, 10000, {}),
        (
            "items of another category",
            {"category": "tea"},
            DURING,
            10000,
            {"items": [{"sku": "c1", "amount_fen": 10000, "category": "coffee"}]},
        ),
        ("paid with points", {}, DURING, 100, {"pay_with": "points"}),
    ],
)
def test_a_promotion_is_not_applied_when_a_condition_fails(
    member: Any,
    gold: Any,
    make_store: Any,
    make_level: Any,
    label: str,
    changes: dict[str, Any],
    at: dt.datetime,
    amount_fen: int,
    kw: dict[str, Any],
) -> None:
    make_store("SH02")
    changes = dict(changes)  # the parameters are shared by both databases' runs
    if changes.pop("level", None):
        changes["level_id"] = _level_id("Silver")
    promotions.create_promotion(terms(**changes))
    if kw.get("pay_with") == "points":  # points to pay with, earned before the window
        pay(member, 10000, "earn", at=START - dt.timedelta(days=1))
    before = member_balances(member.id).points
    result = pay(member, amount_fen, "k", at=at, **kw)
    assert result.promotions == (), label
    assert count(PromotionUse) == 0
    if kw.get("pay_with") != "points":
        assert member_balances(member.id).points - before == amount_fen // 100


def _level_id(name: str) -> int:
    from app.members.models import Level

    return db.session.scalar(select(Level.id).where(Level.name == name))  # type: ignore[return-value]


def test_items_of_the_category_meet_the_condition(member: Any) -> None:
    promotions.create_promotion(terms(category="tea", bonus_points=5))
    items = [
        {"sku": "t1", "amount_fen": 2000, "category": "tea"},
        {"sku": "c1", "amount_fen": 3000, "category": "coffee"},
    ]
    result = pay(member, 5000, "cat", items=items)
    assert result.points_earned == 50 + 50 + 5


def test_an_ended_promotion_no_longer_applies_and_stays_ended(member: Any) -> None:
    promotion = promotions.create_promotion(terms())
    with frozen(DURING):
        promotions.end_promotion(promotion)
        with pytest.raises(PromotionEnded):
            promotions.end_promotion(promotion)
        with pytest.raises(PromotionEnded):
            promotions.update_promotion(promotion, terms(bonus_points=5))
    later = DURING + dt.timedelta(minutes=1)
    assert pay(member, 10000, "after", at=later).promotions == ()
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["promotion.create", "promotion.end"]


def _promotion_reads(send: Any) -> int:
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM promotion" in statement and "promotion_use" not in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        send()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(seen)


def test_checkouts_read_the_promotions_once_per_cache_period_and_a_change_at_once(
    member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout reads the promotions from the process's copy (kept CACHE_SECONDS); a
    promotion made, changed or ended here applies to the next checkout at once."""
    clock_s = [1000.0]
    monkeypatch.setattr(kept_module.time, "monotonic", lambda: clock_s[0])
    assert _promotion_reads(lambda: pay(member, 10000, "c1")) == 1
    assert _promotion_reads(lambda: pay(member, 10000, "c2")) == 0
    promotion = promotions.create_promotion(terms(bonus_points=7))
    assert pay(member, 10000, "c3").points_earned == 100 + 100 + 7
    promotions.update_promotion(promotion, terms(bonus_points=9))
    assert pay(member, 10000, "c4").points_earned == 100 + 100 + 9
    with frozen(DURING):
        promotions.end_promotion(promotion)
    assert pay(member, 10000, "c5", at=DURING + dt.timedelta(minutes=1)).promotions == ()


def test_a_promotion_another_process_made_applies_within_the_cache_period(
    member: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_s = [1000.0]
    monkeypatch.setattr(kept_module.time, "monotonic", lambda: clock_s[0])
    assert pay(member, 10000, "o1").promotions == ()
    # Another process's panel: the row, and nothing of this process's copy dropped.
    values = promotions.check_terms(terms(bonus_points=5))
    db.session.add(Promotion(**values))
    db.session.flush()
    assert pay(member, 10000, "o2").promotions == ()
    clock_s[0] += promotions.CACHE_SECONDS + 0.1
    assert pay(member, 10000, "o3").points_earned == 100 + 100 + 5


def test_an_update_is_audited_with_what_changed(app: Any) -> None:
    promotion = promotions.create_promotion(terms())
    with frozen(START - dt.timedelta(days=1)):
        promotions.update_promotion(promotion, terms(multiplier_bp=30000))
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "promotion.update"
    assert (entry.before, entry.after) == ({"multiplier_bp": 20000}, {"multiplier_bp": 30000})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"names": {}}, "name"),
        ({"names": {"en": "x" * 121}}, "name_en"),
        ({"ends_at": START}, "ends_at"),
        ({"ends_at": START - dt.timedelta(days=1)}, "ends_at"),
        ({"ends_at": START + dt.timedelta(days=2000)}, "ends_at"),
        ({"starts_at": dt.datetime(1900, 1, 1, tzinfo=SHANGHAI)}, "starts_at"),
        ({"multiplier_bp": 100001}, "multiplier_bp"),
        ({"multiplier_bp": 9999}, "multiplier_bp"),
        ({"multiplier_bp": 10000}, "effect"),
        ({"bonus_points": -1}, "bonus_points"),
        ({"bonus_points": 10**12}, "bonus_points"),
        ({"min_spend_fen": -5}, "min_spend_fen"),
        ({"min_spend_fen": 10**15}, "min_spend_fen"),
        ({"store_code": "NOPE"}, "store"),
        ({"level_id": 99999999}, "level"),
        ({"coupon_type": "NOPE"}, "coupon_type"),
        ({"category": "x" * 65}, "category"),
    ],
)
def test_bad_terms_are_refused_and_nothing_is_written(
    app: Any, make_store: Any, changes: dict[str, Any], field: str
) -> None:
    make_store("SH01")
    before = (count(Promotion), count(AuditEntry))
    with pytest.raises(InvalidRequest) as refused:
        promotions.create_promotion(terms(**changes))
    assert refused.value.details.get("field") == field
    assert (count(Promotion), count(AuditEntry)) == before


# --- the keyword ------------------------------------------------------------------------


@pytest.fixture
def listed(bot: Any, gold: Any) -> Promotion:
    """A Gold members' promotion at 南京路店 (the bot's store SH01)."""
    bot()  # makes the store first, with its name
    return promotions.create_promotion(
        terms(level_id=gold.id, store_code="SH01", bonus_points=30, min_spend_fen=10000)
    )


@pytest.mark.parametrize(
    ("language", "keyword", "expected"),
    [
        (
            "zh-Hans",
            "活动",
            "当前活动：\n1）双倍积分周，至12-14 00:00：2倍积分、赠送30积分"
            "（限Gold会员、限南京路店、消费满100.00元）",
        ),
        (
            "zh-Hant",
            "活動",
            "當前活動：\n1）雙倍積分週，至12-14 00:00：2倍積分、贈送30積分"
            "（限Gold會員、限南京路店、消費滿100.00元）",
        ),
        (
            "en",
            "promo",
            "Promotions now:\n1) Double points week, until 12-14 00:00: 2× points, "
            "30 bonus points (for Gold members, at 南京路店, when you spend at least "
            "100.00 yuan)",
        ),
    ],
)
def test_members_list_the_promotions_by_keyword_in_their_language(
    bot: Any,
    make_member: Any,
    gold: Any,
    listed: Promotion,
    language: str,
    keyword: str,
    expected: str,
) -> None:
    member = make_member(PHONE, language=language)
    member.level = gold
    db.session.flush()
    with frozen(DURING):
        assert bot(PHONE).text(keyword) == expected


def test_a_member_of_another_level_hears_of_none(
    bot: Any, make_member: Any, listed: Promotion
) -> None:
    make_member(PHONE, language="zh-Hant")  # the entry level, not Gold
    with frozen(DURING):
        assert bot(PHONE).text("活動") == "目前沒有進行中的活動。"
    with frozen(END):
        make_member("+8613900139000", language="en")
        assert bot("+8613900139000").text("PROMO") == "There are no promotions right now."


def test_the_checkouts_api_answer_lists_the_promotions(api: Any, member: Any) -> None:
    promotion = promotions.create_promotion(terms(bonus_points=8))
    body = {"card": member.phone, "store": "SH01", "amount_fen": 2500, "pay_with": "cash"}
    with frozen(DURING):
        answer = api.post("/api/v1/checkout", json=body, headers={"Idempotency-Key": "api-1"})
        second = api.post(
            "/api/v1/checkout", json={**body, "amount_fen": 100}, headers={"Idempotency-Key": "x"}
        )
    assert answer.status_code == 201, answer.json
    # 25 points, +25 for 2×, +8.
    assert answer.json["points_earned"] == 58
    assert answer.json["coupons"] == []
    assert answer.json["promotions"] == [
        {
            "id": promotion.id,
            "names": {"zh-Hans": "双倍积分周", "zh-Hant": "雙倍積分週", "en": "Double points week"},
            "points": 33,
            "coupon_type": None,
            "coupon": None,
        }
    ]
    assert second.json["points_earned"] == 1 + 1 + 8


@pytest.mark.parametrize(
    ("language", "ending"),
    [
        ("zh-Hans", "积分 +200（共 200 分）。已享受活动：双倍积分周。"),
        ("zh-Hant", "已享受活動：雙倍積分週。"),
        ("en", "Promotion applied: Double points week."),
    ],
)
def test_the_checkout_alert_names_the_promotion(
    make_member: Any, language: str, ending: str
) -> None:
    from app.messaging.models import OutboxMessage

    member = make_member(PHONE, language=language)
    promotions.create_promotion(terms())
    pay(member, 10000, "alerted")
    body = db.session.scalar(select(OutboxMessage.body).where(OutboxMessage.kind == "alert"))
    assert body is not None and body.endswith(ending), body


def test_a_wechat_follower_lists_them_by_text_and_by_a_menu_button(
    make_member: Any, make_store: Any, gold: Any
) -> None:
    from app.members.wechat import bind_openid
    from tests.wechat_member.conftest import OPENID, Follower

    make_store("SH01", "南京路店")
    member = make_member(PHONE, language="zh-Hans")
    bind_openid(OPENID, member, via="code")
    promotions.create_promotion(terms(bonus_points=30))
    follower = Follower(OPENID)
    expected = "当前活动：\n1）双倍积分周，至12-14 00:00：2倍积分、赠送30积分"
    with frozen(DURING):
        assert follower.text("活动") == expected
        assert follower.event("click", "promotions").reply == expected


def test_with_a_category_list_kept_only_listed_categories_are_taken(app: Any) -> None:
    from app.ledger.rules.models import Category

    promotions.create_promotion(terms(category="anything"))  # no list kept: any
    db.session.add(Category(code="茶饮", kind="product"))
    db.session.flush()
    with pytest.raises(InvalidRequest) as refused:
        promotions.create_promotion(terms(category="茶饮s"))
    assert refused.value.details["reason"] == "unknown"
    assert promotions.create_promotion(terms(category="茶饮")).category == "茶饮"


def test_a_segments_promotion_reaches_its_members_only(
    bot: Any, make_member: Any, member: Any
) -> None:
    from app.campaigns.segments import save_segment

    vip = save_segment("VIP", {"field": "tag", "op": "has", "value": "vip"}, created_by="amy")
    promotion = promotions.create_promotion(terms(segment_id=vip.id, bonus_points=30))
    outsider = make_member("+8613900139000", language="en", tags=["regular"])
    member.tags = ["vip"]
    db.session.flush()

    inside = pay(member, 10000, "seg-1")
    outside = pay(outsider, 10000, "seg-2")

    assert inside.points_earned == 230  # 100 + 100 for 2× + 30 bonus
    assert [line["id"] for line in inside.promotions] == [promotion.id]
    assert (outside.points_earned, list(outside.promotions)) == (100, [])
    with frozen(DURING):
        assert "Double points week" in bot(PHONE).text("PROMO")
        assert bot("+8613900139000").text("PROMO") == "There are no promotions right now."


def test_an_unknown_segment_is_refused(app: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        promotions.create_promotion(terms(segment_id=999_999))
    assert refused.value.details["field"] == "segment"
    assert count(Promotion) == 0
