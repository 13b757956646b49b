"""What WeChat adds to the commands: binding an openid to a member by a code sent to the
phone (BIND / VERIFY / UNBIND, and JOIN from WeChat), and the e-card link (ECARD).

The rules (codes, expiry, voiding, limits, one openid per member) are
``app.members.wechat``'s; these handlers only ask and answer.
"""

from __future__ import annotations

from app.bot.registry import Context, command
from app.bot.replies import phone_as_card_number
from app.i18n import gettext, in_language
from app.members.wechat import (
    CODE_TTL,
    BindingRefused,
    bind_openid,
    check_phone_code,
    request_phone_code,
    unbind_openid,
)
from app.phone import mask_phone

_ON_WECHAT = ("wechat",)


def bind_phone(ctx: Context) -> str:
    """BIND <phone> from an openid that is not bound yet: text a code to that phone."""
    if not ctx.args:
        return gettext(
            "Send BIND followed by your mobile number, for example BIND 13800138000. "
            "We will text you a code to check it."
        )
    return _send_code(ctx, purpose="bind")


def join_by_phone(ctx: Context) -> str:
    """JOIN from WeChat: the member is made once the phone is proved with a code."""
    if not ctx.args:
        return gettext(
            "To join, send JOIN followed by your mobile number, for example JOIN 13800138000. "
            "We will text you a code to check it."
        )
    return _send_code(ctx, purpose="join")


def _send_code(ctx: Context, *, purpose: str) -> str:
    phone_text = "".join(ctx.args.split()).replace("-", "")
    try:
        issued = request_phone_code(
            ctx.message.sender, phone_text, purpose=purpose, language=ctx.language
        )
    except BindingRefused as refused:
        return refusal(refused)
    return gettext(
        "We have texted a six-digit code to %(phone)s. Send VERIFY followed by the code "
        "within %(minutes)s minutes, for example VERIFY 123456.",
        phone=mask_phone(issued.phone),
        minutes=int(CODE_TTL.total_seconds() // 60),
    )


@command(
    "verify",
    keywords={"zh-Hans": ("验证",), "zh-Hant": ("驗證",), "en": ("VERIFY",)},
    member_required=False,
)
def verify(ctx: Context) -> str:
    from app.bot.commands.basics import default_home_store
    from app.cards.services import enroll

    if ctx.message.channel not in _ON_WECHAT:
        return _only_on_wechat()
    if ctx.sender.member_id is not None:
        return refusal(BindingRefused("openid_bound"))
    if not ctx.args:
        return gettext("Send VERIFY followed by the six-digit code we texted to your phone.")
    try:
        proved = check_phone_code(ctx.message.sender, ctx.args)
    except BindingRefused as refused:
        return refusal(refused)
    member = proved.member
    joined = member is None
    if member is None:
        store = default_home_store()
        if store is None:
            return gettext("Joining by text is not open yet. Please ask at the counter.")
        member = enroll({"phone": proved.phone, "home_store": store.code, "language": ctx.language})
    bind_openid(ctx.message.sender, member, via="code")
    ctx.member = member
    ctx.language = member.language
    card = phone_as_card_number(member.phone)
    with in_language(member.language):
        if joined:
            return gettext(
                "Welcome! You are now a member, and this WeChat is bound to your membership. "
                "Your card number is your phone number, %(card)s. Send POINTS for your points, "
                "HELP for the commands.",
                card=card,
            )
        return gettext(
            "Done: this WeChat is now bound to your membership (card number %(card)s). "
            "Send POINTS for your points, HELP for the commands.",
            card=card,
        )


@command(
    "unbind",
    keywords={"zh-Hans": ("解绑",), "zh-Hant": ("解綁",), "en": ("UNBIND",)},
    member_required=False,
)
def unbind(ctx: Context) -> str:
    if ctx.message.channel not in _ON_WECHAT:
        return _only_on_wechat()
    if not unbind_openid(ctx.message.sender):
        return gettext("This WeChat is not bound to a membership.")
    return gettext(
        "This WeChat is no longer bound to your membership. Send BIND followed by your "
        "mobile number to bind it again."
    )


@command(
    "ecard",
    keywords={"zh-Hans": ("电子卡",), "zh-Hant": ("電子卡",), "en": ("ECARD", "E-CARD")},
    writes=False,
)
def ecard(ctx: Context) -> str:
    from app.cards.ecard import LINK_MAX_AGE_SECONDS, page_link
    from app.cards.services import member_cards

    assert ctx.member is not None
    card = next((c for c in member_cards(ctx.member) if c.state == "active"), None)
    if card is None:
        return gettext("You have no active card to show. Please ask at the counter.")
    return gettext(
        "Your e-card: %(link)s The code on it changes every minute; show it at the counter. "
        "The link works for %(minutes)s minutes.",
        link=page_link(card),
        minutes=LINK_MAX_AGE_SECONDS // 60,
    )


def _only_on_wechat() -> str:
    return gettext("This command binds a WeChat account: send it on our WeChat official account.")


def refusal(refused: BindingRefused) -> str:
    """The reply to a refused binding step, in the language the caller entered."""
    texts = {
        "invalid_phone": lambda: gettext(
            "That is not a mobile number we can text. Send BIND followed by your mobile "
            "number, for example BIND 13800138000."
        ),
        "not_member": lambda: gettext(
            "This phone number is not a member yet. To join, send JOIN followed by your "
            "mobile number."
        ),
        "phone_bound": lambda: gettext(
            "This membership is already bound to another WeChat account. Send UNBIND from "
            "that account first, or ask at the counter."
        ),
        "openid_bound": lambda: gettext(
            "This WeChat is already bound to a membership. Send UNBIND first to bind another."
        ),
        "too_many_codes": lambda: gettext(
            "Too many codes have been asked for. Please try again later."
        ),
        "no_code": lambda: gettext(
            "There is no code waiting for this WeChat. Send BIND followed by your mobile "
            "number to get one."
        ),
        "expired": lambda: gettext(
            "That code has expired. Send BIND or JOIN followed by your mobile number to get "
            "a new one."
        ),
        "wrong_code": lambda: gettext(
            "That code is not right. %(left)s attempts left.", left=refused.attempts_left
        ),
        "voided": lambda: gettext(
            "Too many wrong codes: that code no longer works. Send BIND or JOIN followed by "
            "your mobile number to get a new one."
        ),
    }
    return texts[refused.reason]()
