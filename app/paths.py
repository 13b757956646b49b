"""Files kept outside the ``app`` package (``templates/``, the example rules), found from
a checkout or an installed package (``<prefix>/share/laoyou``, see pyproject.toml)."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _shared(checkout: Path, name: str) -> Path:
    if checkout.exists():
        return checkout
    for base in (sysconfig.get_path("data"), sys.prefix):
        installed = Path(base) / "share" / "laoyou" / name
        if installed.exists():
            return installed
    return checkout


def templates_dir() -> Path:
    return _shared(ROOT / "templates", "templates")


def example_rules() -> Path:
    """The example programme rules: ``laoyou demo`` loads them, ``laoyou rules example`` prints."""
    return _shared(ROOT / "docs" / "rules.example.json", "rules.example.json")
