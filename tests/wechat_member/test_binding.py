"""Binding an openid to a member by a code texted to the phone, as a follower sees it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.members.models import Member, PhoneCode
from app.members.wechat import member_for_openid
from tests.wechat_member.conftest import (
    OPENID,
    OTHER_OPENID,
    PHONE,
    code_sent_to,
    sms_to,
    wrong,
)

T0 = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)


def _codes() -> int:
    return db.session.scalar(select(func.count()).select_from(PhoneCode)) or 0


def test_bind_by_phone_with_the_texted_code(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    follower = wechat(OPENID)
    assert follower.text("积分") == (
        "本微信尚未绑定会员账户。请发送“绑定”加手机号进行绑定（例如：绑定 13800138000），"
        "或发送“注册”加手机号成为会员。"
    )

    assert follower.text("绑定 138 0013 8000") == (
        "六位验证码已发送至 +86138****8000。请在 10 分钟内发送“验证”加验证码，例如：验证 123456。"
    )
    [sms] = sms_to(PHONE)
    assert (sms.channel, sms.kind, sms.status, sms.language) == (
        "sms",
        "system",
        "queued",
        "zh-Hans",
    )
    code = code_sent_to(PHONE)
    assert sms.body == f"您的微信绑定验证码是 {code}，10 分钟内有效。请勿告诉他人。"
    # Only a hash is kept.
    assert code not in db.session.scalar(select(PhoneCode.code_hash))

    assert follower.text(f"验证 {wrong(code)}") == "验证码不正确，还可以再试 4 次。"
    assert member_for_openid(OPENID) is None
    assert follower.text(f"验证 {code}") == (
        "绑定成功：本微信已绑定到您的会员账户（卡号 13800138000）。"
        "发送“积分”查询积分，发送“帮助”查看指令。"
    )
    assert member_for_openid(OPENID) == member
    assert follower.text("积分").startswith("您的积分：0")
    # The code works once.
    assert follower.text(f"验证 {code}") == (
        "本微信已绑定会员账户。如需绑定其他账户，请先发送“解绑”。"
    )


def test_english_and_traditional_keywords_answer_in_their_language(
    wechat: Any, make_member: Any
) -> None:
    make_member(PHONE, language="zh-Hant")
    english = wechat(OPENID)
    assert english.text("BIND 13800138000") == (
        "We have texted a six-digit code to +86138****8000. Send VERIFY followed by the code "
        "within 10 minutes, for example VERIFY 123456."
    )
    # The SMS is in the member's language.
    assert code_sent_to(PHONE) in sms_to(PHONE)[-1].body
    assert sms_to(PHONE)[-1].body.startswith("您的微信綁定驗證碼是")
    assert english.text(f"VERIFY {code_sent_to(PHONE)}").startswith("綁定成功")
    assert english.send("POINTS").language == "zh-Hant"

    traditional = wechat(OTHER_OPENID)
    assert traditional.text("綁定 13800138000") == (
        "該會員賬戶已綁定其他微信。請先在那個微信中發送「解綁」，或到收銀台諮詢。"
    )


def test_five_wrong_codes_void_it(wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    follower = wechat(OPENID)
    follower.text("绑定 13800138000")
    code = code_sent_to(PHONE)
    replies = [follower.text(f"验证 {wrong(code)}") for _ in range(5)]
    assert replies[:4] == [f"验证码不正确，还可以再试 {n} 次。" for n in (4, 3, 2, 1)]
    assert replies[4] == (
        "验证码错误次数过多，已失效。请重新发送“绑定”或“注册”加手机号获取新验证码。"
    )
    # The right code no longer works either.
    assert follower.text(f"验证 {code}") == ("本微信没有待验证的验证码。请发送“绑定”加手机号获取。")
    assert member_for_openid(OPENID) is None


def test_a_code_expires_after_ten_minutes(wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    follower = wechat(OPENID)
    with clock.frozen(T0):
        follower.text("绑定 13800138000")
    code = code_sent_to(PHONE)
    with clock.frozen(T0 + dt.timedelta(minutes=10)):
        assert follower.text(f"验证 {code}") == (
            "验证码已过期。请重新发送“绑定”或“注册”加手机号获取新验证码。"
        )
    assert member_for_openid(OPENID) is None


def test_a_code_works_until_its_tenth_minute(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    follower = wechat(OPENID)
    with clock.frozen(T0):
        follower.text("绑定 13800138000")
    with clock.frozen(T0 + dt.timedelta(minutes=9, seconds=59)):
        assert follower.text(f"验证 {code_sent_to(PHONE)}").startswith("绑定成功")
    assert member_for_openid(OPENID) == member


def test_a_new_request_voids_the_older_code(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    follower = wechat(OPENID)
    follower.text("绑定 13800138000")
    first = code_sent_to(PHONE)
    follower.text("绑定 13800138000")
    second = code_sent_to(PHONE)
    assert len(sms_to(PHONE)) == 2
    if first != second:
        assert follower.text(f"验证 {first}") == "验证码不正确，还可以再试 4 次。"
    assert follower.text(f"验证 {second}").startswith("绑定成功")
    assert member_for_openid(OPENID) == member
    assert db.session.scalar(select(func.count()).where(PhoneCode.closed_at.is_(None))) == 0


def test_a_phone_binds_one_openid_until_it_unbinds(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    first, second = wechat(OPENID), wechat(OTHER_OPENID)
    first.text("绑定 13800138000")
    first.text(f"验证 {code_sent_to(PHONE)}")

    assert second.text("绑定 13800138000") == (
        "该会员账户已绑定其他微信。请先在那个微信中发送“解绑”，或到收银台咨询。"
    )
    assert len(sms_to(PHONE)) == 1  # no code for a refused request

    assert first.text("解绑") == (
        "已解除本微信与会员账户的绑定。如需重新绑定，请发送“绑定”加手机号。"
    )
    assert member_for_openid(OPENID) is None
    assert first.text("解绑") == "本微信未绑定会员账户。"
    assert first.send("积分").command == "bind_first"

    second.text("绑定 13800138000")
    assert second.text(f"验证 {code_sent_to(PHONE)}").startswith("绑定成功")
    assert member_for_openid(OTHER_OPENID) == member


def test_a_code_for_a_phone_bound_meanwhile_is_refused(wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    first, second = wechat(OPENID), wechat(OTHER_OPENID)
    first.text("绑定 13800138000")
    code_for_first = code_sent_to(PHONE)
    # The second openid cannot ask while the first's code is open? It can: the code goes
    # to the phone's owner only. Whoever proves it first binds.
    second.text("绑定 13800138000")
    second.text(f"验证 {code_sent_to(PHONE)}")
    assert first.text(f"验证 {code_for_first}") == (
        "本微信没有待验证的验证码。请发送“绑定”加手机号获取。"
    )
    assert member_for_openid(OPENID) is None


def test_a_strangers_phone_and_nonsense_are_refused(wechat: Any) -> None:
    follower = wechat(OPENID)
    assert follower.text("绑定 13900139000") == (
        "该手机号还不是会员。如需注册，请发送“注册”加手机号。"
    )
    assert follower.text("绑定 12345") == (
        "这不是有效的手机号。请发送“绑定”加手机号，例如：绑定 13800138000。"
    )
    assert follower.text("绑定") == (
        "请发送“绑定”加手机号，例如：绑定 13800138000。我们会向该手机发送验证码。"
    )
    assert follower.text("验证 123456") == ("本微信没有待验证的验证码。请发送“绑定”加手机号获取。")
    assert follower.text("验证") == "请发送“验证”加短信收到的六位验证码。"
    assert _codes() == 0
    assert sms_to("+8613900139000") == []


def test_join_from_wechat_asks_for_the_phone_then_checks_it(wechat: Any) -> None:
    follower = wechat(OPENID)
    assert follower.text("注册") == (
        "注册请发送“注册”加手机号，例如：注册 13800138000。我们会向该手机发送验证码。"
    )
    assert follower.text("注册 13900139000").startswith("六位验证码已发送至 +86139****9000。")
    assert db.session.scalar(select(func.count()).select_from(Member)) == 0
    code = code_sent_to("+8613900139000")
    assert follower.text(f"验证 {wrong(code)}") == "验证码不正确，还可以再试 4 次。"
    assert db.session.scalar(select(func.count()).select_from(Member)) == 0
    assert follower.text(f"验证 {code}") == (
        "欢迎！您已成为会员，本微信已绑定您的会员账户。您的卡号就是手机号 13900139000。"
        "发送“积分”查询积分，发送“帮助”查看指令。"
    )
    member = member_for_openid(OPENID)
    assert member is not None and member.phone == "+8613900139000"
    assert follower.text("积分").startswith("您的积分：0")
    assert follower.text("注册").startswith("您已经是会员")


def test_join_in_english_makes_an_english_member(wechat: Any) -> None:
    follower = wechat(OPENID)
    follower.text("JOIN 13900139000")
    assert sms_to("+8613900139000")[-1].language == "en"
    assert follower.text(f"VERIFY {code_sent_to('+8613900139000')}").startswith(
        "Welcome! You are now a member"
    )
    member = member_for_openid(OPENID)
    assert member is not None and member.language == "en"


def test_join_with_a_members_phone_binds_it(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    follower = wechat(OPENID)
    follower.text("注册 13800138000")
    assert follower.text(f"验证 {code_sent_to(PHONE)}").startswith("绑定成功")
    assert member_for_openid(OPENID) == member
    assert db.session.scalar(select(func.count()).select_from(Member)) == 1


def test_codes_per_phone_are_limited(wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    follower = wechat(OPENID)
    with clock.frozen(T0):
        for _ in range(3):
            assert follower.text("绑定 13800138000").startswith("六位验证码已发送")
        assert follower.text("绑定 13800138000") == "获取验证码次数过多，请稍后再试。"
        # Another openid asking for the same phone is limited too: the phone pays the SMS.
        assert wechat(OTHER_OPENID).text("绑定 13800138000") == "获取验证码次数过多，请稍后再试。"
    assert len(sms_to(PHONE)) == 3
    with clock.frozen(T0 + dt.timedelta(hours=1, seconds=1)):
        assert follower.text("绑定 13800138000").startswith("六位验证码已发送")


def test_codes_per_openid_are_limited(wechat: Any) -> None:
    follower = wechat(OPENID)
    phones = [f"1390013{n:04d}" for n in range(6)]
    with clock.frozen(T0):
        replies = [follower.text(f"注册 {phone}") for phone in phones]
    assert all(r.startswith("六位验证码已发送") for r in replies[:5])
    assert replies[5] == "获取验证码次数过多，请稍后再试。"
    assert sms_to(f"+86{phones[5]}") == []


def test_a_bound_member_binds_cards_as_before(
    wechat: Any, make_member: Any, make_card: Any
) -> None:
    member = make_member(PHONE)
    follower = wechat(OPENID)
    follower.text("绑定 13800138000")
    follower.text(f"验证 {code_sent_to(PHONE)}")
    card = make_card("points")
    assert follower.text(f"绑定 {card.number}") == (
        f"尾号 {card.number[-4:]} 的卡已成功绑定到您的会员账户。"
    )
    assert card.member_id == member.id


def test_binding_commands_by_sms_say_where_they_belong(app: Any, make_member: Any) -> None:
    from app.bot.engine import handle_message
    from app.bot.message import Message

    make_member(PHONE)

    def sms(text: str) -> str:
        message = Message("sms", PHONE, text, None, dt.datetime.now(dt.UTC))
        return handle_message(message).text

    expected = "此指令用于绑定微信，请在我们的微信公众号中发送。"
    assert sms("验证 123456") == expected
    assert sms("解绑") == expected
    assert _codes() == 0


def test_an_opted_out_follower_hears_nothing_until_back(wechat: Any, make_member: Any) -> None:
    from app.optout.services import is_opted_out

    member = make_member(PHONE)
    follower = wechat(OPENID)
    follower.text("绑定 13800138000")
    follower.text(f"验证 {code_sent_to(PHONE)}")
    assert follower.send("退订").command == "opt_out"
    assert is_opted_out("wechat", OPENID) and not is_opted_out("sms", PHONE)
    assert member.wechat_opt_out and not member.sms_opt_out
    silent = follower.send("积分")
    assert silent.silent and silent.reply == ""
    assert follower.send("订阅").command == "opt_in"
    assert not member.wechat_opt_out
    assert follower.text("积分").startswith("您的积分：0")


def test_hostile_input_changes_nothing(wechat: Any, make_member: Any) -> None:
    from app.messaging.models import InboundMessage

    make_member(PHONE)
    follower = wechat(OPENID)
    nul = follower.send("绑定 138\x0000138000")
    assert (nul.command, nul.replayed) == ("bad_input", False)
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert follower.send("绑定 " + "1" * 2000).command == "bad_input"
    assert follower.text("绑定 " + "1" * 100).startswith("这不是有效的手机号")
    assert follower.text("绑定 +999 1234 5678").startswith("这不是有效的手机号")
    assert _codes() == 0 and sms_to(PHONE) == []
    follower.text("绑定 13800138000")
    code = code_sent_to(PHONE)
    assert follower.text("验证 " + "9" * 40) == "验证码不正确，还可以再试 4 次。"
    assert follower.text(f"验证 {code}").startswith("绑定成功")
