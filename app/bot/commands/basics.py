"""HELP, JOIN and LANG."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from app.bot.registry import NEUTRAL, Context, command
from app.bot.replies import phone_as_card_number
from app.errors import DuplicateMember, InvalidRequest
from app.i18n import gettext, in_language
from app.stores.models import Store

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 60

#: What members type after LANG, upper case.
LANGUAGE_NAMES = {
    "ZH-HANS": "zh-Hans",
    "ZH_HANS": "zh-Hans",
    "ZH-CN": "zh-Hans",
    "ZH": "zh-Hans",
    "简体": "zh-Hans",
    "简体中文": "zh-Hans",
    "簡體中文": "zh-Hans",
    "中文": "zh-Hans",
    "简": "zh-Hans",
    "ZH-HANT": "zh-Hant",
    "ZH_HANT": "zh-Hant",
    "ZH-TW": "zh-Hant",
    "ZH-HK": "zh-Hant",
    "繁体": "zh-Hant",
    "繁體": "zh-Hant",
    "繁體中文": "zh-Hant",
    "繁体中文": "zh-Hant",
    "繁": "zh-Hant",
    "EN": "en",
    "ENGLISH": "en",
    "英文": "en",
    "英語": "en",
    "英语": "en",
}


@command(
    "help",
    keywords={"zh-Hans": ("帮助",), "zh-Hant": ("幫助",), "en": ("HELP", "INFO"), NEUTRAL: ("?",)},
    member_required=False,
    writes=False,
)
def help_(ctx: Context) -> str:
    on_wechat = ctx.message.channel == "wechat"
    if ctx.sender.member_id is None and on_wechat:
        return gettext(
            "Welcome! Send BIND followed by your mobile number to bind your membership to this "
            "WeChat, or JOIN followed by your mobile number to become a member."
        )
    if ctx.sender.member_id is None:
        return gettext(
            "Welcome! Text JOIN followed by your name to become a member and collect points. "
            "Text HELP for the commands, STOP to opt out."
        )
    commands = gettext(
        "Commands: POINTS (your points), BAL (balance), BIND card-number [PIN], "
        "VOTE option, DRAW (enter the draw), MSG text (to your store), "
        "LANG English/简体中文/繁體中文, ALERTS OFF (alerts), STOP (opt out)."
    )
    # A gift card is bound only with its PIN: say so where members look first.
    gift_cards = gettext("Gift cards: BIND card-number PIN (the PIN comes with the card).")
    if on_wechat:
        wechat = gettext("On WeChat: ECARD (your e-card), UNBIND (unbind this WeChat).")
        return f"{commands} {gift_cards} {wechat}"
    return f"{commands} {gift_cards}"


@command(
    "join",
    keywords={"zh-Hans": ("注册", "ZC"), "zh-Hant": ("註冊",), "en": ("JOIN",)},
    member_required=False,
)
def join(ctx: Context) -> str:
    from app.cards.services import enroll

    if ctx.member is not None:
        return gettext(
            "You are already a member. Your card number is %(card)s. Text HELP for the commands.",
            card=phone_as_card_number(ctx.member.phone),
        )
    if ctx.message.channel == "wechat":
        from app.bot.commands.wechat import join_by_phone

        return join_by_phone(ctx)
    name = ctx.args.strip()
    if len(name) > MAX_NAME_CHARS:
        return gettext("That name is too long. Please send JOIN followed by a shorter name.")
    store = default_home_store()
    if store is None:
        return gettext("Joining by text is not open yet. Please ask at the counter.")
    try:
        member = enroll(
            {
                "phone": ctx.message.sender,
                "home_store": store.code,
                "name": name or None,
                "language": ctx.language,
            }
        )
    except DuplicateMember:
        return gettext("You are already a member. Text HELP for the commands.")
    except InvalidRequest:
        return gettext("Sorry, this phone number cannot join. Please ask at the counter.")
    ctx.member = member
    card = phone_as_card_number(member.phone)
    if name:
        return gettext(
            "Welcome, %(name)s! You are now a member. Your card number is your phone number, "
            "%(card)s. Text POINTS for your points, HELP for the commands.",
            name=name,
            card=card,
        )
    return gettext(
        "Welcome! You are now a member. Your card number is your phone number, %(card)s. "
        "Text POINTS for your points, HELP for the commands.",
        card=card,
    )


def default_home_store() -> Store | None:
    """``DEFAULT_HOME_STORE`` when set (and it exists), else the first store created."""
    from app.db import db

    code = current_app.config.get("DEFAULT_HOME_STORE") or ""
    if code:
        store = db.session.scalar(select(Store).where(Store.code == code))
        if store is not None:
            return store
        log.warning("DEFAULT_HOME_STORE %s does not exist; using the first store", code)
    return db.session.scalar(select(Store).order_by(Store.id).limit(1))


@command("lang", keywords={"zh-Hans": ("语言",), "zh-Hant": ("語言",), "en": ("LANG", "LANGUAGE")})
def lang(ctx: Context) -> str:
    from app.members.services import update_member

    assert ctx.member is not None
    language = LANGUAGE_NAMES.get(ctx.args.strip().upper())
    if language is None:
        return gettext("Text LANG followed by English, 简体中文 or 繁體中文.")
    update_member(ctx.member, {"language": language})
    ctx.language = language
    with in_language(language):
        return gettext("Done: we will write to you in English from now on.")
