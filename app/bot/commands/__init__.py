"""Every command module; importing this package registers them all."""

from app.bot.commands import (  # noqa: F401
    balances,
    basics,
    bind,
    campaigns,
    subscription,
)
