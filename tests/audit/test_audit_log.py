"""Changes through the API and the CLI are in the audit log, with who, what, before and after."""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cards.services import change_state, member_cards
from app.db import db


def _entries(prefix: str = "") -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if prefix:
        query = query.where(AuditEntry.action.startswith(prefix))
    return list(db.session.scalars(query))


def test_a_member_joining_and_changing_through_the_api(api: Any) -> None:
    prefix = db.session.scalars(
        select(AuditEntry.object_id).where(AuditEntry.object_type == "api_key")
    ).all()  # the key's own entry
    joined = api.post(
        "/api/v1/members", json={"phone": "13900139000", "home_store": "SH01", "name": "王芳"}
    )
    assert joined.status_code == 201, joined.json
    member_id = joined.json["id"]

    api.patch("/api/v1/members/13900139000", json={"name": "王小芳", "tags": ["yoga"]})
    api.patch("/api/v1/members/13900139000", json={"name": "王小芳"})  # no change: no entry

    key_prefix = api.key[:12]
    created, updated = _entries("member.")
    assert (created.action, created.actor_kind, created.actor) == (
        "member.create",
        "api_key",
        key_prefix,
    )
    assert created.object_id == str(member_id)
    assert created.before is None
    assert created.after["phone"] == "+8613900139000" and created.after["name"] == "王芳"
    assert (updated.action, updated.actor) == ("member.update", key_prefix)
    assert updated.before == {"name": "王芳", "tags": []}
    assert updated.after == {"name": "王小芳", "tags": ["yoga"]}
    assert prefix == [key_prefix]  # the key's creation was recorded first


def test_card_state_changes_through_the_api(api: Any, make_card: Any) -> None:
    card = make_card("points")
    path = f"/api/v1/cards/{card.number}"
    api.post(f"{path}/report-lost", json={"reason": "left on the bus"})
    replaced = api.post(f"{path}/replace", json={"reason": "a new card"})
    assert replaced.status_code == 201 or replaced.status_code == 200, replaced.json

    lost, replace = _entries("card.")[-2:]
    assert (lost.action, lost.object_id, lost.actor_kind) == (
        "card.report-lost",
        card.number,
        "api_key",
    )
    assert (lost.before, lost.after) == (
        {"state": "active"},
        {"state": "lost", "reason": "left on the bus"},
    )
    assert replace.action == "card.replace"
    assert replace.after["state"] == "cancelled"
    assert replace.after["new_card"] == replaced.json["card"]["number"]


def test_a_change_made_outside_a_request_is_the_cli_as_the_os_user(make_member: Any) -> None:
    member = make_member()
    card = member_cards(member)[0]

    change_state(card, "freeze", reason="asked at the counter")

    entry = _entries("card.")[-1]
    assert (entry.actor_kind, entry.actor, entry.action) == (
        "cli",
        getpass.getuser(),
        "card.freeze",
    )


def test_api_keys_made_and_revoked_in_the_cli(runner: Any) -> None:
    runner.invoke(args=["store", "create", "SH01", "--name", "静安店", "--region", "华东"])
    made = runner.invoke(args=["apikey", "create", "--store", "SH01", "--label", "POS 2"])
    secret = made.output.splitlines()[-1]
    runner.invoke(args=["apikey", "revoke", secret[:12]])
    runner.invoke(args=["apikey", "revoke", secret[:12]])  # again: nothing changes

    create, revoke = _entries("api_key.")
    assert (create.action, create.object_id, create.after) == (
        "api_key.create",
        secret[:12],
        {"store": "SH01", "label": "POS 2"},
    )
    assert (revoke.action, revoke.before, revoke.after) == (
        "api_key.revoke",
        {"revoked": False},
        {"revoked": True, "store": "SH01"},
    )
    assert secret not in str([(e.before, e.after, e.object_id) for e in _entries()])
    assert {e.actor_kind for e in _entries()} == {"cli"}
