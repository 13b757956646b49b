"""The shop's own wording of the texts members read: alerts, bot replies and the rest.

Every text is a gettext msgid translated in the catalogues; an override here replaces
one msgid's text in one language. ``app.i18n`` renders through the source this package
installs in ``init_app``, so ``app.i18n`` never imports this package.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.i18n import OVERRIDES_EXTENSION
    from app.texts.services import overrides

    app.extensions[OVERRIDES_EXTENSION] = overrides
