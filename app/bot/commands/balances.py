"""POINTS and BAL: what the member has, read from the ledger."""

from __future__ import annotations

from app.bot.registry import Context, command
from app.bot.replies import join, last4, number
from app.clock import local_today
from app.i18n import gettext
from app.ledger.balances import points_summary
from app.money import yuan


def level_title(level_name: str) -> str:
    """``金卡`` → ``金卡会员``; a level already called ``普通会员`` stays as it is."""
    name = level_name.strip()
    if name.endswith(("会员", "會員")) or name.lower().endswith("member"):
        return name
    return gettext("%(level)s member", level=name)


@command(
    "points",
    keywords={"zh-Hans": ("积分", "JF"), "zh-Hant": ("積分",), "en": ("POINTS",)},
    writes=False,
)
def points(ctx: Context) -> str:
    sender = ctx.sender
    assert sender.member_id is not None
    balances, expiry = points_summary(sender.member_id)
    balance = balances.points
    if sender.level is not None:
        parts = [
            gettext(
                "Your points: %(points)s, %(level)s.",
                points=number(balance),
                level=level_title(sender.level),
            )
        ]
    else:
        parts = [gettext("Your points: %(points)s.", points=number(balance))]
    if expiry is not None:
        expiring, day = expiry
        parts.append(
            gettext(
                "%(points)s points expire on %(date)s.",
                points=number(expiring),
                date=day.isoformat(),
            )
        )
    return join(parts, ctx.language)


@command(
    "balance",
    keywords={"zh-Hans": ("余额", "YE"), "zh-Hant": ("餘額",), "en": ("BAL", "BALANCE")},
    writes=False,
)
def balance(ctx: Context) -> str:
    from app.cards.services import member_cards
    from app.ledger.balances import member_balances

    member = ctx.member
    assert member is not None
    balances = member_balances(member.id)
    cards = [c for c in member_cards(member) if c.state != "cancelled"]
    parts = [
        gettext("Stored value: ¥%(amount)s.", amount=yuan(balances.stored_value_fen, grouped=True))
    ]
    if balances.visits or any(c.type == "count" for c in cards):
        parts.append(gettext("Visits left: %(visits)s.", visits=number(balances.visits)))
    today = local_today()
    for card in cards:
        if card.valid_until is None:
            continue
        label = last4(card.number)
        if card.valid_until < today:
            text = gettext(
                "Card ending %(card)s expired on %(date)s.",
                card=label,
                date=card.valid_until.isoformat(),
            )
        elif card.valid_from is not None and card.valid_from > today:
            text = gettext(
                "Card ending %(card)s is valid from %(start)s to %(end)s.",
                card=label,
                start=card.valid_from.isoformat(),
                end=card.valid_until.isoformat(),
            )
        else:
            text = gettext(
                "Card ending %(card)s is valid until %(date)s.",
                card=label,
                date=card.valid_until.isoformat(),
            )
        parts.append(text)
    return join(parts, ctx.language)
