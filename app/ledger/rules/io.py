"""The rules as one JSON document: ``laoyou rules import FILE`` and ``laoyou rules export``.

The document (see ``docs/rules.example.json``) has the sections ``earning``,
``discounts``, ``overdraft_limits``, ``levels``, ``growth``, ``recharge_plans``,
``points_expiry``, ``redemption`` and ``categories``, and the parts other packages
register (``quiet_hours``: see ``RulesPart``). Importing it replaces the rules: a section
or field left out takes its default (no multipliers, no plans, no overdraft, points never
expire, the service's quiet hours). Levels,
gifts and coupon types are matched by name / code and updated in place; gifts
and coupon types missing from the document are deactivated (redemptions and
coupons refer to them), levels missing from it are left as they are (members
hold them). The whole document is checked before anything is written; an
error names the field (``earning.stores[0].multiplier_bp``) and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, select, update

from app.audit.services import record
from app.cards.models import CARD_TYPES
from app.db import db
from app.errors import InvalidRequest
from app.ledger.redemption.models import COUPON_KINDS, CouponType, Gift
from app.ledger.rules.models import (
    CATEGORY_KINDS,
    CATEGORY_NAME_COLUMNS,
    DISCOUNT_STACKINGS,
    EXPIRY_MODES,
    GROWTH_SOURCES,
    MULTIPLIER_COMBINATIONS,
    CardDiscount,
    Category,
    EarningRule,
    LevelRule,
    OverdraftLimit,
    ProgramRules,
    RechargePlan,
)
from app.limits import MAX_CREDIT_LIMIT_FEN, MAX_ID
from app.members.models import LEVEL_NAME_COLUMNS, Level
from app.stores.models import Store

_MISSING: Any = object()
MAX_BP = 1_000_000  # 100x: anything larger is a typo


@dataclass(frozen=True)
class RulesPart:
    """A part of the rules document that another package owns (the quiet hours:
    ``app.messaging``), registered by that package's ``init_app`` with ``register_part``.

    The import checks it with the rest of the document and writes it through the owner's
    own service; the ledger never touches the owner's rows, nor imports the owner.
    """

    #: The part as the document writes it; None leaves it out of the export.
    export: Callable[[], Any]
    #: (value, path) -> the checked value; raises ``InvalidRequest`` naming the field.
    check: Callable[[Any, str], Any]
    #: Writes a checked value (flushes; not audited: ``replace_rules`` audits the document).
    apply: Callable[[Any], None]
    #: The document leaves the part out: back to the owner's default.
    reset: Callable[[], None]


def register_part(app: Flask, name: str, part: RulesPart) -> None:
    app.extensions.setdefault("laoyou.rules_parts", {})[name] = part


def _parts() -> dict[str, RulesPart]:
    parts: dict[str, RulesPart] = current_app.extensions.get("laoyou.rules_parts", {})
    return parts


class _Reader:
    """Reads one JSON object field by field; every complaint names the field's path."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _bad(path or "document", "must be an object")
        self.value, self.path, self.seen = value, path, set[str]()

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.value.get(key, _MISSING)

    def integer(
        self, key: str, default: Any = _MISSING, *, low: int = 0, high: int | None = None
    ) -> Any:
        raw = self.get(key)
        if raw is _MISSING or (raw is None and default is None):
            if default is _MISSING:
                raise _bad(self._where(key), "is required")
            return default
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _bad(self._where(key), "must be a whole number")
        # No field has a use for more than a 32-bit integer; the columns of some hold no more.
        high = MAX_ID if high is None else high
        if raw < low or raw > high:
            raise _bad(self._where(key), f"must be from {low} to {high}")
        return raw

    def bp(self, key: str, default: Any = _MISSING, *, low: int = 0, high: int = MAX_BP) -> Any:
        return self.integer(key, default, low=low, high=high)

    def text(self, key: str, default: Any = _MISSING, *, max_len: int = 80) -> Any:
        raw = self.get(key)
        if raw is _MISSING or (raw is None and default is None):
            if default is _MISSING:
                raise _bad(self._where(key), "is required")
            return default
        if not isinstance(raw, str) or not raw.strip() or len(raw) > max_len:
            raise _bad(self._where(key), f"must be text of 1 to {max_len} characters")
        return raw.strip()

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        raw = self.get(key)
        if raw is _MISSING:
            return default
        if raw not in choices:
            raise _bad(self._where(key), f"must be one of {', '.join(choices)}")
        return str(raw)

    def flag(self, key: str, default: bool) -> bool:
        raw = self.get(key)
        if raw is _MISSING:
            return default
        if not isinstance(raw, bool):
            raise _bad(self._where(key), "must be true or false")
        return raw

    def date(self, key: str) -> dt.date | None:
        raw = self.get(key)
        if raw is _MISSING or raw is None:
            return None
        try:
            return dt.date.fromisoformat(raw) if isinstance(raw, str) else _raise()
        except ValueError:
            raise _bad(self._where(key), "must be a date YYYY-MM-DD") from None

    def words(self, key: str, allowed: tuple[str, ...] | None = None) -> list[str]:
        raw = self.get(key)
        if raw is _MISSING or raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
            raise _bad(self._where(key), "must be a list of names")
        if allowed is not None:
            for n, word in enumerate(raw):
                if word not in allowed:
                    raise _bad(f"{self._where(key)}[{n}]", f"must be one of {', '.join(allowed)}")
        return sorted({w.strip() for w in raw})

    def numbers(self, key: str, low: int, high: int) -> list[int]:
        raw = self.get(key)
        if raw is _MISSING or raw is None:
            return []
        if not isinstance(raw, list):
            raise _bad(self._where(key), "must be a list of numbers")
        for n, v in enumerate(raw):
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise _bad(f"{self._where(key)}[{n}]", f"must be a number from {low} to {high}")
        return sorted(set(raw))

    def items(self, key: str) -> list[_Reader]:
        raw = self.get(key)
        if raw is _MISSING or raw is None:
            return []
        if not isinstance(raw, list):
            raise _bad(self._where(key), "must be a list")
        return [_Reader(item, f"{self._where(key)}[{n}]") for n, item in enumerate(raw)]

    def section(self, key: str) -> _Reader:
        raw = self.get(key)
        return _Reader({} if raw is _MISSING or raw is None else raw, self._where(key))

    def done(self) -> None:
        unknown = sorted(set(self.value) - self.seen)
        if unknown:
            raise _bad(self._where(unknown[0]), "is not a known field")


def _raise() -> Any:
    raise ValueError


def _bad(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{path} {message}", field=path)


def _unique(rows: list[dict[str, Any]], key: str, path: str) -> None:
    seen: set[Any] = set()
    for n, row in enumerate(rows):
        if row[key] in seen:
            raise _bad(f"{path}[{n}].{key}", f"repeats {row[key]!r}")
        seen.add(row[key])


def _dated(item: _Reader, row: dict[str, Any]) -> dict[str, Any]:
    row["starts_on"], row["ends_on"] = item.date("starts_on"), item.date("ends_on")
    if row["starts_on"] and row["ends_on"] and row["ends_on"] < row["starts_on"]:
        raise _bad(f"{item.path}.ends_on", "is before starts_on")
    return row


# --- reading -------------------------------------------------------------------------


def parse_rules(document: Any) -> dict[str, Any]:
    """Check a rules document; return it normalised. Raises InvalidRequest naming the field."""
    doc = _Reader(document, "")
    if doc.get("version") not in (_MISSING, 1):
        raise _bad("version", "must be 1 (the only version of this document)")
    program: dict[str, Any] = {}
    out: dict[str, Any] = {"program": program}

    earning = doc.section("earning")
    program["points_per_yuan_bp"] = earning.bp("points_per_yuan_bp", 10000)
    program["multiplier_combination"] = earning.choice(
        "multiplier_combination", MULTIPLIER_COMBINATIONS, "multiply"
    )
    program["birthday_multiplier_bp"] = earning.bp("birthday_multiplier_bp", 10000)
    program["points_excluded_categories"] = earning.words("excluded_categories")
    program["signup_points"] = earning.integer("signup_points", 0)
    program["birthday_points"] = earning.integer("birthday_points", 0)
    program["referral_points"] = earning.integer("referral_points", 0)
    rules: list[dict[str, Any]] = []
    stores: list[dict[str, Any]] = []
    categories: list[dict[str, Any]] = []
    periods: list[dict[str, Any]] = []
    for item in earning.items("stores"):
        code = item.text("store", max_len=32)
        stores.append(
            {
                "kind": "store",
                "store_code": code,
                "name": item.text("name", None) or code,
                "multiplier_bp": item.bp("multiplier_bp"),
            }
        )
        item.done()
    _unique(stores, "store_code", "earning.stores")
    for item in earning.items("categories"):
        category = item.text("category", max_len=64)
        categories.append(
            {
                "kind": "category",
                "category": category,
                "name": item.text("name", None) or category,
                "multiplier_bp": item.bp("multiplier_bp"),
            }
        )
        item.done()
    _unique(categories, "category", "earning.categories")
    for item in earning.items("special_periods"):
        row = _dated(
            item,
            {
                "kind": "period",
                "name": item.text("name"),
                "multiplier_bp": item.bp("multiplier_bp"),
                "weekdays": item.numbers("weekdays", 1, 7),
                "month_days": item.numbers("month_days", 1, 31),
            },
        )
        if not (row["weekdays"] or row["month_days"] or row["starts_on"] or row["ends_on"]):
            raise _bad(item.path, "needs weekdays, month_days or a date range")
        periods.append(row)
        item.done()
    rules.extend(stores + categories + periods)
    earning.done()
    out["earning_rules"] = rules

    discounts = doc.section("discounts")
    program["discount_stacking"] = discounts.choice("stacking", DISCOUNT_STACKINGS, "best")
    program["discount_excluded_categories"] = discounts.words("excluded_categories")
    card_discounts = []
    for item in discounts.items("card_types"):
        card_discounts.append(
            {
                "card_type": item.choice("card_type", CARD_TYPES, ""),
                "discount_bp": item.bp("discount_bp", low=1, high=10000),
            }
        )
        if not card_discounts[-1]["card_type"]:
            raise _bad(f"{item.path}.card_type", "is required")
        item.done()
    _unique(card_discounts, "card_type", "discounts.card_types")
    discounts.done()
    out["card_discounts"] = card_discounts

    overdraft = []
    for item in doc.items("overdraft_limits"):
        row = {
            "card_type": item.choice("card_type", CARD_TYPES, ""),
            "credit_limit_fen": item.integer("credit_limit_fen", high=MAX_CREDIT_LIMIT_FEN),
        }
        if not row["card_type"]:
            raise _bad(f"{item.path}.card_type", "is required")
        if row["card_type"] != "stored_value" and row["credit_limit_fen"]:
            raise _bad(f"{item.path}.credit_limit_fen", "must be 0: only stored_value overdraws")
        overdraft.append(row)
        item.done()
    _unique(overdraft, "card_type", "overdraft_limits")
    out["overdraft_limits"] = overdraft

    levels = []
    for item in doc.items("levels"):
        levels.append(
            {
                "name": item.text("name", max_len=64),
                "rank": item.integer("rank", low=1),
                "discount_bp": item.bp("discount_bp", 10000, low=1, high=10000),
                "points_multiplier_bp": item.bp("points_multiplier_bp", 10000),
                "upgrade_threshold": item.integer("upgrade_threshold", 0),
                "keep_threshold": item.integer("keep_threshold", 0),
                **_level_names(item.section("names")),
            }
        )
        item.done()
    _unique(levels, "name", "levels")
    _unique(levels, "rank", "levels")
    out["levels"] = levels

    growth = doc.section("growth")
    program["growth_source"] = growth.choice("source", GROWTH_SOURCES, "spend")
    program["growth_rate_bp"] = growth.bp("rate_bp", 10000)
    program["downgrade_enabled"] = growth.flag("downgrade_enabled", False)
    program["review_months"] = growth.integer("review_months", 12, low=1, high=120)
    growth.done()

    level_names = {lv["name"] for lv in levels} | set(db.session.scalars(select(Level.name)))
    plans = []
    for item in doc.items("recharge_plans"):
        row = _dated(
            item,
            {
                "name": item.text("name"),
                "min_amount_fen": item.integer("min_amount_fen", low=1),
                "bonus_fen": item.integer("bonus_fen", 0),
                "bonus_bp": item.bp("bonus_bp", 0, high=10000),
                "repeat": item.flag("repeat", False),
                "levels": item.words("levels", tuple(sorted(level_names))),
                "card_types": item.words("card_types", CARD_TYPES),
            },
        )
        if not (row["bonus_fen"] or row["bonus_bp"]):
            raise _bad(item.path, "needs bonus_fen or bonus_bp")
        if row["repeat"] and not row["bonus_fen"]:
            raise _bad(f"{item.path}.repeat", "applies to a fixed bonus_fen only")
        plans.append(row)
        item.done()
    _unique(plans, "name", "recharge_plans")
    out["recharge_plans"] = plans

    expiry = doc.section("points_expiry")
    program["expiry_mode"] = expiry.choice("mode", EXPIRY_MODES, "never")
    months = expiry.integer("months", None, low=1, high=600)
    if program["expiry_mode"] == "months" and months is None:
        raise _bad("points_expiry.months", "is required when mode is months")
    program["expiry_months"] = months if program["expiry_mode"] == "months" else None
    expiry.done()

    redemption = doc.section("redemption")
    program["offset_points_per_yuan"] = redemption.integer("offset_points_per_yuan", 100, low=1)
    program["max_offset_bp"] = redemption.bp("max_offset_bp", 10000, high=10000)
    gifts = []
    for item in redemption.items("gifts"):
        gifts.append(
            {
                "code": item.text("code", max_len=32),
                "name": item.text("name", max_len=120),
                "points_cost": item.integer("points_cost", low=1),
                "stock": item.integer("stock", None),
                "active": item.flag("active", True),
            }
        )
        item.done()
    _unique(gifts, "code", "redemption.gifts")
    coupon_types = []
    for item in redemption.items("coupon_types"):
        row = {
            "code": item.text("code", max_len=32),
            "name": item.text("name", max_len=120),
            "kind": item.choice("kind", COUPON_KINDS, ""),
            "value_fen": item.integer("value_fen", 0),
            "discount_bp": item.bp("discount_bp", 10000, low=1, high=10000),
            "min_spend_fen": item.integer("min_spend_fen", 0),
            "valid_days": item.integer("valid_days", 30, low=1),
            "points_cost": item.integer("points_cost", 0),
            "active": item.flag("active", True),
        }
        if not row["kind"]:
            raise _bad(f"{item.path}.kind", "is required")
        if row["kind"] == "voucher" and not row["value_fen"]:
            raise _bad(f"{item.path}.value_fen", "is required for a voucher")
        if row["kind"] == "coupon" and row["discount_bp"] == 10000:
            raise _bad(f"{item.path}.discount_bp", "is required for a coupon (below 10000)")
        coupon_types.append(row)
        item.done()
    _unique(coupon_types, "code", "redemption.coupon_types")
    redemption.done()
    out["gifts"], out["coupon_types"] = gifts, coupon_types

    product_categories = []
    for item in doc.items("categories"):
        product_categories.append(
            {
                "code": item.text("code", max_len=64),
                "kind": item.choice("kind", CATEGORY_KINDS, "product"),
                **_names(item.section("names"), CATEGORY_NAME_COLUMNS),
            }
        )
        item.done()
    _unique(product_categories, "code", "categories")
    out["categories"] = product_categories
    out["parts"] = {}
    for name, part in _parts().items():
        raw = doc.get(name)
        if raw is not _MISSING and raw is not None:
            out["parts"][name] = part.check(raw, name)
    doc.done()
    if product_categories:
        _check_categories({c["code"] for c in product_categories}, categories, program)

    known = set(db.session.scalars(select(Store.code)))
    for n, row in enumerate(stores):
        if row["store_code"] not in known:
            raise _bad(
                f"earning.stores[{n}].store",
                f"names no store ({row['store_code']!r}): create the store first "
                "(laoyou store create) or leave this rule out",
            )
    _check_ranks(levels)
    return out


def _check_categories(
    codes: set[str], rules: list[dict[str, Any]], program: dict[str, Any]
) -> None:
    """With a list of categories, the rules may name only those (a typo would never apply)."""

    def unknown(path: str, name: str) -> InvalidRequest:
        return _bad(path, f"names no category ({name!r}): add it to categories first")

    for n, row in enumerate(rules):
        if row["category"] not in codes:
            raise unknown(f"earning.categories[{n}].category", row["category"])
    for path, key in (
        ("earning.excluded_categories", "points_excluded_categories"),
        ("discounts.excluded_categories", "discount_excluded_categories"),
    ):
        for name in program[key]:
            if name not in codes:
                raise unknown(path, name)


def _check_ranks(levels: list[dict[str, Any]]) -> None:
    named = {lv["name"] for lv in levels}
    taken = {
        rank: name
        for name, rank in db.session.execute(select(Level.name, Level.rank))
        if name not in named
    }
    for n, lv in enumerate(levels):
        if lv["rank"] in taken:
            raise _bad(f"levels[{n}].rank", f"is held by level {taken[lv['rank']]!r}")


# --- writing -------------------------------------------------------------------------


def import_rules(document: Any) -> dict[str, int]:
    """Check and store a rules document (flushes; the caller commits). Returns counts."""
    parsed = parse_rules(document)
    session = db.session
    program = session.get(ProgramRules, 1)
    if program is None:
        program = ProgramRules(id=1)
        session.add(program)
    for name, value in parsed["program"].items():
        setattr(program, name, value)
    program.revision = uuid.uuid4().hex

    session.execute(delete(EarningRule))
    session.execute(delete(CardDiscount))
    session.execute(delete(RechargePlan))
    session.execute(delete(OverdraftLimit))
    session.add_all(EarningRule(**row) for row in parsed["earning_rules"])
    session.add_all(CardDiscount(**row) for row in parsed["card_discounts"])
    session.add_all(OverdraftLimit(**row) for row in parsed["overdraft_limits"])
    session.add_all(RechargePlan(**row) for row in parsed["recharge_plans"])
    _import_levels(parsed["levels"])
    _upsert(Gift, parsed["gifts"])
    _upsert(CouponType, parsed["coupon_types"])
    session.execute(delete(Category))
    session.add_all(Category(**row) for row in parsed["categories"])
    for name, part in _parts().items():
        if name in parsed["parts"]:
            part.apply(parsed["parts"][name])
        else:
            part.reset()
    session.flush()
    return {
        "earning_rules": len(parsed["earning_rules"]),
        "card_discounts": len(parsed["card_discounts"]),
        "overdraft_limits": len(parsed["overdraft_limits"]),
        "recharge_plans": len(parsed["recharge_plans"]),
        "levels": len(parsed["levels"]),
        "gifts": len(parsed["gifts"]),
        "coupon_types": len(parsed["coupon_types"]),
        "categories": len(parsed["categories"]),
    }


def rules_revision() -> str | None:
    """The revision of the rules in force (None before the first import): a form that was
    opened on another revision would overwrite a change made since."""
    program = db.session.get(ProgramRules, 1)
    return program.revision if program is not None else None


def replace_rules(
    document: Any, *, action: str = "rules.import", object_id: str = "document"
) -> dict[str, int]:
    """``import_rules``, audited: the parts of the export that changed, before and after.

    Every way of changing the rules (``laoyou rules import``, the panel's forms and
    section editors) comes through here, so each change is in the audit log once.
    """
    before = export_rules()
    counts = import_rules(document)
    after = export_rules()
    old, new = _changes(before, after)
    record(action, "rules", object_id, before=old, after=new)
    return counts


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The sections that differ, and inside an object section only the fields that differ."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            fields = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            old[key] = {k: a.get(k) for k in fields}
            new[key] = {k: b.get(k) for k in fields}
        else:
            old[key], new[key] = a, b
    return old, new


def _level_names(names: _Reader) -> dict[str, str | None]:
    """A level's optional ``names`` per language: a language left out reads the one name."""
    return _names(names, LEVEL_NAME_COLUMNS)


def _names(names: _Reader, columns: dict[str, str]) -> dict[str, str | None]:
    out = {column: names.text(tag, None, max_len=64) for tag, column in columns.items()}
    names.done()
    return out


def _import_levels(levels: list[dict[str, Any]]) -> None:
    session = db.session
    existing = {lv.name: lv for lv in session.scalars(select(Level))}
    # Park the ranks out of the way first: swapping two ranks must not trip UNIQUE(rank).
    for lv in levels:
        if lv["name"] in existing:
            existing[lv["name"]].rank = -existing[lv["name"]].id
    session.flush()
    for lv in levels:
        fields = {k: v for k, v in lv.items() if k != "keep_threshold"}
        level = existing.get(lv["name"])
        if level is None:
            level = Level(**fields)
            session.add(level)
        else:
            for key, value in fields.items():
                setattr(level, key, value)
        session.flush()
        rule = session.get(LevelRule, level.id) or LevelRule(level_id=level.id)
        rule.keep_threshold = lv["keep_threshold"]
        session.add(rule)


def _upsert(model: Any, rows: list[dict[str, Any]]) -> None:
    session = db.session
    existing = {obj.code: obj for obj in session.scalars(select(model))}
    for row in rows:
        obj = existing.get(row["code"]) or model(code=row["code"])
        for key, value in row.items():
            setattr(obj, key, value)
        session.add(obj)
    listed = [row["code"] for row in rows]
    session.execute(
        update(model).where(model.code.not_in(listed)).values(active=False),
        execution_options={"synchronize_session": "fetch"},
    )


def export_rules() -> dict[str, Any]:
    """The rules in force as a document ``import_rules`` takes back unchanged."""
    session = db.session
    p = session.get(ProgramRules, 1) or ProgramRules(
        points_per_yuan_bp=10000,
        multiplier_combination="multiply",
        birthday_multiplier_bp=10000,
        points_excluded_categories=[],
        signup_points=0,
        birthday_points=0,
        referral_points=0,
        discount_stacking="best",
        discount_excluded_categories=[],
        offset_points_per_yuan=100,
        max_offset_bp=10000,
        expiry_mode="never",
        growth_source="spend",
        growth_rate_bp=10000,
        downgrade_enabled=False,
        review_months=12,
    )
    rules = list(session.scalars(select(EarningRule).order_by(EarningRule.id)))
    keep = {r.level_id: r.keep_threshold for r in session.scalars(select(LevelRule))}
    expiry: dict[str, Any] = {"mode": p.expiry_mode}
    if p.expiry_mode == "months":
        expiry["months"] = p.expiry_months
    document = {
        "version": 1,
        "earning": {
            "points_per_yuan_bp": p.points_per_yuan_bp,
            "multiplier_combination": p.multiplier_combination,
            "birthday_multiplier_bp": p.birthday_multiplier_bp,
            "excluded_categories": list(p.points_excluded_categories),
            "signup_points": p.signup_points,
            "birthday_points": p.birthday_points,
            "referral_points": p.referral_points,
            "stores": [
                {"store": r.store_code, "name": r.name, "multiplier_bp": r.multiplier_bp}
                for r in rules
                if r.kind == "store"
            ],
            "categories": [
                {"category": r.category, "name": r.name, "multiplier_bp": r.multiplier_bp}
                for r in rules
                if r.kind == "category"
            ],
            "special_periods": [
                _undated(
                    {
                        "name": r.name,
                        "multiplier_bp": r.multiplier_bp,
                        "weekdays": list(r.weekdays),
                        "month_days": list(r.month_days),
                    },
                    r,
                )
                for r in rules
                if r.kind == "period"
            ],
        },
        "discounts": {
            "stacking": p.discount_stacking,
            "excluded_categories": list(p.discount_excluded_categories),
            "card_types": [
                {"card_type": d.card_type, "discount_bp": d.discount_bp}
                for d in session.scalars(select(CardDiscount).order_by(CardDiscount.card_type))
            ],
        },
        "overdraft_limits": [
            {"card_type": o.card_type, "credit_limit_fen": o.credit_limit_fen}
            for o in session.scalars(select(OverdraftLimit).order_by(OverdraftLimit.card_type))
        ],
        "levels": [
            {
                "name": lv.name,
                "rank": lv.rank,
                "discount_bp": lv.discount_bp,
                "points_multiplier_bp": lv.points_multiplier_bp,
                "upgrade_threshold": lv.upgrade_threshold,
                "keep_threshold": keep.get(lv.id, 0),
                "names": {
                    tag: getattr(lv, column)
                    for tag, column in LEVEL_NAME_COLUMNS.items()
                    if getattr(lv, column)
                },
            }
            for lv in session.scalars(select(Level).order_by(Level.rank))
        ],
        "growth": {
            "source": p.growth_source,
            "rate_bp": p.growth_rate_bp,
            "downgrade_enabled": p.downgrade_enabled,
            "review_months": p.review_months,
        },
        "recharge_plans": [
            _undated(
                {
                    "name": r.name,
                    "min_amount_fen": r.min_amount_fen,
                    "bonus_fen": r.bonus_fen,
                    "bonus_bp": r.bonus_bp,
                    "repeat": r.repeat,
                    "levels": list(r.levels),
                    "card_types": list(r.card_types),
                },
                r,
            )
            for r in session.scalars(select(RechargePlan).order_by(RechargePlan.id))
        ],
        "points_expiry": expiry,
        "redemption": {
            "offset_points_per_yuan": p.offset_points_per_yuan,
            "max_offset_bp": p.max_offset_bp,
            "gifts": [
                {
                    "code": g.code,
                    "name": g.name,
                    "points_cost": g.points_cost,
                    "stock": g.stock,
                    "active": g.active,
                }
                for g in session.scalars(select(Gift).order_by(Gift.code))
            ],
            "coupon_types": [
                {
                    "code": c.code,
                    "name": c.name,
                    "kind": c.kind,
                    "value_fen": c.value_fen,
                    "discount_bp": c.discount_bp,
                    "min_spend_fen": c.min_spend_fen,
                    "valid_days": c.valid_days,
                    "points_cost": c.points_cost,
                    "active": c.active,
                }
                for c in session.scalars(select(CouponType).order_by(CouponType.code))
            ],
        },
        "categories": [
            {
                "code": c.code,
                "kind": c.kind,
                "names": {
                    tag: getattr(c, column)
                    for tag, column in CATEGORY_NAME_COLUMNS.items()
                    if getattr(c, column)
                },
            }
            for c in session.scalars(select(Category).order_by(Category.code))
        ],
    }
    for name, part in _parts().items():
        value = part.export()
        if value is not None:
            document[name] = value
    return document


def category_codes() -> list[str]:
    """The product and service categories the rules list (empty: the list is not kept)."""
    return list(db.session.scalars(select(Category.code).order_by(Category.code)))


def _undated(row: dict[str, Any], obj: Any) -> dict[str, Any]:
    if obj.starts_on:
        row["starts_on"] = obj.starts_on.isoformat()
    if obj.ends_on:
        row["ends_on"] = obj.ends_on.isoformat()
    return row


# --- CLI -----------------------------------------------------------------------------
