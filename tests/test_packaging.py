"""A built wheel ships the bundled notebooks, and an installed (non-editable) package finds them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import REPO

BUILD_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


@pytest.mark.slow
def test_the_wheel_ships_and_finds_the_bundled_notebooks(tmp_path: Path) -> None:
    # a copy of the sources, so the build leaves nothing in the working tree
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_FILES:
        shutil.copyfile(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    shutil.copytree(REPO / "notebooks", source / "notebooks", ignore=ignore)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("cjresearch-*.whl")

    expected = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert {"persona_report.ipynb", "stage_report.ipynb", "personas.ipynb"} <= set(expected)
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(
            Path(n).name for n in archive.namelist() if n.startswith("cjresearch/notebooks/")
        )
    assert shipped == expected

    # the templates are package data; JupyterLab, Voila and the widgets are the [explore] extra
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
    assert "cjresearch/reporting/templates/report.html.j2" in names
    for package in ("jupyterlab", "voila", "ipywidgets", "anywidget"):
        (line,) = [r for r in requires if r.split(">")[0].split("<")[0].strip() == package]
        assert 'extra == "explore"' in line, line
    assert any(r.startswith("papermill") and "extra" not in r for r in requires)

    # installed without the source tree (no editable finder, no CJRESEARCH_NOTEBOOKS)
    target = tmp_path / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
    )
    probe = (
        "import json; from cjresearch.reporting import notebooks as n; "
        "print(json.dumps([str(n.notebooks_dir()), [p.name for p in n.bundled_notebooks()], "
        "str(n.find_notebook('persona_report'))]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "CJRESEARCH_NOTEBOOKS"}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    folder, names, persona = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(folder) == target / "cjresearch" / "notebooks"
    assert names == expected
    assert Path(persona) == target / "cjresearch" / "notebooks" / "persona_report.ipynb"


def test_the_license_file_is_the_mit_license_pyproject_declares() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # an SPDX expression (PEP 639): setuptools >= 77 builds it without a deprecation banner
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the cjresearch authors\n")
    assert "Permission is hereby granted, free of charge" in text
