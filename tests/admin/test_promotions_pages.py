"""The promotions pages (campaigns.manage): list with figures, new, edit, end early; bad
input is a 400 page in the staff member's language that changes nothing."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.campaigns.promotion_models import Promotion
from app.cards.services import member_cards
from app.clock import frozen
from app.db import db
from app.ledger.operations import checkout
from app.stores.services import get_store

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 9, 12, 0, tzinfo=SHANGHAI)

FORM = {
    "name_zh_hans": "双倍积分周",
    "name_zh_hant": "",
    "name_en": "Double points week",
    "starts_at": "2026-12-07T00:00",
    "ends_at": "2026-12-14T00:00",
    "level": "",
    "store": "",
    "min_spend": "50",
    "category": "",
    "multiplier": "2",
    "bonus_points": "10",
    "coupon_type": "",
}


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def marketer(signed_in: Any, make_store: Any) -> Any:
    make_store("SH01")
    return signed_in("marketer", language="en")


def test_a_marketer_makes_a_promotion_and_sees_what_it_gave(
    marketer: Any, make_member: Any
) -> None:
    with frozen(NOW):
        made = marketer.post("/admin/promotions/new", FORM)
        assert made.status_code == 302, made.text
        promotion = db.session.scalar(select(Promotion))
        assert made.headers["Location"].endswith(f"/admin/promotions/{promotion.id}?saved=1")
        assert (promotion.multiplier_bp, promotion.bonus_points, promotion.min_spend_fen) == (
            20000,
            10,
            5000,
        )
        # 2026-12-07 00:00 in Shanghai is 2026-12-06 16:00 UTC.
        assert promotion.starts_at == dt.datetime(2026, 12, 6, 16, 0, tzinfo=dt.UTC)
        assert _actions()[-1] == "promotion.create"

        member = make_member()
        for n, amount in enumerate((6000, 8000, 1000)):  # the last is below the minimum
            card = member_cards(member)[0]
            checkout(card, get_store("SH01"), amount, "cash", key=f"k{n}", actor="t")
        other = make_member()
        checkout(member_cards(other)[0], get_store("SH01"), 5000, "cash", key="o", actor="t")

        listing = marketer.get("/admin/promotions").text
        page = marketer.get(f"/admin/promotions/{promotion.id}").text
    # 60 + 10, 80 + 10, 50 + 10 extra points; two members reached, three times.
    assert 'data-figure="members">2<' in listing and 'data-figure="times">3<' in listing
    assert 'data-figure="points">220<' in listing
    assert "Double points week" in listing and "In force" in listing
    assert 'data-figure="points">220<' in page and 'data-figure="coupons">0<' in page


def test_edit_and_end_early_are_audited(marketer: Any) -> None:
    with frozen(NOW - dt.timedelta(days=3)):
        marketer.post("/admin/promotions/new", FORM)
        promotion = db.session.scalar(select(Promotion))
        saved = marketer.post(f"/admin/promotions/{promotion.id}", {**FORM, "bonus_points": "25"})
        assert saved.status_code == 302
    db.session.expire_all()  # the requests wrote through their own sessions
    assert promotion.bonus_points == 25
    with frozen(NOW):
        ended = marketer.post(f"/admin/promotions/{promotion.id}/end")
        assert ended.status_code == 302
        page = marketer.get(ended.headers["Location"]).text
        assert "checkouts from now on no longer get it" in page and "Ended" in page
        again = marketer.post(f"/admin/promotions/{promotion.id}/end")
        assert again.status_code == 409 and "has ended" in again.text
        edit = marketer.post(f"/admin/promotions/{promotion.id}", FORM)
        assert edit.status_code == 409
    db.session.expire_all()
    assert promotion.ended_at == NOW.astimezone(dt.UTC)
    assert _actions()[-3:] == ["promotion.create", "promotion.update", "promotion.end"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at": "2026-12-01T00:00"}, "The end must be after the start."),
        ({"ends_at": "2026-13-45T25:00"}, "Enter the start and the end as a date and a time."),
        ({"starts_at": "yesterday"}, "Enter the start and the end as a date and a time."),
        ({"ends_at": "2031-01-01T00:00"}, "A promotion runs at most three years."),
        ({"multiplier": "11"}, "from 1 to 10 times"),
        ({"multiplier": "0.5"}, "from 1 to 10 times"),
        ({"multiplier": "2x"}, "from 1 to 10 times"),
        ({"multiplier": "1", "bonus_points": ""}, "Give the promotion an effect"),
        ({"bonus_points": "2.5"}, "Bonus points are a whole number"),
        ({"bonus_points": "100001"}, "Bonus points are a whole number"),
        ({"min_spend": "abc"}, "The minimum spend is an amount of yuan"),
        ({"min_spend": "99999999999"}, "The minimum spend is an amount of yuan"),
        ({"level": "999999999999"}, "Choose a level from the list."),
        ({"level": "-1"}, "Choose a level from the list."),
        ({"segment": "999999"}, "Choose a segment from the list."),
        ({"segment": "VIP"}, "Choose a segment from the list."),
        ({"store": "NOPE"}, "Choose a store from the list."),
        ({"coupon_type": "NOPE"}, "Choose a coupon from the list."),
        ({"name_zh_hans": "", "name_en": ""}, "Give the promotion a name"),
        ({"name_en": "x" * 150}, "A name is one line of at most 120 characters."),
        ({"category": "c" * 80}, "A category is at most 64 characters."),
    ],
)
def test_bad_input_is_a_400_page_that_changes_nothing(
    marketer: Any, changes: dict[str, str], message: str
) -> None:
    before = (_count(Promotion), _count(AuditEntry))
    answer = marketer.post("/admin/promotions/new", {**FORM, **changes})
    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    assert (_count(Promotion), _count(AuditEntry)) == before


def test_a_nul_byte_is_refused(marketer: Any) -> None:
    answer = marketer.post("/admin/promotions/new", {**FORM, "name_en": "a\x00b"})
    assert answer.status_code == 400
    assert _count(Promotion) == 0


def test_the_pages_speak_the_staff_members_language(signed_in: Any, make_store: Any) -> None:
    make_store("SH01")
    staff = signed_in("marketer", language="zh-Hant")
    with frozen(NOW):
        staff.post("/admin/promotions/new", {**FORM, "name_zh_hant": "雙倍積分週"})
        listing = staff.get("/admin/promotions").text
    assert "促銷活動" in listing and "雙倍積分週" in listing and "進行中" in listing


def test_a_store_manager_may_not_see_promotions(signed_in: Any) -> None:
    manager = signed_in("store_manager")
    assert manager.get("/admin/promotions").status_code == 403
    assert "/admin/promotions" not in manager.get("/admin/").text


def test_a_promotion_for_a_saved_segment(marketer: Any) -> None:
    from app.campaigns.segments import save_segment

    vip = save_segment("VIP", {"field": "tag", "op": "has", "value": "vip"}, created_by="amy")
    db.session.commit()
    page = marketer.get("/admin/promotions/new")
    assert f'<option value="{vip.id}">VIP</option>' in page.text

    made = marketer.post("/admin/promotions/new", {**FORM, "segment": str(vip.id)})

    assert made.status_code == 302
    (promotion,) = db.session.scalars(select(Promotion))
    assert promotion.segment_id == vip.id
