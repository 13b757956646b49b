"""The REST API under /api/v1 for the store station and POS systems."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
