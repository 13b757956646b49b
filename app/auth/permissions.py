"""Named permissions, the roles' base sets, and what one staff member may do.

A role is a bundle of permissions; a staff member's own grants add to it and denials
take away (a denial wins). Every admin view checks one name on the server
(``app.admin.guard.requires``); links are hidden with the same check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.auth.models import StaffUser

PERMISSIONS = (
    "rules.view",
    "rules.edit",
    "members.view",
    "members.edit",
    "cards.act",
    "balances.adjust",
    "balances.approve",
    "staff.manage",
    "audit.view",
    "stores.manage",
    "api_keys.manage",
    "campaigns.manage",
    "reports.view",
    "jobs.view",
    "jobs.run",
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "marketer": frozenset({"rules.view", "members.view", "campaigns.manage", "reports.view"}),
    "store_manager": frozenset(
        {
            "rules.view",
            "members.view",
            "members.edit",
            "cards.act",
            "balances.adjust",
            "reports.view",
        }
    ),
    "cashier": frozenset({"members.view", "cards.act"}),
}


def effective_permissions(staff: StaffUser) -> frozenset[str]:
    if not staff.active:
        return frozenset()
    granted = {o.permission for o in staff.overrides if o.allowed}
    denied = {o.permission for o in staff.overrides if not o.allowed}
    return frozenset((ROLE_PERMISSIONS[staff.role] | granted) - denied)


def has_permission(staff: StaffUser, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")  # a typo in a view
    return permission in effective_permissions(staff)


def store_scope(staff: StaffUser) -> frozenset[int] | None:
    """The stores whose members' store-level data the staff member sees; None means all."""
    from app.auth.models import STORE_ROLES

    if staff.role in STORE_ROLES:
        return frozenset({staff.store_id}) if staff.store_id is not None else frozenset()
    return None
