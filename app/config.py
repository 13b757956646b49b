"""Typed configuration: defaults here, values from the environment, checked at start-up.

Every setting is listed once in ``Settings``; ``.env.example`` and the README
name the same variables. A bad value stops the service with a message that
names the variable, rather than failing on the first request that needs it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.limits import DEFAULT_MAX_CONTENT_LENGTH, MAX_AMOUNT_FEN

ENVIRONMENTS = ("development", "production", "testing")
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class StartupError(RuntimeError):
    """The service cannot start as installed; the one-line message says what to do."""


class ConfigError(StartupError):
    """A configuration value is missing or malformed; the message names it."""


@dataclass
class Settings:
    #: development | production | testing. Production refuses to invent a SECRET_KEY.
    LAOYOU_ENV: str = "development"
    SECRET_KEY: str = ""
    #: SQLAlchemy URL. ``postgresql://`` is read as ``postgresql+psycopg://``.
    DATABASE_URL: str = ""
    #: Region used to read phone numbers written without a country code.
    DEFAULT_PHONE_REGION: str = "CN"
    DEFAULT_LANGUAGE: str = "zh-Hans"
    #: The programme's local time zone: quiet hours, member days, birthdays.
    TIMEZONE: str = "Asia/Shanghai"
    #: First digits of generated card numbers (the last digit is a Luhn check digit).
    CARD_NUMBER_PREFIX: str = "88"
    CARD_NUMBER_LENGTH: int = 16
    PIN_MAX_ATTEMPTS: int = 5
    PIN_LOCK_MINUTES: int = 15
    #: argon2 cost; tests lower it so the suite stays fast.
    ARGON2_TIME_COST: int = 3
    ARGON2_MEMORY_KIB: int = 65536
    #: Outbound SMS: ``console`` (log and mark sent; the demo) or ``twilio``.
    SMS_PROVIDER: str = "console"
    TWILIO_ACCOUNT_SID: str = ""
    #: Signs Twilio's webhooks to us and authenticates our API calls to Twilio.
    TWILIO_AUTH_TOKEN: str = ""
    #: Sender: a phone number in E.164, or (instead) a Messaging Service SID.
    TWILIO_FROM_NUMBER: str = ""
    TWILIO_MESSAGING_SERVICE_SID: str = ""
    #: Empty for the real API; tests and demos point it at a local fake (http://127.0.0.1:PORT).
    TWILIO_API_BASE_URL: str = ""
    #: How Twilio reaches us (scheme://host[:port]); webhook signatures are checked against it.
    PUBLIC_BASE_URL: str = "http://127.0.0.1:5000"
    #: WeChat official account (公众号): the token signs WeChat's requests to /wechat; the
    #: EncodingAESKey (43 characters) decrypts safe-mode messages and encrypts replies.
    WECHAT_TOKEN: str = ""
    WECHAT_APP_ID: str = ""
    WECHAT_APP_SECRET: str = ""
    WECHAT_ENCODING_AES_KEY: str = ""
    #: The official account API; tests and the demo point it at a local fake (http://127.0.0.1:PORT).
    WECHAT_API_BASE_URL: str = "https://api.weixin.qq.com"
    #: Outbound WeChat messages: ``console`` (log and mark sent; the demo) or ``api``.
    WECHAT_PROVIDER: str = "console"
    #: Seconds to wait for the WeChat API before treating a call as timed out.
    WECHAT_API_TIMEOUT_SECONDS: int = 5
    #: Template ids of the alert template messages, per alert type (from the WeChat console).
    WECHAT_TEMPLATE_TRANSACTION: str = ""
    WECHAT_TEMPLATE_LOW_BALANCE: str = ""
    WECHAT_TEMPLATE_LEVEL: str = ""
    WECHAT_TEMPLATE_POINTS_EXPIRING: str = ""
    #: Messages per second per sender number, shared by every dispatcher (Twilio long code: 1).
    SMS_RATE_PER_SECOND: int = 1
    #: WeChat customer-service and template messages per second per official account,
    #: shared by every dispatcher, so a broadcast spreads out under the account's API
    #: quota (calls answered 45009 are retried) and alerts, claimed first, keep moving.
    WECHAT_RATE_PER_SECOND: int = 20
    #: Attempts before an outbox message is marked failed; back-off doubles from the base.
    SMS_MAX_ATTEMPTS: int = 5
    SMS_RETRY_BASE_SECONDS: int = 30
    SMS_RETRY_MAX_SECONDS: int = 3600
    #: Seconds to wait for the provider's answer before treating a send as timed out.
    SMS_SEND_TIMEOUT_SECONDS: int = 10
    #: A claimed outbox message is re-claimed by another dispatcher after this (a killed one).
    OUTBOX_LEASE_SECONDS: int = 300
    #: Marketing waits out these local hours (HH:MM, programme TIMEZONE); alerts do not.
    QUIET_HOURS_START: str = "21:00"
    QUIET_HOURS_END: str = "09:00"
    #: Brand signature put in 【】 at the head of marketing messages.
    SMS_SIGNATURE: str = "老友会员"
    #: A stored-value balance dropping under this (fen) sends a low-balance alert.
    LOW_BALANCE_ALERT_FEN: int = 2000
    #: Most one checkout, recharge or card load may move, in fen (default ¥100,000): above any
    #: one sale at a shop, salon or hotel counter, far below what a typo of extra zeros makes.
    MAX_TRANSACTION_FEN: int = 10_000_000
    #: A manual adjustment of stored value above this (fen, either sign) waits for a second
    #: admin's approval before it is posted (审批); at or below it is posted at once.
    ADJUSTMENT_APPROVAL_FEN: int = 50_000
    #: The same for points.
    ADJUSTMENT_APPROVAL_POINTS: int = 5_000
    #: Where a sale may be refunded: ``store_of_sale`` (only by an API key of the store that
    #: made it) or ``chain`` (by any store's key).
    REFUND_SCOPE: str = "store_of_sale"
    #: Commands per sender per window (``limits`` notation); then one warning, then silence.
    BOT_RATE_LIMIT: str = "10/minute"
    #: Where rate-limit counts live: ``memory://`` (one process) or a ``redis://`` URL.
    RATELIMIT_STORAGE_URI: str = "memory://"
    #: Store code new SMS members join at; empty means the first store created.
    DEFAULT_HOME_STORE: str = ""
    #: DEBUG adds a line per inbound message (each is a row in ``inbound_message`` anyway).
    LOG_LEVEL: str = "INFO"
    #: Largest request body in bytes (Flask's own setting); a larger one is refused with 413
    #: ``payload_too_large`` before it is read.
    MAX_CONTENT_LENGTH: int = DEFAULT_MAX_CONTENT_LENGTH
    #: The hot statements (the ledger's, an inbound answer's) on the driver's cursor
    #: (``app.db.prepared``); off: through SQLAlchemy's own ``Connection.execute``, slower
    #: but with its types and events.
    DB_PREPARED_STATEMENTS: bool = True
    #: A checkout by card number reads the card (``app.cards``' statement piece) inside the
    #: ledger's locking statement: one round trip. Off: the card through ``app.cards``' own
    #: query, then the ledger's locking read (the plain path; the same answers).
    LEDGER_FUSED_CARD_READ: bool = True
    #: A read-only answer (POINTS, BAL, HELP) is computed first and stored with the message's
    #: claim in one statement (``app.messaging.inbound``). Off: every message is claimed
    #: before the engine runs, then its reply stored (the plain path; the same replies).
    INBOUND_REPLY_FIRST: bool = True
    #: ``GET /metrics`` answers a request carrying ``Authorization: Bearer <this>``; empty:
    #: only a scraper on this machine, not through a proxy. 16+ characters when set.
    METRICS_TOKEN: str = ""
    #: Where ``laoyou backup`` / ``restore`` find pg_dump and pg_restore (empty: on PATH),
    #: e.g. /usr/lib/postgresql/16/bin when the server is newer than the default client.
    PG_BIN_DIR: str = ""
    #: The scheduler (``scheduler/``): a run that starts this many seconds late still runs
    #: (the process was busy or restarted); later, that run is missed and the next one waits.
    SCHEDULER_MISFIRE_GRACE_SECONDS: int = 3600
    #: Recorded job runs are kept this many days (the scheduler's own purge job).
    JOB_RUNS_KEEP_DAYS: int = 90
    #: Days ahead the points-expiring reminder job looks.
    POINTS_EXPIRING_REMINDER_DAYS: int = 30
    #: Days ahead the card validity reminder job looks (any card's ``valid_until``).
    CARD_EXPIRY_REMINDER_DAYS: int = 7
    #: The win-back job: a member with no transaction of their own for this many days gets
    #: one win-back message, at most once per this many days.
    WINBACK_IDLE_DAYS: int = 90
    #: Inbound messages (the deduplication record of every SMS / WeChat message) and the
    #: API's Idempotency-Key records are purged after this many days.
    PURGE_INBOUND_AFTER_DAYS: int = 90
    PURGE_IDEMPOTENCY_AFTER_DAYS: int = 30
    #: Phones (comma-separated) that get an SMS when the nightly ledger check fails. Staff
    #: accounts have no phone; empty: the failure is only logged, audited and shown.
    ADMIN_ALERT_PHONES: str = ""
    #: Extra settings from tests or other packages that need no validation here.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = overrides.get(f.name, env.get(f.name))
            if raw is None or raw == "":
                continue
            if f.type == "int" and not isinstance(raw, int):
                try:
                    raw = int(raw)
                except ValueError as exc:
                    raise ConfigError(f"{f.name} must be a whole number, got {raw!r}") from exc
            if f.type == "bool" and not isinstance(raw, bool):
                raw = _boolean(f.name, str(raw))
            values[f.name] = raw
        extra = {k: v for k, v in overrides.items() if k not in values and k.isupper()}
        # Each job's schedule (JOB_<NAME>_AT / JOB_<NAME>_EVERY, app/jobs.py): the jobs are
        # registered by packages, so their settings cannot be fields here.
        for name, value in env.items():
            if _JOB_SETTING.match(name) and name not in extra:
                extra[name] = value
        return cls(**values, extra=extra)

    def validate(self, instance_path: Path) -> None:
        if self.LAOYOU_ENV not in ENVIRONMENTS:
            raise ConfigError(f"LAOYOU_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if not self.SECRET_KEY:
            if self.LAOYOU_ENV == "production":
                raise ConfigError("SECRET_KEY must be set in production (32+ random characters)")
            self.SECRET_KEY = _local_secret(instance_path)
        elif self.LAOYOU_ENV == "production" and len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        if not self.DATABASE_URL:
            if self.LAOYOU_ENV == "production":
                # A SQLite file wherever the process happens to start is no production database.
                raise ConfigError(
                    "DATABASE_URL must be set in production "
                    "(postgresql+psycopg://USER@HOST:5432/DB)"
                )
            instance_path.mkdir(parents=True, exist_ok=True)
            self.DATABASE_URL = f"sqlite:///{instance_path / 'laoyou.sqlite3'}"
        self.DATABASE_URL = normalise_database_url(self.DATABASE_URL)
        if phonenumbers.country_code_for_region(self.DEFAULT_PHONE_REGION.upper()) == 0:
            raise ConfigError(
                f"DEFAULT_PHONE_REGION {self.DEFAULT_PHONE_REGION!r} is not a region code like CN"
            )
        self.DEFAULT_PHONE_REGION = self.DEFAULT_PHONE_REGION.upper()
        if self.DEFAULT_LANGUAGE not in LANGUAGES:
            raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
        try:
            ZoneInfo(self.TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"TIMEZONE {self.TIMEZONE!r} is not a known time zone") from exc
        if not self.CARD_NUMBER_PREFIX.isdigit():
            raise ConfigError("CARD_NUMBER_PREFIX must be digits")
        if not 12 <= self.CARD_NUMBER_LENGTH <= 19:
            raise ConfigError("CARD_NUMBER_LENGTH must be between 12 and 19")
        if len(self.CARD_NUMBER_PREFIX) > self.CARD_NUMBER_LENGTH - 9:
            raise ConfigError("CARD_NUMBER_PREFIX leaves too few random digits")
        for name in ("PIN_MAX_ATTEMPTS", "PIN_LOCK_MINUTES", "ARGON2_TIME_COST"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        self.LOG_LEVEL = self.LOG_LEVEL.upper()
        if self.LOG_LEVEL not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if self.MAX_CONTENT_LENGTH < 1024:
            raise ConfigError("MAX_CONTENT_LENGTH must be at least 1024 (bytes)")
        token = self.METRICS_TOKEN
        if token and (
            len(token) < 16 or not (token.isascii() and token.isprintable()) or " " in token
        ):
            # It travels in a header, and is guessed by no one.
            raise ConfigError("METRICS_TOKEN must be 16+ printable ASCII characters, no spaces")
        _validate_messaging(self)
        _validate_bot(self)
        _validate_money(self)
        _validate_jobs(self)

    def as_flask_config(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"
        }
        data.update(self.extra)
        data["TESTING"] = self.LAOYOU_ENV == "testing" or bool(self.extra.get("TESTING"))
        return data


_JOB_SETTING = re.compile(r"^JOB_[A-Z0-9_]+_(AT|EVERY)$")


def _validate_jobs(settings: Settings) -> None:
    for name in (
        "SCHEDULER_MISFIRE_GRACE_SECONDS",
        "JOB_RUNS_KEEP_DAYS",
        "PURGE_INBOUND_AFTER_DAYS",
        "PURGE_IDEMPOTENCY_AFTER_DAYS",
    ):
        if not 1 <= getattr(settings, name) <= 100_000:
            raise ConfigError(f"{name} must be between 1 and 100000")
    for name in ("POINTS_EXPIRING_REMINDER_DAYS", "CARD_EXPIRY_REMINDER_DAYS", "WINBACK_IDLE_DAYS"):
        if not 1 <= getattr(settings, name) <= 366:
            raise ConfigError(f"{name} must be between 1 and 366")
    phones = [p.strip() for p in settings.ADMIN_ALERT_PHONES.split(",") if p.strip()]
    for phone in phones:
        try:
            parsed = phonenumbers.parse(phone, settings.DEFAULT_PHONE_REGION)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            raise ConfigError(f"ADMIN_ALERT_PHONES: {phone!r} is not a phone number")


def _boolean(name: str, raw: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off, any case) for a switch."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _validate_messaging(settings: Settings) -> None:
    if settings.SMS_PROVIDER not in ("console", "twilio"):
        raise ConfigError("SMS_PROVIDER must be console or twilio")
    if settings.SMS_PROVIDER == "twilio":
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            if not getattr(settings, name):
                raise ConfigError(f"{name} must be set when SMS_PROVIDER=twilio")
        if not (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID):
            raise ConfigError(
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID must be set "
                "when SMS_PROVIDER=twilio"
            )
    if settings.WECHAT_PROVIDER not in ("console", "api"):
        raise ConfigError("WECHAT_PROVIDER must be console or api")
    if settings.WECHAT_PROVIDER == "api":
        for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET"):
            if not getattr(settings, name):
                raise ConfigError(f"{name} must be set when WECHAT_PROVIDER=api")
    key = settings.WECHAT_ENCODING_AES_KEY
    if key and len(key) != 43:
        raise ConfigError(
            f"WECHAT_ENCODING_AES_KEY must be the 43 characters WeChat shows, got {len(key)}"
        )
    for name in ("PUBLIC_BASE_URL", "TWILIO_API_BASE_URL", "WECHAT_API_BASE_URL"):
        value = getattr(settings, name)
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must start with http:// or https://, got {value!r}")
        setattr(settings, name, value.rstrip("/"))
    public_host = urlsplit(settings.PUBLIC_BASE_URL).hostname or ""
    if (
        settings.LAOYOU_ENV == "production"
        and settings.SMS_PROVIDER == "twilio"
        and public_host in ("127.0.0.1", "localhost", "::1")
    ):
        # Twilio signs the URL it calls; a loopback URL would refuse every webhook.
        raise ConfigError("PUBLIC_BASE_URL must be the public URL Twilio calls, not loopback")
    for name in ("QUIET_HOURS_START", "QUIET_HOURS_END"):
        value = getattr(settings, name)
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ConfigError(f"{name} must be HH:MM (24-hour), got {value!r}")
    for name in (
        "SMS_RATE_PER_SECOND",
        "WECHAT_RATE_PER_SECOND",
        "SMS_MAX_ATTEMPTS",
        "SMS_RETRY_BASE_SECONDS",
        "SMS_SEND_TIMEOUT_SECONDS",
        "OUTBOX_LEASE_SECONDS",
    ):
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name} must be at least 1")


def normalise_database_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise ConfigError(
            "DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, "
            f"got driver {parsed.drivername!r}"
        )
    return parsed.render_as_string(hide_password=False)


def _local_secret(instance_path: Path) -> str:
    """Development only: one random key kept in instance/ so sessions survive restarts."""
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


#: The ceiling of MAX_TRANSACTION_FEN (¥1,000,000,000): the hard limit on any amount.
MAX_TRANSACTION_FEN_CEILING = MAX_AMOUNT_FEN
REFUND_SCOPES = ("store_of_sale", "chain")


def _validate_money(settings: Settings) -> None:
    if not 1 <= settings.MAX_TRANSACTION_FEN <= MAX_TRANSACTION_FEN_CEILING:
        raise ConfigError(
            f"MAX_TRANSACTION_FEN must be between 1 and {MAX_TRANSACTION_FEN_CEILING} (fen)"
        )
    for name in ("ADJUSTMENT_APPROVAL_FEN", "ADJUSTMENT_APPROVAL_POINTS"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"{name} must be 0 or more (0: every adjustment is approved)")
    if settings.REFUND_SCOPE not in REFUND_SCOPES:
        raise ConfigError(f"REFUND_SCOPE must be one of {', '.join(REFUND_SCOPES)}")


def _validate_bot(settings: Settings) -> None:
    from limits import parse
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    try:
        parse(settings.BOT_RATE_LIMIT)
    except ValueError as exc:
        raise ConfigError(
            f"BOT_RATE_LIMIT must look like 10/minute, got {settings.BOT_RATE_LIMIT!r}"
        ) from exc
    if "://" not in settings.RATELIMIT_STORAGE_URI:
        raise ConfigError("RATELIMIT_STORAGE_URI must be memory:// or a redis:// URL")
    if not settings.RATELIMIT_STORAGE_URI.startswith("memory://"):
        try:
            # Checks the scheme and its client library; connects only when first used.
            storage_from_string(settings.RATELIMIT_STORAGE_URI)
        except ConfigurationError as exc:
            raise ConfigError(
                f"RATELIMIT_STORAGE_URI cannot be used: {exc} (for redis:// install laoyou[redis])"
            ) from exc
    settings.DEFAULT_HOME_STORE = settings.DEFAULT_HOME_STORE.strip().upper()
