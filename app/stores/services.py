"""The chain's stores. Creating or renaming one is audited: API keys and staff hang off it."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.services import record
from app.db import db
from app.errors import InvalidRequest, NotFound
from app.stores.models import Store

#: Column widths of ``store``: longer input is refused, never truncated or left to the database.
MAX_CODE_CHARS = 32
MAX_NAME_CHARS = 120
MAX_REGION_CHARS = 64


def _checked_name_region(name: str, region: str) -> tuple[str, str]:
    name, region = name.strip(), region.strip()
    if not name:
        raise InvalidRequest("store name is required", field="name", reason="store_name")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(
            f"a store name has at most {MAX_NAME_CHARS} characters",
            field="name",
            reason="store_name_length",
        )
    if not region:
        raise InvalidRequest("store region is required", field="region", reason="store_region")
    if len(region) > MAX_REGION_CHARS:
        raise InvalidRequest(
            f"a region has at most {MAX_REGION_CHARS} characters",
            field="region",
            reason="store_region_length",
        )
    return name, region


def create_store(code: str, name: str, region: str) -> Store:
    code = code.strip().upper()
    if (
        not code
        or len(code) > MAX_CODE_CHARS
        or not code.isascii()
        or not code.replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidRequest(
            "store code must be letters, digits, - or _", field="code", reason="store_code"
        )
    name, region = _checked_name_region(name, region)
    if db.session.scalar(select(Store.id).where(Store.code == code)):
        raise InvalidRequest(f"store {code} already exists", field="code", reason="store_exists")
    store = Store(code=code, name=name, region=region)
    db.session.add(store)
    db.session.flush()
    record("store.create", "store", code, after={"name": name, "region": region})
    return store


def update_store(store: Store, *, name: str, region: str) -> Store:
    """Rename a store or move it to another region; its code, used by keys and staff, stays."""
    name, region = _checked_name_region(name, region)
    before = {"name": store.name, "region": store.region}
    after = {"name": name, "region": region}
    changed = [k for k in after if before[k] != after[k]]
    if changed:
        store.name, store.region = name, region
        db.session.flush()
        record(
            "store.update",
            "store",
            store.code,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return store


def get_store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code.strip().upper()))
    if store is None:
        raise NotFound(f"no store with code {code!r}", field="store")
    return store


def list_stores(store_ids: frozenset[int] | None = None) -> list[Store]:
    """Every store, or only ``store_ids`` (a store manager's scope)."""
    query = select(Store).order_by(Store.code)
    if store_ids is not None:
        query = query.where(Store.id.in_(store_ids))
    return list(db.session.scalars(query))
