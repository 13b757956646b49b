"""The ledger-side reports by the name the panel's URL uses (``/admin/reports/<name>``).

The panel's registry (``app/reports/registry.py``) takes these beside the member-side
reports. ``LEDGER_QUERIES`` gives each report's statements for a set of parameters, for
the benchmark (``bench/reports.py``) and the plan test (``tests/reports/test_report_plans.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Executable

from app.reports import consumption, gifts, points, recharges, staff, stores
from app.reports.base import ReportFunction, ReportParams

LEDGER_REPORTS: dict[str, ReportFunction] = {
    "consumption": consumption.report,
    "recharges": recharges.report,
    "points": points.report,
    "gift-redemptions": gifts.gift_redemptions,
    "popular-gifts": gifts.popular_gifts,
    "gift-stock": gifts.gift_stock,
    "stores": stores.report,
    "staff": staff.report,
}

#: ``(params, dialect) -> {name: (statement, parameter values)}``.
LEDGER_QUERIES: dict[
    str, Callable[[ReportParams, str], dict[str, tuple[Executable, dict[str, Any]]]]
] = {
    "consumption": consumption.queries,
    "recharges": recharges.queries,
    "points": points.queries,
    "gift-redemptions": gifts.redemption_queries,
    "popular-gifts": gifts.popular_queries,
    "gift-stock": gifts.stock_queries,
    "stores": stores.queries,
    "staff": staff.queries,
}
