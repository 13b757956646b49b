"""Reports: read-only figures for the panel (tables, charts, CSV).

The one package that reads other packages' tables directly: reports aggregate across
members, cards, the ledger and redemption in SQL, and never write a row.
"""
