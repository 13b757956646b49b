"""Members: join, update, look up by phone, card number or any card medium."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app
from lunardate import LunarDate
from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.audit.services import record
from app.clock import local_today
from app.db import db, utcnow
from app.db.prepared import Prepared
from app.errors import DuplicateMember, InvalidRequest, NotFound
from app.members.birthdays import birthday_keys, is_birthday
from app.members.models import (
    ALERT_TYPES,
    CALENDARS,
    GENDERS,
    AlertPreference,
    Level,
    Member,
    Question,
    level_name_sql,
)
from app.phone import normalise_phone, parse_phone
from app.signals import member_changed
from app.stores.models import Store
from app.stores.services import get_store

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
#: Fields a caller may set directly; the rest have their own rules below.
PLAIN_FIELDS = ("name", "region", "occupation", "income_band")
#: Finds the member a reference names or raises ``NotFound``: how ``referrer`` is read.
#: Members know phones only; ``app.cards.services.resolve_member`` also reads card
#: numbers and media (members import nothing of cards: a card points at its holder).
Resolver = Callable[[str], Member]


def member_by_phone(ref: str) -> Member:
    """The member with this phone in any format, or ``NotFound``."""
    member = find_member_by_phone(ref)
    if member is None:
        raise NotFound(f"no member with phone {ref!r}")
    return member


def create_member(data: dict[str, Any], *, resolve: Resolver = member_by_phone) -> Member:
    """Make a member, and nothing else: ``app.cards.services.enroll`` registers a member
    with their first card (the one the API, the bot and the demo make)."""
    if not data.get("phone"):
        raise InvalidRequest("phone is required", field="phone")
    if not data.get("home_store"):
        raise InvalidRequest("home_store is required", field="home_store")
    phone = parse_phone(str(data["phone"]))
    if db.session.scalar(select(Member.id).where(Member.phone == phone)):
        raise DuplicateMember(f"{phone} is already a member", phone=phone)
    member = Member(
        phone=phone,
        home_store=_home_store(str(data["home_store"])),
        language=current_app.config["DEFAULT_LANGUAGE"],
        level=entry_level(),
        tags=[],
        answers={},
    )
    _apply(member, data, creating=True, resolve=resolve)
    db.session.add(member)
    with _phone_race(phone):
        db.session.flush()
    member_changed.send(member, action="create", before=None, after=profile_fields(member))
    return member


def update_member(
    member: Member, data: dict[str, Any], *, resolve: Resolver = member_by_phone
) -> Member:
    before = profile_fields(member)
    phone = member.phone
    if "phone" in data:
        phone = parse_phone(str(data["phone"]))
        if phone != member.phone:
            if db.session.scalar(select(Member.id).where(Member.phone == phone)):
                raise DuplicateMember(f"{phone} is already a member", phone=phone)
            member.phone = phone
    with _phone_race(phone):
        if "home_store" in data:
            member.home_store = _home_store(str(data["home_store"]))
        _apply(member, data, creating=False, resolve=resolve)
        db.session.flush()
    after = profile_fields(member)
    if after != before:
        changed = [k for k in after if after[k] != before.get(k)]
        member_changed.send(
            member,
            action="update",
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
        )
    return member


def profile_fields(member: Member) -> dict[str, Any]:
    """What a person would call the member's profile: the audit log keeps it before and after."""
    return {
        "phone": member.phone,
        "name": member.name,
        "gender": member.gender,
        "birthday": birthday_text(member),
        "language": member.language,
        "home_store": member.home_store.code if member.home_store else None,
        "region": member.region,
        "occupation": member.occupation,
        "income_band": member.income_band,
        "tags": list(member.tags or []),
        "answers": dict(member.answers or {}),
        "referrer": member.referrer.phone if member.referrer else None,
    }


@contextmanager
def _phone_race(phone: str) -> Iterator[None]:
    """Two requests with one new phone at once both pass the check above; the unique
    index stops the second, which then gets the same 409 as if it had come later."""
    try:
        yield
    except IntegrityError as exc:
        text = str(exc.orig)
        if "member.phone" not in text and "uq_member_phone" not in text:
            raise
        raise DuplicateMember(f"{phone} is already a member", phone=phone) from None


def _home_store(code: str) -> Store:
    """A store named in the request body: unknown is bad input (400), not a missing page."""
    try:
        return get_store(code)
    except NotFound:
        raise InvalidRequest(f"no store with code {code!r}", field="home_store") from None


def _apply(member: Member, data: dict[str, Any], *, creating: bool, resolve: Resolver) -> None:
    for name in PLAIN_FIELDS:
        if name in data:
            value = data[name]
            setattr(member, name, value.strip() if isinstance(value, str) and value else None)
    if "gender" in data:
        gender = data["gender"] or "unknown"
        if gender not in GENDERS:
            raise InvalidRequest(f"gender must be one of {', '.join(GENDERS)}", field="gender")
        member.gender = gender
    if "language" in data:
        if data["language"] not in LANGUAGES:
            raise InvalidRequest(
                f"language must be one of {', '.join(LANGUAGES)}", field="language"
            )
        member.language = data["language"]
    if "tags" in data:
        tags = data["tags"] or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise InvalidRequest("tags must be a list of words", field="tags")
        member.tags = sorted({t.strip() for t in tags})
    if data.get("referrer"):
        try:
            referrer = resolve(str(data["referrer"]))
        except NotFound:
            raise InvalidRequest(
                f"no member matches referrer {data['referrer']!r}", field="referrer"
            ) from None
        if referrer.id is not None and referrer.id == member.id:
            raise InvalidRequest("a member cannot refer themselves", field="referrer")
        member.referrer = referrer
    if {"birthday", "birthday_calendar", "lunar_leap_month"} & data.keys():
        _apply_birthday(member, data)
    if "answers" in data:
        member.answers = validate_answers(data["answers"] or {}, {**member.answers})
    elif creating:
        member.answers = validate_answers({}, {})


def _apply_birthday(member: Member, data: dict[str, Any]) -> None:
    calendar = data.get("birthday_calendar") or member.birthday_calendar or "solar"
    if calendar not in CALENDARS:
        raise InvalidRequest("birthday_calendar must be solar or lunar", field="birthday_calendar")
    leap = bool(
        data.get("lunar_leap_month", member.lunar_leap_month if "birthday" not in data else False)
    )
    raw = data.get("birthday", _birthday_text(member))
    if raw in (None, ""):
        member.birthday_year = member.birthday_month = member.birthday_day = None
        member.birthday_calendar, member.lunar_leap_month = "solar", False
        return
    try:
        year, month, day = (int(part) for part in str(raw).split("-"))
    except ValueError:
        raise InvalidRequest("birthday must be YYYY-MM-DD", field="birthday") from None
    if calendar == "solar":
        if leap:
            raise InvalidRequest(
                "lunar_leap_month applies to lunar birthdays only", field="birthday"
            )
        try:
            when = dt.date(year, month, day)
        except ValueError:
            raise InvalidRequest(f"{raw} is not a date", field="birthday") from None
        if when > local_today():
            raise InvalidRequest("birthday is in the future", field="birthday")
    else:
        try:
            # The constructor accepts any numbers; converting is what checks them.
            solar = LunarDate(year, month, day, leap).to_solar_date()
        except ValueError:
            what = "leap month " if leap else ""
            raise InvalidRequest(
                f"lunar {what}{month} day {day} did not exist in {year}", field="birthday"
            ) from None
        if solar > local_today():
            raise InvalidRequest("birthday is in the future", field="birthday")
    member.birthday_year, member.birthday_month, member.birthday_day = year, month, day
    member.birthday_calendar, member.lunar_leap_month = calendar, leap


def check_birthday(data: dict[str, Any]) -> None:
    """Refuse a birthday (``birthday``, ``birthday_calendar``, ``lunar_leap_month``) as
    ``create_member`` would, without a member: a member import checks every row first."""
    _apply_birthday(Member(), data)


def _birthday_text(member: Member) -> str | None:
    if member.birthday_year is None:
        return None
    return f"{member.birthday_year:04d}-{member.birthday_month:02d}-{member.birthday_day:02d}"


def birthday_text(member: Member) -> str | None:
    """``YYYY-MM-DD`` as stated (lunar dates stay lunar; see ``birthday_calendar``)."""
    return _birthday_text(member)


def validate_answers(answers: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Check answers against the active questionnaire; unknown keys are refused."""
    if not isinstance(answers, dict):
        raise InvalidRequest("answers must be an object", field="answers")
    questions = {q.key: q for q in db.session.scalars(select(Question).where(Question.active))}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        raise InvalidRequest(f"unknown question(s): {', '.join(unknown)}", field="answers")
    merged = {**current}
    for key, value in answers.items():
        merged[key] = _check_answer(questions[key], value)
        if merged[key] is None:
            del merged[key]
    missing = [k for k, q in questions.items() if q.required and k not in merged]
    if missing and answers:
        raise InvalidRequest(f"required answer(s) missing: {', '.join(missing)}", field="answers")
    return merged


#: What an answer of each question type must be, for refusals.
ANSWER_KINDS = {
    "text": "text of at most 500 characters",
    "integer": "a whole number",
    "boolean": "true or false",
    "date": "a date YYYY-MM-DD",
    "choice": "one of the choices",
    "multi_choice": "a list of the choices",
}


def _check_answer(question: Question, value: Any) -> Any:
    if value is None:
        return None
    bad = InvalidRequest(
        f"the answer to {question.key!r} must be {ANSWER_KINDS[question.type]}", field="answers"
    )
    match question.type:
        case "text":
            if not isinstance(value, str) or len(value) > 500:
                raise bad
            return value.strip()
        case "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
            return value
        case "boolean":
            if not isinstance(value, bool):
                raise bad
            return value
        case "date":
            try:
                return dt.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise bad from None
        case "choice":
            if value not in question.choices:
                raise bad
            return value
        case "multi_choice":
            if not isinstance(value, list) or any(v not in question.choices for v in value):
                raise bad
            return sorted(set(value))
    raise bad


def entry_level() -> Level | None:
    return db.session.scalar(select(Level).order_by(Level.rank).limit(1))


def list_levels() -> list[Level]:
    """Every level, entry level first."""
    return list(db.session.scalars(select(Level).order_by(Level.rank)))


def find_member_by_phone(text: str) -> Member | None:
    phone = normalise_phone(text)
    if phone is None:
        return None
    return db.session.scalar(select(Member).where(Member.phone == phone))


@dataclass(frozen=True)
class MemberProfile:
    """What answering a member's message needs to know first, as plain values: one
    Core row, cheaper than loading the member (with its level and home store)."""

    id: int
    language: str
    #: The member's level's name in the member's language, if they have a level.
    level: str | None
    sms_opt_out: bool


_PROFILE = Prepared(
    select(Member.id, Member.language, level_name_sql(Member.language), Member.sms_opt_out)
    .outerjoin(Level, Level.id == Member.level_id)
    .where(Member.phone == bindparam("phone"))
)


def member_profile(phone: str) -> MemberProfile | None:
    """``MemberProfile`` of the member with this E.164 phone (as channels give it)."""
    db.session.flush()  # a member joined earlier in this unit of work is found too
    # On the session's connection, as a prepared statement: the ORM's execute path cost a
    # tenth of an SMS, SQLAlchemy's Core execute still a twentieth (app.db.prepared).
    row = _PROFILE.first(db.connection(), {"phone": phone})
    return None if row is None else MemberProfile(row[0], row[1], row[2], bool(row[3]))


def get_member(member_id: int) -> Member | None:
    return db.session.get(Member, member_id)


def set_sms_opt_out(phone: str, opted_out: bool) -> None:
    """Keep the flag of the member with this phone, if any, in step with the opt-out registry.

    ``app.optout`` calls this on every change; the registry, not this flag, decides sending.
    """
    member = db.session.scalar(select(Member).where(Member.phone == phone))
    if member is not None:
        member.sms_opt_out = opted_out


def search_members(
    query: str = "",
    *,
    page: int = 1,
    per_page: int = 20,
    store_ids: frozenset[int] | None = None,
) -> tuple[list[Member], int]:
    """One page of members, newest first, and the total.

    ``query`` is a phone (any format; exact match), or text found in the name
    or phone; empty lists everyone. ``store_ids`` keeps only members whose home is
    one of those stores (a store's staff see their own store's members).
    """
    condition = None
    query = (query or "").strip()
    if query:
        phone = normalise_phone(query)
        if phone is not None:
            condition = Member.phone == phone
        else:
            pattern = (
                "%" + query.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
            )
            condition = Member.name.ilike(pattern, escape="\\") | Member.phone.like(
                pattern, escape="\\"
            )
    base = select(Member) if condition is None else select(Member).where(condition)
    if store_ids is not None:
        base = base.where(Member.home_store_id.in_(store_ids))
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    members = db.session.scalars(
        base.order_by(Member.joined_at.desc(), Member.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(members), total


#: Limits of a questionnaire field: the label's column width, and what a form can sensibly show.
MAX_QUESTION_KEY_CHARS = 64
MAX_QUESTION_LABEL_CHARS = 200
MAX_CHOICES = 50
MAX_CHOICE_CHARS = 100


def define_question(
    key: str,
    label: str,
    type_: str,
    *,
    choices: list[str] | None = None,
    required: bool = False,
    labels: Mapping[str, str] | None = None,
) -> Question:
    """Add a questionnaire field, or change the label, choices or requirement of one.

    ``labels``: the question per language (``zh-Hans``, ``zh-Hant``, ``en``), an empty one
    falling back to ``label``; None keeps those it has. A key is never reused for another
    type: answers already given stay readable.
    """
    from app.members.models import QUESTION_TYPES

    key = key.strip()
    if (
        not key
        or len(key) > MAX_QUESTION_KEY_CHARS
        or not key.replace("_", "").isalnum()
        or not key.isascii()
    ):
        raise InvalidRequest(
            "a question key is letters, digits and _", field="key", reason="question_key"
        )
    if type_ not in QUESTION_TYPES:
        raise InvalidRequest(
            f"type must be one of {', '.join(QUESTION_TYPES)}",
            field="type",
            reason="question_type",
        )
    label = label.strip()
    if not label or len(label) > MAX_QUESTION_LABEL_CHARS:
        raise InvalidRequest(
            f"a question needs a label of at most {MAX_QUESTION_LABEL_CHARS} characters",
            field="label",
            reason="question_label",
        )
    translated = _question_labels(labels) if labels is not None else {}
    choices = [c.strip() for c in choices or [] if c.strip()]
    if len(choices) > MAX_CHOICES or any(len(c) > MAX_CHOICE_CHARS for c in choices):
        raise InvalidRequest(
            f"at most {MAX_CHOICES} choices of at most {MAX_CHOICE_CHARS} characters",
            field="choices",
            reason="question_choices_size",
        )
    if len(set(choices)) != len(choices):
        raise InvalidRequest(
            "a choice is listed twice", field="choices", reason="question_choices_twice"
        )
    if type_ in ("choice", "multi_choice") and len(choices) < 2:
        raise InvalidRequest(
            "a choice question needs at least two choices",
            field="choices",
            reason="question_choices",
        )
    if type_ not in ("choice", "multi_choice") and choices:
        raise InvalidRequest(
            "only choice questions take choices", field="choices", reason="question_no_choices"
        )
    question = db.session.scalar(select(Question).where(Question.key == key))
    before: dict[str, Any] = {}
    if question is None:
        question = Question(key=key, type=type_)
        db.session.add(question)
    elif question.type != type_:
        raise InvalidRequest(
            f"question {key} is a {question.type} question; use a new key",
            field="type",
            reason="question_type_change",
        )
    else:
        before = _question_fields(question)
    question.label, question.choices = label, choices
    question.required, question.active = required, True
    for column, translation in translated.items():
        setattr(question, column, translation)
    db.session.flush()
    after = _question_fields(question)
    changed = [k for k in after if before.get(k) != after[k]]
    if changed:
        record(
            "question.define",
            "question",
            key,
            before={k: before[k] for k in changed if k in before} or None,
            after={k: after[k] for k in changed},
        )
    return question


def _question_labels(labels: Mapping[str, str]) -> dict[str, str | None]:
    """Each language's label column and its text (None where empty: the label is read)."""
    from app.members.models import QUESTION_LABEL_COLUMNS

    out: dict[str, str | None] = {}
    for language, column in QUESTION_LABEL_COLUMNS.items():
        text = (labels.get(language) or "").strip()
        if len(text) > MAX_QUESTION_LABEL_CHARS:
            raise InvalidRequest(
                f"a question's {language} label has at most {MAX_QUESTION_LABEL_CHARS} characters",
                field=column,
                reason="question_label",
            )
        out[column] = text or None
    return out


def _question_fields(question: Question) -> dict[str, Any]:
    from app.members.models import QUESTION_LABEL_COLUMNS

    return {
        "label": question.label,
        **{column: getattr(question, column) for column in QUESTION_LABEL_COLUMNS.values()},
        "type": question.type,
        "choices": list(question.choices or []),
        "required": question.required,
        "active": question.active,
    }


def retire_question(key: str) -> Question:
    """Stop asking a question; answers already given are kept."""
    question = db.session.scalar(select(Question).where(Question.key == key.strip()))
    if question is None:
        raise NotFound(f"no question {key!r}", field="key")
    if question.active:
        question.active = False
        record(
            "question.retire",
            "question",
            question.key,
            before={"active": True},
            after={"active": False},
        )
    db.session.flush()
    return question


def list_questions() -> list[Question]:
    return list(db.session.scalars(select(Question).order_by(Question.id)))


def members_per_store() -> dict[int, int]:
    """Store id -> how many members call it home (stores without members are absent)."""
    rows = db.session.execute(
        select(Member.home_store_id, func.count(Member.id)).group_by(Member.home_store_id)
    )
    return {store_id: count for store_id, count in rows.all()}


def check_alert_type(alert_type: str) -> None:
    if alert_type not in ALERT_TYPES:
        raise InvalidRequest(
            f"alert type must be one of {', '.join(ALERT_TYPES)}", field="alert_type"
        )


def set_alert_preference(member: Member, alert_type: str, enabled: bool) -> None:
    """A member switches one alert type on or off (the bot's ALERTS keyword calls this)."""
    check_alert_type(alert_type)
    row = db.session.scalar(
        select(AlertPreference).where(
            AlertPreference.member_id == member.id, AlertPreference.alert_type == alert_type
        )
    )
    if row is None:
        db.session.add(AlertPreference(member_id=member.id, alert_type=alert_type, enabled=enabled))
    else:
        row.enabled = enabled
        row.changed_at = utcnow()
    db.session.flush()


def alert_preferences(member: Member) -> dict[str, bool]:
    """Every alert type with whether this member gets it (ignoring the programme switch)."""
    prefs = dict.fromkeys(ALERT_TYPES, True)
    for row in db.session.scalars(
        select(AlertPreference).where(AlertPreference.member_id == member.id)
    ):
        prefs[row.alert_type] = row.enabled
    return prefs


def member_alert_switch(
    member_id: ColumnElement[int], alert_type: ColumnElement[str]
) -> ScalarSelect[bool]:
    """The member's switch for one alert type as a scalar subquery (NULL: no row, on), so
    the outbox's single enqueue statement can ask members without a read of its own."""
    return (
        select(AlertPreference.enabled)
        .where(AlertPreference.member_id == member_id, AlertPreference.alert_type == alert_type)
        .scalar_subquery()
    )


def count_members(store_ids: frozenset[int] | None = None) -> int:
    """Members in the programme, or only those whose home is one of ``store_ids``."""
    query = select(func.count()).select_from(Member)
    if store_ids is not None:
        query = query.where(Member.home_store_id.in_(store_ids))
    return db.session.scalar(query) or 0


def birthday_query(day: dt.date, *, after: int = 0, limit: int = 1000) -> Select[Member]:
    """One page of the members whose stated birthday may fall on ``day``, by id after
    ``after``: the few (calendar, month, day) keys of ``birthday_keys``, each an index range."""
    wanted = or_(
        *(
            and_(
                Member.birthday_calendar == calendar,
                Member.birthday_month == month,
                Member.birthday_day == day_of_month,
            )
            for calendar, month, day_of_month in sorted({k[:3] for k in birthday_keys(day)})
        )
    )
    return select(Member).where(wanted, Member.id > after).order_by(Member.id).limit(limit)


def birthdays_on(day: dt.date, *, batch: int = 1000) -> Iterator[Member]:
    """The members whose birthday falls on ``day`` (lunar and solar), in id order.

    Candidates come from the birthday index (``birthday_query``); each is confirmed by
    ``is_birthday`` (a leap-month key matches only in a year without that leap month).
    Pages of ``batch`` by id, so a day's birthdays over a million members are never all
    in memory.
    """
    after = 0
    while True:
        page = list(db.session.scalars(birthday_query(day, after=after, limit=batch)))
        for member in page:
            if is_birthday(member, day):
                yield member
        if len(page) < batch:
            return
        after = page[-1].id


def count_joined(store_id: int, since: dt.datetime, until: dt.datetime) -> int:
    """Members who joined with ``store_id`` as their home in ``[since, until)``."""
    query = (
        select(func.count())
        .select_from(Member)
        .where(
            Member.home_store_id == store_id, Member.joined_at >= since, Member.joined_at < until
        )
    )
    return db.session.scalar(query) or 0
