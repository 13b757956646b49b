"""Every text the code can show has a Simplified and a Traditional translation that fits it."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.catalogs import TRANSLATIONS, compile_catalogs

ROOT = TRANSLATIONS.parents[1]
HOW_TO_FIX = (
    "run: pybabel extract -F babel.cfg -k lazy_gettext -o app/translations/messages.pot "
    "app templates && pybabel update -i app/translations/messages.pot -d app/translations, "
    "then translate the new entries"
)


@functools.cache
def _msgids_in_code() -> frozenset[str]:
    found: set[str] = set()
    method_map = [("**.py", "python"), ("**.html", "jinja2")]
    for directory in ("app", "templates"):
        if not (ROOT / directory).is_dir():
            continue
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / directory),
            method_map=method_map,
            keywords={"gettext": None, "lazy_gettext": None, "ngettext": (1, 2), "_": None},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_every_text_is_translated(locale: str) -> None:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(_msgids_in_code() - translated)
    assert not missing, (
        f"{len(missing)} text(s) without a {locale} translation ({HOW_TO_FIX}): "
        + "; ".join(missing[:10])
    )
    problems = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert not problems, problems


def test_compile_writes_only_stale_catalogs(tmp_path: Path) -> None:
    po_dir = tmp_path / "zh_Hans" / "LC_MESSAGES"
    po_dir.mkdir(parents=True)
    source = TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    (po_dir / "messages.po").write_bytes(source.read_bytes())
    assert compile_catalogs(tmp_path) == [po_dir / "messages.mo"]
    assert compile_catalogs(tmp_path) == []
    stat = (po_dir / "messages.po").stat()
    os.utime(po_dir / "messages.po", (stat.st_atime, stat.st_mtime + 10))
    assert compile_catalogs(tmp_path) == [po_dir / "messages.mo"]


def test_only_app_i18n_translates_through_flask_babel() -> None:
    """``in_language`` sets the language of ``app.i18n.gettext`` only (it does not force
    Flask-Babel's locale): a module that imported Flask-Babel's own ``gettext`` would
    write to a member in the request's language instead of the member's."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path.name != "i18n.py"
        and any(
            line.startswith(("from flask_babel import", "import flask_babel"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert offenders == []
