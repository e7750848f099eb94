"""Tables for reading: separators, percentages, intervals, one suppression mark, escaping."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cjresearch.reporting.formats import (
    NOT_MEASURED,
    SUPPRESSED,
    Column,
    estimate,
    format_table,
    number,
    percent,
    pvalue,
)

SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e[+-]?\d", re.IGNORECASE)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "touchpoint": ["<script>x</script>", "payment_error", "setup_failed"],
            "n_customers": [None, 20000.0, 5970.4],
            "reach": [None, 1.0, 0.004],
            "odds_ratio": [None, 2.2712, 0.44],
            "ci_low": [None, 2.19, 0.43],
            "ci_high": [None, 2.351, 0.46],
            "emotion_mean": [None, None, -0.25],
            "q_value": [None, 1e-30, 0.0312],
            "suppressed": [True, False, False],
        }
    )


COLUMNS = [
    Column("touchpoint", "Touchpoint"),
    Column("n_customers", "Customers", "int"),
    Column("reach", "Reach", "pct"),
    Column("odds_ratio", "Odds ratio (95% CI)", "estimate"),
    Column("emotion_mean", "Emotion", "signed"),
    Column("q_value", "q", "pvalue"),
]


def test_numbers_read_as_numbers_never_scientific() -> None:
    assert number(2e4, 0) == "20,000" and number(5.97e3) == "5,970.00"
    assert percent(1) == "100%" and percent(0.004) == "<1%" and percent(0) == "0%"
    assert estimate(2.2712, 2.19, 2.351) == "2.27 (2.19\u20132.35)"
    # a negative interval is written out, with minus signs: "−0.29 (−0.31 to −0.28)"
    assert estimate(-0.294, -0.31, -0.281) == "\u22120.29 (\u22120.31 to \u22120.28)"
    assert estimate(0.01, -0.02, 0.03) == "0.01 (\u22120.02 to 0.03)"
    assert pvalue(1e-30) == "< 0.001" and pvalue(0) == "< 0.001"
    out = format_table(_frame(), COLUMNS, caption="Pain points")
    text = re.sub(r"<style>.*?</style>", "", out, flags=re.S)
    assert not SCIENTIFIC.search(re.sub(r"<[^>]+>", " ", text))
    for shown in ("20,000", "5,970", "100%", "&lt;1%", "2.27 (2.19\u20132.35)", "\u22120.25"):
        assert shown in text


def test_one_suppression_mark_with_a_footnote_and_headings_in_words() -> None:
    out = format_table(_frame(), COLUMNS)
    body = re.sub(r"<style>.*?</style>", "", out, flags=re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", body, flags=re.S)
    assert cells.count(SUPPRESSED) == 5  # every figure of the suppressed row, not its name
    assert "suppressed" not in body.lower().replace("suppressed_note", "")
    assert f"{SUPPRESSED} Withheld" in body and f"{NOT_MEASURED} Not measured" in body
    headings = re.findall(r"<th[^>]*>(.*?)</th>", body)
    assert headings == [c.label for c in COLUMNS]
    assert not any(re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", h) for h in headings)


def test_every_data_string_is_escaped() -> None:
    out = format_table(_frame(), COLUMNS, caption="<b>caption</b>")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<b>caption</b>" not in out


def test_long_tables_show_ten_rows_and_fold_the_rest() -> None:
    frame = pd.DataFrame({"touchpoint": [f"t{i}" for i in range(27)], "n": range(27)})
    out = format_table(frame, [Column("touchpoint", "Touchpoint"), Column("n", "n", "int")])
    first, _, rest = out.partition("<details")
    assert first.count("<tr>") == 10  # ten body rows (the heading row has a class)
    assert "Show the other 17 rows" in rest and rest.count("<tr>") == 17
    assert "Nothing to show" in format_table(frame.iloc[0:0], [])


@pytest.mark.parametrize("value", [None, float("nan")])
def test_missing_values_are_marked_not_zero(value) -> None:
    assert percent(value) == NOT_MEASURED and number(value) == NOT_MEASURED
