"""The command line: exit codes, output, and the main job on the sample study."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cjresearch import __version__
from cjresearch.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cjresearch {__version__}"


def test_sample_then_validate_then_build(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    result = runner.invoke(app, ["sample", str(folder), "--customers", "300", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert (folder / "truth.json").is_file()

    result = runner.invoke(app, ["validate", str(folder / "study.toml")])
    assert result.exit_code == 0, result.output
    assert "customers" in result.stdout and "300" in result.stdout

    out, artifacts = tmp_path / "out", tmp_path / "artifacts"
    result = runner.invoke(
        app,
        [
            "build",
            str(folder / "study.toml"),
            "--out",
            str(out),
            "--artifacts",
            str(artifacts),
            "--jobs",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert {"run_id", "versions", "inputs", "parameters", "dropped_rows", "emotion"} <= set(
        manifest
    )
    assert manifest["inputs"]["events"]["rows_read"] > 0
    assert len(manifest["inputs"]["customers"]["sha256"]) == 64
    assert manifest["parameters"]["study"]["stages"][0] == "awareness"
    agreement = manifest["emotion"]["text_score_agreement"]
    assert agreement["n_pairs"] > 0 and agreement["spearman_rho"] > 0.5
    customers = pd.read_parquet(artifacts / "customers.parquet")
    assert len(customers) == 300
    # the manifest is published: no customer id may appear in it
    text = (out / "manifest.json").read_text()
    assert not any(cid in text for cid in customers["customer_id"])
    # what is published, and that none of it holds an id, is tests/test_build.py's concern
    assert (out / "index.html").is_file()
    assert "reports rebuilt" in result.stdout
    assignments = pd.read_parquet(artifacts / "assignments.parquet")
    assert assignments.columns.tolist() == ["customer_id", "persona_id", "persona_name"]
    assert len(assignments) == 300

    # new customers are assigned from the saved model; here, the first ten again
    events = pd.read_csv(folder / "events.csv", dtype=str)
    first = customers["customer_id"].head(10)
    events[events["customer_id"].isin(first)].to_csv(tmp_path / "new.csv", index=False)
    new_customers = pd.read_csv(folder / "customers.csv", dtype=str).drop(columns="churned")
    new_customers[new_customers["customer_id"].isin(first)].to_csv(
        tmp_path / "new_customers.csv", index=False
    )
    result = runner.invoke(
        app,
        [
            "assign",
            str(folder / "study.toml"),
            str(tmp_path / "new.csv"),
            "--customers",
            str(tmp_path / "new_customers.csv"),
            "--artifacts",
            str(artifacts),
        ],
    )
    assert result.exit_code == 0, result.output
    assigned = pd.read_csv(tmp_path / "new_personas.csv", dtype={"customer_id": str})
    expected = assignments.set_index("customer_id").loc[first]
    assert assigned["persona_id"].tolist() == expected["persona_id"].tolist()


def test_assign_without_a_build_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    assert runner.invoke(app, ["sample", str(folder), "--customers", "50"]).exit_code == 0
    result = runner.invoke(app, ["assign", str(folder / "study.toml"), str(folder / "events.csv")])
    assert result.exit_code == 2
    assert "no saved persona model" in result.stderr


def test_sample_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", str(tmp_path), "--format", "xlsx"])
    assert result.exit_code == 2
    assert "--format must be csv or parquet" in result.stderr


def test_build_with_no_argument_builds_the_bundled_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 0, result.output
    assert "20,000 customers" in result.stdout
    assert "0 rows dropped" in result.stdout
    assert (tmp_path / "data" / "sample" / "truth.json").is_file()
    assert (tmp_path / "reports" / "manifest.json").is_file()
    assert (tmp_path / "data" / "processed" / "sample" / "events.parquet").is_file()
    # a second build reuses the generated sample rather than writing it again
    stamp = (tmp_path / "data" / "sample" / "events.csv").stat().st_mtime_ns
    assert runner.invoke(app, ["build"]).exit_code == 0
    assert (tmp_path / "data" / "sample" / "events.csv").stat().st_mtime_ns == stamp


def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "study file not found" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_flags_read_as_plain_flags_in_the_help() -> None:
    result = runner.invoke(app, ["build", "--help"], terminal_width=120)
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if "│ --" in line}
    for flag in ("--force", "--wait"):
        assert "<bool>" not in lines[flag], lines[flag]
    assert "<path>" in lines["--out"]  # options that take a value still say which


def _schedule(folder: Path, cron: str) -> Result:
    study = folder / "study.toml"
    study.write_text(
        '[study]\nname = "S"\nstages = ["a", "b"]\n[data]\ncustomers = "c.csv"\nevents = "e.csv"\n'
    )
    return runner.invoke(app, ["schedule", str(study), "--cron", cron])


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("61 6 * * *", "the minute field '61' holds 61, outside 0-59"),
        ("0 24 * * *", "the hour field '24' holds 24, outside 0-23"),
        ("0 6 0 * *", "the day-of-month field '0' holds 0, outside 1-31"),
        ("0 6 * 13 *", "the month field '13' holds 13, outside 1-12"),
        ("0 6 * * 8", "the day-of-week field '8' holds 8, outside 0-7"),
        ("0 6 * * mon-fry", "the day-of-week field 'mon-fry' holds 'fry', not a number or one"),
        ("*/0 6 * * *", "the minute field '*/0' has a step of 0"),
        ("0 6 20-10 * *", "the day-of-month field '20-10' has the range 20-10, which runs back"),
        ("0 6 L * *", "the day-of-month field 'L' holds 'l', not a number"),
        ("0 0 6 * * *", "expected five fields"),
    ],
)
def test_schedule_refuses_cron_fields_out_of_range(tmp_path: Path, cron: str, message: str) -> None:
    result = _schedule(tmp_path, cron)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --cron '{cron}'")
    assert message in result.stderr


@pytest.mark.parametrize(
    "cron",
    [
        "0 6 * * *",
        "*/15 0-23/2 1,15 jan-jun,dec MON-FRI",
        "59 23 31 12 7",
        "0 0 1 * 0",
        "30 5 * * 1-5",
        "@weekly",
    ],
)
def test_schedule_accepts_every_cron_form(tmp_path: Path, cron: str) -> None:
    result = _schedule(tmp_path, cron)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{cron} ")


def test_statistics_warnings_are_printed_in_words() -> None:
    from cjresearch.cli import in_words

    message = (
        "emotion_churn: quasi-complete separation or extreme fitted risks [quasi_separation] in "
        "4 model(s): Web-first, Email-first/awareness, Web-first, Email-first/purchase, all/usage"
        ", Phone-first/usage"
    )
    assert in_words(message) == (
        "emotion and churn (logistic models): quasi-complete separation or extreme fitted risks "
        "in 4 models: Web-first, Email-first at awareness and purchase; all customers at usage; "
        "Phone-first at usage"
    )
    more = "time_to_churn: x [low_epv] in 9 model(s): all/a, all/b, all/c and 6 more"
    assert (
        in_words(more)
        == "time to churn (Cox models): x in 9 models: all customers at a, b and c, and 6 more"
    )
    # anything else is printed as it is
    assert in_words("personas: k = 3 was chosen") == "personas: k = 3 was chosen"


def test_the_models_warnings_reach_the_printer_in_words(tmp_path: Path) -> None:
    # The real warning of the statistics layer, through the CLI's printer: no code in brackets.
    import warnings

    from cjresearch.analysis.stats import emotion_churn
    from cjresearch.cli import in_words

    customers = pd.DataFrame({"customer_id": list("abcdef"), "churned": [True] * 3 + [False] * 3})
    # emotion observations in time (the models order exposure before outcome)
    observations = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "timestamp": pd.Timestamp("2026-01-05", tz="UTC"),
            "stage": ["s"] * 6,
            "emotion": [0.1] * 6,
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emotion_churn(
            customers, observations, stages=["s"], min_group_size=10, design="whole_follow_up"
        )
    texts = [in_words(str(w.message)) for w in caught if "model(s)" in str(w.message)]
    assert texts, [str(w.message) for w in caught]
    for text in texts:
        assert "[" not in text and "model(s)" not in text, text
        assert text.startswith("emotion and churn (logistic models): "), text


def test_an_error_after_a_foreign_warning_ends_at_once(tmp_path: Path) -> None:
    # A warning that is not cjresearch's is shown with warnings.showwarning; doing so inside the
    # capture used to record it again while the list was being printed: an endless loop.
    import subprocess
    import sys

    script = (
        "import warnings, cjresearch.data.study as s\n"
        "from cjresearch.errors import StudyFileError\n"
        "def broken(path):\n"
        "    warnings.warn('a foreign warning', RuntimeWarning)\n"
        "    raise StudyFileError('study.toml: broken')\n"
        "s.load_study = broken\n"
        "from cjresearch.cli import main\n"
        "import sys; sys.argv = ['cjresearch', 'validate', 'study.toml']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.count("a foreign warning") == 1
    assert "error: study.toml: broken" in done.stderr


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (28, "no space left on the device"),  # ENOSPC
        (30, "the file system is read-only"),  # EROFS
        (13, "permission denied"),  # EACCES (a test run as root cannot chmod its way there)
    ],
)
def test_a_full_or_read_only_disk_is_one_line_naming_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    import os

    from cjresearch.reporting import publish, reports

    folder = tmp_path / "study"
    assert runner.invoke(app, ["sample", str(folder), "--customers", "50"]).exit_code == 0
    out = tmp_path / "out"

    def refuse(output: Path, **_: object) -> None:
        raise OSError(code, os.strerror(code), os.fspath(Path(output) / ".cjresearch" / "lock"))

    # both names, each restored afterwards: reports binds its own at import, and were it
    # first imported inside this test it would keep `refuse` for every later test
    monkeypatch.setattr(publish, "lock_output", refuse)
    monkeypatch.setattr(reports, "lock_output", refuse)
    result = runner.invoke(app, ["build", str(folder / "study.toml"), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {out / '.cjresearch'}: {words}" + lines[0].split(words, 1)[1]]
    assert "Traceback" not in result.output


def test_run_refuses_a_file_that_is_not_a_notebook_without_echoing_it(tmp_path: Path) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = runner.invoke(app, ["run", str(secret), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "not a notebook" in result.stderr and "root:x" not in result.output
    fake = tmp_path / "fake.ipynb"
    fake.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = runner.invoke(app, ["run", str(fake), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "not a readable Jupyter notebook" in result.stderr and "root:x" not in result.output


def test_a_parameter_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    # bytes that are not UTF-8 on the command line reach Python as lone surrogates
    result = runner.invoke(
        app, ["run", "emotion_churn", "-p", "persona", "\udcff\udcfe", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "parameter 'persona' of emotion_churn.ipynb: the value is not UTF-8 text" in (
        result.stderr
    )


def test_run_publishes_into_the_portal_of_the_study_build(tmp_path: Path) -> None:
    """One output folder per study, whichever command: `run <notebook> <study>` publishes
    beside the build's pages and into its portal, with no full recompute."""
    folder = tmp_path / "study"
    assert runner.invoke(app, ["sample", str(folder), "--customers", "300"]).exit_code == 0
    study = str(folder / "study.toml")
    built = runner.invoke(app, ["build", study, "--jobs", "2"])
    assert built.exit_code == 0, built.output
    out = folder / "reports"  # the study file's [reports] output
    pages = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    result = runner.invoke(app, ["run", "emotion_churn", study, "-p", "unit_size", "1.0"])
    assert result.exit_code == 0, result.output
    assert "Computing" not in result.output  # the build's artifacts were reused
    after = {p.relative_to(out).as_posix() for p in out.rglob("*.html")}
    assert after >= pages and "analysis/emotion-churn.html" in after
    portal = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="analysis/emotion-churn.html"' in portal
    assert 'href="personas/persona-1.html"' in portal  # the build's reports still listed
