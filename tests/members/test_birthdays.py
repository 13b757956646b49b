"""Lunar and solar birthdays placed on this year's solar calendar (cf. borax#47)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from lunardate import LunarDate

from app.members.birthdays import (
    birthday_keys,
    birthdays_in_year,
    is_birthday,
    is_birthday_month,
    leap_month,
    lunar_to_solar,
    solar_birthday,
)


@dataclass
class Person:
    birthday_month: int | None
    birthday_day: int | None
    birthday_calendar: str = "solar"
    lunar_leap_month: bool = False


def lunar(month: int, day: int, leap: bool = False) -> Person:
    return Person(month, day, "lunar", leap)


def test_lunar_birthday_moves_with_the_lunar_calendar() -> None:
    member = lunar(10, 8)
    assert solar_birthday(member, 2025) == dt.date(2025, 11, 27)
    assert solar_birthday(member, 2026) == dt.date(2026, 11, 16)
    assert is_birthday_month(member, dt.date(2026, 11, 1))
    assert not is_birthday_month(member, dt.date(2026, 10, 31))
    assert is_birthday(member, dt.date(2026, 11, 16))
    assert not is_birthday(member, dt.date(2026, 11, 8))


def test_leap_month_birthday_in_a_year_with_that_leap_month() -> None:
    # 2023 had a leap second month: 闰二月初十 was 2023-03-31, 二月初十 2023-03-01.
    assert solar_birthday(lunar(2, 10, leap=True), 2023) == dt.date(2023, 3, 31)
    assert solar_birthday(lunar(2, 10), 2023) == dt.date(2023, 3, 1)


def test_leap_month_birthday_in_a_year_without_it_uses_the_ordinary_month() -> None:
    # 2024 has no leap second month: the birthday is kept on 二月初十 = 2024-03-19.
    member = lunar(2, 10, leap=True)
    assert solar_birthday(member, 2024) == dt.date(2024, 3, 19)
    assert solar_birthday(member, 2024) == solar_birthday(lunar(2, 10), 2024)
    assert is_birthday_month(member, dt.date(2024, 3, 5))


def test_lunar_day_30_in_a_29_day_month_is_kept_on_day_29() -> None:
    assert lunar_to_solar(2030, 1, 30) == lunar_to_solar(2030, 1, 29)
    assert lunar_to_solar(2026, 1, 30) == lunar_to_solar(2026, 1, 29) + dt.timedelta(days=1)


def test_feb_29_solar_birthday_is_kept_on_feb_28_in_common_years() -> None:
    member = Person(2, 29)
    assert solar_birthday(member, 2026) == dt.date(2026, 2, 28)
    assert solar_birthday(member, 2028) == dt.date(2028, 2, 29)
    assert solar_birthday(member, 2100) == dt.date(2100, 2, 28)  # not a leap year
    assert is_birthday(member, dt.date(2026, 2, 28))
    assert is_birthday_month(member, dt.date(2026, 2, 1))


def test_twelfth_lunar_month_birthday_falls_in_january() -> None:
    # 腊月初一 of lunar year 2025 is 2026-01-19; of lunar year 2026 it is 2027-01-08.
    member = lunar(12, 1)
    assert birthdays_in_year(member, 2026) == [dt.date(2026, 1, 19)]
    assert is_birthday_month(member, dt.date(2026, 1, 31))
    assert not is_birthday_month(member, dt.date(2026, 12, 15))


@pytest.mark.parametrize(
    ("member", "count"), [(Person(None, None), 0), (lunar(1, 1), 1), (Person(7, 4), 1)]
)
def test_occurrences_per_year(member: Person, count: int) -> None:
    for year in range(2001, 2099):
        assert len(birthdays_in_year(member, year)) == count


def test_a_late_lunar_birthday_can_fall_twice_in_one_solar_year() -> None:
    # 冬月廿九: lunar year 2002's fell on 2003-01-01, lunar year 2003's on 2003-12-22.
    member = lunar(11, 29)
    assert birthdays_in_year(member, 2003) == [dt.date(2003, 1, 1), dt.date(2003, 12, 22)]
    year = 2003
    assert is_birthday_month(member, dt.date(year, 1, 1))
    assert is_birthday_month(member, dt.date(year, 12, 1))


def test_unknown_birthday_is_never_a_birthday_month() -> None:
    assert solar_birthday(Person(None, None), 2026) is None
    assert not is_birthday_month(Person(None, None), dt.date(2026, 1, 1))


# --- worked dates, checked against lunardate itself -------------------------------------


def _solar(year: int, month: int, day: int, leap: bool = False) -> dt.date:
    return LunarDate(year, month, day, leap).to_solar_date()


def test_the_worked_years_have_and_lack_the_leap_months_used_below() -> None:
    assert leap_month(2023) == 2  # 闰二月
    assert leap_month(2025) == 6  # 闰六月
    assert leap_month(2024) is None
    assert leap_month(2026) is None


def test_a_leap_sixth_month_birthday_in_2025_and_in_2026() -> None:
    member = lunar(6, 15, leap=True)
    # 2025 has 闰六月: the birthday is in it, a month after the ordinary 六月十五.
    assert solar_birthday(member, 2025) == _solar(2025, 6, 15, True) == dt.date(2025, 8, 8)
    assert solar_birthday(lunar(6, 15), 2025) == _solar(2025, 6, 15) == dt.date(2025, 7, 9)
    assert not is_birthday(member, dt.date(2025, 7, 9))
    # 2026 has none: it is kept on the ordinary 六月十五.
    assert solar_birthday(member, 2026) == _solar(2026, 6, 15) == dt.date(2026, 7, 28)
    assert ("lunar", 6, 15, True) in birthday_keys(dt.date(2026, 7, 28))
    assert ("lunar", 6, 15, True) not in birthday_keys(dt.date(2025, 7, 9))


def test_a_leap_day_30_birthday_in_a_short_leap_month_stays_in_the_leap_month() -> None:
    # 2023's 闰二月 has 29 days: 闰二月三十 is kept on 闰二月廿九, not moved to 二月.
    with pytest.raises(ValueError):
        LunarDate(2023, 2, 30, True).to_solar_date()
    member = lunar(2, 30, leap=True)
    assert solar_birthday(member, 2023) == _solar(2023, 2, 29, True) == dt.date(2023, 4, 19)
    assert ("lunar", 2, 30, True) in birthday_keys(dt.date(2023, 4, 19))


def test_day_30_of_a_29_day_month_falls_on_day_29() -> None:
    with pytest.raises(ValueError):
        LunarDate(2030, 1, 30).to_solar_date()
    day = _solar(2030, 1, 29)
    assert is_birthday(lunar(1, 30), day)
    assert {("lunar", 1, 29, False), ("lunar", 1, 30, False)} <= birthday_keys(day)


def test_feb_29_keys_on_feb_28_only_in_common_years() -> None:
    assert ("solar", 2, 29, False) in birthday_keys(dt.date(2026, 2, 28))
    assert ("solar", 2, 29, False) not in birthday_keys(dt.date(2028, 2, 28))
    assert ("solar", 2, 29, False) in birthday_keys(dt.date(2028, 2, 29))


EVERY_BIRTHDAY = [Person(m, d) for m in range(1, 13) for d in range(1, 32)] + [
    lunar(m, d, leap) for m in range(1, 13) for d in range(1, 31) for leap in (False, True)
]


def _key(member: Person) -> tuple[str, int, int, bool]:
    assert member.birthday_month is not None and member.birthday_day is not None
    return (
        member.birthday_calendar,
        member.birthday_month,
        member.birthday_day,
        member.lunar_leap_month,
    )


@pytest.mark.parametrize("year", [2023, 2025, 2026, 2028])
def test_the_index_keys_are_exactly_the_birthdays_of_the_day(year: int) -> None:
    """Every stated birthday's day holds its key, and every key of a day is a birthday then."""
    valid = [p for p in EVERY_BIRTHDAY if p.birthday_calendar == "lunar" or _real(p)]
    for member in valid:
        for day in birthdays_in_year(member, year):
            assert _key(member) in birthday_keys(day), (member, day)
    by_key = {_key(p): p for p in valid}
    day = dt.date(year, 1, 1)
    while day.year == year:
        for key in birthday_keys(day):
            assert is_birthday(by_key[key], day), (key, day)
        day += dt.timedelta(days=1)


def _real(person: Person) -> bool:
    try:
        dt.date(2028, person.birthday_month or 0, person.birthday_day or 0)
    except ValueError:
        return False
    return True
