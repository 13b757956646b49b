"""Who is signed in, and the one check every admin view makes: ``@requires("name")``.

Not signed in: a redirect to the sign-in page with ``next``. Signed in without the
permission: 403 with a page in the staff member's language (never a redirect, which
would loop). A view marked ``@public`` (the sign-in page) or ``@signed_in`` (the
dashboard, one's own password) says so explicitly; tests/admin/test_routes.py finds
every /admin route in the URL map and checks it answers as its table says.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from app.audit.services import set_actor
from app.auth.models import STAFF_LANGUAGES, StaffUser
from app.auth.permissions import PERMISSIONS, effective_permissions, has_permission
from app.auth.services import staff_by_id
from app.i18n import request_language

View = TypeVar("View", bound=Callable[..., Any])

login_manager = LoginManager()


class SignedIn(UserMixin):  # type: ignore[misc]
    """Flask-Login's user: the account, with its session version in the session's id.

    A password change or reset, or disabling the account, raises the version, so every
    session signed in before it no longer loads.
    """

    def __init__(self, staff: StaffUser) -> None:
        self.staff = staff

    def get_id(self) -> str:
        return f"{self.staff.id}.{self.staff.session_version}"


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    ident, _, version = user_id.partition(".")
    if not (ident.isdigit() and version.isdigit()):
        return None
    staff = staff_by_id(int(ident))
    if staff is None or not staff.active or staff.session_version != int(version):
        return None
    return SignedIn(staff)


def current_staff() -> StaffUser | None:
    user = current_user
    return user.staff if getattr(user, "is_authenticated", False) else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    # A session cookie carried to another browser or address is no longer "fresh".
    login_manager.session_protection = "basic"


def safe_next(target: str | None) -> str:
    """Only a path of the panel itself: never another site (an open redirect)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and parts.path.startswith("/admin")
            and "\\" not in target
            and not target.startswith("//")
        ):
            return target
    return url_for("admin.dashboard")


def _to_sign_in() -> Response:
    path = request.full_path.rstrip("?") if request.query_string else request.path
    return redirect(url_for("admin.login", next=path))


def forbidden(permission: str) -> tuple[str, int]:
    return render_template("admin/forbidden.html", permission=permission), 403


def requires(permission: str) -> Callable[[View], View]:
    """Refuse the view to anyone without ``permission`` (checked on every request)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                return _to_sign_in()
            if not has_permission(staff, permission):
                return forbidden(permission)
            return view(*args, **kwargs)

        guarded.admin_access = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def signed_in(view: View) -> View:
    """Any signed-in staff member (the dashboard, their own password, signing out)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            return _to_sign_in()
        return view(*args, **kwargs)

    guarded.admin_access = "signed_in"  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


def public(view: View) -> View:
    """Open to anyone: the sign-in page and the language switch."""
    view.admin_access = "public"  # type: ignore[attr-defined]
    return view


def may(permission: str) -> bool:
    """For templates: show a link only where the page would let the staff member in."""
    staff = current_staff()
    return staff is not None and has_permission(staff, permission)


def forget_request_state(exc: BaseException | None = None) -> None:
    """Drop what a request kept in ``g``: the user, the language and locale, the CSRF token.

    A request normally gets a new ``g``; a test's requests share the app context its
    fixture pushed, and one client's sign-in must not leak into the next request.
    """
    for name in (
        "_login_user",
        "laoyou_language",
        "admin_permissions",
        "csrf_token",
        "_flask_babel",  # Flask-Babel's locale, chosen once per g
    ):
        g.pop(name, None)


def before_admin_request() -> Response | tuple[str, int] | None:
    """Every /admin request: the language, the audit's actor; on a POST, no NUL and CSRF."""
    forget_request_state()
    staff = current_staff()
    if staff is not None:
        g.laoyou_language = staff.language
        set_actor("staff", staff.username)
        g.admin_permissions = effective_permissions(staff)
    else:
        chosen = session.get("admin_language")
        g.laoyou_language = chosen if chosen in STAFF_LANGUAGES else request_language()
    if request.method == "POST":
        # PostgreSQL's text cannot hold a NUL: refused here, once, for every form.
        if any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)):
            return render_template("admin/error.html", status=400, reason="nul"), 400
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            return render_template("admin/error.html", status=400, reason="csrf"), 400
    return None
