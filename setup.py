"""Build hook: every wheel carries compiled gettext catalogs (pyproject.toml holds the rest).

The ``.mo`` files are not in git; without this a ``pip install ./laoyou`` (a wheel,
an sdist) would answer members in English only. ``app/catalogs.py`` is loaded by
its path: the package being built is not importable while it is built.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _compile_catalogs(directory: Path) -> None:
    spec = importlib.util.spec_from_file_location("_laoyou_catalogs", HERE / "app" / "catalogs.py")
    assert spec is not None and spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not module.compile_catalogs(directory, force=True):
        raise RuntimeError(f"no gettext catalogs under {directory}")


class BuildPyWithCatalogs(build_py):
    """``build_py``, then ``.po`` -> ``.mo`` next to the copied catalogs."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the catalogs in the checkout
            _compile_catalogs(HERE / "app" / "translations")
        else:
            _compile_catalogs(Path(self.build_lib) / "app" / "translations")


setup(cmdclass={"build_py": BuildPyWithCatalogs})
