"""Birthdays as solar dates, for lunar (农历) and solar birthdays alike.

Rules (written down because calendars disagree, cf. borax#47):

- A lunar birthday's occurrence in lunar year Y is the solar date of lunar
  (Y, month, day). A lunar year starts in January or February, so the 12th
  month of lunar year Y can fall in January of solar year Y + 1.
- A birthday in a leap month (闰月), in a year without that leap month, is
  kept in the ordinary month of the same number.
- Lunar day 30 in a year whose month has only 29 days is kept on day 29.
- A solar birthday on Feb 29 is kept on Feb 28 in common years.
- The birthday month is every solar (year, month) that contains an occurrence;
  ``is_birthday_month`` therefore looks at the occurrences of lunar years
  Y - 1 and Y, so a 12th-month birthday that falls in January still counts.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Protocol

from lunardate import LunarDate


class HasBirthday(Protocol):
    birthday_month: int | None
    birthday_day: int | None
    birthday_calendar: str
    lunar_leap_month: bool


@lru_cache(maxsize=4096)
def lunar_to_solar(year: int, month: int, day: int, leap: bool = False) -> dt.date:
    """The solar date of lunar (year, month, day), applying the leap-month and day-30 rules.

    A leap-month birthday stays in the leap month when the year has that leap month (on
    its day 29 if the leap month is short); only a year without it moves it to the
    ordinary month of the same number.
    """
    leap = leap and leap_month(year) == month
    for lunar_day in (day, day - 1) if day == 30 else (day,):
        try:
            return LunarDate(year, month, lunar_day, leap).to_solar_date()
        except ValueError:
            continue
    raise ValueError(f"lunar date {year}-{month}-{day} has no solar date")


@lru_cache(maxsize=512)
def leap_month(year: int) -> int | None:
    """The lunar year's leap month (闰月), None in a year without one."""
    return LunarDate.leap_month_for_year(year) or None


def _month_days(year: int, month: int, leap: bool) -> int:
    try:
        LunarDate(year, month, 30, leap).to_solar_date()
    except ValueError:
        return 29
    return 30


BirthdayKey = tuple[str, int, int, bool]


def birthday_keys(day: dt.date) -> set[BirthdayKey]:
    """Every stated birthday (calendar, month, day, leap) that falls on ``day`` this year.

    The index lookup's keys, written from the rules above read backwards: solar Feb 28 of
    a common year also holds Feb 29; lunar day 29 of a 29-day month also holds day 30; an
    ordinary lunar month of a year without that leap month also holds the leap birthdays.
    """
    keys: set[BirthdayKey] = {("solar", day.month, day.day, False)}
    if day.month == 2 and day.day == 28 and not _is_leap_year(day.year):
        keys.add(("solar", 2, 29, False))
    try:
        lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
    except ValueError:
        return keys  # outside the lunardate tables (1900-2099)
    months = [(lunar.month, lunar.is_leap_month)]
    if not lunar.is_leap_month and leap_month(lunar.year) != lunar.month:
        months.append((lunar.month, True))
    days = [lunar.day]
    if lunar.day == 29 and _month_days(lunar.year, lunar.month, lunar.is_leap_month) == 29:
        days.append(30)
    keys.update(("lunar", m, d, leap) for m, leap in months for d in days)
    return keys


def solar_birthday(member: HasBirthday, year: int) -> dt.date | None:
    """The member's birthday in (lunar or solar) year ``year`` as a solar date; None if unknown."""
    month, day = member.birthday_month, member.birthday_day
    if month is None or day is None:
        return None
    if member.birthday_calendar == "lunar":
        try:
            return lunar_to_solar(year, month, day, member.lunar_leap_month)
        except ValueError:
            return None  # outside the lunardate tables (1900-2099)
    if month == 2 and day == 29 and not _is_leap_year(year):
        return dt.date(year, 2, 28)
    return dt.date(year, month, day)


def birthdays_in_year(member: HasBirthday, year: int) -> list[dt.date]:
    """Every occurrence of the birthday that falls in solar year ``year`` (0, 1 or 2)."""
    found = {solar_birthday(member, y) for y in (year - 1, year)}
    return sorted(d for d in found if d is not None and d.year == year)


def is_birthday_month(member: HasBirthday, day: dt.date) -> bool:
    return any(d.month == day.month for d in birthdays_in_year(member, day.year))


def is_birthday(member: HasBirthday, day: dt.date) -> bool:
    """True on the solar day the birthday falls on this year (greetings, birthday gifts)."""
    return day in birthdays_in_year(member, day.year)


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
