from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.errors import InvalidRequest, NotFound
from app.stores.models import Store


def create_store(code: str, name: str, region: str) -> Store:
    code = code.strip().upper()
    if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidRequest("store code must be letters, digits, - or _", field="code")
    if not name.strip():
        raise InvalidRequest("store name is required", field="name")
    if not region.strip():
        raise InvalidRequest("store region is required", field="region")
    if db.session.scalar(select(Store.id).where(Store.code == code)):
        raise InvalidRequest(f"store {code} already exists", field="code")
    store = Store(code=code, name=name.strip(), region=region.strip())
    db.session.add(store)
    db.session.flush()
    return store


def get_store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code.strip().upper()))
    if store is None:
        raise NotFound(f"no store with code {code!r}", field="store")
    return store


def list_stores() -> list[Store]:
    return list(db.session.scalars(select(Store).order_by(Store.code)))
