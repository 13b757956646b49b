"""WeChat events through ``receive`` and ``answer_event``: welcome, scene binding, unsubscribe,
menu clicks; retries get the first reply and no second effect."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.members.models import WechatBinding
from app.members.wechat import bind_openid, member_for_openid
from app.optout.services import is_opted_out
from app.wechat.models import WechatScene
from tests.wechat_member.conftest import OPENID, OTHER_OPENID, PHONE

T0 = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)

WELCOME = (
    "欢迎关注！如需在这里查询积分、使用会员卡，请发送“绑定”加手机号（例如：绑定 13800138000）。"
    "还不是会员？发送“注册”加手机号。"
)
BOUND = (
    "绑定成功：本微信已绑定到您的会员账户。发送“积分”查询积分，“电子卡”出示电子会员卡，"
    "“帮助”查看指令。"
)


def _scene(member: Any, scene: str = "sc_counter_1", **fields: Any) -> WechatScene:
    row = WechatScene(scene=scene, member_id=member.id, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def _bindings() -> int:
    return db.session.scalar(select(func.count()).select_from(WechatBinding)) or 0


def test_subscribe_welcomes_and_says_how_to_bind(wechat: Any, make_member: Any) -> None:
    follower = wechat(OPENID)
    result = follower.event("subscribe")
    assert (result.reply, result.command) == (WELCOME, "subscribe")

    member = make_member(PHONE, language="en")
    bind_openid(OPENID, member, via="code")
    assert follower.event("subscribe").reply == (
        "Welcome back! Send POINTS for your points, ECARD for your e-card, HELP for the commands."
    )


def test_a_retried_event_gets_the_first_reply(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    _scene(member)
    follower = wechat(OPENID)
    first = follower.event("subscribe", "qrscene_sc_counter_1", create_time=1_800_000_000)
    retry = follower.event("subscribe", "qrscene_sc_counter_1", create_time=1_800_000_000)
    assert first.reply == BOUND and not first.replayed
    assert retry.reply == BOUND and retry.replayed
    assert _bindings() == 1


def test_subscribing_by_a_scene_qr_binds_in_one_step(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    scene = _scene(member)
    with clock.frozen(T0):
        result = wechat(OPENID).event("subscribe", "qrscene_sc_counter_1")
    assert (result.reply, result.command) == (BOUND, "scene")
    assert member_for_openid(OPENID) == member
    assert scene.used_at == T0
    assert db.session.scalar(select(WechatBinding.via)) == "scene"


def test_scanning_a_scene_binds_a_follower(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE, language="zh-Hant")
    _scene(member, permanent=True)
    result = wechat(OPENID).event("scan", "sc_counter_1")
    assert result.reply == (
        "綁定成功：本微信已綁定到您的會員賬戶。發送「積分」查詢積分，「電子卡」出示電子會員卡，"
        "「幫助」查看指令。"
    )
    assert member_for_openid(OPENID) == member


def test_a_scene_binds_once(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    _scene(member)
    wechat(OPENID).event("scan", "sc_counter_1")
    wechat(OPENID).text("解绑")
    again = wechat(OTHER_OPENID).event("scan", "sc_counter_1")
    assert again.reply == "此二维码已使用过，请到收银台索取新的二维码。"
    assert _bindings() == 0


def test_an_expired_scene_is_refused(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    scene = _scene(member, expires_at=T0)
    with clock.frozen(T0):
        result = wechat(OPENID).event("subscribe", "qrscene_sc_counter_1")
    assert result.reply == "此二维码已过期，请到收银台索取新的二维码。"
    assert scene.used_at is None
    assert _bindings() == 0
    with clock.frozen(T0 - dt.timedelta(seconds=1)):
        assert wechat(OPENID).event("scan", "sc_counter_1").reply == BOUND


def test_an_unknown_scene_is_refused(wechat: Any, make_member: Any) -> None:
    make_member(PHONE)
    assert wechat(OPENID).event("scan", "sc_nobody").reply == ("无法识别此二维码，请到收银台咨询。")
    assert wechat(OPENID).event("subscribe", "qrscene_" + "x" * 300).reply == (
        "无法识别此二维码，请到收银台咨询。"
    )
    assert _bindings() == 0


def test_a_scene_for_a_member_bound_elsewhere_is_refused(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    bind_openid(OTHER_OPENID, member, via="code")
    scene = _scene(member)
    assert wechat(OPENID).event("scan", "sc_counter_1").reply == (
        "该会员账户已绑定其他微信。请先在那个微信中发送“解绑”，或到收银台咨询。"
    )
    assert scene.used_at is None
    assert member_for_openid(OPENID) is None


def test_a_scene_for_a_follower_bound_already_is_refused(wechat: Any, make_member: Any) -> None:
    mine, theirs = make_member(PHONE), make_member("+8613900139000")
    bind_openid(OPENID, mine, via="code")
    scene = _scene(theirs)
    assert wechat(OPENID).event("scan", "sc_counter_1").reply == (
        "本微信已绑定会员账户。如需绑定其他账户，请先发送“解绑”。"
    )
    assert scene.used_at is None
    assert member_for_openid(OPENID) == mine


def test_unsubscribe_stops_everything_until_subscribe(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    bind_openid(OPENID, member, via="code")
    follower = wechat(OPENID)
    result = follower.event("unsubscribe")
    assert result.silent and result.reply == ""
    assert is_opted_out("wechat", OPENID)
    assert member.wechat_opt_out
    assert not is_opted_out("sms", PHONE)
    assert follower.send("积分").silent
    assert follower.event("click", "points").silent

    assert follower.event("subscribe").reply == (
        "欢迎回来！发送“积分”查询积分，“电子卡”出示电子会员卡，“帮助”查看指令。"
    )
    assert not is_opted_out("wechat", OPENID)
    assert not member.wechat_opt_out
    assert follower.text("积分").startswith("您的积分：0")


def test_menu_clicks_answer_as_the_commands(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    bind_openid(OPENID, member, via="code")
    follower = wechat(OPENID)
    for key, keyword in (("points", "积分"), ("balance", "余额"), ("help", "帮助")):
        clicked = follower.event("click", key)
        typed = follower.send(keyword)
        assert (clicked.reply, clicked.command) == (typed.reply, typed.command), key
        assert clicked.reply
    ecard = follower.event("click", "ecard")
    assert ecard.command == "ecard"
    assert ecard.reply.startswith("您的电子会员卡：http://127.0.0.1:5000/wechat/ecard/")


def test_menu_clicks_from_a_stranger_say_how_to_bind(wechat: Any) -> None:
    follower = wechat(OPENID)
    assert follower.event("click", "points").command == "bind_first"
    assert follower.event("click", "ecard").command == "bind_first"
    assert follower.event("click", "help").reply == (
        "欢迎！发送“绑定”加手机号将会员账户绑定到本微信，或发送“注册”加手机号成为会员。"
    )


def test_view_and_other_events_are_silent(wechat: Any, make_member: Any) -> None:
    member = make_member(PHONE)
    bind_openid(OPENID, member, via="code")
    follower = wechat(OPENID)
    for kind, key in (
        ("view", "https://example.com/menu"),
        ("click", "unknown_key"),
        ("click", "POINTS"),
        ("templatesendjobfinish", ""),
        ("location", ""),
        ("scan", ""),
    ):
        result = follower.event(kind, key)
        assert result.silent and result.reply == "", (kind, key)
    assert _bindings() == 1


def test_a_member_scanning_their_own_scene_is_told_it_is_done(
    wechat: Any, make_member: Any
) -> None:
    member = make_member(PHONE)
    bind_openid(OPENID, member, via="code")
    scene = _scene(member)
    assert wechat(OPENID).event("scan", "sc_counter_1").reply == BOUND
    assert scene.used_at is not None
    assert _bindings() == 1
