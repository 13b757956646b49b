"""Promotions at checkout: the seam through which another package offers its promotions.

The ledger applies promotions (extra points, bonus points, a coupon) inside the checkout's
own transaction, but it does not know where they come from: ``app.campaigns`` keeps them
and registers a provider here in its ``init_app`` (``register_provider``), as packages
register their rules parts and jobs. The ledger never imports campaigns (no cycle).

A provider answers two questions: which offers are in force for these facts (member,
level, store, money charged, item categories, the moment), and, once the checkout has
posted, what each offer gave (so the provider can count it). Both run inside the
checkout's unit of work; the second only for a new posting, never a replay.

The written rule of the effects (also in docs/architecture.md, "Campaigns: promotions"):
an offer's extra points are ``floor(base × (multiplier_bp − 10000) / 10000)`` plus its
``bonus_points``, where ``base`` is the points the rules gave the purchase; several offers
each add their extra to the same base (2× and 3× together give base × 4: extras add, they
do not compound). Integers only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from flask import Flask, current_app

EXTENSION = "laoyou.checkout_promotions"
BP = 10000


@dataclass(frozen=True)
class CheckoutFacts:
    """What a promotion's conditions may look at, as the checkout knows it."""

    member_id: int
    level_id: int | None
    store_id: int | None
    #: Money charged (after discounts, coupons and the points offset), in fen.
    charged_fen: int
    #: The categories of the items bought (empty when no items were given).
    categories: frozenset[str]
    at: dt.datetime


@dataclass(frozen=True)
class Offer:
    """One promotion in force for a checkout, and what it gives."""

    promotion_id: int
    #: The promotion's name per language (``zh-Hans``, ``zh-Hant``, ``en``).
    names: Mapping[str, str] = field(default_factory=dict)
    multiplier_bp: int = BP
    bonus_points: int = 0
    #: The code of a coupon type to give, or None.
    coupon_type: str | None = None

    def extra_points(self, base_points: int) -> int:
        """Points this offer adds to a purchase the rules gave ``base_points``."""
        return base_points * (self.multiplier_bp - BP) // BP + self.bonus_points


class PromotionsProvider(Protocol):
    def offers(self, facts: CheckoutFacts) -> Sequence[Offer]: ...

    def applied(
        self,
        offer: Offer,
        *,
        transaction_id: int,
        member_id: int,
        points: int,
        coupon_code: str | None,
    ) -> None: ...


def register_provider(app: Flask, name: str, provider: PromotionsProvider) -> None:
    """Called by the owning package's ``init_app``; one provider per name."""
    app.extensions.setdefault(EXTENSION, {})[name] = provider


def offers_for(facts: CheckoutFacts) -> list[tuple[PromotionsProvider, Offer]]:
    """Every offer in force for ``facts``, from every registered provider, in order."""
    providers: dict[str, PromotionsProvider] = current_app.extensions.get(EXTENSION, {})
    return [(p, offer) for p in providers.values() for offer in p.offers(facts)]
