"""Every report the panel offers, by the name in its URL (``/admin/reports/<name>``).

The names are a contract (issue 13, "Names other tools rely on"): scripts fetch
``/admin/reports/<name>?format=csv``. A report is listed here, nowhere else; the panel's
index, its filter form and the CSV all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.i18n import in_language
from app.reports import (
    balances,
    birthdays,
    expiries,
    inactive_members,
    member_trend,
    members,
    new_members,
    top_spenders,
)
from app.reports.base import Report, ReportFunction, ReportParams

#: Filters a report may read: ``dates`` (from / to), ``store`` (a store or a region),
#: ``days`` (its own number of days, see ``ReportParams.days``).
FILTERS = frozenset({"dates", "store", "days"})


def N_(msgid: str) -> str:
    """Marks a title for the catalogs; it is translated where it is shown."""
    return msgid


@dataclass(frozen=True)
class ReportSpec:
    name: str
    function: ReportFunction
    #: The msgid of the title (``gettext(spec.title)`` shows it).
    title: str
    #: One line saying what the report shows (a msgid too).
    description: str
    filters: frozenset[str]
    #: Whether the page draws a chart.
    chart: bool

    def __post_init__(self) -> None:
        if not self.filters <= FILTERS:
            raise ValueError(f"unknown filters {sorted(self.filters - FILTERS)}")

    def run(self, session: Session, params: ReportParams) -> Report:
        """The report with its labels in ``params.language`` (a page, a CSV, a script)."""
        with in_language(params.language):
            return self.function(session, params)


def _spec(
    name: str,
    function: ReportFunction,
    title: str,
    description: str,
    filters: tuple[str, ...] = ("dates", "store"),
    *,
    chart: bool,
) -> tuple[str, ReportSpec]:
    return name, ReportSpec(name, function, title, description, frozenset(filters), chart)


REPORTS: dict[str, ReportSpec] = dict(
    [
        # --- members, balances, birthdays, expiries (issue 13, part a) ---------------------
        _spec(
            "members",
            members.report,
            N_("Member analysis"),
            N_("Members by level, gender, age band and region at the end of the range."),
            chart=True,
        ),
        _spec(
            "member-trend",
            member_trend.report,
            N_("Member-count trend"),
            N_("The number of members at the end of each day or week."),
            chart=True,
        ),
        _spec(
            "new-members",
            new_members.report,
            N_("New members"),
            N_("Members who joined in the range, with their store."),
            chart=True,
        ),
        _spec(
            "inactive-members",
            inactive_members.report,
            N_("Inactive members"),
            N_("Members with no purchase, recharge or redemption for a number of days."),
            ("dates", "store", "days"),
            chart=False,
        ),
        _spec(
            "top-spenders",
            top_spenders.report,
            N_("Top spenders"),
            N_("Members ranked by what they paid in the range, less refunds."),
            chart=True,
        ),
        _spec(
            "balances",
            balances.report,
            N_("Member balances"),
            N_("Each member's points and stored value today, with the totals."),
            ("store",),
            chart=False,
        ),
        _spec(
            "birthdays",
            birthdays.report,
            N_("Birthdays"),
            N_("Members whose solar or lunar birthday falls in the range."),
            chart=False,
        ),
        _spec(
            "expiries",
            expiries.report,
            N_("Card expiries"),
            N_("Period cards and other cards whose validity ends in the range."),
            chart=True,
        ),
        # --- consumption, recharges, points, gift-redemptions, popular-gifts, gift-stock,
        # --- stores, staff (issue 13, part b): the other part's entries go here ----------
    ]
)
