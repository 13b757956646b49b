"""Queueing one broadcast to every member, beside a bare ``INSERT INTO outbox … SELECT``.

On PostgreSQL (``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else the local ``test``
database), in a schema of its own made from the models and dropped after: ``--members``
members (1,000,000 by default) are loaded by one ``INSERT … SELECT … generate_series`` and
analysed, then, in the same run:

- ``bare``: one ``INSERT INTO outbox_message … SELECT … FROM member`` of the same number
  of rows (a fixed text, a key per member), committed: the floor of writing those rows.
- ``ours``: ``app.campaigns.broadcasts.queue_broadcast`` of a broadcast to every member
  (a text per language with {name}, {points}, {level} and {store}) in one unit of work:
  the snapshot into ``broadcast_recipient``, then keyset pages rendered per member in
  Python and written to the outbox.

The outbox is emptied between the two. Prints ``figure NAME VALUE UNIT`` lines and ends
with ``figure broadcast_ratio <bare/ours>`` (target >= 0.25) and ``figure
broadcast_peak_mb <MB>`` (the process's peak resident memory, ``ru_maxrss``; target <
300). ``--members 100000`` for a quick run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)

LOAD_MEMBERS = """
INSERT INTO member (phone, name, gender, birthday_calendar, lunar_leap_month, language,
                    home_store_id, level_id, tags, answers, joined_at, sms_opt_out,
                    wechat_opt_out)
SELECT '+86139' || lpad(g::text, 8, '0'),
       CASE WHEN g % 5 = 0 THEN NULL ELSE '会员' || g END,
       'unknown', 'solar', false,
       (ARRAY['zh-Hans', 'zh-Hant', 'en'])[1 + g % 3],
       :store, CASE WHEN g % 2 = 0 THEN :level END, '[]', '{}', now(),
       g % 50 = 0, false
FROM generate_series(1, :n) AS g
"""

BARE = """
INSERT INTO outbox_message (channel, address, member_id, kind, body, language, dedupe_key,
                            opt_out_confirmation, status, priority, broadcast_id, attempts,
                            next_attempt_at, created_at, updated_at)
SELECT 'sms', phone, id, 'marketing', '您好，冬季新品到店，会员享九折', language,
       'bare:' || id, false, 'queued', 1, 0, 0, now(), now(), now()
FROM member WHERE NOT sms_opt_out
"""

TEXTS = {
    "zh-Hans": "{name}您好，您有{points}积分（{level}），{store}冬季新品到店",
    "zh-Hant": "{name}您好，您有{points}積分（{level}），{store}冬季新品到店",
    "en": "Hi {name}, you have {points} points ({level}); new winter items at {store}",
}


def _config(url: str) -> dict[str, Any]:
    return {
        "LAOYOU_ENV": "testing",
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0000",
        "DATABASE_URL": url,
        # Queued in the day, so the rows are due at once (quiet hours would only move them).
        "QUIET_HOURS_START": "00:00",
        "QUIET_HOURS_END": "00:00",
    }


def _conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    info = f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
    info += f"user={u.username or 'postgres'}"
    return info + (f" password={u.password}" if u.password else "")


def run(url: str, members: int) -> list[str]:
    from sqlalchemy import text

    from app import create_app
    from app.campaigns.broadcasts import create_broadcast, queue_broadcast
    from app.db import Base, db, unit_of_work
    from app.members.models import Level
    from app.stores.services import create_store

    app = create_app(_config(url))
    figures: list[str] = []
    with app.app_context():
        Base.metadata.create_all(db.engine)
        started = time.perf_counter()
        with unit_of_work() as session:
            store = create_store("SH01", "静安店", "华东")
            level = Level(name="Gold", name_zh_hans="金卡", rank=1)
            session.add(level)
            session.flush()
            session.execute(
                text(LOAD_MEMBERS), {"store": store.id, "level": level.id, "n": members}
            )
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        print(f"figure broadcast_load_s {time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        with unit_of_work() as session:
            rows = session.execute(text(BARE)).rowcount
        bare = time.perf_counter() - started
        print(f"figure broadcast_bare_rows {rows} rows", flush=True)
        print(f"figure broadcast_bare_s {bare:.2f} s", flush=True)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("TRUNCATE outbox_message"))
            conn.execute(text("VACUUM ANALYZE outbox_message"))

        with unit_of_work():
            broadcast_id = create_broadcast(
                title="Winter",
                segment_id=None,
                channels="sms",
                texts=TEXTS,
                send_at=None,
                created_by="bench",
            ).id
        started = time.perf_counter()
        with unit_of_work():
            result = queue_broadcast(broadcast_id)
        ours = time.perf_counter() - started
        print(f"figure broadcast_ours_rows {result.queued} rows", flush=True)
        print(f"figure broadcast_skipped {result.skipped} members", flush=True)
        print(f"figure broadcast_ours_s {ours:.2f} s", flush=True)
        print(f"figure broadcast_ours_rate {result.queued / ours:.0f} messages/s", flush=True)
        if result.queued != rows:
            raise SystemExit(f"ours queued {result.queued} rows, bare {rows}")
        db.engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append(f"figure broadcast_ratio {bare / ours:.2f} ratio")
    figures.append(f"figure broadcast_peak_mb {peak_mb:.0f} MB")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000, help="members to load")
    args = parser.parse_args()

    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"bench_broadcast_{os.getpid()}"
    base = make_url(PG_URL)
    admin = _conninfo(base.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    try:
        figures = run(url, args.members)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    for line in figures:
        print(line, flush=True)


if __name__ == "__main__":
    main()
