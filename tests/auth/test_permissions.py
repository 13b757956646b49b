"""Roles' base sets, per-user grants and denials, and the store scope."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    effective_permissions,
    has_permission,
    store_scope,
)
from app.auth.services import disable_staff, set_overrides
from app.errors import InvalidRequest


@pytest.fixture
def make(app: Any, make_store: Any) -> Any:
    from app.auth.services import create_staff

    def make_one(name: str, role: str, store: str | None = None) -> Any:
        if store:
            make_store(store)
        return create_staff(name, "a long enough password", role=role, store_code=store)

    return make_one


def test_the_roles_base_sets() -> None:
    assert ROLE_PERMISSIONS["admin"] == frozenset(PERMISSIONS)
    assert "staff.manage" not in ROLE_PERMISSIONS["marketer"]
    assert "campaigns.manage" in ROLE_PERMISSIONS["marketer"]
    assert ROLE_PERMISSIONS["cashier"] == {"members.view", "cards.act"}
    assert "balances.approve" not in ROLE_PERMISSIONS["store_manager"]
    assert "rules.edit" not in ROLE_PERMISSIONS["store_manager"]


def test_a_grant_adds_and_a_denial_wins(make: Any) -> None:
    clerk = make("clerk", "cashier", "SH01")
    set_overrides(clerk, {"reports.view": True, "cards.act": False})

    assert has_permission(clerk, "reports.view")
    assert not has_permission(clerk, "cards.act")
    assert effective_permissions(clerk) == {"members.view", "reports.view"}

    # Changing one's mind: a grant becomes a denial without tripping the unique row.
    set_overrides(clerk, {"reports.view": False})
    assert effective_permissions(clerk) == {"members.view", "cards.act"}


def test_a_grant_of_what_the_role_has_is_not_kept(make: Any) -> None:
    from app.auth.services import overrides

    clerk = make("clerk", "cashier", "SH01")
    set_overrides(clerk, {"members.view": True})

    assert overrides(clerk) == {}


def test_an_unknown_permission_is_refused(make: Any) -> None:
    clerk = make("clerk", "cashier", "SH01")

    with pytest.raises(InvalidRequest):
        set_overrides(clerk, {"everything": True})
    with pytest.raises(ValueError):
        has_permission(clerk, "members.veiw")


def test_a_disabled_account_may_do_nothing(make: Any) -> None:
    make("boss", "admin")
    other = make("boss2", "admin")
    disable_staff(other)

    assert effective_permissions(other) == frozenset()


def test_store_roles_see_their_store_and_chain_roles_every_store(make: Any) -> None:
    manager = make("mgr", "store_manager", "SH02")

    assert store_scope(manager) == {manager.store_id}
    assert store_scope(make("mia", "marketer")) is None
    assert store_scope(make("boss", "admin")) is None
