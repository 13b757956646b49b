"""The rules room's forms: each section of the rules document as fields a person can fill in.

One mechanism for every section: a ``Section`` names where it sits in the document that
``laoyou rules export`` prints and which ``Field``s its form shows. The form's values are
turned back into the section's JSON (yuan to fen, "1.5x" and "95%" to basis points), put
into the exported document, and the whole document goes through the import's validation
(``app.ledger.rules.io.replace_rules``): no rule lives only in the panel. A refusal names a
field of the document (``levels[2].discount_bp``), which is mapped back to the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

from app.cards.labels import card_type_labels
from app.cards.models import CARD_TYPES
from app.i18n import gettext
from app.ledger.redemption.models import COUPON_KINDS
from app.ledger.rules.models import (
    CATEGORY_KINDS,
    DISCOUNT_STACKINGS,
    EXPIRY_MODES,
    GROWTH_SOURCES,
    MULTIPLIER_COMBINATIONS,
)
from app.money import parse_yuan, yuan

#: Rows one list form may post: far more than any programme has, few enough to read at once.
MAX_ROWS = 1000
#: Characters of a number typed into a form; longer is not a number anyone meant.
MAX_NUMBER_CHARS = 24

Choices = Callable[[], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Field:
    """One input. ``key`` is the item's JSON key (``names.en`` reaches into ``names``).

    Kinds: ``text``, ``int``, ``times`` (basis points shown as a multiple: 15000 is 1.5),
    ``percent`` (basis points shown as a percentage: 9500 is 95), ``yuan`` (fen shown as
    yuan), ``choice``, ``multi`` (several of ``choices``), ``flag``, ``date``, ``words``
    (comma-separated names), ``numbers`` (comma-separated whole numbers).
    """

    key: str
    label: str
    kind: str = "text"
    choices: Choices | None = None
    #: Left empty, the key is left out of the document (the import's default applies).
    optional: bool = False
    hint: str = ""
    max_len: int = 80


@dataclass(frozen=True)
class Section:
    slug: str
    #: Where the section sits in the document: ("earning", "stores").
    path: tuple[str, ...]
    title: str
    help: str
    fields: tuple[Field, ...] = ()
    #: A list of items (a table with a row per item) rather than one object.
    many: bool = False
    #: Whose rows a person adds: how the "new row" reads (a level, a plan…).
    item: str = ""


class FormError(ValueError):
    """A value that is not what its input asks for (a number, an amount, a date)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def _weekdays() -> list[tuple[str, str]]:
    names = [
        gettext("Mon"),
        gettext("Tue"),
        gettext("Wed"),
        gettext("Thu"),
        gettext("Fri"),
        gettext("Sat"),
        gettext("Sun"),
    ]
    return [(str(n), name) for n, name in enumerate(names, start=1)]


def _labelled(values: Sequence[str], labels: dict[str, str]) -> Choices:
    return lambda: [(v, labels.get(v, v)) for v in values]


def sections(
    stores: Callable[[], Sequence[tuple[str, str]]], levels: Callable[[], Sequence[str]]
) -> list[Section]:
    """Every section of the document, in the order of the overview, in today's language.

    ``stores`` and ``levels`` give the choices of the store and level inputs (the views
    hand them the stores' and members' services, which this module does not import).
    """
    card_types = _labelled(CARD_TYPES, card_type_labels())
    level_choices: Choices = lambda: [(name, name) for name in levels()]  # noqa: E731
    dates = (
        Field("starts_on", gettext("From (date)"), "date", optional=True),
        Field("ends_on", gettext("Until (date)"), "date", optional=True),
    )
    times_hint = gettext("1 is normal, 1.5 is one and a half times")
    return [
        Section(
            "levels",
            ("levels",),
            gettext("Levels"),
            gettext(
                "Each level's name in every language, the price its members pay, how many "
                "times the usual points they earn, and the growth that reaches and keeps it."
            ),
            (
                Field(
                    "name",
                    gettext("Name (in rules and reports)"),
                    hint=gettext("Members' levels are found by it: rename in the languages"),
                    max_len=64,
                ),
                Field("names.zh-Hans", gettext("Name in Simplified Chinese"), optional=True),
                Field("names.zh-Hant", gettext("Name in Traditional Chinese"), optional=True),
                Field("names.en", gettext("Name in English"), optional=True),
                Field("rank", gettext("Rank (1 is the lowest)"), "int"),
                Field(
                    "discount_bp",
                    gettext("Price paid (%)"),
                    "percent",
                    hint=gettext("100 is full price, 95 is 5 percent off"),
                ),
                Field("points_multiplier_bp", gettext("Points (times)"), "times", hint=times_hint),
                Field("upgrade_threshold", gettext("Growth to reach it"), "int"),
                Field("keep_threshold", gettext("Growth to keep it each review"), "int"),
            ),
            many=True,
            item=gettext("New level"),
        ),
        Section(
            "earning",
            ("earning",),
            gettext("Points earned"),
            gettext(
                "Points per yuan charged, how several multipliers combine, and the "
                "categories that earn no points."
            ),
            (
                Field("points_per_yuan_bp", gettext("Points per yuan"), "times"),
                Field(
                    "multiplier_combination",
                    gettext("Several multipliers at once"),
                    "choice",
                    _labelled(
                        MULTIPLIER_COMBINATIONS,
                        {
                            "multiply": gettext("Multiply them"),
                            "max": gettext("Only the largest"),
                        },
                    ),
                ),
                Field(
                    "excluded_categories",
                    gettext("Categories that earn no points"),
                    "words",
                    hint=gettext("Separate them with commas"),
                ),
            ),
        ),
        Section(
            "store-rates",
            ("earning", "stores"),
            gettext("Earning rate per store"),
            gettext("A store where purchases earn more (or fewer) points than usual."),
            (
                Field("store", gettext("Store"), "choice", stores, max_len=32),
                Field("name", gettext("Name of the offer"), optional=True),
                Field("multiplier_bp", gettext("Points (times)"), "times", hint=times_hint),
            ),
            many=True,
            item=gettext("New store rate"),
        ),
        Section(
            "category-rates",
            ("earning", "categories"),
            gettext("Earning rate per category"),
            gettext(
                "A product or service category (美容类, 健身类, 酒水…) whose lines earn more "
                "or fewer points; the category is the one the till sends with each line."
            ),
            (
                Field("category", gettext("Category"), max_len=64),
                Field("name", gettext("Name of the offer"), optional=True),
                Field("multiplier_bp", gettext("Points (times)"), "times", hint=times_hint),
            ),
            many=True,
            item=gettext("New category rate"),
        ),
        Section(
            "categories",
            ("categories",),
            gettext("Product and service categories"),
            gettext(
                "The categories the tills send with each line (美容类, 健身类, 酒水…), with "
                "their names; once there are some, the rules may name only these."
            ),
            (
                Field("code", gettext("Category, as the till sends it"), max_len=64),
                Field(
                    "kind",
                    gettext("Kind"),
                    "choice",
                    _labelled(
                        CATEGORY_KINDS,
                        {"product": gettext("Products"), "service": gettext("Services")},
                    ),
                ),
                Field("names.zh-Hans", gettext("Name in Simplified Chinese"), optional=True),
                Field("names.zh-Hant", gettext("Name in Traditional Chinese"), optional=True),
                Field("names.en", gettext("Name in English"), optional=True),
            ),
            many=True,
            item=gettext("New category"),
        ),
        Section(
            "member-days",
            ("earning", "special_periods"),
            gettext("Member days and holidays"),
            gettext("Days that earn more points: weekdays, days of the month or a range of dates."),
            (
                Field("name", gettext("Name shown")),
                Field("multiplier_bp", gettext("Points (times)"), "times", hint=times_hint),
                Field("weekdays", gettext("Weekdays"), "multi", _weekdays),
                Field(
                    "month_days",
                    gettext("Days of the month"),
                    "numbers",
                    hint=gettext("Separate them with commas"),
                ),
                *dates,
            ),
            many=True,
            item=gettext("New member day"),
        ),
        Section(
            "birthday",
            ("earning",),
            gettext("Birthday month"),
            gettext(
                "Points in the member's birthday month, as a multiple of the usual, and a "
                "gift of points on the birthday itself."
            ),
            (
                Field(
                    "birthday_multiplier_bp",
                    gettext("Points in the birthday month (times)"),
                    "times",
                    hint=times_hint,
                ),
                Field("birthday_points", gettext("Points on the birthday"), "int"),
            ),
        ),
        Section(
            "sign-up",
            ("earning",),
            gettext("Sign-up gift and referral"),
            gettext(
                "Points for joining, and points for the member who referred a new member "
                "once that member first pays."
            ),
            (
                Field("signup_points", gettext("Points for joining"), "int"),
                Field("referral_points", gettext("Points for a referral"), "int"),
            ),
        ),
        Section(
            "recharge-plans",
            ("recharge_plans",),
            gettext("Recharge bonus plans"),
            gettext(
                "Bonus stored value for a recharge from an amount on, for some levels or "
                "card types only if you choose them; the plan giving the most wins."
            ),
            (
                Field("name", gettext("Name shown")),
                Field("min_amount_fen", gettext("From a recharge of (yuan)"), "yuan"),
                Field("bonus_fen", gettext("Bonus (yuan)"), "yuan", optional=True),
                Field(
                    "bonus_bp", gettext("Bonus (percent of the recharge)"), "percent", optional=True
                ),
                Field("repeat", gettext("For every such amount"), "flag"),
                Field("levels", gettext("Levels (none: all)"), "multi", level_choices),
                Field("card_types", gettext("Card types (none: all)"), "multi", card_types),
                *dates,
            ),
            many=True,
            item=gettext("New plan"),
        ),
        Section(
            "points-expiry",
            ("points_expiry",),
            gettext("Points expiry"),
            gettext("When earned points expire."),
            (
                Field(
                    "mode",
                    gettext("Points expire"),
                    "choice",
                    _labelled(
                        EXPIRY_MODES,
                        {
                            "never": gettext("Never"),
                            "months": gettext("After a number of months"),
                            "end_of_next_year": gettext("At the end of the next year"),
                        },
                    ),
                ),
                Field("months", gettext("Months"), "int", optional=True),
            ),
        ),
        Section(
            "discounts",
            ("discounts",),
            gettext("Discounts"),
            gettext(
                "How a level's discount and a card type's discount combine, and the "
                "categories that always pay full price."
            ),
            (
                Field(
                    "stacking",
                    gettext("Level and card discounts"),
                    "choice",
                    _labelled(
                        DISCOUNT_STACKINGS,
                        {
                            "best": gettext("The better one"),
                            "multiply": gettext("Both, multiplied"),
                        },
                    ),
                ),
                Field(
                    "excluded_categories",
                    gettext("Categories at full price"),
                    "words",
                    hint=gettext("Separate them with commas"),
                ),
            ),
        ),
        Section(
            "card-discounts",
            ("discounts", "card_types"),
            gettext("Discount per card type"),
            gettext("A card type whose holders pay less."),
            (
                Field("card_type", gettext("Card type"), "choice", card_types),
                Field(
                    "discount_bp",
                    gettext("Price paid (%)"),
                    "percent",
                    hint=gettext("100 is full price, 95 is 5 percent off"),
                ),
            ),
            many=True,
            item=gettext("New card discount"),
        ),
        Section(
            "overdraft",
            ("overdraft_limits",),
            gettext("Overdraft per card type"),
            gettext(
                "How far below zero a card's stored value may go (透支额度), for every card "
                "of the type that has no limit of its own; only stored value cards can be "
                "overdrawn. A change applies at the next checkout."
            ),
            (
                Field("card_type", gettext("Card type"), "choice", card_types),
                Field("credit_limit_fen", gettext("Overdraft limit (yuan)"), "yuan"),
            ),
            many=True,
            item=gettext("New overdraft limit"),
        ),
        Section(
            "growth",
            ("growth",),
            gettext("Growth and level review"),
            gettext("What grows a member's growth, and whether a yearly review moves them down."),
            (
                Field(
                    "source",
                    gettext("Growth comes from"),
                    "choice",
                    _labelled(
                        GROWTH_SOURCES,
                        {"spend": gettext("Money spent"), "points": gettext("Points earned")},
                    ),
                ),
                Field("rate_bp", gettext("Growth per yuan or point"), "times"),
                Field("downgrade_enabled", gettext("Review levels and move members down"), "flag"),
                Field("review_months", gettext("Months the review looks back"), "int"),
            ),
        ),
        Section(
            "points-as-cash",
            ("redemption",),
            gettext("Points as cash"),
            gettext("How many points pay one yuan, and how much of a bill points may pay."),
            (
                Field("offset_points_per_yuan", gettext("Points for one yuan"), "int"),
                Field("max_offset_bp", gettext("Most of a bill paid with points (%)"), "percent"),
            ),
        ),
        Section(
            "gifts",
            ("redemption", "gifts"),
            gettext("Gifts"),
            gettext(
                "Gifts members take for points, with their stock; a gift left out is "
                "switched off, not deleted."
            ),
            (
                Field("code", gettext("Code"), max_len=32),
                Field("name", gettext("Name shown"), max_len=120),
                Field("points_cost", gettext("Points"), "int"),
                Field("stock", gettext("Stock (empty: unlimited)"), "int", optional=True),
                Field("active", gettext("Offered"), "flag"),
            ),
            many=True,
            item=gettext("New gift"),
        ),
        Section(
            "coupons",
            ("redemption", "coupon_types"),
            gettext("Coupons and vouchers"),
            gettext(
                "A coupon takes a percentage off, a voucher an amount; either may cost points."
            ),
            (
                Field("code", gettext("Code"), max_len=32),
                Field("name", gettext("Name shown"), max_len=120),
                Field(
                    "kind",
                    gettext("Kind"),
                    "choice",
                    _labelled(
                        COUPON_KINDS,
                        {
                            "coupon": gettext("Coupon (percentage off)"),
                            "voucher": gettext("Voucher"),
                        },
                    ),
                ),
                Field("value_fen", gettext("Voucher value (yuan)"), "yuan", optional=True),
                Field("discount_bp", gettext("Coupon: price paid (%)"), "percent", optional=True),
                Field("min_spend_fen", gettext("Minimum spend (yuan)"), "yuan", optional=True),
                Field("valid_days", gettext("Valid for (days)"), "int"),
                Field("points_cost", gettext("Points"), "int", optional=True),
                Field("active", gettext("Offered"), "flag"),
            ),
            many=True,
            item=gettext("New coupon"),
        ),
    ]


# --- the document ---------------------------------------------------------------------


def section_value(document: dict[str, Any], section: Section) -> Any:
    value: Any = document
    for key in section.path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return [] if section.many else {}
    return value


def with_section(document: dict[str, Any], section: Section, value: Any) -> dict[str, Any]:
    """The document with the section replaced (an object section's own fields only)."""
    parent = document
    for key in section.path[:-1]:
        parent = parent.setdefault(key, {})
    last = section.path[-1]
    if section.many or not section.fields:
        parent[last] = value
    else:
        merged = dict(parent.get(last) or {})
        for f in section.fields:
            merged.pop(f.key, None)
        merged.update(value)
        parent[last] = merged
    return document


def _get(item: dict[str, Any], key: str) -> Any:
    head, _, rest = key.partition(".")
    value = item.get(head)
    if rest:
        return value.get(rest) if isinstance(value, dict) else None
    return value


def _put(item: dict[str, Any], key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if rest:
        item.setdefault(head, {})[rest] = value
    else:
        item[head] = value


# --- showing: JSON values as the inputs' text -------------------------------------------


def shown(f: Field, value: Any) -> Any:
    """A value of the document as its input shows it (a list for ``multi``, a bool for flags)."""
    if f.kind == "flag":
        return bool(value)
    if f.kind == "multi":
        return [str(v) for v in value or []]
    if value is None:
        return ""
    if f.kind == "times":
        return _decimal_text(Decimal(value) / 10000)
    if f.kind == "percent":
        return _decimal_text(Decimal(value) / 100)
    if f.kind == "yuan":
        return yuan(value)
    if f.kind in ("words", "numbers"):
        return ", ".join(str(v) for v in value)
    return str(value)


def _decimal_text(value: Decimal) -> str:
    """``Decimal("1.50")`` as ``1.5`` and ``Decimal("1E+2")`` as ``100``."""
    return format(value.normalize(), "f")


def rows_shown(section: Section, value: Any) -> list[dict[str, Any]]:
    items = value if section.many else [value]
    return [
        {f.key: shown(f, _get(item, f.key)) for f in section.fields}
        for item in items
        if isinstance(item, dict)
    ]


# --- reading: the posted form as JSON values --------------------------------------------

_WHOLE = re.compile(r"[+-]?\d{1,15}")
_DECIMAL = re.compile(r"[+-]?\d{1,15}(?:\.\d{1,8})?")
#: Between names in a list: commas (either width), the enumeration comma, semicolons.
_LIST_SPLIT = re.compile(r"[,，、;；]+")


def _scaled(name: str, text: str, scale: int, message: str) -> int:
    text = text.strip()
    if len(text) > MAX_NUMBER_CHARS or not _DECIMAL.fullmatch(text):
        raise FormError(name, message)
    try:
        value = Decimal(text) * scale
    except InvalidOperation:
        raise FormError(name, message) from None
    if value != value.to_integral_value():
        raise FormError(name, gettext("That has too many decimal places."))
    return int(value)


def read_value(f: Field, name: str, form: MultiDict[str, str]) -> Any:
    """The input ``name`` as the JSON value of ``f``; ``None`` when left empty."""
    if f.kind == "flag":
        return form.get(name) == "on"
    if f.kind == "multi":
        values = form.getlist(name)[:MAX_ROWS]
        return [int(v) if v.isdigit() and f.key == "weekdays" else v for v in values]
    text = form.get(name, "").strip()
    if not text:
        return None
    if f.kind == "int":
        if len(text) > MAX_NUMBER_CHARS or not _WHOLE.fullmatch(text):
            raise FormError(name, gettext("Enter a whole number."))
        return int(text)
    if f.kind == "times":
        return _scaled(name, text, 10000, gettext("Enter a number such as 1 or 1.5."))
    if f.kind == "percent":
        return _scaled(name, text, 100, gettext("Enter a percentage such as 95."))
    if f.kind == "yuan":
        try:
            return parse_yuan(text)
        except ValueError:
            raise FormError(
                name, gettext("Enter an amount in yuan, such as 500 or 99.50.")
            ) from None
    words = [w.strip() for w in _LIST_SPLIT.split(text) if w.strip()][:MAX_ROWS]
    if f.kind == "words":
        return words
    if f.kind == "numbers":
        if not all(len(w) <= MAX_NUMBER_CHARS and _WHOLE.fullmatch(w) for w in words):
            raise FormError(name, gettext("Enter whole numbers separated by commas."))
        return [int(w) for w in words]
    return text


@dataclass
class Posted:
    """The section read from the form, and which form row each item of it came from."""

    value: Any
    rows: list[int] = field(default_factory=list)


def read_form(section: Section, form: MultiDict[str, str]) -> Posted:
    """The section's JSON from the posted form. Raises ``FormError`` naming the input.

    A list section posts ``rows`` and, per row ``n``, inputs ``n.<key>``; a row marked
    ``n.remove`` is left out, and so is a new row (``n.new``) left blank.
    """
    if not section.many:
        item: dict[str, Any] = {}
        for f in section.fields:
            value = read_value(f, f.key, form)
            if value is not None or not f.optional:
                _put(item, f.key, value)
        return Posted(_without_none(item, section), [0])
    # A form without its row count would read as no rows and delete the section.
    count_text = form.get("rows", "")
    if not count_text.isascii() or not count_text.isdigit() or int(count_text) > MAX_ROWS:
        raise FormError("rows", gettext("This form is incomplete: reload the page and try again."))
    items: list[dict[str, Any]] = []
    rows: list[int] = []
    for n in range(int(count_text)):
        if form.get(f"{n}.remove") == "on":
            continue
        typed = [
            form.get(f"{n}.{f.key}", "").strip()
            for f in section.fields
            if f.kind not in ("flag", "multi")
        ]
        if form.get(f"{n}.new") == "1" and not any(typed):
            continue
        item = {}
        for f in section.fields:
            value = read_value(f, f"{n}.{f.key}", form)
            if value is not None or not f.optional:
                _put(item, f.key, value)
        items.append(_without_none(item, section))
        rows.append(n)
    return Posted(items, rows)


def _without_none(item: dict[str, Any], section: Section) -> dict[str, Any]:
    """A required input left empty is left out, so the import says it is required."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
        if value is not None:
            out[key] = value
    return out


# --- refusals: the import's field path back to an input ---------------------------------

_INDEX = re.compile(r"\[(\d+)\](?:\.(.+))?")


def input_for(section: Section, posted: Posted, path: str) -> str | None:
    """The form input a refusal's field path points at (``levels[1].name`` -> ``3.name``)."""
    prefix = ".".join(section.path)
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :]
    if not section.many:
        key = rest.lstrip(".")
        return key if any(f.key == key for f in section.fields) else None
    match = _INDEX.match(rest)
    if match is None:
        return None
    index = int(match.group(1))
    if index >= len(posted.rows):
        return None
    row = posted.rows[index]
    key = match.group(2) or ""
    key = _INDEX.sub("", key)  # weekdays[0] is the weekdays input
    if any(f.key == key for f in section.fields):
        return f"{row}.{key}"
    return f"{row}."


def refusal_text(message: str, path: str, kind: str = "") -> str:
    """The import's refusal in the staff member's language where its form is known.

    The import speaks English (the CLI and the API read it); the common refusals are
    translated here, and any other is shown as the import wrote it. ``kind`` is the
    input's: a range of fen is shown in yuan, as the input takes it.
    """
    why = message[len(path) :].strip() if path and message.startswith(path) else message

    def amount(text: str) -> str:
        return yuan(int(text)) if kind == "yuan" else text

    patterns: list[tuple[str, Callable[[re.Match[str]], str]]] = [
        (r"is required", lambda m: gettext("is required")),
        (r"must be a whole number", lambda m: gettext("must be a whole number")),
        (
            r"must be from (-?\d+) to (\d+)",
            lambda m: gettext(
                "must be from %(low)s to %(high)s", low=amount(m[1]), high=amount(m[2])
            ),
        ),
        (
            r"must be text of 1 to (\d+) characters",
            lambda m: gettext("must be text of 1 to %(n)s characters", n=m[1]),
        ),
        (r"must be a date YYYY-MM-DD", lambda m: gettext("must be a date (YYYY-MM-DD)")),
        (r"must be one of (.+)", lambda m: gettext("must be one of %(values)s", values=m[1])),
        (r"repeats (.+)", lambda m: gettext("repeats %(value)s", value=m[1])),
        (r"is before starts_on", lambda m: gettext("ends before it starts")),
        (r"is not a known field", lambda m: gettext("is not a known field")),
        (
            r"names no category \((.+)\): add it to categories first",
            lambda m: gettext(
                "names no category %(name)s: add it to the categories first", name=m[1]
            ),
        ),
        (r"is held by level (.+)", lambda m: gettext("is held by level %(name)s", name=m[1])),
        (
            r"needs bonus_fen or bonus_bp",
            lambda m: gettext("needs a bonus in yuan or in percent"),
        ),
        (
            r"applies to a fixed bonus_fen only",
            lambda m: gettext("applies only to a bonus in yuan"),
        ),
        (
            r"needs weekdays, month_days or a date range",
            lambda m: gettext("needs weekdays, days of the month or dates"),
        ),
        (r"is required for a voucher", lambda m: gettext("is required for a voucher")),
        (
            r"must be 0: only stored_value overdraws",
            lambda m: gettext("must be 0: only a stored value card can be overdrawn"),
        ),
        (
            r"is required for a coupon \(below 10000\)",
            lambda m: gettext("is required for a coupon (below 100)"),
        ),
        (
            r"is required when mode is months",
            lambda m: gettext("is required when points expire after months"),
        ),
    ]
    for pattern, text in patterns:
        match = re.fullmatch(pattern, why)
        if match:
            return text(match)
    return why
