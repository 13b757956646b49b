"""Where the top-level ``templates/`` lives, from a checkout or an installed package."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    checkout = ROOT / "templates"
    if checkout.is_dir():
        return checkout
    for base in (sysconfig.get_path("data"), sys.prefix):
        installed = Path(base) / "share" / "laoyou" / "templates"
        if installed.is_dir():
            return installed
    return checkout
