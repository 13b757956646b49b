"""The members room: search, the member page, profile edits, card actions, batch issue,
member import and export; each within the staff member's store scope, audited."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.cards.models import Card, CardEvent
from app.cards.services import find_card, get_card, member_cards
from app.db import db
from app.ledger.balances import card_balances, member_balances
from app.ledger.operations import recharge
from app.members.services import find_member_by_phone
from app.members.wechat import bind_openid
from app.messaging.services import enqueue
from app.optout.services import opt_out
from app.stores.services import get_store
from tests.admin.conftest import csrf_token


def _key(page: Any) -> str:
    match = re.search(r'name="key" value="([0-9a-f]+)"', page.text)
    assert match, "the page has no one-time key"
    return match.group(1)


def _audit(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


@pytest.fixture
def member(make_member: Any, make_store: Any) -> Any:
    make_store("SH01")
    return make_member("+8613800138000", name="王小明", home_store="SH01")


@pytest.fixture
def elsewhere(make_member: Any, make_store: Any) -> Any:
    make_store("BJ01")
    return make_member("+8613911112222", name="李四", home_store="BJ01")


# --- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["138 0013 8000", "+86 138-0013-8000", "008613800138000", "王小", "card"]
)
def test_search_finds_a_member_by_phone_in_any_format_card_number_or_name(
    signed_in: Any, member: Any, elsewhere: Any, query: str
) -> None:
    admin = signed_in("admin")
    if query == "card":
        query = member_cards(member)[0].number

    page = admin.get("/admin/members", query_string={"q": query})

    assert page.status_code == 200
    assert f"/admin/members/{member.id}" in page.text
    assert "李四" not in page.text


def test_search_by_the_current_e_card_code(signed_in: Any, member: Any) -> None:
    from app.cards.ecard import code_for

    admin = signed_in("admin")
    code = code_for(member_cards(member)[0].id)

    page = admin.get("/admin/members", query_string={"q": code})

    assert f"/admin/members/{member.id}" in page.text


def test_search_by_a_card_medium_and_by_a_replaced_cards_old_number(
    signed_in: Any, member: Any, make_card: Any
) -> None:
    from app.cards.services import add_medium, replace_card

    card, spare = member_cards(member)[0], make_card("points", member=member)
    add_medium(spare, "ic_uid", "04A1B2C3D4")
    old = card.number
    replace_card(card, actor="test", reason="worn")
    db.session.flush()
    admin = signed_in("admin")

    for query in ("04A1B2C3D4", old):
        page = admin.get("/admin/members", query_string={"q": query})
        assert f"/admin/members/{member.id}" in page.text, query


def test_search_without_a_match_and_paging(signed_in: Any, make_member: Any) -> None:
    for n in range(23):
        make_member(f"+861370000{n:04d}", name=f"会员{n}")
    admin = signed_in("admin")

    first = admin.get("/admin/members")
    second = admin.get("/admin/members?page=2")
    nothing = admin.get("/admin/members", query_string={"q": "没有这个人"})
    absurd = admin.get("/admin/members?page=99999999999999999999")

    assert len(re.findall(r'href="/admin/members/\d+"', first.text)) == 20
    assert len(re.findall(r'href="/admin/members/\d+"', second.text)) == 3
    assert "共 23 位会员" in first.text
    assert "没有匹配的会员" in nothing.text
    assert absurd.status_code == 200


def test_a_store_manager_sees_only_their_stores_members(
    signed_in: Any, member: Any, elsewhere: Any
) -> None:
    manager = signed_in("store_manager", store="SH01")

    listed = manager.get("/admin/members")
    by_phone = manager.get("/admin/members", query_string={"q": elsewhere.phone})
    by_card = manager.get("/admin/members", query_string={"q": member_cards(elsewhere)[0].number})
    page = manager.get(f"/admin/members/{elsewhere.id}")

    assert f"/admin/members/{member.id}" in listed.text
    assert "李四" not in listed.text + by_phone.text + by_card.text
    assert f"/admin/members/{elsewhere.id}" not in listed.text + by_phone.text + by_card.text
    assert page.status_code == 403
    assert "李四" not in page.text


def test_a_nul_in_the_search_is_refused(signed_in: Any) -> None:
    admin = signed_in("admin")
    assert admin.get("/admin/members?q=a%00b").status_code == 400


# --- the member page ------------------------------------------------------------------


def test_the_member_page_shows_cards_balances_statement_messages_and_channels(
    signed_in: Any, member: Any, make_card: Any
) -> None:
    card = member_cards(member)[0]
    recharge(card, get_store("SH01"), 12_345, key="r1", actor="t")
    spare = make_card("points", member=member)
    from app.cards.services import change_state

    change_state(spare, "freeze", actor="test", reason="可疑")
    enqueue(address=member.phone, body="您的积分是 0", kind="reply", member=member)
    bind_openid("o-openid-1", member, via="code")
    opt_out("sms", member.phone, source="sms:STOP")
    db.session.flush()
    admin = signed_in("admin")

    page = admin.get(f"/admin/members/{member.id}")

    assert page.status_code == 200
    text = page.text
    assert "王小明" in text and "+8613800138000" in text
    assert card.number in text and spare.number in text
    assert "已冻结" in text and "可疑" in text
    assert 'id="stored-value">¥123.45<' in text
    assert "充值" in text and "+123.45" in text  # the statement's recharge line
    assert "您的积分是 0" in text
    assert "o-openid-1" in text
    assert "已退订" in text
    assert f"/admin/adjust?card={card.number}" in text


def test_the_statement_is_paged(signed_in: Any, member: Any) -> None:
    card = member_cards(member)[0]
    for n in range(25):
        recharge(card, get_store("SH01"), 100 + n, key=f"r{n}", actor="t")
    db.session.flush()
    admin = signed_in("admin")

    first = admin.get(f"/admin/members/{member.id}")
    second = admin.get(f"/admin/members/{member.id}?page=2")

    assert "共 25 笔交易" in first.text
    assert "+1.24" in first.text and "+1.00" not in first.text  # newest first
    assert "+1.00" in second.text


def test_an_unknown_member_is_404(signed_in: Any) -> None:
    admin = signed_in("admin")
    assert admin.get("/admin/members/424242").status_code == 404
    assert admin.get("/admin/members/99999999999999999999").status_code == 404


# --- profile edits --------------------------------------------------------------------


def _edit_form(staff: Any, member_id: int) -> dict[str, str]:
    page = staff.get(f"/admin/members/{member_id}/edit")
    assert page.status_code == 200
    staff.token = csrf_token(page.text)
    fields = dict(re.findall(r'name="([a-z_:]+)" value="([^"]*)"', page.text))
    fields.pop("csrf_token", None)
    fields.pop("lunar_leap_month", None)  # a checkbox: sent only when ticked
    fields.update(
        {
            name: value
            for name, value in re.findall(
                r'<select name="([a-z_:]+)">.*?<option value="([^"]*)" selected', page.text, re.S
            )
        }
    )
    return fields


def test_editing_the_profile_goes_through_the_service_and_is_audited(
    signed_in: Any, member: Any
) -> None:
    manager = signed_in("store_manager", username="mgr", store="SH01")
    form = _edit_form(manager, member.id)
    form.update(name="王大明", region="浦东", tags="咖啡, 茶", birthday="1990-08-15")

    answer = manager.post(f"/admin/members/{member.id}/edit", form)

    assert answer.status_code == 302
    page = manager.get(answer.headers["Location"])
    assert "王大明" in page.text and "浦东" in page.text and "咖啡, 茶" in page.text
    db.session.refresh(member)
    assert (member.name, member.region, member.tags) == ("王大明", "浦东", ["咖啡", "茶"])
    (entry,) = _audit("member.update")
    assert entry.actor == "mgr"
    assert entry.before["name"] == "王小明" and entry.after["name"] == "王大明"
    assert entry.after["birthday"] == "1990-08-15"
    assert "phone" not in entry.after  # only what changed


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "这不是有效的手机号"),
        ("birthday", "2990-01-01", "生日不是有效日期"),
        ("gender", "robot", 'class="error"'),
        ("home_store", "NOPE", 'class="error"'),
    ],
)
def test_a_bad_profile_is_refused_and_changes_nothing(
    signed_in: Any, member: Any, field: str, value: str, message: str
) -> None:
    admin = signed_in("admin")
    form = _edit_form(admin, member.id)
    form[field] = value

    answer = admin.post(f"/admin/members/{member.id}/edit", form)

    assert answer.status_code == 400
    assert message in answer.text
    db.session.expire_all()
    assert find_member_by_phone("+8613800138000") is not None
    assert _audit("member.update") == []


def test_a_phone_of_another_member_is_refused(
    signed_in: Any, member: Any, make_member: Any
) -> None:
    make_member("+8613900001111")
    admin = signed_in("admin")
    form = _edit_form(admin, member.id)
    form["phone"] = "13900001111"

    answer = admin.post(f"/admin/members/{member.id}/edit", form)

    assert answer.status_code == 400
    assert "另一位会员已使用这个手机号" in answer.text


def test_a_nul_in_the_profile_form_is_refused(signed_in: Any, member: Any) -> None:
    admin = signed_in("admin")
    form = _edit_form(admin, member.id)
    form["name"] = "王\x00明"
    assert admin.post(f"/admin/members/{member.id}/edit", form).status_code == 400
    db.session.refresh(member)
    assert member.name == "王小明"


def test_a_store_manager_cannot_edit_another_stores_member_nor_move_one_there(
    signed_in: Any, member: Any, elsewhere: Any
) -> None:
    manager = signed_in("store_manager", store="SH01")
    assert manager.get(f"/admin/members/{elsewhere.id}/edit").status_code == 403
    form = _edit_form(manager, member.id)
    form["home_store"] = "BJ01"

    answer = manager.post(f"/admin/members/{member.id}/edit", form)

    assert answer.status_code == 403
    db.session.refresh(member)
    assert member.home_store.code == "SH01"


def test_a_cashier_may_look_but_not_edit(signed_in: Any, member: Any) -> None:
    cashier = signed_in("cashier", store="SH01")
    page = cashier.get(f"/admin/members/{member.id}")
    assert page.status_code == 200
    assert f"/admin/members/{member.id}/edit" not in page.text
    assert cashier.post(f"/admin/members/{member.id}/edit", {"name": "x"}).status_code == 403


# --- card actions -----------------------------------------------------------------------


def _act(staff: Any, member: Any, card: Any, action: str, reason: str, key: str = "") -> Any:
    if not key:
        page = staff.get(f"/admin/members/{member.id}")
        staff.token = csrf_token(page.text)
        key = _key(page)
    return staff.post(
        f"/admin/cards/{card.number}/action", {"action": action, "reason": reason, "key": key}
    )


@pytest.mark.parametrize(
    ("actions", "state"),
    [
        (["report-lost"], "lost"),
        (["report-lost", "found"], "active"),
        (["freeze"], "frozen"),
        (["freeze", "unfreeze"], "active"),
        (["cancel"], "cancelled"),
    ],
)
def test_card_state_actions_with_a_reason_are_audited(
    signed_in: Any, member: Any, actions: list[str], state: str
) -> None:
    cashier = signed_in("cashier", username="cash", store="SH01")
    card = member_cards(member)[0]

    for action in actions:
        answer = _act(cashier, member, card, action, f"理由 {action}")
        assert answer.status_code == 302, answer.text[:300]

    db.session.refresh(card)
    assert card.state == state
    entries = _audit(f"card.{actions[-1]}")
    assert [(e.actor, e.object_id, e.after["reason"]) for e in entries] == [
        ("cash", card.number, f"理由 {actions[-1]}")
    ]
    page = cashier.get(answer.headers["Location"])
    assert 'id="outcome"' in page.text


def test_a_double_submit_acts_once(signed_in: Any, member: Any) -> None:
    admin = signed_in("admin")
    card = member_cards(member)[0]
    page = admin.get(f"/admin/members/{member.id}")
    admin.token = csrf_token(page.text)
    key = _key(page)

    first = _act(admin, member, card, "report-lost", "丢了", key)
    second = _act(admin, member, card, "report-lost", "丢了", key)

    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    events = db.session.scalar(
        select(func.count()).select_from(CardEvent).where(CardEvent.action == "report-lost")
    )
    assert events == 1
    assert len(_audit("card.report-lost")) == 1


def test_replace_shows_the_new_number_and_the_old_one_stops_working(
    signed_in: Any, member: Any
) -> None:
    admin = signed_in("admin")
    card = member_cards(member)[0]
    recharge(card, get_store("SH01"), 5_000, key="r1", actor="t")
    old = card.number

    answer = _act(admin, member, card, "replace", "卡片磨损")

    assert answer.status_code == 302
    page = admin.get(answer.headers["Location"])
    db.session.expire_all()  # the request changed the cards in its own session
    new = find_card(member.phone)
    assert new is not None and new.number != old
    assert f"新卡号是 {new.number}" in page.text
    assert find_card(old) is None
    assert card_balances(new.id).stored_value_fen == 5_000
    (entry,) = _audit("card.replace")
    assert entry.after == {"state": "cancelled", "new_card": new.number, "reason": "卡片磨损"}


def test_return_refunds_the_paid_balance_and_says_how_much(
    signed_in: Any, member: Any, make_card: Any
) -> None:
    admin = signed_in("admin", username="boss")
    card = make_card("stored_value", member=member)
    recharge(card, get_store("SH01"), 8_800, key="r1", actor="t")
    db.session.flush()

    answer = _act(admin, member, card, "return", "顾客搬家")

    assert answer.status_code == 302
    page = admin.get(answer.headers["Location"])
    assert f"卡 {card.number} 已退卡并注销。请退给会员 ¥88.00" in page.text
    db.session.expire_all()
    assert get_card(card.number).state == "cancelled"
    assert card_balances(card.id).stored_value_fen == 0
    (entry,) = _audit("card.return")
    assert (entry.actor, entry.after["refunded_fen"], entry.after["reason"]) == (
        "boss",
        8_800,
        "顾客搬家",
    )


@pytest.mark.parametrize("reason", ["", "   ", "两\n行", "x" * 201])
def test_a_card_action_without_a_proper_reason_changes_nothing(
    signed_in: Any, member: Any, reason: str
) -> None:
    admin = signed_in("admin")
    card = member_cards(member)[0]

    answer = _act(admin, member, card, "freeze", reason)

    assert answer.status_code == 400
    assert "卡片操作必须填写原因" in answer.text
    db.session.refresh(card)
    assert card.state == "active"


def test_an_action_the_state_does_not_allow_is_refused(signed_in: Any, member: Any) -> None:
    admin = signed_in("admin")
    card = member_cards(member)[0]

    answer = _act(admin, member, card, "found", "找到了")
    unknown = _act(admin, member, card, "explode", "boom")

    assert answer.status_code == 409
    assert "不能做此操作" in answer.text
    assert unknown.status_code == 400
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("card.%"))
        )
        == 0
    )


def test_an_unknown_card_is_404_and_another_stores_card_403(
    signed_in: Any, member: Any, elsewhere: Any
) -> None:
    cashier = signed_in("cashier", store="SH01")
    page = cashier.get(f"/admin/members/{member.id}")
    cashier.token = csrf_token(page.text)
    theirs = member_cards(elsewhere)[0]

    unknown = cashier.post("/admin/cards/0000000000/action", {"action": "freeze", "reason": "x"})
    other = cashier.post(
        f"/admin/cards/{theirs.number}/action", {"action": "freeze", "reason": "x"}
    )

    assert unknown.status_code == 404
    assert other.status_code == 403
    db.session.refresh(theirs)
    assert theirs.state == "active"


# --- batch issue ---------------------------------------------------------------------------


def _issue_form(staff: Any) -> str:
    page = staff.get("/admin/cards/issue")
    assert page.status_code == 200
    staff.token = csrf_token(page.text)
    return _key(page)


def test_a_batch_of_gift_cards_downloads_as_csv_with_their_value(
    signed_in: Any, make_store: Any
) -> None:
    make_store("SH01")
    admin = signed_in("admin", username="boss")
    key = _issue_form(admin)
    form = {"key": key, "count": "3", "type": "gift", "value_yuan": "50", "store": "SH01"}

    answer = admin.post("/admin/cards/issue", {**form, "pins": "1"})

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert len(rows) == 3
    for row in rows:
        card = get_card(row["number"])
        assert (card.type, card.member_id, card.issued_store.code) == ("gift", None, "SH01")
        assert card_balances(card.id).stored_value_fen == 5_000
        assert re.fullmatch(r"\d{6}", row["pin"]) and card.pin_hash is not None
    (entry,) = _audit("card.issue_batch")
    assert (entry.actor, entry.after["count"], entry.after["value_fen"]) == ("boss", 3, 5_000)

    again = admin.post("/admin/cards/issue", {**form, "pins": "1"})
    assert again.status_code == 409
    assert "这批卡已经发出（3 张" in again.text
    gift_cards = select(func.count()).select_from(Card).where(Card.type == "gift")
    assert db.session.scalar(gift_cards) == 3


@pytest.mark.parametrize(
    "form",
    [
        {"count": "0", "type": "gift"},
        {"count": "501", "type": "gift"},
        {"count": "99999999999999999999", "type": "gift"},
        {"count": "-1", "type": "gift"},
        {"count": "2", "type": "platinum"},
        {"count": "2", "type": "gift", "value_yuan": "1e9"},
        {"count": "2", "type": "gift", "value_yuan": "-5"},
        {"count": "2", "type": "points", "value_yuan": "5"},
        {"count": "2", "type": "period"},
        {"count": "2", "type": "gift", "store": "NOPE"},
    ],
)
def test_an_absurd_batch_is_refused_and_issues_nothing(
    signed_in: Any, form: dict[str, str]
) -> None:
    admin = signed_in("admin")
    key = _issue_form(admin)

    answer = admin.post("/admin/cards/issue", {"key": key, **form})

    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Card)) == 0


def test_a_store_manager_cannot_issue_a_batch(signed_in: Any) -> None:
    manager = signed_in("store_manager", store="SH01")
    assert manager.get("/admin/cards/issue").status_code == 403
    assert manager.post("/admin/cards/issue", {"count": "2", "type": "gift"}).status_code == 403


# --- import and export -------------------------------------------------------------------

MEMBERS_CSV = (
    "phone,name,home_store,card_number,card_type,points,points_expire_on,stored_value_fen\n"
    "13700001111,张三,SH01,6200001,stored_value,1500,2099-12-31,88800\n"
    "13700002222,李四,SH01,6200002,points,200,2099-12-31,\n"
    "not a phone,坏行,SH01,,,,,\n"
    "13700003333,王五,NOPE,,,,,\n"
)


def _upload(staff: Any, data: bytes, name: str = "members.csv") -> Any:
    page = staff.get("/admin/members/import")
    staff.token = csrf_token(page.text)
    return staff.post(
        "/admin/members/import",
        {"key": _key(page), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _confirm(staff: Any, checked_page: Any) -> Any:
    checked = re.search(r'name="checked" value="([0-9a-f]+)"', checked_page.text)
    key = re.search(
        r'name="step" value="import">\s*<input type="hidden" name="checked" value="[0-9a-f]+">'
        r'\s*<input type="hidden" name="key" value="([0-9a-f]+)"',
        checked_page.text,
    )
    assert checked and key
    return staff.post(
        "/admin/members/import",
        {"step": "import", "checked": checked.group(1), "key": key.group(1)},
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_checks_first_then_imports_with_balances_once(
    signed_in: Any, make_store: Any, encoding: str
) -> None:
    make_store("SH01")
    admin = signed_in("admin", username="boss")

    checked = _upload(admin, MEMBERS_CSV.encode(encoding))

    assert checked.status_code == 200, checked.text[:500]
    assert 'id="imported">2<' in checked.text and 'id="refused">2<' in checked.text
    assert "<td>4</td>" in checked.text and "<td>5</td>" in checked.text  # line numbers
    assert find_member_by_phone("13700001111") is None  # a check writes nothing

    done = _confirm(admin, checked)

    assert done.status_code == 200
    assert 'id="imported">2<' in done.text
    zhang = find_member_by_phone("13700001111")
    assert zhang is not None and zhang.name == "张三"
    assert member_balances(zhang.id).stored_value_fen == 88_800
    assert member_balances(zhang.id).points == 1_500

    # The same confirmation again replays the report; the same file again skips its rows.
    assert 'id="imported">2<' in _confirm(admin, checked).text
    again = _confirm(admin, _upload(admin, MEMBERS_CSV.encode(encoding)))
    assert 'id="skipped">2<' in again.text
    assert member_balances(zhang.id).stored_value_fen == 88_800


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"phone,colour\n1,2\n", 400),
        ("\ufeffphone,home_store\n".encode("utf-16"), 400),
        (b"\xff\xfe\xfa garbage \x00\x01", 400),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    signed_in: Any, data: bytes, status: int
) -> None:
    admin = signed_in("admin")
    answer = _upload(admin, data)
    assert answer.status_code == status
    assert 'class="error"' in answer.text


@pytest.mark.parametrize(
    ("language", "row_reason", "file_reason"),
    [
        ("zh-Hans", "没有代码为 'NOPE' 的门店", "缺少列：home_store"),
        ("zh-Hant", "沒有代碼為 'NOPE' 的門市", "缺少欄位：home_store"),
        ("en", "no store with code 'NOPE'", "missing column(s): home_store"),
    ],
)
def test_refusals_read_in_the_staff_members_language(
    signed_in: Any, make_store: Any, language: str, row_reason: str, file_reason: str
) -> None:
    make_store("SH01")
    admin = signed_in("admin", language=language)

    checked = _upload(admin, MEMBERS_CSV.encode())
    whole = _upload(admin, b"phone,name\n13700001111,a\n")

    assert f"<td>{escape(row_reason)}</td>" in checked.text
    assert whole.status_code == 400 and escape(file_reason) in whole.text


def test_a_nul_in_a_row_refuses_that_row(signed_in: Any, make_store: Any) -> None:
    make_store("SH01")
    admin = signed_in("admin")
    answer = _upload(admin, b"phone,name,home_store\n13700001111,a\x00b,SH01\n")
    assert answer.status_code == 200
    assert 'id="refused">1<' in answer.text


def test_an_oversized_upload_is_a_413_page(app: Any, signed_in: Any) -> None:
    admin = signed_in("admin")
    page = admin.get("/admin/members/import")
    rows = b"13700001111,SH01\r\n" * (app.config["MAX_CONTENT_LENGTH"] // 18 + 1)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + csrf_token(page.text).encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="m.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nphone,home_store\r\n" + rows + b"\r\n--b--\r\n"
    )

    # The body as bytes in memory (a dict with a file of this size would go through a
    # temporary file of the test client's).
    answer = admin.client.post(
        "/admin/members/import", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert answer.status_code == 413
    assert "表单或文件太大" in answer.text


def test_confirming_without_a_check_imports_nothing(signed_in: Any) -> None:
    admin = signed_in("admin")
    page = admin.get("/admin/members/import")
    admin.token = csrf_token(page.text)
    answer = admin.post(
        "/admin/members/import", {"step": "import", "checked": "f" * 32, "key": "a" * 32}
    )
    assert answer.status_code == 400
    assert "导入前请重新检查文件" in answer.text


def test_another_staff_members_check_cannot_be_confirmed(signed_in: Any, make_store: Any) -> None:
    make_store("SH01")
    boss = signed_in("admin", username="boss")
    checked = _upload(boss, MEMBERS_CSV.encode())
    other = signed_in("admin", username="other")
    other.token = csrf_token(other.get("/admin/members/import").text)

    answer = _confirm(other, checked)

    assert answer.status_code == 400
    assert find_member_by_phone("13700001111") is None


def test_export_downloads_every_member_as_csv(signed_in: Any, member: Any, elsewhere: Any) -> None:
    marketer = signed_in("marketer")

    answer = marketer.get("/admin/members/export.csv")

    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.text.startswith("\ufeffphone,")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    # A cell starting with + is quoted so a spreadsheet does not run it (import unquotes).
    assert {r["phone"] for r in rows} == {"'" + member.phone, "'" + elsewhere.phone}


def test_a_store_manager_cannot_import_or_export(signed_in: Any) -> None:
    manager = signed_in("store_manager", store="SH01")
    assert manager.get("/admin/members/import").status_code == 403
    assert manager.get("/admin/members/export.csv").status_code == 403
