"""Ship the bundled notebooks inside the package.

The notebooks live in the repository's top-level ``notebooks/`` folder (the README, ``make
test`` and nbval use that path). A wheel has no top level, so building the package copies
every ``notebooks/*.ipynb`` into ``cjresearch/notebooks/``, where
:func:`cjresearch.reporting.notebooks.notebooks_dir` finds them in an installed (non-editable) package.
Everything else about the package is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildPyWithNotebooks(build_py):
    """``build_py``, then the top-level notebooks copied into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "cjresearch" / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
            shutil.copyfile(notebook, target / notebook.name)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
