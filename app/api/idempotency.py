"""The HTTP layer of idempotency: ``Idempotency-Key`` on every posting endpoint.

A POS that loses the answer to a checkout (a network glitch, a timeout) sends
the same request again with the same key and gets exactly the first answer,
status and body, without a second posting (odoo#222372). The key is the
caller's, scoped to its API key's store, and stored with a hash of
(method, path, store, body): the same key on another request is 409
``idempotency_conflict``.

Race-safe: the record is inserted (``ON CONFLICT DO NOTHING``) before the work,
in the request's own transaction. A second request with the same key waits on
that row (PostgreSQL) or on the write lock (SQLite) until the first commits,
then replays it; if the first failed, its record is gone with its rollback and
the second runs as the first. Refusals are not stored: nothing was written,
so a retry after the cause is fixed (a recharge, an unfrozen card) may succeed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast

from flask import Response, current_app, g, request
from sqlalchemy import Table, delete, select, update

from app.db import db
from app.errors import IdempotencyConflict, IdempotencyInProgress, InvalidRequest, LaoyouError
from app.ledger.journal import dialect_insert, request_hash
from app.ledger.models import IdempotencyRecord
from app.limits import MAX_IDEMPOTENCY_KEY_CHARS
from app.web.boundary import header_text

HEADER = "Idempotency-Key"
#: For ``@blp.doc(parameters=[...])``: the header in the OpenAPI document.
HEADER_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
    "description": "Your unique id for this posting (a POS transaction id, a UUID): "
    f"1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters, counted after UTF-8 decoding (CJK "
    "characters count one each). Sending it again with the same request returns the first "
    "answer and posts nothing.",
}
_record = cast(Table, IdempotencyRecord.__table__)


def journal_key() -> str:
    """The journal's key for the current request: the header, scoped to the caller's store."""
    return f"api:{g.store.id}:{g.idempotency_key}"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a posting view (outside flask-smorest's own decorators, so it sees the final body)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = header_text(HEADER).strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
            raise InvalidRequest(
                f"send a unique {HEADER} header (1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters) "
                "with every posting",
                field=HEADER,
            )
        store_id = g.store.id
        req_hash = request_hash(
            {
                "method": request.method,
                "path": request.path,
                "store": store_id,
                "body": request.get_json(silent=True),
            }
        )
        record_id = db.session.scalar(
            dialect_insert(_record)
            .values(store_id=store_id, key=key, request_hash=req_hash, status=None, body=None)
            .on_conflict_do_nothing(index_elements=["store_id", "key"])
            .returning(_record.c.id)
        )
        if record_id is None:
            return _replay(store_id, key, req_hash)
        g.idempotency_key = key
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except LaoyouError as exc:
            if exc.persist:
                # The boundary keeps this error's flushed state (a wrong-PIN count): not the key.
                db.session.execute(delete(_record).where(_record.c.id == record_id))
            raise
        db.session.execute(
            update(_record)
            .where(_record.c.id == record_id)
            .values(status=response.status_code, body=response.get_data(as_text=True))
        )
        return response

    return wrapper


def _replay(store_id: int, key: str, req_hash: str) -> Response:
    record = db.session.execute(
        select(_record.c.request_hash, _record.c.status, _record.c.body).where(
            _record.c.store_id == store_id, _record.c.key == key
        )
    ).one()
    if record.request_hash != req_hash:
        raise IdempotencyConflict(
            f"this {HEADER} was already used for a different request", field=HEADER
        )
    if record.status is None:
        raise IdempotencyInProgress(
            f"the first request with this {HEADER} is still running; retry shortly", field=HEADER
        )
    response = current_app.response_class(
        record.body, status=record.status, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response
