"""Hard limits on what a request may carry: the columns' ranges and sane sizes.

Each is documented in the OpenAPI document (``maximum``, ``maxItems``,
``maxLength``) where it applies, and checked before anything is written, so an
input beyond the column is a 400 rather than a database error. These are
ceilings of the data model, not business rules: a chain's own per-transaction
maximum (``amount_too_large``) is a setting that sits below ``MAX_AMOUNT_FEN``.
"""

from __future__ import annotations

#: Row ids (``integer`` columns): 2^31 - 1.
MAX_ID = 2**31 - 1
#: Any money amount in one request, in fen (¥1,000,000,000). Hard ceiling; the
#: configurable per-transaction maximum on checkout, recharge and adjustments is
#: checked against the chain's setting, which must not exceed this.
MAX_AMOUNT_FEN = 10**11
#: Points in one request (points offsets, adjustments): same ceiling as money.
MAX_POINTS = 10**11
#: A card's overdraft (credit limit), in fen: ¥10,000,000 is more than any shop extends.
MAX_CREDIT_LIMIT_FEN = 10**9
#: Line items in one checkout.
MAX_ITEMS = 500
#: Visits on a count card, or a quantity, in one request.
MAX_COUNT = 10_000
#: Questionnaire answers in one member request.
MAX_ANSWERS = 100
#: How deep a JSON body may nest (objects and arrays); deeper is refused unparsed.
MAX_JSON_DEPTH = 32
#: Characters of an ``Idempotency-Key`` (decoded as UTF-8 when it is UTF-8).
MAX_IDEMPOTENCY_KEY_CHARS = 200
#: Characters of a journal transaction's key: an ``Idempotency-Key`` and its store scope.
MAX_JOURNAL_KEY_CHARS = 255
#: Default request-body limit (``MAX_CONTENT_LENGTH``), in bytes.
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024
