"""The command modules. Importing them registers nothing: ``app.bot.init_app`` builds the
app's registry from ``COMMAND_MODULES``."""

from app.bot.commands import (
    activities,
    balances,
    basics,
    bind,
    campaigns,
    promotions,
    subscription,
    wechat,
)

#: Every module whose ``@command`` handlers the bot answers with.
COMMAND_MODULES = (
    balances,
    basics,
    bind,
    campaigns,
    activities,
    promotions,
    subscription,
    wechat,
)
