"""The company's side of the study file: owners, expectations, KPI targets, alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cjresearch.cli import app
from cjresearch.data.study import load_study, parse_target, study_from_dict
from cjresearch.data.tables import load_tables
from cjresearch.errors import DataError, StudyFileError
from helpers import TINY_STAGES, base_sections, tiny_tables, write_study_file

MINIMAL = {
    "study": {"name": "Acme", "stages": ["awareness", "onboarding", "usage"]},
    "data": {"customers": "c.csv", "events": "e.csv"},
}
KPI = {"name": "Onboarding CSAT", "stage": "onboarding", "metric": "csat", "target": ">= 0.80"}


def _study(**sections: object):
    return study_from_dict({**MINIMAL, **sections}, path="study.toml")


def _lines(**sections: object) -> list[str]:
    with pytest.raises(StudyFileError) as caught:
        _study(**sections)
    return caught.value.lines


def test_the_issue_example_reads_with_owners_inherited() -> None:
    study = _study(
        stages={
            "onboarding": {
                "owner": "Onboarding team",
                "expectations": ["Set up in one sitting", "Know who to call"],
                "questions": ["Why do app users skip the tutorial?"],
                "tools": ["Setup wizard", "Welcome e-mail"],
            }
        },
        touchpoints={"setup_failed": {"owner": "Platform team"}},
        kpis=[
            KPI,
            {**KPI, "name": "Setup reach", "touchpoint": "setup_failed", "metric": "reach",
             "target": "<= 25%", "owner": None},
            {**KPI, "name": "Usage NPS", "stage": "usage", "metric": "nps", "target": "> -10",
             "persona": 2, "owner": "Product"},
        ],
    )  # fmt: skip
    # the stage list stays where it is; the sections sit beside it
    assert study.stages == ["awareness", "onboarding", "usage"]
    assert study.stage_details["onboarding"].expectations[1] == "Know who to call"
    assert study.stage_details["onboarding"].tools == ["Setup wizard", "Welcome e-mail"]
    csat, reach, nps = study.kpis
    assert (csat.comparison, csat.threshold) == (">=", 0.80)
    assert (reach.comparison, reach.threshold) == ("<=", 0.25)
    assert nps.persona == "2"
    # a KPI's owner: its own, else its touchpoint's, else its stage's
    assert [study.kpi_owner(k) for k in study.kpis] == [
        "Onboarding team",
        "Platform team",
        "Product",
    ]
    assert study.owners == ["Onboarding team", "Platform team", "Product"]
    assert study.owner_of("usage") is None


@pytest.mark.parametrize(
    ("target", "metric", "expected"),
    [
        (">= 0.80", "csat", (">=", 0.80)),
        ("≥ 80%", "reach", (">=", 0.80)),
        ("<3.5", "ces", ("<", 3.5)),
        ("> -20", "nps", (">", -20.0)),
        ("<= .25", "churn_rate", ("<=", 0.25)),
        (">= -0.2", "emotion", (">=", -0.2)),
    ],
)
def test_targets_parse(target: str, metric: str, expected: tuple[str, float]) -> None:
    comparison, threshold = parse_target(target, metric=metric)
    assert comparison == expected[0]
    assert threshold == pytest.approx(expected[1])


@pytest.mark.parametrize(
    ("target", "metric", "match"),
    [
        ("80%", "csat", "a target such as"),
        ("at least 0.8", "csat", "a target such as"),
        (">= 80", "csat", "between 0 and 1"),
        (">= 120", "nps", "between -100 and 100"),
        ("<= 8", "ces", "between 1 and 7"),
        (">= 50%", "nps", "as a number, not a percentage"),
        ("== 0.5", "reach", "a target such as"),
    ],
)
def test_bad_targets_say_what_is_expected(target: str, metric: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_target(target, metric=metric)


def test_every_bad_kpi_entry_is_its_own_line_naming_the_entry() -> None:
    lines = _lines(
        kpis=[
            {**KPI, "name": "Bad metric", "metric": "satisfaction"},
            {**KPI, "name": "Bad target", "target": "at least 80"},
            {**KPI, "name": "Bad stage", "stage": "onbording"},
            {**KPI, "name": "Off scale", "target": ">= 80"},
            {**KPI, "name": "Last conversion", "stage": "usage", "metric": "conversion"},
            {**KPI, "name": "Typo", "tagret": ">= 0.5"},
        ]
    )
    assert len(lines) == 6
    assert lines[0].startswith('study.toml: [[kpis]] #1 ("Bad metric") metric: expected one of')
    assert "'satisfaction'" in lines[0]
    assert lines[1].startswith('study.toml: [[kpis]] #2 ("Bad target") target: expected a target')
    assert lines[2] == (
        'study.toml: [[kpis]] #3 ("Bad stage") stage: expected a stage of [study] stages '
        "['awareness', 'onboarding', 'usage'], found 'onbording'"
    )
    assert "#4" in lines[3] and "between 0 and 1" in lines[3]
    assert "#5" in lines[4] and "'usage' is the last stage" in lines[4]
    assert lines[5].startswith('study.toml: unknown key [[kpis]] #6 ("Typo") tagret')


def test_sections_check_their_keys_stages_owners_and_names() -> None:
    lines = _lines(
        stages={"onboarding": {"ownr": "x"}, "intro": {"owner": "y"}},
        touchpoints={"setup failed": {"owner": " "}},
        kpis=[KPI, KPI],
    )
    assert "study.toml: unknown key [stages.onboarding] ownr; check its spelling" in lines[0]
    assert any(line.startswith('study.toml: [touchpoints."setup failed"] owner') for line in lines)
    assert "study.toml: [stages.intro]: expected a stage of [study] stages" in lines[1]
    assert sum("names more than one [[kpis]] entry" in line for line in lines) == 2
    with pytest.raises(StudyFileError, match=r"\[alerts\] timeout_seconds"):
        _study(alerts={"command": "cat", "timeout_seconds": 0})
    with pytest.raises(StudyFileError, match=r"expectations.*blank"):
        _study(stages={"onboarding": {"expectations": ["ok", "  "]}})


def test_a_stage_named_like_a_pydantic_tag_keeps_its_name() -> None:
    # error locations drop pydantic's own "int" tags; a stage called "intro" is not one
    lines = _lines(
        study={"name": "A", "stages": ["intro", "usage"]},
        stages={"intro": {"owner": 3}},
    )
    assert lines[0].startswith("study.toml: [stages.intro] owner:")


def test_the_manifest_parameters_read_back_as_the_same_study() -> None:
    from cjresearch.artifacts.manifest import parameters

    study = _study(stages={"onboarding": {"owner": "O"}}, kpis=[KPI], alerts={"command": "cat"})
    dumped = parameters(study)
    assert dumped["stages"] == {
        "onboarding": {"owner": "O", "expectations": [], "questions": [], "tools": []}
    }
    again = study_from_dict(dumped, path="study.toml")
    assert again.kpis == study.kpis and again.stage_details == study.stage_details
    assert again.alerts.command == "cat"


def _write(folder: Path, extra: str) -> Path:
    tables = tiny_tables()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    path = write_study_file(folder, base_sections())
    path.write_text(path.read_text() + extra, encoding="utf-8")
    return path


def test_touchpoints_the_data_never_show_are_errors_of_validate(tmp_path: Path) -> None:
    # tiny_tables: touchpoints ad (awareness), buy (purchase), use (usage)
    path = _write(
        tmp_path,
        '[touchpoints.byu]\nowner = "Sales"\n[touchpoints.ad]\nowner = "Marketing"\n'
        '[[kpis]]\nname = "Ad reach"\nstage = "purchase"\ntouchpoint = "ad"\n'
        'metric = "reach"\ntarget = ">= 0.5"\n'
        '[[kpis]]\nname = "Use"\nstage = "usage"\ntouchpoint = "uses"\n'
        'metric = "reach"\ntarget = ">= 0.5"\n',
    )
    study = load_study(path)
    assert study.stages == TINY_STAGES
    with pytest.raises(DataError) as caught:
        load_tables(study)
    lines = caught.value.lines
    assert lines == [
        "study.toml: [touchpoints.byu]: no touchpoint 'byu' in events.csv (did you mean ['buy']?)",
        "study.toml: [[kpis]] #1 (\"Ad reach\") touchpoint: it occurs at ['awareness'], not at "
        "'purchase'",
        "study.toml: [[kpis]] #2 (\"Use\") touchpoint: no touchpoint 'uses' in events.csv "
        "(did you mean ['use']?)",
    ]
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "Traceback" not in result.output


def test_bad_kpis_exit_2_from_the_cli_with_one_line_each(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "".join(
            f'[[kpis]]\nname = "{name}"\nstage = "{stage}"\nmetric = "{metric}"\n'
            f'target = "{target}"\n'
            for name, stage, metric, target in (
                ("Unknown metric", "usage", "happiness", ">= 0.5"),
                ("Unparsed target", "usage", "csat", "most of them"),
                ("Unknown stage", "checkout", "csat", ">= 0.5"),
            )
        ),
    )
    for command in (["validate", str(path)], ["build", str(path), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 3, lines
        assert all(line.startswith("error: study.toml: [[kpis]] #") for line in lines)
        assert '#1 ("Unknown metric") metric' in lines[0]
        assert '#2 ("Unparsed target") target' in lines[1]
        assert '#3 ("Unknown stage") stage' in lines[2]
        assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # nothing was written
