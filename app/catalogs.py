"""Compile the gettext catalogs (``app/translations/*/LC_MESSAGES/messages.po``) to ``.mo``.

``make install`` runs ``pybabel compile``; this does the same for a test session or
a fresh checkout, only for catalogs whose ``.mo`` is missing or older than the ``.po``.
Each ``.mo`` is written to a temporary file and renamed, so parallel test workers
never read half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def compile_catalogs(directory: Path = TRANSLATIONS, *, force: bool = False) -> list[Path]:
    """Compile stale catalogs; returns the ``.mo`` files written."""
    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog)
            os.replace(tmp, mo_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_catalogs(force=True):
        print(f"compiled {path}")
