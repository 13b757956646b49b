"""Lunar and solar birthdays placed on this year's solar calendar (cf. borax#47)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from app.members.birthdays import (
    birthdays_in_year,
    is_birthday,
    is_birthday_month,
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
