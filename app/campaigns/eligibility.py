"""Who may vote or enter: a level rank and a saved segment.

Campaigns' ``init_app`` hands over ``app.extensions["laoyou.segment_contains"]``
(``segments.segment_contains``, a function ``(segment_key, member_id) -> bool``); an app
built without it refuses a vote or a draw naming a segment at creation, so no campaign
silently admits everybody.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app

from app.errors import InvalidRequest
from app.members.models import Member

SEGMENT_EXTENSION = "laoyou.segment_contains"
#: Handed over beside it: ``(segment_key) -> bool``, whether such a segment is saved.
SEGMENT_EXISTS = "laoyou.segment_exists"
SegmentContains = Callable[[str, int], bool]


def _contains() -> SegmentContains | None:
    return current_app.extensions.get(SEGMENT_EXTENSION)  # type: ignore[no-any-return]


def check_rules(min_level_rank: int | None, segment_key: str | None) -> str | None:
    """Validate a campaign's eligibility rules; returns the cleaned segment key."""
    if min_level_rank is not None and not 1 <= min_level_rank <= 1000:
        raise InvalidRequest("level ranks run from 1 to 1000", field="min_level_rank")
    key = (segment_key or "").strip() or None
    if key is not None:
        if len(key) > 64:
            raise InvalidRequest("a segment key is at most 64 characters", field="segment")
        if _contains() is None:
            raise InvalidRequest("segments are not available here", field="segment")
        if not current_app.extensions[SEGMENT_EXISTS](key):
            raise InvalidRequest("no saved segment has that name", field="segment")
    return key


def refusal(member: Member, min_level_rank: int | None, segment_key: str | None) -> str | None:
    """Why ``member`` may not take part (``level`` or ``segment``), or None."""
    rank = member.level.rank if member.level is not None else 0
    if min_level_rank is not None and rank < min_level_rank:
        return "level"
    if segment_key is not None:
        contains = _contains()
        if contains is None or not contains(segment_key, member.id):
            return "segment"
    return None
