"""A report's values as people read them, and its CSV as Excel opens it.

The CSV is UTF-8 with a byte-order mark (without one Excel reads Chinese as mojibake),
headers in the staff member's language, fen as yuan (``12.50``), and any text cell that
starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) prefixed with ``'`` so
that Excel shows it instead of running it as a formula (CSV injection). Figures the
report computed are never prefixed: a refund of ``-12.50`` stays a number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Any

from app import clock
from app.money import yuan
from app.reports.base import ColumnKind, Report

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Rows encoded per chunk of the streamed CSV.
CHUNK_ROWS = 500


def show(value: Any, kind: ColumnKind) -> str:
    """One value as the page and the CSV show it."""
    if value is None:
        return ""
    if kind == "fen":
        return yuan(int(value))
    if kind in ("count", "points"):
        return str(int(value))
    if kind == "percent":
        tenths = (int(value) + 5) // 10  # basis points to tenths of a percent, half up
        return f"{tenths // 10}.{tenths % 10}%"
    if kind == "datetime" and isinstance(value, dt.datetime):
        return clock.to_local(value).strftime("%Y-%m-%d %H:%M")
    if kind in ("date", "datetime") and isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def chart_value(value: Any, kind: ColumnKind) -> Any:
    """A value for the chart: fen as a yuan string (never a float), other figures as ints."""
    if value is None:
        return None
    if kind == "fen":
        return yuan(int(value))
    if kind in ("count", "points", "percent"):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def safe_cell(text: str) -> str:
    """Text Excel would take for a formula, made plain text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any, kind: ColumnKind) -> str:
    text = show(value, kind)
    return safe_cell(text) if kind == "text" else text


def csv_chunks(report: Report) -> Iterator[str]:
    """The CSV, BOM first, in chunks of ``CHUNK_ROWS`` rows (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(c.label) for c in report.columns])
    yield BOM + _drain(buffer)
    for chunk in _chunks(report.rows, CHUNK_ROWS):
        for row in chunk:
            writer.writerow([csv_cell(row.get(c.key), c.kind) for c in report.columns])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def column_kinds(report: Report) -> dict[str, ColumnKind]:
    return {c.key: c.kind for c in report.columns}


def chart_data(report: Report) -> dict[str, Any] | None:
    """What the page's script hands Chart.js: type, labels, one dataset per value key."""
    chart = report.chart
    if chart is None:
        return None
    rows = list(chart.rows if chart.rows is not None else report.rows)
    kinds = column_kinds(report)
    labels_by_key = {c.key: c.label for c in report.columns}
    datasets = []
    for i, key in enumerate(chart.value_keys):
        label = chart.series_labels[i] if i < len(chart.series_labels) else labels_by_key.get(key)
        kind: ColumnKind = kinds.get(key, "count")
        datasets.append(
            {
                "label": label or key,
                "data": [chart_value(row.get(key), kind) for row in rows],
            }
        )
    return {
        "type": chart.kind,
        "labels": [chart_value(row.get(chart.label_key), "text") for row in rows],
        "datasets": datasets,
    }
