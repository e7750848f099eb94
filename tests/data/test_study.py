"""The study file: parsing, defaults, path resolution and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjresearch.data.study import load_study, study_from_dict
from cjresearch.errors import StudyFileError

MINIMAL = {
    "study": {"name": "Acme", "stages": ["awareness", "purchase", "usage"]},
    "data": {"customers": "c.csv", "events": "e.csv"},
}


def _with(**sections: object) -> dict[str, object]:
    return {**MINIMAL, **sections}


def test_defaults_and_paths_resolve_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "study.toml"
    path.write_text(
        '[study]\nname = "Acme"\nstages = ["a", "b"]\n'
        '[data]\ncustomers = "../raw/c.csv"\nevents = "e.parquet"\n'
    )
    study = load_study(path)
    assert study.data_path("customers") == (tmp_path / "raw" / "c.csv").resolve()
    assert study.data_path("events") == (tmp_path / "sub" / "e.parquet").resolve()
    assert study.data_path("feedback") is None
    assert study.personas.k == "auto"
    assert study.personas.k_range == (2, 8)
    assert study.statistics.unit_size == 0.5
    assert study.reports.min_group_size == 10
    assert study.output_dir == (tmp_path / "sub" / "reports").resolve()
    assert not study.churn.derived


def test_a_folder_means_its_study_toml(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text(
        '[study]\nname = "A"\nstages = ["a", "b"]\n[data]\ncustomers = "c.csv"\nevents = "e.csv"\n'
    )
    assert load_study(tmp_path).name == "A"


def test_renames_invert_the_mapping_and_include_the_churn_column() -> None:
    study = study_from_dict(
        _with(
            columns={"events": {"customer_id": "user_id", "timestamp": "ts"}},
            churn={"column": "left_us"},
        ),
        path="study.toml",
    )
    assert study.renames("events") == {"user_id": "customer_id", "ts": "timestamp"}
    assert study.renames("customers") == {"left_us": "churned"}


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"personas": {"k": "three"}},
            r"\[personas\] k: expected \"auto\" or a whole number, found 'three'",
        ),
        ({"personas": {"k": 0}}, r"\[personas\] k: expected at least 1 persona"),
        ({"personas": {"k_range": [5, 2]}}, r"\[personas\] k_range: expected a pair \[low, high\]"),
        (
            {"personas": {"method": "dbscan"}},
            r"\[personas\] method: expected one of 'kmeans' or 'gmm'",
        ),
        (
            {"study": {"name": "A", "stages": ["a", "a"]}},
            r"\[study\] stages: expected each stage once",
        ),
        ({"study": {"name": "A", "stages": ["a"]}}, r"\[study\] stages: expected at least 2 items"),
        (
            {"study": {"name": "A", "stages": ["a", "b"], "observation_end": "soon"}},
            r"observation_end: expected a date \(YYYY-MM-DD\), found 'soon'",
        ),
        (
            {"data": {"customers": "c.xlsx", "events": "e.csv"}},
            r"\[data\] customers: expected a \.csv, \.csv\.gz or \.parquet",
        ),
        ({"data": {"events": "e.csv"}}, r"\[data\] customers is required but missing"),
        (
            {"data": {"customers": "c.csv", "events": "e.csv", "delimiter": ";;"}},
            r"\[data\] delimiter",
        ),
        (
            {"data": {"customers": "c.csv", "events": "e.csv", "encoding": "klingon"}},
            r"\[data\] encoding: expected a text encoding",
        ),
        (
            {"churn": {"column": "c", "inactivity_days": 30}},
            r"\[churn\]: either column or inactivity_days",
        ),
        (
            {"churn": {"inactivity_days": -3}},
            r"inactivity_days: expected a number greater than 0, found -3",
        ),
        (
            {"stage_map": {"home": "nowhere"}},
            r"\[stage_map\] maps touchpoints to stages .* 'nowhere'",
        ),
        ({"valence": {"error": -3}}, r"\[valence\]: expected emotions in \[-1, 1\]"),
        ({"statistics": {"alpha": 2}}, r"\[statistics\] alpha: expected a number less than 1"),
        (
            {"statistics": {"controls": "plan"}},
            r"\[statistics\] controls: expected a list, found 'plan'",
        ),
        (
            {"reports": {"min_group_size": "ten"}},
            r"min_group_size: expected a whole number, found 'ten'",
        ),
        ({"stagess": {}}, r"unknown key \[stagess\]"),
        ({"columns": {"events": {"user": "uid"}}}, r"'user'\] is not one of"),
        (
            {"columns": {"events": {"customer_id": "x", "touchpoint": "x"}}},
            r"maps the column\(s\) \['x'\]",
        ),
        (
            {"emotion": {"rating_scale": [5, 1]}},
            r"rating_scale: expected a pair \[min, max\] with min < max",
        ),
        (
            {"sessions": {"gap_minutes": 0}},
            r"\[sessions\] gap_minutes: expected a number greater than 0",
        ),
        ({"sessions": {"goal": "zzz"}}, r"\[sessions\] goal must be one of the stages .*'zzz'"),
        ({"sessions": {"within_steps": 0}}, r"\[sessions\] within_steps: expected .* at least 1"),
        ({"personas": {"early_days": 0}}, r"\[personas\] early_days: expected .* at least 1"),
        (
            {"personas": {"search_sample": 99}},
            r"\[personas\] search_sample: expected .* at least 100",
        ),
        (
            {"statistics": {"max_model_customers": 10}},
            r"\[statistics\] max_model_customers: expected .* at least 100",
        ),
        ({"statistics": {"parallel": "both"}}, r"\[statistics\] parallel: expected .*"),
    ],
)
def test_errors_name_the_file_the_key_and_what_was_expected(
    sections: dict[str, object], message: str
) -> None:
    with pytest.raises(StudyFileError, match=r"^study\.toml: .*" + message):
        study_from_dict(_with(**sections), path="study.toml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StudyFileError, match=r"study file not found"):
        load_study(tmp_path / "nope.toml")


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[study\nname = "x"\n')
    with pytest.raises(StudyFileError, match=r"study\.toml: not valid TOML: .*line 1"):
        load_study(path)


def test_non_utf8_study_file(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes('[study]\nname = "Café"\n'.encode("latin-1"))
    with pytest.raises(StudyFileError, match=r"not UTF-8"):
        load_study(path)


def test_a_byte_order_mark_is_not_part_of_the_study_file(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    text = '[study]\nname = "Acme"\nstages = ["a", "b"]\n[data]\ncustomers = "c.csv"\n'
    path.write_bytes(b"\xef\xbb\xbf" + (text + 'events = "e.csv.gz"\n').encode())
    study = load_study(path)
    assert study.name == "Acme"
    assert study.data_path("events") == (tmp_path / "e.csv.gz").resolve()
    assert study.data.drop_duplicates is True


def test_drop_duplicates_is_true_or_false() -> None:
    data = {"customers": "c.csv", "events": "e.csv", "drop_duplicates": False}
    assert study_from_dict(_with(data=data), path="study.toml").data.drop_duplicates is False
    with pytest.raises(StudyFileError, match=r"\[data\] drop_duplicates: expected true or false"):
        study_from_dict(_with(data={**data, "drop_duplicates": "no way"}), path="study.toml")


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        (["web", "Web"], r"the stage names 'web' and 'Web' both become 'web' in column names"),
        (["web", "web\u200b"], r"the stage names 'web' and 'web\\u200b' look the same"),
        (
            ["a", "b" * 101],
            r"the stage name 'b+\.\.\.' has 101 characters; names become file",
        ),
        (["a", "--"], r"the stage name '--' has no letters, digits or symbols"),
    ],
)
def test_stage_names_that_cannot_all_be_used(stages: list[str], message: str) -> None:
    study = {"name": "Acme", "stages": stages}
    with pytest.raises(StudyFileError, match=r"^study\.toml: \[study\] stages: " + message):
        study_from_dict(_with(study=study), path="study.toml")


def test_cjk_and_emoji_names_are_accepted() -> None:
    study = {"name": "Acme", "stages": ["認知", "購入", "🛒"]}
    names = {"personas": {"names": {"1": "ウェブ派", "2": "📱 first"}}}
    loaded = study_from_dict(_with(study=study, **names), path="study.toml")
    assert loaded.stages == ["認知", "購入", "🛒"]


def test_session_id_can_be_mapped_and_sessions_set() -> None:
    study = study_from_dict(
        _with(
            columns={"events": {"session_id": "visit"}},
            sessions={"gap_minutes": 30, "goal": "purchase", "within_minutes": 15},
        ),
        path="study.toml",
    )
    assert study.columns.events == {"session_id": "visit"}
    assert study.sessions.gap_minutes == 30
    assert study.sessions.goal == "purchase"
    assert study.sessions.within_steps == 10
