"""The programme's set-up: stores and regions, API keys, the member questionnaire.

Stores (``stores.manage``) and API keys (``api_keys.manage``) are chain-wide for an admin;
anyone else granted them sees and changes only the stores of their scope. The
questionnaire is a rule of the whole programme: ``rules.view`` reads it and ``rules.edit``
changes it (not ``members.edit``, which a store manager holds: one store's manager must not
change the questions every store's members answer).
"""

from __future__ import annotations

import secrets

from flask import abort, make_response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.admin.guard import current_staff, forbidden, requires
from app.admin.messages import error_text
from app.auth.models import ApiKey
from app.auth.permissions import store_scope
from app.auth.services import create_api_key, get_api_key, list_api_keys, revoke_key
from app.errors import LaoyouError
from app.i18n import gettext
from app.members.models import QUESTION_LABEL_COLUMNS, QUESTION_TYPES
from app.members.services import (
    define_question,
    list_questions,
    members_per_store,
    retire_question,
)
from app.stores.models import Store
from app.stores.services import create_store, list_stores, update_store

#: Longest text any of these forms reads; longer is refused by the services' own limits.
MAX_INPUT_CHARS = 2000


def _field(name: str) -> str:
    return request.form.get(name, "")[:MAX_INPUT_CHARS]


def _scope() -> frozenset[int] | None:
    staff = current_staff()
    assert staff is not None
    return store_scope(staff)


def _store_in_scope(code: str) -> Store | None:
    """The store named ``code`` if the staff member may act for it, else None."""
    code = code.strip().upper()
    return next((s for s in list_stores(_scope()) if s.code == code), None)


# --- stores and regions ------------------------------------------------------------------


def _stores_page(form: object = None, error: str | None = None) -> str:
    scope = _scope()
    return render_template(
        "admin/stores.html",
        stores=list_stores(scope),
        counts=members_per_store(),
        may_create=scope is None,
        form=form or {},
        error=error,
        done=request.args.get("done"),
    )


@requires("stores.manage")
def stores() -> str:
    return _stores_page()


@requires("stores.manage")
def store_create() -> Response | tuple[str, int]:
    if _scope() is not None:
        return forbidden("stores.manage")  # a new store is the chain's, not one store's
    try:
        store = create_store(_field("code"), _field("name"), _field("region"))
    except LaoyouError as exc:
        return _stores_page(request.form, error_text(exc)), 400
    return redirect(url_for("admin.stores", done=store.code))


def _store_or_refuse(code: str) -> Store:
    """A store of the staff member's scope; another store's is 403, an unknown code 404."""
    store = _store_in_scope(code)
    if store is None:
        if any(s.code == code.strip().upper() for s in list_stores()):
            abort(make_response(forbidden("stores.manage")))
        abort(404)
    return store


def _store_edit_page(store: Store, form: object = None, error: str | None = None) -> str:
    return render_template(
        "admin/store_edit.html",
        store=store,
        members=members_per_store().get(store.id, 0),
        form=form or {"name": store.name, "region": store.region},
        error=error,
    )


@requires("stores.manage")
def store_edit(code: str) -> Response | str | tuple[str, int]:
    store = _store_or_refuse(code)
    if request.method == "GET":
        return _store_edit_page(store)
    try:
        update_store(store, name=_field("name"), region=_field("region"))
    except LaoyouError as exc:
        return _store_edit_page(store, request.form, error_text(exc)), 400
    return redirect(url_for("admin.stores", done=store.code))


# --- API keys ----------------------------------------------------------------------------


def _keys_page(
    *, error: str | None = None, created: ApiKey | None = None, secret: str | None = None
) -> Response:
    scope = _scope()
    # The form's one-time token: the page that shows a secret cannot redirect (the secret
    # would have to travel in a URL or a cookie), so a reload re-sends the form; the token,
    # spent by the first send, keeps that from making a second key.
    form_once = secrets.token_urlsafe(16)
    session[_KEY_FORM] = form_once
    response = make_response(
        render_template(
            "admin/api_keys.html",
            keys=list_api_keys(scope),
            stores=list_stores(scope),
            error=error,
            created=created,
            secret=secret,
            done=request.args.get("done"),
            form_once=form_once,
        )
    )
    # The page that shows a secret must not be kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


_KEY_FORM = "admin_api_key_form"


@requires("api_keys.manage")
def api_keys() -> Response:
    return _keys_page()


@requires("api_keys.manage")
def api_key_create() -> Response:
    """The secret is in this one answer's page, and nowhere else (no redirect, no session)."""
    expected = session.pop(_KEY_FORM, None)
    if not expected or not secrets.compare_digest(expected, _field("once")):
        response = _keys_page(
            error=gettext("This form was sent already: any key it made is in the list below.")
        )
        response.status_code = 409
        return response
    store = _store_in_scope(_field("store"))
    if store is None:
        response = _keys_page(error=gettext("Choose one of the stores listed."))
        response.status_code = 400
        return response
    try:
        key, secret = create_api_key(store, _field("label"))
    except LaoyouError as exc:
        response = _keys_page(error=error_text(exc))
        response.status_code = 400
        return response
    return _keys_page(created=key, secret=secret)


def _key_or_refuse(key_id: int) -> ApiKey:
    key = get_api_key(key_id)
    if key is None:
        abort(404)
    scope = _scope()
    if scope is not None and key.store_id not in scope:
        abort(make_response(forbidden("api_keys.manage")))
    return key


@requires("api_keys.manage")
def api_key_revoke(key_id: int) -> Response | str:
    """GET asks to confirm; POST with ``confirm`` revokes (the API refuses the key at once)."""
    key = _key_or_refuse(key_id)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("admin/api_key_revoke.html", key=key)
    revoke_key(key)
    return redirect(url_for("admin.api_keys", done="revoked"))


# --- the member questionnaire ------------------------------------------------------------


def _questions_page(form: object = None, error: str | None = None) -> str:
    return render_template(
        "admin/questions.html",
        questions=list_questions(),
        types=QUESTION_TYPES,
        form=form or {},
        error=error,
        done=request.args.get("done"),
    )


@requires("rules.view")
def questions() -> str:
    return _questions_page()


@requires("rules.edit")
def question_add() -> Response | tuple[str, int]:
    """Choices are one a line, so a choice may hold a comma (e.g. 「川菜，湘菜」)."""
    choices = _field("choices").splitlines()
    try:
        question = define_question(
            _field("key"),
            _field("label"),
            _field("type"),
            choices=choices,
            required=request.form.get("required") == "yes",
            labels={
                language: _field(column) for language, column in QUESTION_LABEL_COLUMNS.items()
            },
        )
    except LaoyouError as exc:
        return _questions_page(request.form, error_text(exc)), 400
    return redirect(url_for("admin.questions", done=question.key))


@requires("rules.edit")
def question_retire(key: str) -> Response:
    try:
        retire_question(key)
    except LaoyouError:
        abort(404)
    return redirect(url_for("admin.questions", done=key))
