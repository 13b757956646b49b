"""Helpers for the API tests: row counts (bad input writes nothing) and a fixed clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.auth.models import ApiKey
from app.cards.models import Card, CardEvent, CardMedium
from app.clock import frozen
from app.db import db
from app.members.models import Member
from app.stores.models import Store
from tests.api.support import NOW


class CommittingClient(FlaskClient):
    """Commits the test's own setup before each request, as a real database would have it.

    The request shares the test's app context and session, so without this a
    refused request would roll back the factories' flushed rows along with its own.
    """

    def open(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        db.session.commit()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = CommittingClient
    return app.test_client()


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
