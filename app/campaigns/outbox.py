"""The outbox's services as messaging's ``init_app`` hands them over.

Campaigns may not import messaging: messaging runs the bot, and the bot's vote and draw
commands call campaigns. So the few outbox services campaigns need are read from the app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol, cast

from flask import current_app

#: Where ``app.messaging.init_app`` leaves them (``app.messaging.OUTBOX_EXTENSION``).
OUTBOX_EXTENSION = "laoyou.outbox"


class OutboxServices(Protocol):
    def enqueue(self, **message: Any) -> int | None: ...

    def enqueue_many(
        self,
        messages: Sequence[tuple[str, str, int, str, str, str]],
        *,
        broadcast_id: int,
        not_before: dt.datetime | None = None,
    ) -> None: ...

    def cancel_broadcast_messages(self, broadcast_id: int) -> int: ...

    def broadcast_message_counts(self, broadcast_id: int) -> dict[str, int]: ...

    def quiet_until(self, moment: dt.datetime | None = None) -> dt.datetime | None: ...


def outbox() -> OutboxServices:
    return cast(OutboxServices, current_app.extensions[OUTBOX_EXTENSION])
