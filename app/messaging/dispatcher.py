"""The outbox dispatcher: claim due messages, send them, record what happened.

Three short transactions per message, never one open across a network call:

1. claim (a batch): rows due now, lowest priority number first (alerts before
   broadcast traffic), are locked (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so dispatchers on several hosts take disjoint rows; SQLite
   serialises writers anyway). Each is checked at send time — opted-out
   addresses are suppressed, marketing inside quiet hours is moved to the end of
   them — and the rest become ``sending`` with a lease and one more attempt.
2. a slot from the shared per-sender rate limit: ``SMS_RATE_PER_SECOND`` per SMS
   sender (a number, or a messaging service), ``WECHAT_RATE_PER_SECOND`` per official
   account (its API quotas answer 45009, which is retried, but a broadcast should not
   run into them).
3. after the provider answered: ``sending`` with its MessageSid (or ``sent``),
   ``queued`` again with a back-off, or ``failed``.

Each row goes out through its channel's sender: ``sms`` rows through the SMS provider,
``wechat`` rows (the address is the openid) through the WeChat provider.

A dispatcher killed between 1 and 3 leaves rows ``sending`` with no provider id;
after the lease any dispatcher re-claims and sends them: nothing is lost. The
one window that can duplicate is a kill (or a timeout) after the provider
accepted a message but before step 3 recorded it; the status callback carries
the outbox id and records the MessageSid if it arrives before the lease (or the
back-off) ends, which closes the window in practice but not in theory. See
docs/architecture.md, "Messaging".
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import and_, or_, select

from app import clock
from app.db import db, unit_of_work
from app.messaging.compose import quiet_until, render
from app.messaging.models import STATUS_RANK, OutboxMessage
from app.messaging.providers import (
    TWILIO_UNSUBSCRIBED,
    WECHAT_UNSUBSCRIBED,
    PermanentError,
    Sender,
    SendResult,
    TransientError,
    WechatSender,
    sender_for,
    wechat_sender_for,
)
from app.messaging.ratelimit import reserve_slot
from app.phone import mask_phone

log = logging.getLogger("laoyou.outbox")


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    released: int = 0

    def add(self, other: DispatchStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.__dict__.items())


#: The opt-out a provider's refusal means: (channel, error code) -> the source recorded.
UNSUBSCRIBED = {
    ("sms", TWILIO_UNSUBSCRIBED): "twilio:21610",
    ("wechat", WECHAT_UNSUBSCRIBED): "wechat:43004",
}


@dataclass(frozen=True)
class _Claim:
    id: int
    address: str
    text: str
    lease_until: dt.datetime
    channel: str = "sms"
    alert_type: str | None = None


@dataclass
class Dispatcher:
    app: Flask
    sender: Sender | None = None
    wechat_sender: WechatSender | None = None
    #: Tests replace it to see the waits without waiting.
    sleep: Callable[[float], None] = time.sleep
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.sender is None:
            self.sender = sender_for(self.app)
        if self.wechat_sender is None:
            self.wechat_sender = wechat_sender_for(self.app)

    @property
    def _sender(self) -> Sender:
        assert self.sender is not None
        return self.sender

    def _sender_id(self, channel: str) -> str:
        if channel == "wechat":
            assert self.wechat_sender is not None
            return self.wechat_sender.sender_id
        return self._sender.sender_id

    # --- one batch --------------------------------------------------------------

    def run_once(self, batch: int = 20) -> DispatchStats:
        stats = DispatchStats()
        claims = self._claim(batch, stats)
        for index, claim in enumerate(claims):
            if self.stop.is_set():
                stats.released += self._release(claims[index:])
                break
            self._send(claim, stats)
        return stats

    def run_loop(self, batch: int = 20, idle_seconds: float = 1.0) -> DispatchStats:
        """Until ``stop`` is set (SIGTERM / Ctrl-C in the CLI); idles when nothing is due."""
        total = DispatchStats()
        while not self.stop.is_set():
            try:
                stats = self.run_once(batch)
            except Exception:
                # A lost database connection must not end the loop for good.
                log.exception("outbox dispatch failed; trying again shortly")
                stats = DispatchStats()
                self.stop.wait(5)
            total.add(stats)
            if stats.claimed == 0:
                self.stop.wait(idle_seconds)
        return total

    # --- step 1: claim ------------------------------------------------------------

    def _claim(self, batch: int, stats: DispatchStats) -> list[_Claim]:
        from app.optout.services import is_opted_out

        config = current_app.config
        now = clock.now()
        lease = dt.timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
        claims: list[_Claim] = []
        with unit_of_work() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(
                    or_(
                        and_(
                            OutboxMessage.status == "queued",
                            OutboxMessage.next_attempt_at <= now,
                        ),
                        # Abandoned by a dispatcher that died before the provider answered.
                        and_(
                            OutboxMessage.status == "sending",
                            OutboxMessage.provider_id.is_(None),
                            OutboxMessage.lease_until < now,
                        ),
                    ),
                )
                .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            quiet_end = quiet_until(now)
            for row in rows:
                row.lease_until = None
                if row.status == "sending":
                    log.warning("outbox %s: re-claiming after an expired lease", row.id)
                if not row.opt_out_confirmation and is_opted_out(row.channel, row.address):
                    row.status = "suppressed"
                    row.last_error = "opted out"
                    stats.suppressed += 1
                    continue
                if row.kind == "marketing" and quiet_end is not None:
                    row.status = "queued"
                    row.next_attempt_at = quiet_end
                    stats.deferred += 1
                    continue
                if row.attempts >= config["SMS_MAX_ATTEMPTS"]:
                    row.status = "failed"
                    row.last_error = (row.last_error or "abandoned")[:250] + " (max attempts)"
                    stats.failed += 1
                    continue
                row.status = "sending"
                row.attempts += 1
                row.lease_until = now + lease
                row.sender = self._sender_id(row.channel)
                row.sent_body = render(row.kind, row.body, row.language, channel=row.channel)
                claims.append(
                    _Claim(
                        row.id,
                        row.address,
                        row.sent_body,
                        row.lease_until,
                        row.channel,
                        row.alert_type,
                    )
                )
        stats.claimed = len(claims)
        return claims

    # --- steps 2 and 3: rate limit, send, record -----------------------------------

    def _send(self, claim: _Claim, stats: DispatchStats) -> None:
        config = current_app.config
        wechat = claim.channel == "wechat"
        if wechat:
            assert self.wechat_sender is not None
            limited = (
                (self.wechat_sender.sender_id, config["WECHAT_RATE_PER_SECOND"])
                if getattr(self.wechat_sender, "rate_limited", True)
                else None
            )
        elif getattr(self._sender, "rate_limited", True):
            limited = (self._sender.sender_id, config["SMS_RATE_PER_SECOND"])
        else:
            limited = None
        if limited is not None:
            with unit_of_work():
                slot = reserve_slot(*limited)
            wait = (slot - clock.now()).total_seconds()
            if wait > 0:
                self.sleep(wait)
        if wechat:
            # At most a token refresh, the call, and the call again after a refused token.
            timeout = dt.timedelta(seconds=3 * config["WECHAT_API_TIMEOUT_SECONDS"])
        else:
            timeout = dt.timedelta(seconds=config["SMS_SEND_TIMEOUT_SECONDS"])
        if clock.now() + timeout >= claim.lease_until:
            # Too late to finish inside our lease: another dispatcher may take it over.
            stats.released += self._release([claim])
            return
        try:
            if wechat:
                assert self.wechat_sender is not None
                result = self.wechat_sender.send(
                    claim.address, claim.text, outbox_id=claim.id, alert_type=claim.alert_type
                )
            else:
                result = self._sender.send(claim.address, claim.text, outbox_id=claim.id)
        except TransientError as exc:
            self._record_retry(claim, str(exc), stats)
        except PermanentError as exc:
            self._record_failure(claim, str(exc), exc.code, stats)
        except Exception as exc:
            # A bug in a sender is retried like an outage, and logged loudly.
            log.exception("outbox %s: the sender raised", claim.id)
            self._record_retry(claim, f"{type(exc).__name__}: {exc}", stats)
        else:
            self._record_sent(claim, result, stats)

    def _locked(self, claim: _Claim) -> OutboxMessage:
        return db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id == claim.id).with_for_update()
        ).one()

    def _record_sent(self, claim: _Claim, result: SendResult, stats: DispatchStats) -> None:
        with unit_of_work():
            row = self._locked(claim)
            if row.provider_id is None:
                row.provider_id = result.provider_id
            # A status callback may have overtaken us; never step back.
            if STATUS_RANK[result.status] > STATUS_RANK[row.status]:
                row.status = result.status
            row.lease_until = None
            row.last_error = None
            row.sent_at = clock.now()
        stats.sent += 1
        to = claim.address[:6] + "…" if claim.channel == "wechat" else mask_phone(claim.address)
        log.info("outbox %s: handed to the provider for %s", claim.id, to)

    def _record_retry(self, claim: _Claim, error: str, stats: DispatchStats) -> None:
        config = current_app.config
        with unit_of_work():
            row = self._locked(claim)
            row.lease_until = None
            row.last_error = error[:300]
            if row.provider_id is not None:
                # A status callback proved the provider has it after all.
                return
            if row.attempts >= config["SMS_MAX_ATTEMPTS"]:
                row.status = "failed"
                stats.failed += 1
                log.warning("outbox %s: failed after %s attempts: %s", row.id, row.attempts, error)
                return
            row.status = "queued"
            row.next_attempt_at = clock.now() + backoff(row.attempts)
            stats.retried += 1
            log.info("outbox %s: attempt %s failed (%s); retry later", row.id, row.attempts, error)

    def _record_failure(
        self, claim: _Claim, error: str, code: int | None, stats: DispatchStats
    ) -> None:
        from app.optout.services import opt_out

        with unit_of_work():
            row = self._locked(claim)
            row.lease_until = None
            row.status = "failed"
            row.last_error = error[:300]
            source = UNSUBSCRIBED.get((row.channel, code)) if code is not None else None
            if source is not None:
                # The carrier says this number unsubscribed (or WeChat, that the openid no
                # longer follows us): stop everything to it here too.
                opt_out(row.channel, row.address, source=source)
        stats.failed += 1
        log.warning("outbox %s: refused for good: %s", claim.id, error)

    def _release(self, claims: list[_Claim]) -> int:
        """Give claimed rows back unsent (a stop signal, or a lease too short to finish)."""
        with unit_of_work():
            for claim in claims:
                row = self._locked(claim)
                if row.status == "sending" and row.provider_id is None:
                    row.status = "queued"
                    row.attempts = max(0, row.attempts - 1)
                    row.lease_until = None
        return len(claims)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 60 s, 120 s, … after the 1st, 2nd, 3rd failed attempt, capped."""
    config = current_app.config
    seconds = config["SMS_RETRY_BASE_SECONDS"] * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, config["SMS_RETRY_MAX_SECONDS"]))


def run_in_app_context(app: Flask) -> None:
    """The dispatcher's loop in a thread of another process (``laoyou run --with-dispatcher``)."""
    with app.app_context():
        Dispatcher(app).run_loop()
