"""The official account's custom menu: the default defined here, or one read from JSON.

The menu's CLICK keys are what the event answers dispatch on (``MENU_KEYS``). WeChat
keeps one menu for every follower, so its labels are written in Simplified Chinese
(through gettext, like every text members read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import current_app

from app.errors import InvalidRequest, WechatRefused, WechatUnavailable
from app.i18n import catalogue
from app.messaging.providers import PermanentError, TransientError
from app.messaging.providers.wechat import wechat_client, wechat_configured

#: The CLICK keys of the default menu: a contract with the event answers.
MENU_KEYS = ("points", "balance", "ecard", "help")
#: The language of the menu's labels.
MENU_LANGUAGE = "zh-Hans"
#: WeChat's limits: 3 buttons, 5 under each; labels of 16 and 60 bytes; keys of 128.
MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
MAX_NAME_BYTES, MAX_SUB_NAME_BYTES, MAX_KEY_BYTES, MAX_URL_BYTES = 16, 60, 128, 1024


def N_(msgid: str) -> str:  # the marker pybabel extracts
    return msgid


#: (label msgid, key) of the default menu; the last two share one button.
LABELS = {
    "points": N_("My points"),
    "balance": N_("My balance"),
    "membership": N_("Membership"),
    "ecard": N_("E-card"),
    "help": N_("Help"),
}


def default_menu(language: str = MENU_LANGUAGE) -> dict[str, Any]:
    """Points and balance at a tap; the e-card and help under "Membership"."""
    label = catalogue(language).ugettext

    def click(key: str) -> dict[str, str]:
        return {"type": "click", "name": label(LABELS[key]), "key": key}

    return {
        "button": [
            click("points"),
            click("balance"),
            {"name": label(LABELS["membership"]), "sub_button": [click("ecard"), click("help")]},
        ]
    }


def load_menu(path: Path) -> dict[str, Any]:
    """A menu from a JSON file, checked against WeChat's limits before WeChat sees it."""
    try:
        menu = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"{path}: not a readable JSON file ({exc})") from exc
    check_menu(menu)
    return menu  # type: ignore[no-any-return]


def check_menu(menu: Any) -> None:
    """Refuse what WeChat would refuse, with a message that names the button."""
    if not isinstance(menu, dict) or not isinstance(menu.get("button"), list):
        raise InvalidRequest('a menu is an object with a "button" list')
    buttons = menu["button"]
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise InvalidRequest(f"a menu has 1 to {MAX_BUTTONS} buttons, not {len(buttons)}")
    for button in buttons:
        _check_button(button, MAX_NAME_BYTES)
        subs = button.get("sub_button")
        if subs is None:
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            raise InvalidRequest(f"{button['name']}: 1 to {MAX_SUB_BUTTONS} sub-buttons")
        for sub in subs:
            _check_button(sub, MAX_SUB_NAME_BYTES)
            if "sub_button" in sub:
                raise InvalidRequest(f"{sub['name']}: sub-buttons have no sub-buttons")


def _check_button(button: Any, max_name: int) -> None:
    if not isinstance(button, dict):
        raise InvalidRequest("each button is an object")
    name = button.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.encode()) > max_name:
        raise InvalidRequest(f"button {name!r}: a name of 1 to {max_name} bytes")
    if "sub_button" in button:
        return
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
            raise InvalidRequest(f"{name}: a click button needs a key of 1 to 128 bytes")
    elif kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidRequest(f"{name}: a view button needs an http(s) url")
        if len(url.encode()) > MAX_URL_BYTES:
            raise InvalidRequest(f"{name}: the url is longer than {MAX_URL_BYTES} bytes")
    elif not isinstance(kind, str) or not kind:
        raise InvalidRequest(f"{name}: a button needs a type (click, view, …) or sub-buttons")


def push_menu(menu: dict[str, Any]) -> None:
    """Make ``menu`` the account's custom menu (WeChat replaces the previous one)."""
    check_menu(menu)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not wechat_configured(app):
        raise WechatUnavailable(
            "the WeChat API is not configured (WECHAT_APP_ID, WECHAT_APP_SECRET)"
        )
    try:
        wechat_client(app).create_menu(menu)
    except TransientError as exc:
        raise WechatUnavailable(f"the WeChat API did not answer; try again ({exc})") from exc
    except PermanentError as exc:
        raise WechatRefused(f"the WeChat API refused the menu: {exc}", errcode=exc.code) from exc
