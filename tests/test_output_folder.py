"""The output folder: a build refuses folders it would damage or leak into, before any work.

Each case is a mistake a user made with a real folder (``output = "."`` over their own
``index.html``; the inputs under the output; the artifacts, which hold customer ids, inside
it; the file system's root; a symbolic link inside the output): the CLI exits 2 with one
line naming the folder and the reason, and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cjresearch.build import build
from cjresearch.cli import app
from cjresearch.data.study import load_study
from cjresearch.errors import CJResearchError
from cjresearch.reporting.publish import check_output_folder
from helpers import base_sections, tiny_tables, write_study_file

runner = CliRunner()


def _study(folder: Path, *, output: str, artifacts: str = "processed", data: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / data).mkdir(parents=True, exist_ok=True)
    for table, frame in tiny_tables().items():
        frame.to_csv(folder / data / f"{table}.csv", index=False)
    sections = base_sections(
        data={t: f"{data}/{t}.csv".lstrip("/") for t in ("customers", "events", "feedback")},
        reports={"output": output, "artifacts": artifacts, "min_group_size": 1},
    )
    return write_study_file(folder, sections)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_the_study_folder_with_the_users_own_site_files_is_refused(tmp_path: Path) -> None:
    study = _study(tmp_path, output=".")
    (tmp_path / "index.html").write_text("my own home page", encoding="utf-8")
    before = _files(tmp_path)
    line = _one_line_error(["build", str(study)])
    assert f"the output folder {tmp_path.resolve()} holds the study's input study.toml" in line
    assert _files(tmp_path) == before  # nothing written, the user's index.html intact


def test_a_folder_holding_files_a_build_did_not_write_is_refused(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", output="../site")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("mine", encoding="utf-8")
    (site / "manifest.json").write_text("{}", encoding="utf-8")
    line = _one_line_error(["build", str(study)])
    assert "already holds index.html, manifest.json, which cjresearch did not write" in line
    assert (site / "index.html").read_text(encoding="utf-8") == "mine"
    assert not (site / ".cjresearch").exists()


def test_inputs_under_the_output_are_refused(tmp_path: Path) -> None:
    study = _study(tmp_path / "study", output="out", data="out/tables")
    line = _one_line_error(["build", str(study)])
    assert "holds the study's input customers.csv" in line


def test_artifacts_inside_the_output_are_refused(tmp_path: Path) -> None:
    study = _study(tmp_path, output="site", artifacts="site/processed")
    line = _one_line_error(["build", str(study)])
    assert "overlap" in line and "customer ids" in line
    assert not (tmp_path / "site").exists()


def test_the_artifacts_folder_as_the_output_is_refused(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path, output="same", artifacts="same"))
    with pytest.raises(CJResearchError, match="overlap"):
        build(study, reports=False)


@pytest.mark.parametrize("folder", ["/", "~"])
def test_the_root_and_the_home_folder_are_refused(folder: str) -> None:
    with pytest.raises(CJResearchError, match="not a folder of its own: not the root or home"):
        check_output_folder(folder)


def test_a_symbolic_link_in_the_output_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    study = _study(tmp_path / "study", output="../site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    site = tmp_path / "site"
    (site / ".cjresearch").mkdir(parents=True)
    os.symlink(elsewhere, site / "analysis", target_is_directory=True)
    line = _one_line_error(["build", str(study)])
    assert "analysis is a symbolic link" in line
    assert list(elsewhere.iterdir()) == []


def test_a_previous_build_and_an_empty_or_new_folder_are_fine(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path / "new") == (tmp_path / "new").resolve()
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty")
    previous = tmp_path / "previous"
    (previous / ".cjresearch").mkdir(parents=True)
    (previous / "index.html").write_text("built before", encoding="utf-8")
    check_output_folder(previous)
    readme = tmp_path / "readme"
    readme.mkdir()
    (readme / "README.md").write_text("about these reports", encoding="utf-8")
    check_output_folder(readme)  # a file of the user's that a build never writes
