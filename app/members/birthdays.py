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
    """The solar date of lunar (year, month, day), applying the leap-month and day-30 rules."""
    for is_leap, lunar_day in ((leap, day), (False, day), (leap, day - 1), (False, day - 1)):
        if lunar_day < 1:
            continue
        try:
            return LunarDate(year, month, lunar_day, is_leap).to_solar_date()
        except ValueError:
            continue
    raise ValueError(f"lunar date {year}-{month}-{day} has no solar date")


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
