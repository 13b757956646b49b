"""Money as people read it. Amounts are integer fen everywhere; only text shows yuan."""

from __future__ import annotations


def yuan(fen: int, *, grouped: bool = False) -> str:
    """``128050`` → ``1280.50`` (``1,280.50`` when grouped); never through a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """``"-12.5"`` → ``-1250``: what a person types into a form, to fen, never through a float.

    Raises ``ValueError`` for anything but an optional sign, digits and at most two decimals.
    """
    import re

    match = re.fullmatch(r"\s*([+-]?)(\d{1,12})(?:\.(\d{1,2}))?\s*", text or "")
    if match is None:
        raise ValueError(f"not an amount of yuan: {text!r}")
    sign, whole, cents = match.groups()
    fen = int(whole) * 100 + int((cents or "0").ljust(2, "0"))
    return -fen if sign == "-" else fen
