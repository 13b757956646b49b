"""Members, their cards and balances as CSV: a shop moving from its old system, and back out.

Orchestration only: members are made and changed by ``app.members.services``, cards by
``app.cards.services``, levels by ``app.ledger.rules.levels``; this module posts the
opening balances. It lives in the ledger because the ledger may import members and cards
(neither may import the ledger). The format is documented in docs/architecture.md
("Member import and export"); in short, one row per card (a member without cards: one
row without card columns), the columns of :data:`COLUMNS` in any order, only ``phone``
and ``home_store`` required.

Rules of the import:

- **Validated first.** A first pass reads every row and checks every cell without
  writing; a second pass applies the rows that passed, each in a savepoint, so a row
  the database refuses (a card number held by another member) is refused alone. The
  report names every refused row by line number with its reason; ``dry_run`` makes the
  second pass and rolls all of it back.
- **Idempotent.** A row's opening balances are one journal transaction of kind
  ``opening`` keyed ``opening:<card number>``; importing the same file again replays
  them and changes nothing. A re-import whose balances differ is refused for that row
  (never a second opening): correct a balance with an adjustment instead. Opening
  balances go on a card with no history in Laoyou only.
- **Hostile files.** UTF-8 (with or without BOM) or GBK/GB18030 (Chinese Excel); lines
  of at most :data:`MAX_LINE_CHARS` characters and at most :data:`MAX_ROWS` rows, read as
  a stream; a NUL or control character, a value past its column's range or an unknown
  store, level or type refuses the row.
- **Formula injection.** Export prefixes ``'`` to a cell beginning with ``= + - @`` (or
  a tab or carriage return), so a spreadsheet shows it as text; import drops that ``'``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from flask import current_app
from sqlalchemy import func, select

from app.cards.models import CARD_TYPES, Card
from app.db import db
from app.errors import IdempotencyConflict, InvalidRequest, LaoyouError
from app.i18n import N_
from app.ledger import journal
from app.ledger.journal import Entry
from app.ledger.models import Account, PointsLot, Transaction
from app.ledger.rules.engine import credit_limit
from app.limits import MAX_COUNT, MAX_CREDIT_LIMIT_FEN, MAX_POINTS
from app.members.models import GENDERS, Level, Member

#: Every column, in the order export writes them.
COLUMNS = (
    "phone",
    "name",
    "gender",
    "birthday",
    "birthday_calendar",
    "language",
    "region",
    "occupation",
    "income_band",
    "tags",
    "answers",
    "home_store",
    "level",
    "growth",
    "card_number",
    "card_type",
    "card_state",
    "credit_limit_fen",
    "valid_from",
    "valid_until",
    "points",
    "points_expire_on",
    "stored_value_fen",
    "stored_value_bonus_fen",
    "visits",
)
REQUIRED = ("phone", "home_store")
#: Characters in one line of the file (a row is one line unless a quoted cell spans more).
MAX_LINE_CHARS = 4096
#: Rows in one file; a bigger migration is split in several files.
MAX_ROWS = 200_000
#: Refused rows the report lists one by one (it counts them all).
MAX_LISTED = 1000
#: Bytes read at a time while streaming.
CHUNK = 64 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CALENDARS = {"solar": ("solar", False), "lunar": ("lunar", False), "lunar-leap": ("lunar", True)}
#: How old systems write the same thing.
CALENDAR_ALIASES = {
    "公历": "solar",
    "阳历": "solar",
    "農曆": "lunar",
    "农历": "lunar",
    "阴历": "lunar",
}
GENDER_ALIASES = {"男": "male", "女": "female", "m": "male", "f": "female"}
LANGUAGE_ALIASES = {
    "zh-cn": "zh-Hans",
    "zh_cn": "zh-Hans",
    "zh-hans": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh_tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-hant": "zh-Hant",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
}
OPENING = "opening"
#: A card's state in the file, and how a newly issued card gets there.
STATE_ACTIONS = {"active": "", "lost": "report-lost", "frozen": "freeze", "expired": "expire"}


def refused(template: str, **params: Any) -> InvalidRequest:
    """A row's refusal: English for the CLI, and its msgid and values for the panel,
    which shows it in the staff member's language."""
    return InvalidRequest(template % params, template=template, params=params)


class FileRefused(InvalidRequest):
    """The file as a whole cannot be read: its encoding, a line too long, too many rows."""

    @classmethod
    def of(cls, template: str, **params: Any) -> FileRefused:
        return cls(template % params, field="file", template=template, params=params)


@dataclass(frozen=True)
class Refusal:
    line: int
    phone: str
    card_number: str
    #: In English, for the CLI and logs.
    message: str
    #: The msgid and its values, when the import itself refused the row (a refusal from
    #: another service keeps only its English message).
    template: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    dry_run: bool = False
    #: Rows that changed something (a member made or changed, a card issued or bound,
    #: an opening posted).
    imported: int = 0
    #: Rows already imported: nothing to change.
    skipped: int = 0
    refused: int = 0
    members_created: int = 0
    cards_issued: int = 0
    openings_posted: int = 0
    refusals: list[Refusal] = field(default_factory=list)

    def summary(self) -> str:
        what = "would import" if self.dry_run else "imported"
        return (
            f"{what} {self.imported} rows, skipped {self.skipped} (already imported), "
            f"refused {self.refused}; members created {self.members_created}, cards issued "
            f"{self.cards_issued}, opening balances {self.openings_posted}"
        )


@dataclass(frozen=True)
class Row:
    """One validated row."""

    line: int
    phone: str
    member: dict[str, Any]
    level: str | None
    #: None: left alone.
    growth: int | None
    card_number: str | None
    card_type: str | None
    #: None: as it is (active for a new card).
    card_state: str | None
    credit_limit_fen: int | None
    valid_from: dt.date | None
    valid_until: dt.date | None
    points: int
    #: (last day or None for never, points) per lot to open; empty without points.
    points_lots: tuple[tuple[dt.date | None, int], ...]
    paid_fen: int
    bonus_fen: int
    visits: int

    @property
    def has_balances(self) -> bool:
        return bool(self.points or self.paid_fen or self.bonus_fen or self.visits)


# --- reading --------------------------------------------------------------------------------


def detect_encoding(source: IO[bytes]) -> str:
    """``utf-8-sig`` when the whole stream decodes as UTF-8, else ``gb18030`` (a superset
    of GBK) when it decodes so, else ``FileRefused``. Reads the stream once, in chunks."""
    source.seek(0)
    head = source.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused.of(N_("the file is UTF-16: save it as CSV UTF-8 (or GBK)"))
    for encoding in ("utf-8-sig", "gb18030"):
        source.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := source.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        source.seek(0)
        return encoding
    raise FileRefused.of(N_("the file is neither UTF-8 nor GBK text"))


def _lines(text: IO[str]) -> Iterator[str]:
    """The file's lines, none longer than MAX_LINE_CHARS (a longer one refuses the file)."""
    number = 0
    while True:
        # Room for the longest line and its CRLF: a line is never split in two.
        line = text.readline(MAX_LINE_CHARS + 2)
        if not line:
            return
        number += 1
        if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise FileRefused.of(
                N_("line %(line)s is longer than %(most)s characters"),
                line=number,
                most=MAX_LINE_CHARS,
            )
        yield line


def _records(source: IO[bytes], encoding: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line number, {column: cell}) per record, after the header."""
    source.seek(0)
    text = io.TextIOWrapper(source, encoding=encoding, newline="")
    try:
        reader = csv.reader(_lines(text))
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise FileRefused.of(N_("the file is empty")) from None
        except csv.Error as exc:
            raise FileRefused.of(N_("line %(line)s: %(why)s"), line=1, why=str(exc)) from None
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise FileRefused.of(N_("unknown column(s): %(names)s"), names=", ".join(unknown))
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise FileRefused.of(N_("missing column(s): %(names)s"), names=", ".join(missing))
        if len(set(header)) != len(header):
            raise FileRefused.of(N_("a column is named twice"))
        rows = 0
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileRefused.of(
                    N_("line %(line)s: %(why)s"), line=line, why=str(exc)
                ) from None
            if any(c.strip() for c in cells):
                rows += 1
                if rows > MAX_ROWS:
                    raise FileRefused.of(
                        N_("more than %(most)s rows: split the file"), most=MAX_ROWS
                    )
                if len(cells) != len(header):
                    yield line, {"__width__": str(len(cells))}
                else:
                    yield line, {h: _unquote(c) for h, c in zip(header, cells, strict=True)}
            line = reader.line_num + 1
    finally:
        text.detach()  # the caller's stream stays open


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith("'") and cell[1:2] in FORMULA_STARTS and cell[1:2]:
        return cell[1:]
    return cell


# --- validating -----------------------------------------------------------------------------


def _int(cells: dict[str, str], name: str, *, low: int, high: int) -> int:
    text = cells.get(name, "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise refused(
            N_("%(name)s must be a whole number, not %(text)r"), name=name, text=text[:20]
        ) from None
    if not low <= value <= high:
        raise refused(
            N_("%(name)s must be between %(low)s and %(high)s"), name=name, low=low, high=high
        )
    return value


def _date(cells: dict[str, str], name: str) -> dt.date | None:
    text = cells.get(name, "").replace("/", "-")
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise refused(
            N_("%(name)s must be a date YYYY-MM-DD, not %(text)r"), name=name, text=text[:20]
        ) from None


@dataclass
class Lookups:
    """Stores and levels as one import finds them: looked up once per file, not per row."""

    stores: dict[str, bool] = field(default_factory=dict)
    levels: dict[str, int | None] = field(default_factory=dict)

    def store_exists(self, code: str) -> bool:
        from app.stores.services import get_store

        if code not in self.stores:
            try:
                get_store(code)
                self.stores[code] = True
            except LaoyouError:
                self.stores[code] = False
        return self.stores[code]

    def level(self, name: str) -> Level | None:
        if name not in self.levels:
            found = _level(name)
            self.levels[name] = found.id if found is not None else None
        level_id = self.levels[name]
        return db.session.get(Level, level_id) if level_id is not None else None


def validate_row(line: int, cells: dict[str, str], lookups: Lookups | None = None) -> Row:
    """A row checked cell by cell (stores and levels looked up, nothing written)."""
    from app.members.services import LANGUAGES
    from app.phone import parse_phone

    if "__width__" in cells:
        raise refused(
            N_("the row has %(cells)s cells; the header has more or fewer"),
            cells=cells["__width__"],
        )
    for name, value in cells.items():
        if any(not ch.isprintable() for ch in value):
            raise refused(N_("%(name)s holds a control character"), name=name)
    phone = parse_phone(cells["phone"]) if cells.get("phone") else None
    if phone is None:
        raise refused(N_("phone is required"))
    member: dict[str, Any] = {"phone": phone}
    store = cells.get("home_store", "")
    if not store:
        raise refused(N_("home_store is required"))
    lookups = lookups or Lookups()
    if not lookups.store_exists(store):
        raise refused(N_("no store with code %(code)r"), code=store)
    member["home_store"] = store
    for name, longest in (("name", 120), ("region", 64), ("occupation", 64), ("income_band", 32)):
        if cells.get(name):
            if len(cells[name]) > longest:
                raise refused(
                    N_("%(name)s is at most %(most)s characters"), name=name, most=longest
                )
            member[name] = cells[name]
    if cells.get("tags"):
        member["tags"] = [t.strip() for t in cells["tags"].split(";") if t.strip()]
    if cells.get("answers"):
        try:
            answers = json.loads(cells["answers"])
        except ValueError:
            raise refused(N_("answers must be a JSON object")) from None
        if not isinstance(answers, dict):
            raise refused(N_("answers must be a JSON object"))
        member["answers"] = answers
    if cells.get("gender"):
        gender = GENDER_ALIASES.get(cells["gender"].lower(), cells["gender"].lower())
        if gender not in GENDERS:
            raise refused(N_("gender must be one of %(values)s"), values=", ".join(GENDERS))
        member["gender"] = gender
    if cells.get("language"):
        language = LANGUAGE_ALIASES.get(cells["language"].lower(), cells["language"])
        if language not in LANGUAGES:
            raise refused(N_("language must be one of %(values)s"), values=", ".join(LANGUAGES))
        member["language"] = language
    calendar_text = cells.get("birthday_calendar", "").lower()
    calendar_text = CALENDAR_ALIASES.get(calendar_text, calendar_text) or "solar"
    if calendar_text not in CALENDARS:
        raise refused(N_("birthday_calendar must be solar, lunar or lunar-leap"))
    if cells.get("birthday"):
        calendar, leap = CALENDARS[calendar_text]
        member.update(
            birthday=cells["birthday"].replace("/", "-"),
            birthday_calendar=calendar,
            lunar_leap_month=leap,
        )
        _check_birthday(member)
    level = cells.get("level") or None
    if level is not None and lookups.level(level) is None:
        raise refused(N_("no level named %(name)r"), name=level)

    number = cells.get("card_number") or None
    card_type = cells.get("card_type") or None
    if number is not None:
        from app.cards.services import check_card_number

        try:
            number = check_card_number(number)
        except InvalidRequest as exc:
            raise InvalidRequest(exc.message) from None
        card_type = card_type or "stored_value"
        if card_type not in CARD_TYPES:
            raise refused(N_("card_type must be one of %(values)s"), values=", ".join(CARD_TYPES))
    elif card_type is not None:
        raise refused(N_("card_type without card_number"))
    card_state = cells.get("card_state", "").lower() or None
    if card_state is not None:
        if number is None:
            raise refused(N_("card_state without card_number"))
        if card_state not in STATE_ACTIONS:
            raise refused(
                N_("card_state must be one of %(values)s (cancelled cards are not imported)"),
                values=", ".join(STATE_ACTIONS),
            )
    maximum = current_app.config["MAX_TRANSACTION_FEN"]
    # An empty cell: the card follows the programme's overdraft rule for its type.
    credit = (
        _int(cells, "credit_limit_fen", low=0, high=MAX_CREDIT_LIMIT_FEN)
        if cells.get("credit_limit_fen")
        else None
    )
    total = _int(cells, "stored_value_fen", low=-MAX_CREDIT_LIMIT_FEN, high=maximum)
    bonus = _int(cells, "stored_value_bonus_fen", low=0, high=maximum)
    points = _int(cells, "points", low=0, high=MAX_POINTS)
    visits = _int(cells, "visits", low=0, high=MAX_COUNT)
    points_lots = _points_lots(cells.get("points_expire_on", ""), points)
    valid_from, valid_until = _date(cells, "valid_from"), _date(cells, "valid_until")
    if bonus > max(total, 0):
        raise refused(N_("stored_value_bonus_fen is part of stored_value_fen: not more"))
    if total < 0 and -total > (credit or 0):
        raise refused(N_("a negative stored_value_fen needs a credit_limit_fen that covers it"))
    if credit and card_type != "stored_value":
        raise refused(N_("only stored_value cards have a credit_limit_fen"))
    if number is None and (points or total or visits or credit or valid_from or valid_until):
        raise refused(N_("balances and card details need a card_number"))
    if card_type == "period" and valid_until is None:
        raise refused(N_("a period card needs valid_until"))
    if valid_from and valid_until and valid_until < valid_from:
        raise refused(N_("valid_until is before valid_from"))
    return Row(
        line=line,
        phone=phone,
        member=member,
        level=level,
        growth=_int(cells, "growth", low=0, high=MAX_POINTS) if cells.get("growth") else None,
        card_number=number,
        card_type=card_type,
        card_state=card_state,
        credit_limit_fen=credit,
        valid_from=valid_from,
        valid_until=valid_until,
        points=points,
        points_lots=points_lots,
        paid_fen=total - bonus,
        bonus_fen=bonus,
        visits=visits,
    )


def _points_lots(text: str, points: int) -> tuple[tuple[dt.date | None, int], ...]:
    """``points_expire_on`` read: empty (never), one day for all the points, or, for points
    that expire on several days, ``DAY:POINTS`` items joined by ``;`` (``never:POINTS``
    for points that never expire) adding up to ``points``."""
    text = text.strip()
    if not points:
        if text:
            raise refused(N_("points_expire_on without points"))
        return ()
    if ":" not in text:
        day = _date({"points_expire_on": text}, "points_expire_on")
        return ((_not_passed(day), points),)
    items: list[tuple[dt.date | None, int]] = []
    for item in text.split(";"):
        when, _, amount = item.partition(":")
        when = when.strip()
        day = None if when == "never" else _date({"points_expire_on": when}, "points_expire_on")
        try:
            n = int(amount)
        except ValueError:
            raise refused(N_("points_expire_on items are DAY:POINTS joined by ;")) from None
        if n <= 0:
            raise refused(N_("points_expire_on items are DAY:POINTS joined by ;"))
        items.append((_not_passed(day), n))
    if sum(n for _, n in items) != points or len(items) > 100:
        raise refused(N_("the points of points_expire_on must add up to points"))
    return tuple(items)


def _not_passed(day: dt.date | None) -> dt.date | None:
    if day is not None and day < _today():
        raise refused(N_("points_expire_on %(day)s has passed"), day=day.isoformat())
    return day


def _expiry_cell(by_day: list[tuple[dt.date | None, int]]) -> str | None:
    """``points_expire_on`` as written: see :func:`_points_lots`."""
    by_day = sorted(by_day, key=lambda item: (item[0] is None, item[0] or dt.date.max))
    if len(by_day) == 1:
        day = by_day[0][0]
        return day.isoformat() if day is not None else None
    if not by_day:
        return None
    return ";".join(f"{day.isoformat() if day is not None else 'never'}:{n}" for day, n in by_day)


def _today() -> dt.date:
    from app.clock import local_today

    return local_today()


def _check_birthday(member: dict[str, Any]) -> None:
    """The members service's own birthday rules, on a throwaway member."""
    from app.members.services import check_birthday

    check_birthday(member)


def _level(name: str) -> Level | None:
    """A level by its one name or any of its per-language names."""
    return db.session.scalar(
        select(Level)
        .where(
            (Level.name == name)
            | (Level.name_zh_hans == name)
            | (Level.name_zh_hant == name)
            | (Level.name_en == name)
        )
        .order_by(Level.rank)
        .limit(1)
    )


# --- applying -------------------------------------------------------------------------------


def import_members(source: IO[bytes], *, actor: str, dry_run: bool = False) -> ImportReport:
    """Import a members CSV from a seekable binary stream; see the module docstring.

    Raises ``FileRefused`` when the file as a whole cannot be read (nothing written).
    """
    report = ImportReport(dry_run=dry_run)
    lookups = Lookups()
    encoding = detect_encoding(source)
    refused_lines: set[int] = set()
    for line, cells in _records(source, encoding):
        try:
            validate_row(line, cells, lookups)
        except LaoyouError as exc:
            _refuse(report, line, cells, exc)
            refused_lines.add(line)
    outer = db.session.begin_nested() if dry_run else None
    try:
        for line, cells in _records(source, encoding):
            if line in refused_lines:
                continue
            row = validate_row(line, cells, lookups)
            made = (report.members_created, report.cards_issued, report.openings_posted)
            try:
                with db.session.begin_nested():
                    changed = _apply(row, actor, report, lookups)
            except LaoyouError as exc:
                # The savepoint took back what the row made: so do the counts.
                report.members_created, report.cards_issued, report.openings_posted = made
                _refuse(report, line, cells, exc)
                continue
            if changed:
                report.imported += 1
            else:
                report.skipped += 1
    finally:
        if outer is not None:
            outer.rollback()
    report.refusals.sort(key=lambda refusal: refusal.line)
    return report


def _refuse(report: ImportReport, line: int, cells: dict[str, str], exc: LaoyouError) -> None:
    report.refused += 1
    if len(report.refusals) < MAX_LISTED:
        report.refusals.append(
            Refusal(
                line,
                cells.get("phone", ""),
                cells.get("card_number", ""),
                exc.message,
                exc.details.get("template"),
                dict(exc.details.get("params") or {}),
            )
        )


def _apply(row: Row, actor: str, report: ImportReport, lookups: Lookups) -> bool:
    """Make or update the member, issue or bind the card, post the opening; True when
    anything changed."""
    from app.members.services import create_member, find_member_by_phone, update_member

    changed = False
    member = find_member_by_phone(row.phone)
    if member is None:
        member = create_member(dict(row.member))
        report.members_created += 1
        changed = True
    else:
        before = _profile(member)
        update_member(member, {k: v for k, v in row.member.items() if k != "phone"})
        changed = _profile(member) != before
    if row.level is not None:
        from app.ledger.rules.levels import set_level

        level = lookups.level(row.level)
        assert level is not None  # validated
        changed = set_level(member, level, reason="manual") is not None or changed
    if row.growth is not None:
        from app.ledger.rules.levels import set_opening_growth

        changed = set_opening_growth(member, row.growth) or changed
    if row.card_number is None:
        return changed
    card, card_changed, issued = _card(row, member, actor, report)
    if row.has_balances:
        changed = _opening(row, card, actor, fresh=issued, report=report) or changed
    if row.card_state is not None and row.card_state != card.state:
        if not issued:
            raise refused(
                N_(
                    "card %(card)s is %(state)s in Laoyou, the file says %(file)s: change a "
                    "card's state at the counter or in the panel"
                ),
                card=card.number,
                state=card.state,
                file=row.card_state,
            )
        from app.cards.services import change_state

        change_state(card, STATE_ACTIONS[row.card_state], actor=actor, reason="member import")
    return changed or card_changed


def _profile(member: Member) -> tuple[Any, ...]:
    return (
        member.name,
        member.gender,
        member.language,
        member.home_store_id,
        member.birthday_year,
        member.birthday_month,
        member.birthday_day,
        member.birthday_calendar,
        member.lunar_leap_month,
        member.region,
        member.occupation,
        member.income_band,
        tuple(member.tags or ()),
        json.dumps(member.answers or {}, sort_keys=True),
    )


def _card(row: Row, member: Member, actor: str, report: ImportReport) -> tuple[Card, bool, bool]:
    """The row's card, issued with its number or bound to the member: (card, changed,
    issued now)."""
    from app.cards.lookup import card_by_number
    from app.cards.services import bind_card, issue_card

    assert row.card_number is not None and row.card_type is not None
    card = card_by_number(row.card_number)
    if card is None:
        card = issue_card(
            row.card_type,
            member=member,
            store=member.home_store,
            number=row.card_number,
            credit_limit_fen=row.credit_limit_fen,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            actor=actor,
        )
        report.cards_issued += 1
        return card, True, True
    if card.replaced_by_id is not None:
        raise refused(N_("card %(card)s was replaced and no longer works"), card=card.number)
    if card.type != row.card_type:
        raise refused(
            N_("card %(card)s is a %(type)s card, the file says %(file)s"),
            card=card.number,
            type=card.type,
            file=row.card_type,
        )
    if card.member_id is None:
        bind_card(card, member, actor=actor, reason="member import")
        return card, True, False
    if card.member_id != member.id:
        raise refused(N_("card %(card)s belongs to another member"), card=card.number)
    return card, False, False


def _opening(row: Row, card: Card, actor: str, *, fresh: bool, report: ImportReport) -> bool:
    """Post the row's balances as the card's opening transaction; True when posted now."""
    from app.ledger.operations import CARD_ASSETS, _announce, _balances_after

    key = f"{OPENING}:{card.number}"
    request = {
        "op": OPENING,
        "card": card.number,
        "points": row.points,
        "points_lots": [[day, amount] for day, amount in row.points_lots],
        "paid_fen": row.paid_fen,
        "bonus_fen": row.bonus_fen,
        "visits": row.visits,
    }
    req_hash = journal.request_hash(request)
    try:
        if journal.find_posted(key, req_hash) is not None:
            return False
    except IdempotencyConflict:
        earlier = db.session.scalar(select(Transaction).where(Transaction.idempotency_key == key))
        was = (earlier.details if earlier is not None else {}) or {}
        raise refused(
            N_(
                "card %(card)s already has opening balances from an earlier import (points "
                "%(was_points)s, stored value %(was_fen)s fen, visits %(was_visits)s); the "
                "file now says points %(points)s, stored value %(fen)s fen, visits "
                "%(visits)s: correct a balance with an adjustment, not a second import"
            ),
            card=card.number,
            was_points=was.get("points"),
            was_fen=was.get("stored_value_fen"),
            was_visits=was.get("visits"),
            points=row.points,
            fen=row.paid_fen + row.bonus_fen,
            visits=row.visits,
        ) from None
    if not fresh and db.session.scalar(
        select(func.count(Transaction.id)).where(Transaction.card_id == card.id)
    ):
        raise refused(
            N_(
                "card %(card)s already has a history in Laoyou: opening balances go on new "
                "cards only"
            ),
            card=card.number,
        )
    entries: list[Entry] = []
    for day, amount in row.points_lots:
        entries += journal.from_issued("points", amount, card.id, expires_on=day)
    if row.paid_fen > 0:
        entries += journal.from_issued("stored_value_paid", row.paid_fen, card.id)
    elif row.paid_fen < 0:
        entries += [
            Entry(
                "stored_value_paid",
                row.paid_fen,
                card_id=card.id,
                overdraft=credit_limit(card),
            ),
            Entry("stored_value_paid", -row.paid_fen, system="issued"),
        ]
    if row.bonus_fen:
        entries += journal.from_issued("stored_value_bonus", row.bonus_fen, card.id)
    if row.visits:
        entries += journal.from_issued("visits", row.visits, card.id)
    locked = journal.lock_card_accounts([card.id], CARD_ASSETS)
    posting = journal.post(
        OPENING,
        key,
        entries,
        request=request,
        reason="member_import",
        actor=actor,
        card_id=card.id,
        member_id=card.member_id,
        details={
            "points": row.points,
            "stored_value_fen": row.paid_fen + row.bonus_fen,
            "stored_value_bonus_fen": row.bonus_fen,
            "visits": row.visits,
            "line": row.line,
        },
        accounts=locked,
        key_checked=True,
        req_hash=req_hash,
    )
    # Announced as every posting is (messaging alerts no opening: the member was not there).
    _announce(
        posting,
        card=card,
        balances=_balances_after(card.id, locked, posting),
        amount_fen=0,
        points_delta=row.points,
        store=None,
    )
    report.openings_posted += 1
    return True


# --- export ---------------------------------------------------------------------------------


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_members(out: IO[str]) -> tuple[int, int]:
    """Write every member with their working cards and balances in the import's format;
    returns (rows, members). Members are read in batches of 500."""
    from app.cards.services import member_cards
    from app.ledger.rules.levels import growth_of
    from app.members.services import birthday_text

    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    rows = members = 0
    last_id = 0
    while True:
        batch = list(
            db.session.scalars(
                select(Member).where(Member.id > last_id).order_by(Member.id).limit(500)
            )
        )
        if not batch:
            return rows, members
        for member in batch:
            members += 1
            calendar = member.birthday_calendar
            if calendar == "lunar" and member.lunar_leap_month:
                calendar = "lunar-leap"
            profile = {
                "phone": member.phone,
                "name": member.name,
                "gender": member.gender,
                "birthday": birthday_text(member),
                "birthday_calendar": calendar if member.birthday_year is not None else None,
                "language": member.language,
                "region": member.region,
                "occupation": member.occupation,
                "income_band": member.income_band,
                "tags": ";".join(member.tags or ()),
                "answers": (
                    json.dumps(member.answers, ensure_ascii=False, sort_keys=True)
                    if member.answers
                    else None
                ),
                "home_store": member.home_store.code,
                "level": member.level.name if member.level is not None else None,
                "growth": growth_of(member) or None,
            }
            cards = [c for c in member_cards(member) if c.state != "cancelled"]
            for cells in [_card_cells(c) for c in cards] or [{}]:
                values = {**profile, **cells}
                writer.writerow([_safe(values.get(c)) for c in COLUMNS])
                rows += 1
            last_id = member.id


def _card_cells(card: Card) -> dict[str, Any]:
    held = dict(
        db.session.execute(
            select(Account.asset, Account.balance).where(Account.card_id == card.id)
        ).all()
    )
    by_day = db.session.execute(
        select(PointsLot.expires_on, func.sum(PointsLot.remaining))
        .join(Account, Account.id == PointsLot.account_id)
        .where(Account.card_id == card.id, PointsLot.remaining > 0)
        .group_by(PointsLot.expires_on)
    ).all()
    paid, bonus = int(held.get("stored_value_paid", 0)), int(held.get("stored_value_bonus", 0))
    points = int(held.get("points", 0))
    return {
        "card_number": card.number,
        "card_type": card.type,
        "card_state": card.state,
        # The card's own limit only: an empty cell follows the rule again on re-import.
        "credit_limit_fen": card.credit_limit_fen,
        "valid_from": card.valid_from,
        "valid_until": card.valid_until,
        "points": points or None,
        "points_expire_on": _expiry_cell([(day, int(n)) for day, n in by_day]),
        "stored_value_fen": (paid + bonus) or None,
        "stored_value_bonus_fen": bonus or None,
        "visits": int(held.get("visits", 0)) or None,
    }
