"""Staff pages (``staff.manage``): list, create, reset a password, disable, grants and denials."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.admin.guard import current_staff, requires
from app.admin.messages import error_text
from app.auth.models import ROLES, STAFF_LANGUAGES, StaffUser
from app.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, effective_permissions
from app.auth.services import (
    create_staff,
    disable_staff,
    find_staff,
    list_staff,
    overrides,
    reset_password,
    set_overrides,
)
from app.errors import LaoyouError
from app.stores.services import list_stores


def _staff_or_404(username: str) -> StaffUser:
    staff = find_staff(username)
    if staff is None:
        abort(404)
    return staff


@requires("staff.manage")
def staff_list() -> str:
    return render_template("admin/staff_list.html", people=list_staff())


@requires("staff.manage")
def staff_new() -> Response | str | tuple[str, int]:
    form = request.form
    if request.method == "GET":
        return _new_page({})
    try:
        created = create_staff(
            form.get("username", "")[:64],
            form.get("password", ""),
            role=form.get("role", ""),
            store_code=form.get("store") or None,
            display_name=form.get("display_name", "")[:120] or None,
            language=form.get("language") or None,
        )
    except LaoyouError as exc:
        return _new_page(form, error_text(exc)), 400
    return redirect(url_for("admin.staff_detail", username=created.username, created=1))


def _new_page(form: object, error: str | None = None) -> str:
    return render_template(
        "admin/staff_new.html",
        form=form,
        roles=ROLES,
        languages=STAFF_LANGUAGES,
        stores=list_stores(),
        error=error,
    )


def _detail_page(person: StaffUser, *, error: str | None = None, done: str | None = None) -> str:
    return render_template(
        "admin/staff_detail.html",
        person=person,
        permissions=PERMISSIONS,
        base=ROLE_PERMISSIONS[person.role],
        overrides=overrides(person),
        effective=effective_permissions(person),
        error=error,
        done=done,
        is_self=person.id == getattr(current_staff(), "id", None),
    )


@requires("staff.manage")
def staff_detail(username: str) -> str:
    return _detail_page(_staff_or_404(username), done=request.args.get("done"))


@requires("staff.manage")
def staff_reset(username: str) -> Response | tuple[str, int]:
    person = _staff_or_404(username)
    try:
        reset_password(person, request.form.get("password", ""))
    except LaoyouError as exc:
        return _detail_page(person, error=error_text(exc)), 400
    return redirect(url_for("admin.staff_detail", username=person.username, done="reset"))


@requires("staff.manage")
def staff_disable(username: str) -> Response | tuple[str, int]:
    person = _staff_or_404(username)
    try:
        disable_staff(person)
    except LaoyouError as exc:
        return _detail_page(person, error=error_text(exc)), 400
    return redirect(url_for("admin.staff_detail", username=person.username, done="disabled"))


@requires("staff.manage")
def staff_permissions(username: str) -> Response | tuple[str, int]:
    """Each permission is ``role`` (as the role has it), ``grant`` or ``deny``."""
    person = _staff_or_404(username)
    wanted: dict[str, bool] = {}
    for name in PERMISSIONS:
        choice = request.form.get(f"perm:{name}", "role")
        if choice == "grant":
            wanted[name] = True
        elif choice == "deny":
            wanted[name] = False
    try:
        set_overrides(person, wanted)
    except LaoyouError as exc:
        return _detail_page(person, error=error_text(exc)), 400
    return redirect(url_for("admin.staff_detail", username=person.username, done="permissions"))
