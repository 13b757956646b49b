"""Reports: read-only figures for the panel (tables, charts, CSV).

The one package that reads other packages' tables directly: reports aggregate across
members, cards, the ledger and redemption in SQL, and never write a row.

``init_app`` serves the charting library that ships in ``static/chartjs`` (Chart.js, MIT,
its licence beside it) at ``/assets/reports/``: the panel loads nothing from elsewhere.
"""

from __future__ import annotations

from flask import Blueprint, Flask

#: The endpoint of the files in ``static/`` (``url_for(ASSETS + ".static", filename=...)``).
ASSETS = "report_assets"


def init_app(app: Flask) -> None:
    assets = Blueprint(ASSETS, __name__, static_folder="static", static_url_path="/assets/reports")
    app.register_blueprint(assets)
