"""/api/v1/cards: issue, look up, state changes, replacement, PINs and media."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from app.cards.models import Card, CardEvent
from app.cards.services import find_card, get_card
from app.clock import frozen
from app.db import db
from tests.api.support import NOW_JSON

ZERO = {"points": 0, "stored_value_fen": 0, "visits": 0}


def _card_json(card: Card, **fields: Any) -> dict[str, Any]:
    body = {
        "number": card.number,
        "type": card.type,
        "state": card.state,
        "member": card.member.phone if card.member is not None else None,
        "is_primary": card.is_primary,
        "valid_from": None,
        "valid_until": None,
        "has_pin": False,
        "pin_locked_until": None,
        "media": [],
        "credit_limit_fen": 0,
        "rechargeable": True,
        "issued_store": "SH01",
        "issued_at": NOW_JSON,
        "replaced_by": None,
        "balances": ZERO,
        "stored_value": {"paid_fen": 0, "bonus_fen": 0},
    }
    body.update(fields)
    return body


def _events(card: Card) -> list[tuple[str, str | None, str, str | None, str | None]]:
    return [
        (e.action, e.from_state, e.to_state, e.actor, e.reason)
        for e in db.session.scalars(
            select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id)
        )
    ]


def _refused(api, rows, path: str, body: Any, status: int, code: str) -> dict[str, Any]:
    before = rows()
    response = api.post(path, json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert rows() == before
    return response.json["error"]


# --- issue --------------------------------------------------------------------------


def test_issue_an_anonymous_gift_card_with_media(api, rows, fixed_now):
    before = rows()
    response = api.post(
        "/api/v1/cards",
        json={
            "type": "gift",
            "pin": "2468",
            "media": [
                {"kind": "barcode", "value": "6901234567892"},
                {"kind": "magstripe", "value": ";6228480402564890018=49121200000000000?"},
            ],
        },
    )
    assert response.status_code == 201, response.json
    card = get_card(response.json["card"]["number"])
    assert response.json == {
        "card": _card_json(
            card,
            type="gift",
            member=None,
            is_primary=False,
            has_pin=True,
            media=["barcode", "magstripe"],
            rechargeable=False,
        )
    }
    assert len(card.number) == 16 and card.number.startswith("88")
    assert find_card("6901234567892").id == card.id
    assert rows() == before | {
        "card": before["card"] + 1,
        "card_event": before["card_event"] + 1,
        "card_medium": before["card_medium"] + 2,
    }
    assert _events(card)[0][:3] == ("issue", None, "active")
    assert _events(card)[0][3].startswith("apikey:")


def test_issue_a_named_period_card_for_a_quarter(api, make_member, fixed_now):
    member = make_member("13800138000")
    response = api.post(
        "/api/v1/cards",
        json={
            "type": "period",
            "member": "+86 138 0013 8000",
            "period": "quarter",
            "valid_from": "2026-03-01",
        },
    )
    assert response.status_code == 201, response.json
    card = get_card(response.json["card"]["number"])
    assert response.json == {
        "card": _card_json(
            card,
            type="period",
            member=member.phone,
            is_primary=False,
            valid_from="2026-03-01",
            valid_until="2026-05-31",
        )
    }
    shown = api.get("/api/v1/members/13800138000").json
    assert [c["number"] for c in shown["cards"]] == [find_card(member.phone).number, card.number]


def test_issue_stored_value_with_overdraft(api, fixed_now):
    response = api.post("/api/v1/cards", json={"type": "stored_value", "credit_limit_fen": 50000})
    assert response.status_code == 201
    assert response.json["card"]["credit_limit_fen"] == 50000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "type"),
        ({"type": "platinum"}, "type"),
        ({"type": "gift", "member": "13999999999"}, "member"),
        ({"type": "period"}, "period"),
        ({"type": "period", "period": "week"}, "period"),
        (
            {"type": "period", "valid_from": "2026-03-01", "valid_until": "2026-02-01"},
            "valid_until",
        ),
        ({"type": "points", "credit_limit_fen": 100}, "credit_limit_fen"),
        ({"type": "stored_value", "credit_limit_fen": -1}, "credit_limit_fen"),
        ({"type": "stored_value", "credit_limit_fen": 10.5}, "credit_limit_fen"),
        ({"type": "stored_value", "credit_limit_fen": "100"}, "credit_limit_fen"),
        ({"type": "gift", "pin": "12"}, "pin"),
        ({"type": "gift", "pin": "abcd"}, "pin"),
        ({"type": "gift", "media": [{"kind": "nfc", "value": "x"}]}, "media.0.kind"),
        (
            {
                "type": "gift",
                "media": [
                    {"kind": "barcode", "value": "111"},
                    {"kind": "barcode", "value": "111"},
                ],
            },
            "value",
        ),
        ({"type": "gift", "valid_from": "tomorrow"}, "valid_from"),
    ],
)
def test_issue_refuses_bad_input(api, rows, body, field):
    error = _refused(api, rows, "/api/v1/cards", body, 400, "invalid_request")
    assert error["details"]["field"] == field


# --- look up ---------------------------------------------------------------------------


def test_card_is_found_by_number_medium_and_phone(api, make_member, fixed_now):
    member = make_member("13800138000")
    card = find_card(member.phone)
    api.post(f"/api/v1/cards/{card.number}/media", json={"kind": "qr_token", "value": "qr-abc"})
    expected = {"card": _card_json(card, member="+8613800138000", media=["qr_token"])}
    assert api.get(f"/api/v1/cards/{card.number}").json == expected
    assert api.get("/api/v1/cards/qr-abc").json == expected
    assert api.get("/api/v1/cards/13800138000").json == expected


def test_unknown_card_is_not_found(api, rows):
    for path in ("/api/v1/cards/8800000000000000", "/api/v1/cards/no-such-medium"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
    for action in ("report-lost", "found", "freeze", "unfreeze", "cancel", "replace"):
        _refused(api, rows, f"/api/v1/cards/8800000000000000/{action}", {}, 404, "not_found")
    medium = {"kind": "barcode", "value": "123"}
    _refused(api, rows, "/api/v1/cards/8800000000000000/media", medium, 404, "not_found")
    verify = "/api/v1/cards/8800000000000000/pin/verify"
    _refused(api, rows, verify, {"pin": "1234"}, 404, "not_found")
    _refused(api, rows, "/api/v1/cards/8800000000000000/pin", {"pin": "1234"}, 404, "not_found")


# --- state changes ----------------------------------------------------------------------


def test_lost_found_freeze_unfreeze_cancel(api, make_card, fixed_now):
    card = make_card("points")
    path = f"/api/v1/cards/{card.number}"
    steps = [
        ("report-lost", "lost"),
        ("found", "active"),
        ("freeze", "frozen"),
        ("report-lost", "lost"),
        ("found", "active"),
        ("freeze", "frozen"),
        ("unfreeze", "active"),
        ("cancel", "cancelled"),
    ]
    for action, state in steps:
        response = api.post(f"{path}/{action}", json={"reason": f"asked to {action}"})
        assert response.status_code == 200, response.json
        assert response.json == {
            "card": _card_json(card, type="points", member=None, is_primary=False, state=state)
        }
    history = _events(card)
    assert [(a, f, t) for a, f, t, _, _ in history[1:]] == [
        ("report-lost", "active", "lost"),
        ("found", "lost", "active"),
        ("freeze", "active", "frozen"),
        ("report-lost", "frozen", "lost"),
        ("found", "lost", "active"),
        ("freeze", "active", "frozen"),
        ("unfreeze", "frozen", "active"),
        ("cancel", "active", "cancelled"),
    ]
    assert history[1][4] == "asked to report-lost"


def test_action_without_a_body(api, make_card, fixed_now):
    card = make_card("points")
    response = api.client.post(
        f"/api/v1/cards/{card.number}/freeze", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response.status_code == 200, response.json
    assert response.json["card"]["state"] == "frozen"


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "found"),
        ([], "unfreeze"),
        (["freeze"], "freeze"),
        (["report-lost"], "freeze"),
        (["cancel"], "found"),
        (["cancel"], "report-lost"),
        (["cancel"], "cancel"),
        (["freeze"], "replace"),
    ],
)
def test_illegal_transition_is_refused(api, make_card, rows, setup, action):
    card = make_card("points")
    for step in setup:
        assert api.post(f"/api/v1/cards/{card.number}/{step}").status_code == 200
    db.session.expire_all()  # the requests changed the card in their own sessions
    state = card.state
    error = _refused(
        api, rows, f"/api/v1/cards/{card.number}/{action}", {}, 409, "illegal_transition"
    )
    assert error["details"]["action"] == action
    assert error["details"]["state"] == state
    db.session.expire_all()
    assert get_card(card.number).state == state


def test_unknown_action_is_not_found(api, make_card, rows):
    card = make_card("points")
    before = rows()
    response = api.post(f"/api/v1/cards/{card.number}/expire")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert rows() == before


def test_replace_gives_a_new_number_and_the_old_stops_working(api, make_member, rows, fixed_now):
    member = make_member("13800138000")
    old = find_card(member.phone)
    api.post(f"/api/v1/cards/{old.number}/pin", json={"pin": "1357"})
    api.post(f"/api/v1/cards/{old.number}/report-lost")

    response = api.post(f"/api/v1/cards/{old.number}/replace", json={"reason": "lost on bus"})

    assert response.status_code == 200, response.json
    new = get_card(response.json["card"]["number"])
    assert new.number != old.number
    assert response.json == {
        "card": _card_json(new, member=member.phone, has_pin=True),
        "replaced_card": _card_json(
            old,
            member=member.phone,
            state="cancelled",
            is_primary=False,
            has_pin=True,
            replaced_by=new.number,
        ),
    }
    # The phone now stands for the new card; the old number resolves to nothing.
    assert api.get("/api/v1/cards/13800138000").json["card"]["number"] == new.number
    gone = api.get(f"/api/v1/cards/{old.number}")
    assert gone.status_code == 404
    assert gone.json["error"] == {
        "code": "not_found",
        "message": f"card {old.number} was replaced and no longer works",
        "details": {"field": "card"},
    }
    assert api.get(f"/api/v1/members/{old.number}").status_code == 404
    assert api.get(f"/api/v1/members/{new.number}").json["cards"] == [
        {
            "number": new.number,
            "type": "stored_value",
            "state": "active",
            "is_primary": True,
            "replaced_by": None,
        },
        {
            "number": old.number,
            "type": "stored_value",
            "state": "cancelled",
            "is_primary": False,
            "replaced_by": new.number,
        },
    ]
    # Nothing works on the old number any more, and nothing is written trying.
    _refused(api, rows, f"/api/v1/cards/{old.number}/found", {}, 404, "not_found")
    _refused(api, rows, f"/api/v1/cards/{old.number}/replace", {}, 404, "not_found")
    # History stays with the old card; the same PIN works on the new one.
    assert [a for a, *_ in _events(old)] == ["issue", "report-lost", "replace"]
    assert api.post(f"/api/v1/cards/{new.number}/pin/verify", json={"pin": "1357"}).json == {
        "valid": True,
        "pin_required": True,
    }


# --- PINs -------------------------------------------------------------------------------


def test_set_change_and_remove_a_pin(api, make_card, rows, fixed_now):
    card = make_card("gift")
    path = f"/api/v1/cards/{card.number}/pin"
    response = api.post(path, json={"pin": "1234"})
    assert response.status_code == 200, response.json
    assert response.json["card"]["has_pin"] is True

    error = _refused(api, rows, path, {"pin": "5678"}, 403, "pin_required")
    assert error["details"] == {"field": "pin"}
    _refused(api, rows, path, {"pin": "12", "old_pin": "1234"}, 400, "invalid_request")

    response = api.post(path, json={"pin": "5678", "old_pin": "1234"})
    assert response.status_code == 200
    verify = f"{path}/verify"
    assert api.post(verify, json={"pin": "5678"}).json == {"valid": True, "pin_required": True}
    assert api.post(verify, json={"pin": "1234"}).status_code == 403

    response = api.post(path, json={"pin": None, "old_pin": "5678"})
    assert response.status_code == 200
    assert response.json["card"]["has_pin"] is False


def test_wrong_pins_lock_the_card(api, make_card):
    card = make_card("gift", pin="1234")
    verify = f"/api/v1/cards/{card.number}/pin/verify"
    start = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
    with frozen(start):
        for attempts_left in (4, 3, 2, 1):
            response = api.post(verify, json={"pin": "0000"})
            assert response.status_code == 403
            assert response.json["error"] == {
                "code": "wrong_pin",
                "message": "wrong PIN",
                "details": {"attempts_left": attempts_left},
            }
            # The count survives the refused request.
            db.session.expire_all()
            assert get_card(card.number).pin_failures == 5 - attempts_left

        response = api.post(verify, json={"pin": "0000"})
        assert response.status_code == 423
        assert response.json["error"]["code"] == "pin_locked"
        assert response.json["error"]["details"] == {"locked_until": "2026-03-01T02:45:00+00:00"}

        # While locked even the right PIN is refused, and the card says so.
        response = api.post(verify, json={"pin": "1234"})
        assert response.status_code == 423
        assert response.json["error"]["code"] == "pin_locked"
        shown = api.get(f"/api/v1/cards/{card.number}").json["card"]
        assert shown["pin_locked_until"] == "2026-03-01T02:45:00+00:00"

    with frozen(start + dt.timedelta(minutes=14, seconds=59)):
        assert api.post(verify, json={"pin": "1234"}).status_code == 423
    with frozen(start + dt.timedelta(minutes=15)):
        assert api.post(verify, json={"pin": "1234"}).json == {"valid": True, "pin_required": True}
        assert api.get(f"/api/v1/cards/{card.number}").json["card"]["pin_locked_until"] is None


def test_verify_refuses_bad_input(api, make_card, rows):
    card = make_card("gift", pin="1234")
    verify = f"/api/v1/cards/{card.number}/pin/verify"
    _refused(api, rows, verify, {}, 400, "invalid_request")
    _refused(api, rows, verify, {"pin": 1234}, 400, "invalid_request")


def test_verify_on_a_card_without_a_pin_is_not_a_passed_check(api, make_card, rows):
    """Issue 9: any string was "valid" on a card without a PIN; a POS took it as checked."""
    card = make_card("gift")
    verify = f"/api/v1/cards/{card.number}/pin/verify"
    before = rows()
    for pin in ("1234", "anything"):
        response = api.post(verify, json={"pin": pin})
        assert response.status_code == 200
        assert response.json == {"valid": False, "pin_required": False}
    assert rows() == before


# --- media ------------------------------------------------------------------------------


def test_attach_media(api, make_card, rows, fixed_now):
    card = make_card("points")
    path = f"/api/v1/cards/{card.number}/media"
    response = api.post(path, json={"kind": "ic_uid", "value": " 04A1B2C3 "})
    assert response.status_code == 201, response.json
    assert response.json == {
        "card": _card_json(card, type="points", member=None, media=["ic_uid"]),
        "medium": {"kind": "ic_uid", "value": "04A1B2C3"},
    }
    assert find_card("04A1B2C3").id == card.id

    other = make_card("points")
    error = _refused(
        api, rows, f"/api/v1/cards/{other.number}/media",
        {"kind": "ic_uid", "value": "04A1B2C3"}, 400, "invalid_request",
    )  # fmt: skip
    assert error["details"] == {"field": "value"}
    _refused(api, rows, path, {"kind": "rfid", "value": "x"}, 400, "invalid_request")
    _refused(api, rows, path, {"kind": "barcode", "value": ""}, 400, "invalid_request")
    _refused(api, rows, path, {"kind": "barcode"}, 400, "invalid_request")


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ([], "found", "cannot mark as found a card that is active"),
        (["report-lost"], "freeze", "cannot freeze a card that is reported lost"),
        (["cancel"], "report-lost", "cannot report as lost a card that is cancelled"),
    ],
)
def test_illegal_transition_message_reads_as_english(api, make_card, rows, setup, action, message):
    """It said "cannot found a card that is active"."""
    card = make_card("points")
    for step in setup:
        assert api.post(f"/api/v1/cards/{card.number}/{step}").status_code == 200
    error = _refused(
        api, rows, f"/api/v1/cards/{card.number}/{action}", {}, 409, "illegal_transition"
    )
    assert error["message"] == message
