"""Rules across fields, written into the OpenAPI document next to what the fields say.

A request schema's fields give each value's type, length, range and pattern; a rule that
spans fields (exactly one of three, a field allowed only with some type) lives in
``@validates_schema`` or a service. ``@document_rules(...)`` adds it to the schema's
component as JSON Schema keywords, so a client that builds requests from the document
(a POS, a fuzzer) does not send a request it could know would be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema

#: Schema classes with rules their fields cannot state, by component name (see ``document_rules``).
RULES: dict[str, dict[str, Any]] = {}


def document_rules(**keywords: Any) -> Callable[[type[Schema]], type[Schema]]:
    """Add JSON Schema keywords to a request schema's component in the OpenAPI document.

    For the rules that span fields (``oneOf``: exactly one of three fields; ``anyOf``: a field
    allowed only with some type), which marshmallow checks in ``@validates_schema`` or the
    services check, and which a client generating requests from the document must see.
    """

    def decorator(cls: type[Schema]) -> type[Schema]:
        RULES[cls.__name__.removesuffix("Schema")] = keywords
        return cls

    return decorator
