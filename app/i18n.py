"""Languages: zh-Hans, zh-Hant and en through Flask-Babel's gettext.

Our language tags (BCP 47, as members see them) map to Babel's locale names.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_babel import Babel, force_locale

LOCALES = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}

babel = Babel()


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
    from flask import current_app

    return babel_locale(current_app.config["DEFAULT_LANGUAGE"])


def init_app(app: Flask) -> None:
    babel.init_app(
        app, locale_selector=_select_locale, default_translation_directories="translations"
    )


def in_language(language: str):  # type: ignore[no-untyped-def]
    """``with in_language(member.language): text = gettext(...)`` for replies and alerts."""
    return force_locale(babel_locale(language))
