"""Helpers for the API tests: row counts (bad input writes nothing) and a fixed clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from app.auth.models import ApiKey
from app.cards.models import Card, CardEvent, CardMedium
from app.clock import frozen
from app.db import db
from app.members.models import Member
from app.stores.models import Store
from tests.api.support import NOW


@pytest.fixture
def rows(app: object) -> Callable[[], dict[str, int]]:
    """``before = rows(); ...; assert rows() == before``: nothing was written."""

    def count() -> dict[str, int]:
        db.session.expire_all()
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Store, Member, Card, CardEvent, CardMedium, ApiKey)
        }

    return count


@pytest.fixture
def fixed_now() -> Iterator[dt.datetime]:
    with frozen(NOW):
        yield NOW
