"""The channel-free command engine: a ``Message`` in, a ``Reply`` out.

SMS, WeChat and the simulator are thin adapters around ``engine.handle_message``.
"""

from __future__ import annotations

from flask import Flask, current_app

from app.bot.registry import Registry

EXTENSION = "laoyou.bot.registry"


def init_app(app: Flask) -> None:
    """The app's command registry, built once from the command modules."""
    from app.bot.commands import COMMAND_MODULES

    app.extensions[EXTENSION] = Registry.from_modules(COMMAND_MODULES)


def current_registry() -> Registry:
    """The registry of the app in context (``init_app`` built it)."""
    found: Registry = current_app.extensions[EXTENSION]
    return found
