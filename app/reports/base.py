"""What every report takes and gives: the contract between a report's query and its page.

A report is a function ``(session, params) -> Report``. It reads (never writes) and
returns rows of plain values; the panel renders them as a table, a chart and a CSV, so a
report knows nothing of HTTP, templates or CSV quoting.

Money is integer fen and points are whole points in the rows; the page and the CSV
format fen as yuan (``12.50``). Dates are the shop's local dates (``app.clock``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

#: How a column's values are shown: ``fen`` as yuan with two decimals, ``points`` and
#: ``count`` as whole numbers, ``date`` as YYYY-MM-DD, ``text`` as it is, ``percent`` as
#: basis points shown with one decimal (``1234`` → ``12.3%``).
ColumnKind = Literal["text", "count", "points", "fen", "date", "datetime", "percent"]

#: Rows on one page of a report; the CSV holds every row.
PAGE_SIZE = 50


@dataclass(frozen=True)
class Column:
    key: str
    #: Already translated (the report runs inside a request with the staff's language).
    label: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Chart:
    """What to draw: ``bar``, ``line`` or ``pie`` over one label column and value columns."""

    kind: Literal["bar", "line", "pie"]
    #: The column whose values label the x axis (or the pie's slices).
    label_key: str
    #: The columns drawn as series.
    value_keys: tuple[str, ...]
    #: The chart's own rows when they are not the table's (e.g. a ranking's top 10).
    rows: Sequence[dict[str, Any]] | None = None
    #: Translated names of the series, one per value key, for keys that are not columns of
    #: the table (else the column's label is used).
    series_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportParams:
    """The filters every report accepts; each report uses those that make sense for it."""

    #: Inclusive local dates.
    date_from: dt.date
    date_to: dt.date
    #: The stores to include; None means every store (headquarters). A store manager's
    #: scope is already intersected in here, so a report never widens it.
    store_ids: frozenset[int] | None
    #: 1-based page of the table; ``None`` means every row (the CSV).
    page: int | None = 1
    page_size: int = PAGE_SIZE
    #: The language labels are written in (``zh-Hans``, ``zh-Hant``, ``en``).
    language: str = "zh-Hans"
    #: A report's own count of days, where it has one (inactive-members: no transaction for
    #: this many days before the range's end); None means the report's default.
    days: int | None = None


@dataclass
class Report:
    name: str
    title: str
    columns: list[Column]
    #: One dict per row, keyed by column key; only the requested page (all for the CSV).
    rows: list[dict[str, Any]]
    #: Rows in the whole result (for paging), not only this page.
    total_rows: int
    chart: Chart | None = None
    #: Headline figures shown above the table: (translated label, value, kind).
    summary: list[tuple[str, Any, ColumnKind]] = field(default_factory=list)


ReportFunction = Callable[[Session, ReportParams], Report]
