"""Backing up the app's database to one file, and restoring it from one.

- **SQLite**: the backup is a SQLite database file made by SQLite's online backup API
  (``sqlite3.Connection.backup``): a consistent copy while the service keeps writing. A
  restore copies it back the same way, inside one write transaction of the target.
- **PostgreSQL**: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists
  --no-owner --no-privileges --single-transaction --exit-on-error``. The connection's
  parts go to the tools as libpq environment variables (the password never on a command
  line) and the database name as a quoted conninfo. Where ``DATABASE_URL`` puts the app
  in a schema other than ``public`` (``options=-csearch_path=…``), only that schema is
  dumped (``-n``).

A restore checks the whole file before it touches the database, refuses a database that
already has tables unless forced, and afterwards brings the schema to this code's
revision (what ``laoyou db upgrade`` does): a backup made by an older release is
migrated, one made by a newer release is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from app.cli.db import alembic_config
from app.db import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
#: libpq's environment variables for the URL query parameters worth passing on.
LIBPQ_QUERY_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, and nothing changed."""


@dataclass(frozen=True)
class RestoreReport:
    #: The schema revision the backup was made at, and the revision now.
    from_revision: str
    revision: str

    @property
    def migrated(self) -> bool:
        return self.from_revision != self.revision


def database_url() -> URL:
    return make_url(current_app.config["DATABASE_URL"])


def describe(url: URL) -> str:
    """The database as an operator may see it printed: never its password."""
    return url.render_as_string(hide_password=True)


# --- backup -------------------------------------------------------------------------


def backup(out: Path) -> None:
    """Write the app's database to ``out`` (replaced only once the copy is complete)."""
    url = database_url()
    if out.is_dir():
        raise BackupError(f"{out} is a directory; name the backup file")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} does not exist")
    with _partial(out) as partial:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            _pg_backup(url, partial)


@contextlib.contextmanager
def _partial(out: Path) -> Iterator[Path]:
    """A file beside ``out``, readable by the owner only (members' data), renamed into
    place on success and removed on failure: a failed backup never replaces a good one."""
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield partial
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory: there is nothing on disk to back up")
    return Path(url.database)


def _sqlite_backup(path: Path, partial: Path) -> None:
    if not path.is_file():
        raise BackupError(f"there is no database file at {path}")
    with (
        contextlib.closing(sqlite3.connect(path)) as source,
        contextlib.closing(sqlite3.connect(partial)) as copy,
    ):
        try:
            source.backup(copy)
            # One self-contained file: WAL mode would want -wal and -shm files beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            raise BackupError(f"SQLite could not copy {path}: {exc}") from exc


def _pg_backup(url: URL, partial: Path) -> None:
    pg_dump = _tool("pg_dump")
    with db.engine.connect() as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        schema = _app_schema(connection.execute(text("SHOW search_path")).scalar_one())
    client = _tool_major(pg_dump)
    if client < server:
        raise BackupError(
            f"pg_dump {client} cannot dump a PostgreSQL {server} server: install "
            f"postgresql-client-{server} (or set PG_BIN_DIR to its bin directory)"
        )
    schema_args = [] if schema == "public" else [f"--schema={schema}"]
    _run(
        [pg_dump, "--format=custom", f"--file={partial}", *schema_args, _conninfo(url)],
        url,
        "pg_dump",
    )


# --- restore ------------------------------------------------------------------------


def restore(source: Path, *, force: bool = False) -> RestoreReport:
    """Replace the app's database with the backup ``source``; see the module's rules."""
    url = database_url()
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    sqlite = url.get_backend_name() == "sqlite"
    with source.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if sqlite and head.startswith(PGDUMP_MAGIC):
        raise BackupError(f"{source} is a PostgreSQL backup (pg_dump); this database is SQLite")
    if not sqlite and head == SQLITE_MAGIC:
        raise BackupError(f"{source} is a SQLite backup; this database is PostgreSQL")
    if not (head == SQLITE_MAGIC if sqlite else head.startswith(PGDUMP_MAGIC)):
        raise BackupError(f"{source} is not a backup made by 'laoyou backup'")
    revision = _sqlite_revision(source) if sqlite else _pg_revision(url, source)
    _check_known(revision)
    if not force and _has_tables():
        raise BackupError(
            f"{describe(url)} already has tables; restore into an empty database, or add "
            "--force to replace what it holds"
        )
    db.session.remove()
    db.engine.dispose()  # no pooled connection keeps the old tables open
    if sqlite:
        _sqlite_restore(source, _sqlite_path(url))
    else:
        _pg_restore(url, source)
    db.engine.dispose()
    return RestoreReport(from_revision=revision, revision=_bring_up_to_date())


def _has_tables() -> bool:
    with db.engine.connect() as connection:
        return bool(inspect(connection).get_table_names())


def _check_known(revision: str) -> None:
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError as exc:
        raise BackupError(
            f"the backup's schema revision {revision!r} is newer than this code knows: "
            "restore it with the release that made it"
        ) from exc


def _bring_up_to_date() -> str:
    """The restored database at this code's newest revision (``laoyou db upgrade``)."""
    command.upgrade(alembic_config(), "heads")
    with db.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(heads)


def _read_only(path: Path) -> sqlite3.Connection:
    # immutable: no lock, no -wal or -shm beside the backup; nothing may write it.
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1", uri=True)


def _sqlite_revision(source: Path) -> str:
    try:
        with contextlib.closing(_read_only(source)) as backup_db:
            check = backup_db.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise BackupError(f"{source} is damaged: {check[0][0]}")
            rows = backup_db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} is not a readable Laoyou backup: {exc}") from exc
    return _one_revision(source, [r[0] for r in rows])


def _one_revision(source: Path, revisions: list[str]) -> str:
    if len(revisions) != 1:
        raise BackupError(f"{source} records no single schema revision: not a Laoyou backup")
    return revisions[0]


def _sqlite_restore(source: Path, target: Path) -> None:
    try:
        with (
            contextlib.closing(_read_only(source)) as backup_db,
            contextlib.closing(sqlite3.connect(target, timeout=30)) as live,
        ):
            backup_db.backup(live)
            live.execute("PRAGMA journal_mode=WAL")  # the copy came in DELETE mode
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not restore into {target}: {exc}") from exc


def _pg_revision(url: URL, source: Path) -> str:
    """The archive's readability, its schema and its revision, before anything is written."""
    pg_restore = _tool("pg_restore")
    listing = _run([pg_restore, "--list", str(source)], url, "pg_restore (reading the backup)")
    schemas = set()
    for line in listing.splitlines():
        # "305; 1259 28763 TABLE public member postgres" (not "… TABLE DATA public member …")
        parts = line.split()
        if len(parts) > 5 and parts[3] == "TABLE" and parts[4] != "DATA":
            schemas.add(parts[4])
    with db.engine.connect() as connection:
        target = _app_schema(connection.execute(text("SHOW search_path")).scalar_one())
    if schemas and schemas != {target}:
        raise BackupError(
            f"the backup holds schema {', '.join(sorted(schemas))}, but DATABASE_URL's "
            f"search_path is {target}: restore with a DATABASE_URL for that schema"
        )
    data = _run(
        [pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(source)],
        url,
        "pg_restore (reading the schema revision)",
    )
    match = re.search(r"^COPY [^\n]*FROM stdin;\n(.*?)^\\\.$", data, re.M | re.S)
    revisions = match.group(1).split() if match else []
    return _one_revision(source, revisions)


def _pg_restore(url: URL, source: Path) -> None:
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            # All or nothing: a damaged archive found half-way leaves the database as it was.
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={_conninfo(url)}",
            str(source),
        ],
        url,
        "pg_restore",
    )


# --- PostgreSQL's tools ------------------------------------------------------------


def _tool(name: str) -> str:
    bin_dir = current_app.config.get("PG_BIN_DIR") or None
    found = shutil.which(name, path=bin_dir)
    if found is None:
        where = f"in PG_BIN_DIR ({bin_dir})" if bin_dir else "on PATH"
        raise BackupError(
            f"{name} was not found {where}: install PostgreSQL's client tools "
            "(Debian: postgresql-client) of the server's major version"
        )
    return found


def _tool_major(path: str) -> int:
    output = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)*", output)
    if match is None:
        raise BackupError(f"{path} --version said nothing readable: {output!r}")
    return int(match.group(1))


def _app_schema(search_path: str) -> str:
    """The schema the app's tables live in: the first of the search path but "$user"."""
    for part in search_path.split(","):
        name = part.strip().strip('"')
        if name and name != "$user":
            return name
    return "public"


def _conninfo(url: URL) -> str:
    """The database name as a libpq conninfo string, quoted: no name reads as an option."""
    name = (url.database or "").replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{name}'"


def _environment(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
    }.items():
        if value:
            env[key] = str(value)
    for key, variable in LIBPQ_QUERY_ENV.items():
        given = url.query.get(key)
        if isinstance(given, str) and given:
            env[variable] = given
    return env


def _run(args: list[str], url: URL, what: str) -> str:
    result = subprocess.run(args, env=_environment(url), capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(
            f"{what} failed: " + (" / ".join(lines[-3:]) or f"exit {result.returncode}")
        )
    return result.stdout
