"""Approvals (审批): a change that waits for a second staff member's yes before it happens.

A package registers what a kind of request does once approved (``register_kind`` in its
``init_app``); a request carries its payload as JSON until then. The requester cannot
approve their own request.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    app.extensions.setdefault("laoyou.approval_kinds", {})
