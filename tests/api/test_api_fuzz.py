"""Schemathesis fuzzes the REST API from its own OpenAPI document, in-process, on both databases.

Every operation of ``/api/v1/openapi.json`` gets Schemathesis' coverage cases (boundary
values, missing and wrong-typed fields) and a bounded number of generated cases, valid
and invalid. Each request is sent through the WSGI app with a valid key of store SH01,
against a seeded chain (stores, members, cards with and without PINs, gift and count
cards, purchases, gifts and coupons); for most valid cases the generated card numbers,
phones, transaction ids, gift and coupon codes are swapped for seeded ones, so requests
reach past 404 into the services. Each case runs in a savepoint rolled back after it, so
every case sees the same seeded chain.

The test fails on any 5xx, any answer that does not match the document, any status the
document does not list for the operation, a valid request refused with 400, and an invalid
one accepted. A failure names the operation and the check and prints a curl command
that reproduces it. Run only this test with::

    .venv/bin/python -m pytest -q tests/api/test_api_fuzz.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from app import create_app
from app.cards.services import (
    add_medium,
    change_state,
    issue_card,
    member_cards,
    replace_card,
    set_pin,
)
from app.db import db
from app.ledger import operations
from app.ledger.journal import credit_points
from app.ledger.redemption.services import issue_coupon
from app.ledger.rules.io import import_rules
from app.messaging.providers.wechat_fake import FakeWechatApi
from tests.wechat_out.support import fake_wechat, wechat_settings  # noqa: F401

EXAMPLE_RULES = Path(__file__).parents[2] / "docs" / "rules.example.json"
#: PIN of every seeded card that has one, so a valid case can pass the PIN check.
PIN = "2468"
#: Generated cases per operation (valid and invalid together) on each database, on top of
#: the coverage phase's boundary cases: about a minute for both databases on 2 cores.
#: ``FUZZ_MAX_EXAMPLES=1000`` makes a deeper run by hand.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
#: A case slower than this fails (Hypothesis confirms it on a rerun): room for a loaded CI box.
DEADLINE = dt.timedelta(seconds=2)

CONFIG = {
    "seed": 9,
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
        # The key is sent with every case (and the ignored_auth check sends none): a generated
        # Authorization header would only be replaced.
        "with-security-parameters": False,
    },
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        # Refusals of a valid request that are about the data, not its shape: a card that is
        # not active, a wrong PIN, a locked card. A valid request refused with 400 still fails.
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "423"]
        },
    },
}


@dataclass
class Seeded:
    """What the fuzzer may use in place of generated references (see ``_swap``)."""

    key: str
    stores: list[str] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    transactions: list[int] = field(default_factory=list)
    gifts: list[str] = field(default_factory=list)
    coupon_types: list[str] = field(default_factory=list)
    coupons: list[str] = field(default_factory=list)


@pytest.fixture
def seeded(
    app: Flask,
    make_store: Callable[..., Any],
    make_member: Callable[..., Any],
    make_api_key: Callable[..., str],
) -> Seeded:
    """A small chain with the shipped example rules, through the services the API uses."""
    sh01, sh02, _ = (make_store(code) for code in ("SH01", "SH02", "BJ01"))
    import_rules(json.loads(EXAMPLE_RULES.read_text(encoding="utf-8")))
    out = Seeded(key=make_api_key("SH01"), stores=["SH01", "SH02"])

    rich = make_member("+8613800138000", name="王小明")
    plain = make_member("+8613900139000", card_type="points")
    pinned = make_member("+14155552671", language="en")
    rich_card, plain_card, pinned_card = (member_cards(m)[0] for m in (rich, plain, pinned))
    set_pin(pinned_card, PIN)
    add_medium(rich_card, "barcode", "6901234567892")
    for card in (rich_card, pinned_card):
        operations.recharge(card, sh01, 100000, key=f"seed:r:{card.id}", actor="seed")
    credit_points(plain_card, 5000, kind="adjustment", key="seed:p", expires_on=None)
    sale = operations.checkout(rich_card, sh01, 12000, "stored_value", key="seed:c1", actor="s")
    cash = operations.checkout(plain_card, sh01, 30000, "cash", key="seed:c2", actor="s")
    elsewhere = operations.checkout(rich_card, sh02, 5000, "cash", key="seed:c3", actor="s")
    refund = operations.refund(sale.transaction_id, 2000, key="seed:rf", actor="s", store=sh01)

    gift = issue_card("gift", store=sh01, pin=PIN)
    bare_gift = issue_card("gift", store=sh01)
    for card in (gift, bare_gift):
        operations.load_value(card, 5000, idempotency_key=f"seed:g:{card.id}", actor="s")
    count = issue_card("count", member=plain, store=sh01)
    operations.load_value(count, 0, visits=10, idempotency_key="seed:v", actor="s")
    period = issue_card("period", member=rich, store=sh01, period="month")
    lost = issue_card("stored_value", member=plain, store=sh01)
    change_state(lost, "report-lost", actor="s")
    frozen = issue_card("points", member=pinned, store=sh01, pin=PIN)
    change_state(frozen, "freeze", actor="s")
    replaced = issue_card("stored_value", member=pinned, store=sh01)
    replace_card(replaced, actor="s")
    coupon = issue_coupon(plain, "C90")
    voucher = issue_coupon(rich, "V20")
    db.session.flush()

    out.cards = [
        *(c.number for c in (rich_card, plain_card, pinned_card, gift, bare_gift, count)),
        *(c.number for c in (period, lost, frozen, replaced)),
        "6901234567892",
        "13800138000",
        "+14155552671",
    ]
    out.members = ["13800138000", "+8613900139000", "+1 415-555-2671", rich_card.number]
    out.transactions = [t.transaction_id for t in (sale, cash, elsewhere, refund)]
    out.gifts = ["MUG", "TOTE"]
    out.coupon_types = ["V20", "C90"]
    out.coupons = [coupon.code, voucher.code]
    return out


@pytest.fixture
def app_config(fake_wechat: FakeWechatApi) -> dict[str, Any]:  # noqa: F811
    """The scene QR endpoint asks the WeChat API for a ticket: a local fake answers."""
    return wechat_settings(fake_wechat.base_url)


@pytest.fixture
def isolated(app: Flask) -> Callable[[], Any]:
    """A savepoint per case, rolled back after it: every case sees the seeded chain as it was."""
    connection = app.extensions["laoyou.db"].connection
    return connection.begin_nested


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that never touches its database."""
    app = create_app({"LAOYOU_ENV": "testing", "SECRET_KEY": "d" * 40, "DATABASE_URL": "sqlite://"})
    return app.test_client().get("/api/v1/openapi.json").get_json()


#: One test per operation of the document (pytest ids: ``[POST /api/v1/checkout]``).
schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))

#: Which seeded list stands in for a generated value, by path parameter or body field.
PATH_REFS = {"number": "cards", "ref": "members", "transaction_id": "transactions"}
BODY_REFS = {
    "card": "cards",
    "member": "members",
    "referrer": "members",
    "home_store": "stores",
    "store": "stores",
    "gift": "gifts",
    "coupon_type": "coupon_types",
    "coupon": "coupons",
}
#: A phone that parses and is nobody's yet, for a new member or a changed phone.
NEW_PHONES = st.integers(0, 10**8 - 1).map(lambda n: f"+86137{n:08d}")


def _swap(
    data: st.DataObject, seeded: Seeded, values: dict[str, Any], refs: dict[str, str]
) -> None:
    """Three times in four, put a seeded reference where the case has a generated one."""
    for name, source in refs.items():
        if values.get(name) is not None and data.draw(st.integers(0, 3)):
            values[name] = data.draw(st.sampled_from(getattr(seeded, source)), label=name)


def _swap_body(data: st.DataObject, seeded: Seeded, body: dict[str, Any]) -> None:
    _swap(data, seeded, body, BODY_REFS)
    if body.get("phone") is not None and data.draw(st.integers(0, 3)):
        body["phone"] = data.draw(NEW_PHONES | st.sampled_from(seeded.members[:3]), label="phone")
    if isinstance(body.get("coupons"), list) and data.draw(st.integers(0, 3)):
        codes = st.lists(st.sampled_from(seeded.coupons), max_size=2, unique=True)
        body["coupons"] = data.draw(codes, label="coupons")
    if body.get("pin") is not None and data.draw(st.booleans()):
        body["pin"] = PIN
    if body.get("old_pin") is not None and data.draw(st.booleans()):
        body["old_pin"] = PIN


def _positive(case: Any, location: str) -> bool:
    info = case.meta.components.get(location) if case.meta else None
    return info is not None and info.mode == GenerationMode.POSITIVE


#: Refusals of a valid request that depend on the data, not on the request's shape: the
#: document cannot say which phones parse, that a store exists or that the items add up.
#: A 400 naming one of these fields, with one of these messages, is a right answer.
DATA_DEPENDENT = {
    "phone": ("not a valid phone number",),
    "home_store": ("no store",),
    "referrer": ("no member", "cannot refer"),
    "member": ("no member",),
    "birthday": ("not a date", "did not exist", "in the future", "lunar birthdays only"),
    "answers": ("unknown question", "required answer", "must be"),
    "value": ("already belongs",),
    "items": ("must add up",),
    "card": ("anonymous card",),
    "coupon_type": ("cannot be exchanged",),
    "valid_until": ("before valid_from",),
    "points_offset": ("anonymous card", "worth more", "at most"),
    "stored_value_fen": ("must add up",),
}


def _data_dependent(response: Any) -> bool:
    if response.status_code != 400:
        return False
    error = (response.json() or {}).get("error", {})
    field = (error.get("details") or {}).get("field") or ""
    if field.startswith("answers.") and "\x00" in field:
        # A NUL in a questionnaire key: OpenAPI 3.0 cannot constrain an object's keys
        # (no propertyNames); every value's pattern is in the document.
        return True
    messages = DATA_DEPENDENT.get(field, ())
    return any(m in error.get("message", "") for m in messages)


@schema.given(data=st.data())
@schema.parametrize()
# ``app`` is function-scoped on purpose: each case runs in a savepoint of its own.
@settings(
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_fuzz(
    case: Any, data: st.DataObject, app: Flask, seeded: Seeded, isolated: Any
) -> None:
    if case.path_parameters and _positive(case, "path"):
        _swap(data, seeded, case.path_parameters, PATH_REFS)
    if isinstance(case.body, dict) and _positive(case, "body"):
        _swap_body(data, seeded, case.body)
    case.operation.schema.app = app  # the checks' own probes (e.g. without the key) reach it too
    headers = {"Authorization": f"Bearer {seeded.key}"}
    savepoint = isolated()
    try:
        response = case.call(app=app, headers=headers)
        excluded = [positive_data_acceptance] if _data_dependent(response) else []
        case.validate_response(
            response, headers=headers, excluded_checks=excluded, transport_kwargs={"app": app}
        )
    finally:
        savepoint.rollback()
