"""Money as people read it. Amounts are integer fen everywhere; only text shows yuan."""

from __future__ import annotations


def yuan(fen: int, *, grouped: bool = False) -> str:
    """``128050`` → ``1280.50`` (``1,280.50`` when grouped); never through a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"
