"""Fixtures of the engine tests: the fixture study copied with a chosen engine and layout."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cjresearch.data.study import Study, load_study
from helpers import FIXTURE_STUDY, write_study_file


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[..., Study]:
    """The fixture study copied to a folder of its own (once per name), with ``[data]`` keys
    replaced in its study file."""

    def copy(name: str, **data: Any) -> Study:
        folder = tmp_path / name
        if not folder.exists():
            shutil.copytree(FIXTURE_STUDY, folder, ignore=shutil.ignore_patterns("processed"))
        raw = tomllib.loads((FIXTURE_STUDY / "study.toml").read_text(encoding="utf-8"))
        raw["data"] = {**raw["data"], **{k: str(v) for k, v in data.items()}}
        write_study_file(folder, raw)
        return load_study(folder)

    return copy
