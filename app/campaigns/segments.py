"""Segments: a JSON tree of conditions on members, checked strictly, compiled to one query.

A definition is a node::

    {"all": [node, …]}          every condition holds ({"all": []} is every member)
    {"any": [node, …]}          at least one holds
    {"not": node}               it does not hold
    {"field": F, "op": O, "value": V}   a condition (``days`` for spend and visits,
                                        ``question`` for questionnaire answers)

Every field, operator and value is checked (``parse_definition``): anything unknown or
malformed is ``InvalidRequest`` (400) naming where, and the tree is bounded in depth and
size. The compiled condition is one SQL ``WHERE`` over ``member`` (SQLAlchemy Core);
balances, spend and visits are subqueries into the ledger's tables (reads only). A
subquery is written as ``member.id IN`` (or ``NOT IN``) a grouped set rather than a
correlated sum per member, so a condition that a member with no transactions meets (spend
at most 100 yuan) is ``NOT IN`` the members who fail it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB

from app import clock
from app.audit.services import record
from app.campaigns.models import Segment
from app.cards.models import Card
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.ledger.models import STORED_VALUE, Account, Transaction
from app.members.models import GENDERS, Level, Member, Question, WechatBinding
from app.phone import mask_phone
from app.stores.models import Store

MAX_DEPTH = 6
MAX_NODES = 100
MAX_LIST = 200
MAX_TEXT = 64
#: Points, fen and counts above this are refused as absurd (a trillion).
MAX_NUMBER = 10**12
MAX_DAYS = 3650
MAX_AGE = 150
SAMPLE_SIZE = 10

NUMBER_OPS = ("gte", "lte", "eq", "between")
TEXT_OPS = ("eq", "in")


@dataclass(frozen=True)
class _Field:
    ops: tuple[str, ...]
    #: Checks and normalises the leaf (raises InvalidRequest); returns the stored leaf.
    check: Callable[[dict[str, Any], str], dict[str, Any]]


def _bad(where: str, reason: str, code: str, **params: Any) -> InvalidRequest:
    """The refusal of one node: English for the API, and ``reason`` (``segment_<code>``) with
    ``params`` so the panel can say it in the staff member's language."""
    return InvalidRequest(f"{where}: {reason}", field=where, reason=f"segment_{code}", **params)


def _integer(value: Any, where: str, *, low: int = 0, high: int = MAX_NUMBER) -> int:
    # bool is an int to Python; a fraction or a numeric string is refused, not rounded.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(where, "must be a whole number", "whole_number")
    if not low <= value <= high:
        raise _bad(where, f"must be between {low} and {high}", "range", low=low, high=high)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(where, "must be a non-empty text", "empty_text")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise _bad(where, f"must be at most {MAX_TEXT} characters", "text_length", limit=MAX_TEXT)
    return value.strip()


def _list(value: Any, where: str, item: Callable[[Any, str], Any]) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _bad(where, "must be a non-empty list", "empty_list")
    if len(value) > MAX_LIST:
        raise _bad(where, f"must hold at most {MAX_LIST} values", "list_size", limit=MAX_LIST)
    return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _only(leaf: dict[str, Any], where: str, extra: tuple[str, ...] = ()) -> None:
    unknown = set(leaf) - {"field", "op", "value", *extra}
    if unknown:
        key = sorted(unknown)[0]
        raise _bad(where, f"unknown key {key!r}", "unknown_key", key=key)
    if "value" not in leaf:
        raise _bad(where, "needs a value", "no_value")


def _number_leaf(high: int = MAX_NUMBER, extra: tuple[str, ...] = ()) -> Callable[..., Any]:
    def check(leaf: dict[str, Any], where: str) -> dict[str, Any]:
        _only(leaf, where, extra)
        value = leaf["value"]
        if leaf["op"] == "between":
            pair = _list(value, f"{where}.value", lambda v, w: _integer(v, w, high=high))
            if len(pair) != 2 or pair[0] > pair[1]:
                raise _bad(f"{where}.value", "must be [low, high] with low <= high", "low_high")
            out: dict[str, Any] = {**leaf, "value": pair}
        else:
            out = {**leaf, "value": _integer(value, f"{where}.value", high=high)}
        if "days" in extra:
            if "days" not in leaf:
                raise _bad(where, "needs days (the window, in days up to today)", "no_days")
            out["days"] = _integer(leaf["days"], f"{where}.days", low=1, high=MAX_DAYS)
        return out

    return check


def _text_leaf(
    allowed: tuple[str, ...] | None = None, extra: tuple[str, ...] = ()
) -> Callable[..., Any]:
    def item(v: Any, w: str) -> str:
        text = _text(v, w)
        if allowed is not None and text not in allowed:
            raise _bad(w, f"must be one of {', '.join(allowed)}", "one_of", allowed=list(allowed))
        return text

    def check(leaf: dict[str, Any], where: str) -> dict[str, Any]:
        _only(leaf, where, extra)
        if leaf["op"] == "in":
            return {**leaf, "value": _list(leaf["value"], f"{where}.value", item)}
        return {**leaf, "value": item(leaf["value"], f"{where}.value")}

    return check


def _known(model: Any, column: Any, label: str) -> Callable[..., Any]:
    """A list of names that must exist (store codes, level names): unknown is refused."""

    def check(leaf: dict[str, Any], where: str) -> dict[str, Any]:
        _only(leaf, where)
        value = leaf["value"] if leaf["op"] != "at_least" else [leaf["value"]]
        names = _list(value, f"{where}.value", _text)
        found = set(db.session.scalars(select(column).where(column.in_(names))))
        missing = [n for n in names if n not in found]
        if missing:
            raise _bad(
                f"{where}.value",
                f"unknown {label} {missing[0]!r}",
                f"unknown_{label}",
                name=missing[0],
            )
        return {**leaf, "value": names if leaf["op"] != "at_least" else names[0]}

    return check


def _tags(leaf: dict[str, Any], where: str) -> dict[str, Any]:
    _only(leaf, where)
    if leaf["op"] == "has":
        return {**leaf, "value": _text(leaf["value"], f"{where}.value")}
    return {**leaf, "value": _list(leaf["value"], f"{where}.value", _text)}


def _answer(leaf: dict[str, Any], where: str) -> dict[str, Any]:
    _only(leaf, where, ("question",))
    key = _text(leaf.get("question"), f"{where}.question")
    question = db.session.scalar(select(Question).where(Question.key == key))
    if question is None:
        raise _bad(f"{where}.question", f"unknown question {key!r}", "unknown_question", name=key)
    op, value = leaf["op"], leaf["value"]
    if question.type == "integer":
        if op not in ("eq", "gte", "lte"):
            raise _bad(
                f"{where}.op",
                "an integer answer takes eq, gte or lte",
                "ops",
                name="answer",
                ops=["eq", "gte", "lte"],
            )
        return {
            **leaf,
            "question": key,
            "value": _integer(value, f"{where}.value", low=-MAX_NUMBER),
        }
    if question.type == "boolean":
        if op != "eq" or not isinstance(value, bool):
            raise _bad(f"{where}.value", "a yes/no answer takes eq true or false", "yes_no")
        return {**leaf, "question": key}
    if question.type in ("text", "choice", "date"):
        if op not in TEXT_OPS:
            raise _bad(
                f"{where}.op",
                "a text answer takes eq or in",
                "ops",
                name="answer",
                ops=list(TEXT_OPS),
            )
        return {**_text_leaf(extra=("question",))(leaf, where), "question": key}
    raise _bad(
        f"{where}.question",
        f"answers of type {question.type} cannot be searched",
        "answer_type",
        type=question.type,
    )


def _days_leaf(leaf: dict[str, Any], where: str) -> dict[str, Any]:
    _only(leaf, where)
    return {**leaf, "value": _integer(leaf["value"], f"{where}.value", low=1, high=MAX_DAYS)}


def _months(leaf: dict[str, Any], where: str) -> dict[str, Any]:
    _only(leaf, where)
    months = _list(leaf["value"], f"{where}.value", lambda v, w: _integer(v, w, low=1, high=12))
    return {**leaf, "value": months}


def _date(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) != 10:
        raise _bad(where, "must be a date YYYY-MM-DD", "date")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise _bad(where, "must be a date YYYY-MM-DD", "date") from None
    return value


def _dates(leaf: dict[str, Any], where: str) -> dict[str, Any]:
    _only(leaf, where)
    if leaf["op"] == "between":
        pair = _list(leaf["value"], f"{where}.value", _date)
        if len(pair) != 2 or pair[0] > pair[1]:
            raise _bad(f"{where}.value", "must be [first day, last day] in order", "first_last")
        return {**leaf, "value": pair}
    return {**leaf, "value": _date(leaf["value"], f"{where}.value")}


FIELDS: dict[str, _Field] = {
    "age": _Field(NUMBER_OPS, _number_leaf(high=MAX_AGE)),
    "gender": _Field(TEXT_OPS, _text_leaf(GENDERS)),
    "region": _Field(TEXT_OPS, _text_leaf()),
    "home_store": _Field(("in",), _known(Store, Store.code, "store")),
    "level": _Field(("in", "at_least"), _known(Level, Level.name, "level")),
    "tag": _Field(("has", "has_any", "has_all"), _tags),
    "answer": _Field(("eq", "in", "gte", "lte"), _answer),
    "occupation": _Field(TEXT_OPS, _text_leaf()),
    "income_band": _Field(TEXT_OPS, _text_leaf()),
    "points": _Field(NUMBER_OPS, _number_leaf()),
    "stored_value_fen": _Field(NUMBER_OPS, _number_leaf()),
    "spend_fen": _Field(NUMBER_OPS, _number_leaf(extra=("days",))),
    "visits": _Field(NUMBER_OPS, _number_leaf(extra=("days",))),
    "last_visit": _Field(("within_days", "not_within_days"), _days_leaf),
    "birthday_month": _Field(("in",), _months),
    "joined": _Field(("between", "before", "after"), _dates),
    "channel_bound": _Field(("eq",), _text_leaf(("sms", "wechat"))),
    "opted_in": _Field(("eq",), _text_leaf(("sms", "wechat"))),
}


def parse_definition(definition: Any) -> dict[str, Any]:
    """The definition checked and normalised; InvalidRequest (400) names what is wrong."""
    count = [0]
    return _parse(definition, "definition", 1, count)


def _parse(node: Any, where: str, depth: int, count: list[int]) -> dict[str, Any]:
    count[0] += 1
    # ``reason`` lets the panel say these two in the staff member's language.
    if count[0] > MAX_NODES:
        raise InvalidRequest(
            f"{where}: a segment holds at most {MAX_NODES} conditions",
            field=where,
            reason="segment_size",
            limit=MAX_NODES,
        )
    if depth > MAX_DEPTH:
        raise InvalidRequest(
            f"{where}: nested deeper than {MAX_DEPTH}",
            field=where,
            reason="segment_depth",
            limit=MAX_DEPTH,
        )
    if not isinstance(node, dict):
        raise _bad(where, "must be an object", "not_object")
    if "field" not in node:
        if len(node) != 1:
            raise _bad(
                where, "must be one of all, any, not, or a condition with a field", "not_node"
            )
        ((key, value),) = node.items()
        if key == "not":
            return {"not": _parse(value, f"{where}.not", depth + 1, count)}
        if key not in ("all", "any"):
            raise _bad(where, f"unknown combination {key!r} (all, any, not)", "not_node")
        if not isinstance(value, list) or (key == "any" and not value):
            raise _bad(f"{where}.{key}", "must be a list of conditions", "not_list")
        return {
            key: [
                _parse(child, f"{where}.{key}[{i}]", depth + 1, count)
                for i, child in enumerate(value)
            ]
        }
    name = node["field"]
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _bad(
            f"{where}.field", f"unknown field {name!r}", "unknown_field", name=str(name)[:40]
        )
    if node.get("op") not in spec.ops:
        raise _bad(
            f"{where}.op",
            f"{name} takes {', '.join(spec.ops)}",
            "ops",
            name=name,
            ops=list(spec.ops),
        )
    return spec.check(node, where)


# --- compiling --------------------------------------------------------------------------------


def compile_definition(
    definition: dict[str, Any], *, dialect: str, today: dt.date
) -> ColumnElement[bool]:
    """The parsed definition as one condition on ``member`` (for ``select(Member.id)``)."""
    if "all" in definition:
        parts = [compile_definition(c, dialect=dialect, today=today) for c in definition["all"]]
        return and_(true(), *parts)
    if "any" in definition:
        parts = [compile_definition(c, dialect=dialect, today=today) for c in definition["any"]]
        return or_(false(), *parts)
    if "not" in definition:
        inner = compile_definition(definition["not"], dialect=dialect, today=today)
        # NOT of a NULL (a member with no region) is NULL: treat unknown as "does not hold".
        return not_(func.coalesce(inner, false()))
    return _LEAVES[definition["field"]](definition, dialect, today)


def _compare(expr: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "between":
        return expr.between(value[0], value[1])
    if op == "in":
        return expr.in_(value)
    return {"gte": expr >= value, "lte": expr <= value, "eq": expr == value}[op]


def _holds_for_zero(op: str, value: Any) -> bool:
    """Whether a member with nothing in the ledger (0) meets ``op value``."""
    if op == "between":
        return bool(value[0] <= 0 <= value[1])
    return {"gte": value <= 0, "lte": value >= 0, "eq": value == 0}[op]


def _by_aggregate(grouped: Any, total: Any, op: str, value: Any) -> ColumnElement[bool]:
    """``member.id IN`` the members whose total meets the condition, or ``NOT IN`` those
    whose total fails it when a member with no rows at all (0) meets it."""
    if _holds_for_zero(op, value):
        return Member.id.not_in(grouped.having(not_(_compare(total, op, value))))
    return Member.id.in_(grouped.having(_compare(total, op, value)))


def _balance(assets: tuple[str, ...]) -> Callable[..., ColumnElement[bool]]:
    def leaf(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
        total = func.sum(Account.balance)
        grouped = (
            select(Card.member_id)
            .join(Account, Account.card_id == Card.id)
            .where(Card.member_id.is_not(None), Account.asset.in_(assets))
            .group_by(Card.member_id)
        )
        return _by_aggregate(grouped, total, node["op"], node["value"])

    return leaf


def _since(today: dt.date, days: int) -> dt.datetime:
    """The start (UTC) of the local day ``days - 1`` days before today: a window of days."""
    first = today - dt.timedelta(days=days - 1)
    return dt.datetime.combine(first, dt.time(), tzinfo=clock.zone()).astimezone(dt.UTC)


def _checkouts(today: dt.date, days: int) -> Any:
    return select(Transaction.member_id).where(
        Transaction.member_id.is_not(None),
        Transaction.kind == "checkout",
        Transaction.created_at >= _since(today, days),
    )


def _spend(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    grouped = _checkouts(today, node["days"]).group_by(Transaction.member_id)
    return _by_aggregate(grouped, func.sum(Transaction.charged_fen), node["op"], node["value"])


def _visits(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    grouped = _checkouts(today, node["days"]).group_by(Transaction.member_id)
    return _by_aggregate(grouped, func.count(Transaction.id), node["op"], node["value"])


def _last_visit(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    recent = _checkouts(today, node["value"])
    if node["op"] == "within_days":
        return Member.id.in_(recent)
    return Member.id.not_in(recent)


def _age(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    # Years since the stated birth year, one less before this year's birthday (by the
    # stated month and day; a lunar birthday is counted by its lunar month and day).
    not_yet = or_(
        Member.birthday_month > today.month,
        and_(Member.birthday_month == today.month, Member.birthday_day > today.day),
    )
    age = today.year - Member.birthday_year - case((not_yet, 1), else_=0)
    return and_(Member.birthday_year.is_not(None), _compare(age, node["op"], node["value"]))


def _column(attribute: Any) -> Callable[..., ColumnElement[bool]]:
    def leaf(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
        return _compare(attribute, node["op"], node["value"])

    return leaf


def _home_store(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    return Member.home_store_id.in_(select(Store.id).where(Store.code.in_(node["value"])))


def _level(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    if node["op"] == "at_least":
        rank = select(Level.rank).where(Level.name == node["value"]).scalar_subquery()
        return Member.level_id.in_(select(Level.id).where(Level.rank >= rank))
    return Member.level_id.in_(select(Level.id).where(Level.name.in_(node["value"])))


def _has_tag(tag: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return cast(Member.tags, JSONB).has_key(tag)
    each = func.json_each(Member.tags).table_valued("value")
    return exists(select(1).select_from(each).where(column("value") == tag))


def _tag(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    if node["op"] == "has":
        return _has_tag(node["value"], dialect)
    parts = [_has_tag(tag, dialect) for tag in node["value"]]
    return or_(*parts) if node["op"] == "has_any" else and_(*parts)


def _answer_leaf(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    answer = Member.answers[node["question"]]
    value = node["value"]
    if isinstance(value, bool):
        return answer.as_boolean() == value
    if isinstance(value, int):
        return _compare(answer.as_integer(), node["op"], value)
    return _compare(answer.as_string(), node["op"], value)


def _birthday_month(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    return Member.birthday_month.in_(node["value"])


def _local_midnight(day: str) -> dt.datetime:
    start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=clock.zone())
    return start.astimezone(dt.UTC)


def _joined(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    op, value = node["op"], node["value"]
    if op == "before":
        return Member.joined_at < _local_midnight(value)
    if op == "after":
        after = dt.date.fromisoformat(value) + dt.timedelta(days=1)
        return Member.joined_at >= _local_midnight(after.isoformat())
    end = dt.date.fromisoformat(value[1]) + dt.timedelta(days=1)
    return and_(
        Member.joined_at >= _local_midnight(value[0]),
        Member.joined_at < _local_midnight(end.isoformat()),
    )


def _channel_bound(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    if node["value"] == "wechat":
        return Member.id.in_(select(WechatBinding.member_id))
    return Member.phone.is_not(None)


def _opted_in(node: dict[str, Any], dialect: str, today: dt.date) -> ColumnElement[bool]:
    flag = Member.wechat_opt_out if node["value"] == "wechat" else Member.sms_opt_out
    return flag.is_(False)


_LEAVES: dict[str, Callable[[dict[str, Any], str, dt.date], ColumnElement[bool]]] = {
    "age": _age,
    "gender": _column(Member.gender),
    "region": _column(Member.region),
    "home_store": _home_store,
    "level": _level,
    "tag": _tag,
    "answer": _answer_leaf,
    "occupation": _column(Member.occupation),
    "income_band": _column(Member.income_band),
    "points": _balance(("points",)),
    "stored_value_fen": _balance(STORED_VALUE),
    "spend_fen": _spend,
    "visits": _visits,
    "last_visit": _last_visit,
    "birthday_month": _birthday_month,
    "joined": _joined,
    "channel_bound": _channel_bound,
    "opted_in": _opted_in,
}


def segment_condition(definition: dict[str, Any], today: dt.date | None = None) -> Any:
    """The parsed definition compiled for the session's database."""
    dialect = db.session.connection().dialect.name
    return compile_definition(definition, dialect=dialect, today=today or clock.local_today())


def member_ids_query(definition: dict[str, Any], today: dt.date | None = None) -> Any:
    """``SELECT member.id WHERE <segment>``: the one query a segment is."""
    return select(Member.id).where(segment_condition(definition, today))


@dataclass(frozen=True)
class Preview:
    count: int
    #: (member id, masked phone, name) of the first members by id.
    sample: list[tuple[int, str, str]]


def preview(definition: Any, today: dt.date | None = None) -> Preview:
    """Check the definition, then count its members and show the first ``SAMPLE_SIZE``."""
    parsed = parse_definition(definition)
    condition = segment_condition(parsed, today)
    count = db.session.scalar(select(func.count()).select_from(Member).where(condition)) or 0
    rows = db.session.execute(
        select(Member.id, Member.phone, Member.name)
        .where(condition)
        .order_by(Member.id)
        .limit(SAMPLE_SIZE)
    )
    return Preview(int(count), [(i, mask_phone(p), n or "") for i, p, n in rows])


# --- saved segments ---------------------------------------------------------------------------


def save_segment(
    name: str, definition: Any, *, created_by: str, segment_id: int | None = None
) -> Segment:
    """Save a new segment, or change segment ``segment_id``; the definition is checked first."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 120 or "\x00" in name:
        raise InvalidRequest("a segment needs a name of at most 120 characters", field="name")
    parsed = parse_definition(definition)
    clash = db.session.scalar(select(Segment).where(Segment.name == name))
    if segment_id is None:
        if clash is not None:
            raise InvalidRequest(f"a segment named {name!r} exists", field="name")
        segment = Segment(name=name, definition=parsed, created_by=created_by[:64])
        db.session.add(segment)
        db.session.flush()
        record("segment.create", "segment", segment.id, after={"name": name, "definition": parsed})
        return segment
    segment = get_segment(segment_id)
    if clash is not None and clash.id != segment.id:
        raise InvalidRequest(f"a segment named {name!r} exists", field="name")
    before = {"name": segment.name, "definition": segment.definition}
    segment.name = name
    segment.definition = parsed
    db.session.flush()
    record(
        "segment.update",
        "segment",
        segment.id,
        before=before,
        after={"name": name, "definition": parsed},
    )
    return segment


def get_segment(segment_id: int) -> Segment:
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        raise NotFound("no such segment", segment_id=segment_id)
    return segment


def list_segments() -> list[Segment]:
    return list(db.session.scalars(select(Segment).order_by(Segment.name)))


def segment_named(key: str) -> Segment | None:
    """The saved segment of that name, or of that id."""
    query = select(Segment)
    return db.session.scalar(
        query.where(Segment.id == int(key)) if key.isdigit() else query.where(Segment.name == key)
    )


def segment_exists(key: str) -> bool:
    return segment_named(key) is not None


def segment_contains(key: str, member_id: int) -> bool:
    """Whether the member is in the saved segment named ``key`` (or of that id), now: the
    eligibility of votes and draws (``eligibility.SEGMENT_EXTENSION``). A segment deleted
    since holds nobody."""
    found = segment_named(key)
    if found is None:
        return False
    hit = member_ids_query(found.definition).where(Member.id == member_id)
    return db.session.scalar(hit) is not None
