"""Opt-out, opt-in and the alert switches.

Only the exact single keyword opts out ("stop sending me ads please" is just a
sentence); that keyword always works, even for a sender over the rate limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.bot.registry import Context, command
from app.bot.replies import join, listing
from app.i18n import gettext
from app.optout.services import opt_in as registry_opt_in
from app.optout.services import opt_out as registry_opt_out

if TYPE_CHECKING:
    from app.members.models import Member

OPT_OUT = "opt_out"
OPT_IN = "opt_in"


@command(
    OPT_OUT,
    keywords={
        "zh-Hans": ("退订", "TD", "T"),
        "zh-Hant": ("退訂",),
        # Twilio's list, plus the FCC's "opt out" as people write it.
        "en": (
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
            "OPT-OUT",
            "OPT OUT",
        ),
    },
    member_required=False,
    exact=True,
)
def opt_out(ctx: Context) -> str:
    source = f"{ctx.message.channel}:{ctx.keyword}"
    if not registry_opt_out(ctx.message.channel, ctx.message.sender, source=source):
        return ""  # Already out: the one confirmation was sent then.
    return gettext(
        "You have unsubscribed and will get no more messages from us. "
        "Text START to subscribe again."
    )


@command(
    OPT_IN,
    keywords={
        "zh-Hans": ("订阅",),
        "zh-Hant": ("訂閱",),
        "en": ("START", "UNSTOP", "YES"),
    },
    member_required=False,
    exact=True,
)
def opt_in(ctx: Context) -> str:
    source = f"{ctx.message.channel}:{ctx.keyword}"
    if registry_opt_in(ctx.message.channel, ctx.message.sender, source=source):
        return gettext(
            "Welcome back: you will get our messages again. Text HELP for the commands, "
            "STOP to opt out."
        )
    return gettext("You are subscribed. Text HELP for the commands, STOP to opt out.")


#: What members type for each alert type (upper case); app.members.models.ALERT_TYPES.
ALERT_WORDS = {
    "transaction": ("交易", "消费", "消費", "TRANSACTION", "TRANSACTIONS", "SPEND"),
    "low_balance": ("余额", "餘額", "低余额", "低餘額", "LOW", "BALANCE", "LOW_BALANCE"),
    "level": ("等级", "等級", "升级", "升級", "LEVEL"),
    "points_expiring": ("过期", "過期", "到期", "积分过期", "積分過期", "EXPIRY", "EXPIRING"),
}
#: Where a member bound on WeChat wants alerts (app.members.models.ALERT_CHANNELS).
CHANNEL_WORDS = {
    "wechat": ("微信", "WECHAT", "WEIXIN", "WX"),
    "sms": ("短信", "簡訊", "短訊", "SMS", "TEXT"),
    "both": ("两者", "兩者", "都要", "全部", "BOTH", "ALL"),
}
ON_WORDS = ("开", "開", "开启", "開啟", "ON")
OFF_WORDS = ("关", "關", "关闭", "關閉", "OFF")


def _alert_names() -> dict[str, str]:
    return {
        "transaction": gettext("transaction alerts"),
        "low_balance": gettext("low-balance alerts"),
        "level": gettext("level alerts"),
        "points_expiring": gettext("points-expiry reminders"),
    }


def _alerts_usage() -> str:
    return gettext(
        "Text ALERTS OFF or ALERTS ON, optionally followed by TRANSACTION, LOW, LEVEL or EXPIRY."
    )


def _split_switch(args: str) -> tuple[str | None, str]:
    """``OFF LEVEL`` / ``关交易`` → (switch, rest); Chinese needs no space after 关."""
    text = args.upper().strip()
    for word in sorted(ON_WORDS + OFF_WORDS, key=len, reverse=True):
        if text.startswith(word):
            rest = text[len(word) :]
            if word.isascii() and rest and not rest.startswith(" "):
                continue
            return word, rest.strip()
    return None, text


@command(
    "alerts",
    keywords={"zh-Hans": ("提醒", "TX"), "zh-Hant": ("提醒",), "en": ("ALERTS", "ALERT")},
)
def alerts(ctx: Context) -> str:
    from app.members.services import alert_preferences, set_alert_preference

    member = ctx.member
    assert member is not None
    names = _alert_names()
    channel = _channel(ctx.args)
    if channel is not None:
        return _choose_channel(member, channel)
    if not ctx.args:
        prefs = alert_preferences(member)
        on = [names[t] for t, enabled in prefs.items() if enabled and t in names]
        off = [names[t] for t, enabled in prefs.items() if not enabled and t in names]
        parts = []
        if on:
            parts.append(gettext("On: %(alerts)s.", alerts=listing(on, ctx.language)))
        if off:
            parts.append(gettext("Off: %(alerts)s.", alerts=listing(off, ctx.language)))
        where = _where_alerts_go(member, ctx.language)
        if where:
            parts.append(where)
        parts.append(_alerts_usage())
        return join(parts, ctx.language)
    switch, rest = _split_switch(ctx.args)
    if switch is None:
        return _alerts_usage()
    if rest:
        types = [t for t, spellings in ALERT_WORDS.items() if rest in spellings]
        if not types:
            return _alerts_usage()
    else:
        types = list(ALERT_WORDS)
    enabled = switch in ON_WORDS
    for alert_type in types:
        set_alert_preference(member, alert_type, enabled)
    which = listing([names[t] for t in types], ctx.language)
    if enabled:
        return gettext("Switched on: %(alerts)s.", alerts=which)
    return gettext("Switched off: %(alerts)s.", alerts=which)


def _channel(args: str) -> str | None:
    text = args.upper().strip()
    return next((c for c, words in CHANNEL_WORDS.items() if text in words), None)


def _channel_names() -> dict[str, str]:
    return {
        "wechat": gettext("Alerts go to WeChat."),
        "sms": gettext("Alerts go by SMS."),
        "both": gettext("Alerts go to WeChat and by SMS."),
    }


def _where_alerts_go(member: Member, language: str) -> str | None:
    """For a member bound on WeChat: where alerts go, and how to change it."""
    from app.members.wechat import openid_for_member

    if openid_for_member(member.id) is None:
        return None
    return join(
        [
            _channel_names()[member.alert_channel or "wechat"],
            gettext("Text ALERTS WECHAT, ALERTS SMS or ALERTS BOTH to choose."),
        ],
        language,
    )


def _choose_channel(member: Member, channel: str) -> str:
    from app.members.wechat import openid_for_member, set_alert_channel

    if channel != "sms" and openid_for_member(member.id) is None:
        return gettext(
            "Your membership is not bound to WeChat yet. Follow our official account and "
            "send BIND with your phone number there, then choose again."
        )
    set_alert_channel(member, channel)
    return _channel_names()[channel]
