"""PROMO (活动 / 活動): the promotions in force, in the member's language; ``app.campaigns``
keeps them. WeChat members reach it through the same engine."""

from __future__ import annotations

from app import clock
from app.bot.registry import Context, command
from app.bot.replies import join, listing
from app.campaigns.promotion_models import Promotion
from app.campaigns.promotions import current_promotions, effect_parts
from app.i18n import gettext
from app.money import yuan


def _conditions(promotion: Promotion, language: str) -> str:
    parts = []
    if promotion.level is not None:
        parts.append(gettext("for %(level)s members", level=promotion.level.name_in(language)))
    if promotion.store is not None:
        parts.append(gettext("at %(store)s", store=promotion.store.name))
    if promotion.min_spend_fen:
        parts.append(
            gettext("when you spend at least %(amount)s yuan", amount=yuan(promotion.min_spend_fen))
        )
    if promotion.category:
        parts.append(gettext("with items of %(category)s", category=promotion.category))
    return listing(parts, language)


@command(
    "promotions",
    keywords={"zh-Hans": ("活动", "HD"), "zh-Hant": ("活動",), "en": ("PROMO", "PROMOS")},
    member_required=False,
    writes=False,
)
def promotions(ctx: Context) -> str:
    found = current_promotions(ctx.member)
    if not found:
        return gettext("There are no promotions right now.")
    lines = [gettext("Promotions now:")]
    for n, promotion in enumerate(found, start=1):
        until = clock.to_local(promotion.ends_at)
        line = gettext(
            "%(n)s) %(name)s, until %(until)s: %(effects)s",
            n=n,
            name=promotion.name_in(ctx.language),
            until=f"{until.month:02d}-{until.day:02d} {until.hour:02d}:{until.minute:02d}",
            effects=listing(effect_parts(promotion), ctx.language),
        )
        conditions = _conditions(promotion, ctx.language)
        if conditions:
            line = join([line, gettext("(%(conditions)s)", conditions=conditions)], ctx.language)
        lines.append(line)
    return "\n".join(lines)
