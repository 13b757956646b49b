"""The members room: search (``members.view``), a member's page, editing a profile
(``members.edit``).

A store manager or a cashier sees only members whose home is one of their stores: a
search never lists another store's member, and another store's member page is 403.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import current_staff, forbidden, requires
from app.admin.messages import error_text
from app.admin.once import form_key, outcome_of
from app.auth.permissions import store_scope
from app.cards.models import Card
from app.cards.services import card_history, get_card, member_cards, resolve_member
from app.cards.states import TRANSITIONS
from app.errors import LaoyouError, NotFound
from app.ledger.balances import card_balances, member_balances
from app.ledger.rules.engine import credit_limit
from app.ledger.statement import member_statement
from app.members.models import CALENDARS, GENDERS, Member
from app.members.services import (
    LANGUAGES,
    alert_preferences,
    birthday_text,
    get_member,
    list_questions,
    search_members,
    update_member,
)
from app.members.wechat import openid_for_member
from app.messaging.services import messages_with
from app.optout.services import is_opted_out
from app.stores.services import list_stores

#: The longest search text read; no phone, card number or name is longer.
MAX_QUERY_CHARS = 64
#: Members per page of a search, transactions per page of a statement.
PER_PAGE = 20
#: Messages sent and received shown on a member's page (the newest).
MESSAGES_SHOWN = 20
#: Card actions the panel offers, in the order of its menu; ``return`` is the ledger's.
CARD_ACTIONS = ("report-lost", "found", "freeze", "unfreeze", "replace", "cancel", "return")
#: Profile fields the edit form sends as plain text, with their longest length.
TEXT_FIELDS = {"name": 120, "region": 64, "occupation": 64, "income_band": 32}


def page_number(text: str | None) -> int:
    """A page from the query string; anything but a sane positive number is page 1."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def in_scope(member: Member, scope: frozenset[int] | None) -> bool:
    return scope is None or member.home_store_id in scope


def _scope() -> frozenset[int] | None:
    staff = current_staff()
    assert staff is not None
    return store_scope(staff)


def _exact(query: str) -> Member | None:
    """The member a phone, card number (a replaced one too), e-card code or medium names."""
    try:
        return resolve_member(query)
    except NotFound:
        pass
    if query.isdigit():
        try:
            return get_card(query).member
        except NotFound:
            return None
    return None


@requires("members.view")
def member_search() -> str:
    scope = _scope()
    query = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    page = page_number(request.args.get("page"))
    exact = _exact(query) if query else None
    if exact is not None:
        # Another store's member is never shown, not even as "found elsewhere".
        found, total = ([exact], 1) if in_scope(exact, scope) else ([], 0)
        page = 1
    else:
        found, total = search_members(query, page=page, per_page=PER_PAGE, store_ids=scope)
    return render_template(
        "admin/members.html",
        query=query,
        members=found,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        chain_wide=scope is None,
        outcome=_outcome(),
    )


def _outcome() -> dict[str, Any] | None:
    """What a card action just did (``?done=<its key>``), for the staff member who did it."""
    staff = current_staff()
    done = request.args.get("done")
    return outcome_of(done, staff.username) if done and staff is not None else None


def _member_or_refusal(member_id: int, permission: str) -> Member | tuple[str, int]:
    member = get_member(member_id)
    if member is None:
        abort(404)
    if not in_scope(member, _scope()):
        return forbidden(permission)
    return member


def card_actions(card: Card) -> list[str]:
    """What the panel offers for a card in its state: the transition table's, and return."""
    if card.state == "cancelled":
        return []
    return [
        a
        for a in CARD_ACTIONS
        if a == "return" or (a in TRANSITIONS and card.state in TRANSITIONS[a][0])
    ]


@requires("members.view")
def member_page(member_id: int) -> str | tuple[str, int]:
    member = _member_or_refusal(member_id, "members.view")
    if not isinstance(member, Member):
        return member
    cards = member_cards(member)
    openid = openid_for_member(member.id)
    addresses = [member.phone] + ([openid] if openid else [])
    sent, received = messages_with(addresses, limit=MESSAGES_SHOWN)
    statement = member_statement(
        member.id, page=page_number(request.args.get("page")), per_page=PER_PAGE
    )
    return render_template(
        "admin/member.html",
        member=member,
        birthday=birthday_text(member),
        questions={q.key: q for q in list_questions()},
        cards=[
            {
                "card": card,
                "balances": card_balances(card.id),
                "credit_limit_fen": credit_limit(card),
                "actions": card_actions(card),
                "history": card_history(card)[-5:],
            }
            for card in cards
        ],
        balances=member_balances(member.id),
        statement=statement,
        pages=max(1, -(-statement["total"] // PER_PAGE)),
        sent=sent,
        received=received,
        openid=openid,
        sms_opted_out=is_opted_out("sms", member.phone),
        wechat_opted_out=is_opted_out("wechat", openid) if openid else False,
        alerts=alert_preferences(member),
        outcome=_outcome(),
        new_key=form_key,
    )


def _edit_page(member: Member, form: Any, error: str | None = None) -> str:
    scope = _scope()
    return render_template(
        "admin/member_edit.html",
        member=member,
        form=form,
        error=error,
        genders=GENDERS,
        languages=LANGUAGES,
        calendars=CALENDARS,
        stores=[s for s in list_stores() if scope is None or s.id in scope],
        questions=[q for q in list_questions() if q.active],
    )


def _current(member: Member) -> dict[str, Any]:
    """The edit form's values as the member stands."""
    values: dict[str, Any] = {name: getattr(member, name) or "" for name in TEXT_FIELDS}
    values.update(
        phone=member.phone,
        gender=member.gender,
        language=member.language,
        birthday=birthday_text(member) or "",
        birthday_calendar=member.birthday_calendar,
        lunar_leap_month=member.lunar_leap_month,
        home_store=member.home_store.code,
        tags=", ".join(member.tags or []),
    )
    for key, answer in (member.answers or {}).items():
        values[f"answer:{key}"] = answer
    return values


_WHOLE = re.compile(r"-?\d{1,15}")


def _answer(question: Any, form: Any) -> Any:
    """A form's answer as the questionnaire's type wants it; the service checks it."""
    name = f"answer:{question.key}"
    if question.type == "multi_choice":
        chosen = [v for v in form.getlist(name) if v]
        return chosen or None
    text = (form.get(name) or "").strip()
    if not text:
        return None
    if question.type == "integer":
        return int(text) if _WHOLE.fullmatch(text) else text
    if question.type == "boolean":
        return {"yes": True, "no": False}.get(text, text)
    return text[:500] if question.type == "text" else text


def _changes(member: Member, form: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        name: (form.get(name) or "")[:limit] for name, limit in TEXT_FIELDS.items()
    }
    data.update(
        phone=(form.get("phone") or "")[:32],
        gender=form.get("gender") or "unknown",
        language=form.get("language") or member.language,
        birthday=(form.get("birthday") or "").strip()[:10] or None,
        birthday_calendar=form.get("birthday_calendar") or "solar",
        lunar_leap_month=form.get("lunar_leap_month") == "1",
        home_store=(form.get("home_store") or member.home_store.code)[:32],
        tags=[t.strip()[:32] for t in re.split(r"[,，;；]", form.get("tags") or "") if t.strip()],
    )
    questions = [q for q in list_questions() if q.active]
    if questions:
        data["answers"] = {q.key: _answer(q, form) for q in questions}
    return data


@requires("members.edit")
def member_edit(member_id: int) -> Response | str | tuple[str, int]:
    member = _member_or_refusal(member_id, "members.edit")
    if not isinstance(member, Member):
        return member
    if request.method == "GET":
        return _edit_page(member, _current(member))
    form = request.form
    scope = _scope()
    data = _changes(member, form)
    if scope is not None and data["home_store"] != member.home_store.code:
        stores = {s.code: s.id for s in list_stores()}
        if stores.get(data["home_store"].strip().upper()) not in scope:
            # A store's staff cannot hand a member to a store they do not work for.
            return forbidden("members.edit")
    try:
        update_member(member, data, resolve=resolve_member)
    except LaoyouError as exc:
        return _edit_page(member, form, error_text(exc)), 400
    return redirect(url_for("admin.member_page", member_id=member.id, saved=1))
