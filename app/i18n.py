"""Languages: zh-Hans, zh-Hant and en through Flask-Babel's gettext.

Our language tags (BCP 47, as members see them) map to Babel's locale names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import flask_babel
from babel import Locale
from babel.lists import format_list as babel_format_list
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, force_locale, get_translations

from app import catalogs
from app.config import StartupError

LOCALES = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}
#: Parsed once: ``force_locale`` given a name parses it on every call (and checks that
#: its locale data exists on disk), and every bot reply enters a language at least once.
_PARSED = {name: Locale.parse(name) for name in LOCALES.values()}

babel = Babel()
log = logging.getLogger("laoyou.i18n")

#: ``app.extensions`` key of a function language -> {msgid: the shop's own text}, installed
#: by ``app.texts`` (this module imports no package, so the source is handed to it).
OVERRIDES_EXTENSION = "laoyou.text_overrides"
OverrideSource = Callable[[str], Mapping[str, str]]


def babel_locale(language: str) -> str:
    return LOCALES.get(language, "zh_Hans")


def _select_locale() -> str:
    if getattr(g, "laoyou_language", None):
        return babel_locale(g.laoyou_language)
    if has_request_context():
        best = request.accept_languages.best_match(
            ["zh-Hans", "zh-CN", "zh-Hant", "zh-TW", "zh-HK", "en"]
        )
        if best in ("zh-Hant", "zh-TW", "zh-HK"):
            return "zh_Hant"
        if best == "en":
            return "en"
    return babel_locale(current_app.config["DEFAULT_LANGUAGE"])


def request_language() -> str:
    """Our language tag for the request's ``Accept-Language`` (else ``DEFAULT_LANGUAGE``)."""
    locale = _select_locale()
    return next((tag for tag, name in LOCALES.items() if name == locale), "zh-Hans")


def init_app(app: Flask) -> None:
    check_catalogs()
    # The catalogues' absolute path: an app rooted elsewhere (the store station's) finds them.
    babel.init_app(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(catalogs.TRANSLATIONS),
    )


def check_catalogs() -> None:
    """Refuse to start without a compiled catalogue of every language.

    Flask-Babel would quietly answer in the English msgids instead: members writing
    帮助 would get English replies (a non-editable install without its ``.mo`` files).
    """
    for locale in LOCALES.values():
        mo_file = catalogs.TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
        if not mo_file.is_file():
            raise StartupError(
                f"the translation catalog {mo_file} is missing: in a checkout run "
                "'python -m app.catalogs' (building the package compiles it)"
            )


#: The language and catalogue of the innermost ``in_language`` block, for ``gettext``.
_CATALOGUE: ContextVar[tuple[str, Any] | None] = ContextVar("laoyou_catalogue", default=None)


@contextmanager
def in_language(language: str) -> Iterator[None]:
    """``with in_language(member.language): text = gettext(...)`` for replies and alerts.

    This module's ``gettext`` answers in ``language`` inside the block; Flask-Babel's
    own functions keep the request's locale, so the code that writes to members uses
    this module's (``tests/bot/test_catalogs.py`` keeps it so). Forcing Flask-Babel's
    locale as well cost 3% of an SMS answer.
    """
    if not has_app_context():
        yield
        return
    token = _CATALOGUE.set((language, catalogue(language)))
    try:
        yield
    finally:
        _CATALOGUE.reset(token)


def catalogue(language: str) -> Any:
    """Flask-Babel's translations for ``language``, looked up once per app.

    For code that renders many texts in a known language without entering
    ``in_language`` each time (the alerts written inside every posting).
    """
    cache: dict[str, Any] = current_app.extensions.setdefault("laoyou.catalogues", {})
    found = cache.get(language)
    if found is None:
        with force_locale(_PARSED[babel_locale(language)]):
            found = cache[language] = get_translations()
    return found


def N_(msgid: str) -> str:
    """Marks a msgid for extraction where it cannot be translated yet: a service's refusal
    is English for the CLI and the API, and the panel translates the same msgid later."""
    return msgid


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's ``gettext``, from the catalogue ``in_language`` entered.

    A bot reply is a few texts; Flask-Babel finds the catalogue again for each through
    four look-ups in the app context, here it is at hand. Outside ``in_language`` this
    is Flask-Babel's own.
    """
    current = _CATALOGUE.get()
    if current is None:
        return str(flask_babel.gettext(string, **variables))
    return render(current[0], string, variables, current[1])


def render(language: str, msgid: str, variables: Mapping[str, Any], found: Any = None) -> str:
    """``msgid`` in ``language``: the shop's own text if it has one, else the catalogue's.

    An override that fails to render (saved before a placeholder check, or a row edited
    by hand) is logged and the catalogue's text is used: a member still gets the alert.
    """
    source: OverrideSource | None = current_app.extensions.get(OVERRIDES_EXTENSION)
    if source is not None:
        override = source(language).get(msgid)
        if override is not None:
            try:
                return override % variables if variables else override
            except (KeyError, ValueError, TypeError):
                log.exception("the %s override of %r does not render", language, msgid)
    text = (found if found is not None else catalogue(language)).ugettext(msgid)
    return text % variables if variables else text


def format_list(items: Iterable[str], *, style: str = "standard") -> str:
    """``A, B and C`` (``style="or"``: ``A, B or C``) as the language ``gettext`` speaks now
    writes a list: Babel's CLDR patterns (至少、至多和是 in Chinese)."""
    current = _CATALOGUE.get()
    locale = babel_locale(current[0]) if current is not None else _select_locale()
    return babel_format_list(list(items), style=style, locale=locale)  # type: ignore[arg-type]
