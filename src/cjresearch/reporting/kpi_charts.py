"""Charts of journey management: KPI status on the journey map, KPI trends over builds.

Self-contained chart functions over the published ``kpis`` and ``kpi_history`` tables
(:mod:`cjresearch.analysis.changes`, :mod:`cjresearch.artifacts.history`), with the
conventions of :mod:`cjresearch.reporting.charts`: stages in the study's order, ``n`` in
every tooltip, suppressed figures drawn as the word "suppressed" (never as 0), every data
string through :func:`~cjresearch.reporting.charts.safe_label`, no table with a customer id
accepted.

- :func:`kpi_lane_chart`: one lane of KPI cells under the stages (name, value against
  target, coloured by status), made to sit under the journey-map canvas;
- :func:`kpi_trend_chart`: each KPI's value over the builds, with its interval band and
  its target as a rule;
- :func:`kpi_sparkline`: one KPI's trend, small and without axes, for a table cell or a
  tile.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from cjresearch.analysis.kpis import format_value
from cjresearch.data.management import parse_target
from cjresearch.errors import CJResearchError
from cjresearch.reporting._chartbase import prepare, safe_label, stage_list

__all__ = [
    "STATUS_COLORS",
    "STATUS_WORDS",
    "kpi_lane_chart",
    "kpi_sparkline",
    "kpi_trend_chart",
    "target_label",
]

#: The colour of each KPI status (met green, missed red, unclear amber, suppressed grey).
STATUS_COLORS: dict[str, str] = {
    "met": "#54a24b",
    "missed": "#e45756",
    "unclear": "#eeca3b",
    "suppressed": "#bab0ac",
}
#: Each status in words, for legends and tooltips.
STATUS_WORDS: dict[str, str] = {
    "met": "target met",
    "missed": "target missed",
    "unclear": "unclear (the interval straddles the target)",
    "suppressed": "suppressed (too few customers)",
}
_KPI_COLUMNS = ("kpi", "stage", "metric", "value", "n_customers", "target", "status")
_HISTORY_COLUMNS = ("run_id", "finished_at", "kpi", "value", "ci_low", "ci_high", "n_customers")


_COMPARISON_WORDS = {">=": "\u2265", "<=": "\u2264", ">": "above", "<": "below"}


def target_label(target: object, metric: str) -> str:
    """A target as a chart shows it: the comparison as a sign or a word (a chart label never
    carries ``<`` or ``>``), the threshold as the metric's figures are shown.

    >>> target_label(">= 0.80", "csat"), target_label("< 3.5", "ces"), target_label("x", "nps")
    ('\u2265 80.0%', 'below 3.50', 'x')
    """
    try:
        comparison, threshold = parse_target(str(target))
    except ValueError:
        return str(safe_label(str(target)))
    return f"{_COMPARISON_WORDS[comparison]} {format_value(metric, threshold)}"


def kpi_lane_chart(
    kpis: pd.DataFrame,
    *,
    stages: Sequence[str],
    persona: str | None = None,
    lane_width: int = 140,
    row_height: int = 34,
) -> alt.Chart:
    """The KPI lane of a journey map: under each stage, its KPIs as cells coloured by status.

    Parameters
    ----------
    kpis
        The published ``kpis`` table (columns ``kpi, stage, metric, value, n_customers,
        target, status``, and ``persona``/``owner`` when present).
    stages
        The study's stages, in order: one column each, as wide as the canvas's
        (``lane_width``), so that the lane lines up under it.
    persona
        Only the KPIs of this persona and of all customers (None: every KPI).
    lane_width, row_height
        Pixels per stage column and per KPI row.

    Returns
    -------
    altair.Chart
        Rectangles (one per KPI, in its stage's column) with the text "name: value (target)"
        (the target as :func:`target_label` shows it);
        the tooltip carries the interval's n, the status in words and the owner. A stage
        without KPIs is an empty column.
    """
    order = stage_list(stages)
    frame = prepare(kpis, "kpis", _KPI_COLUMNS)
    # from the table as given: the checked copy's "<" are already made safe
    frame["target"] = [
        target_label(t, str(m)) for t, m in zip(kpis["target"], kpis["metric"], strict=True)
    ]
    if persona is not None and "persona" in frame.columns:
        frame = frame[frame["persona"].isin([safe_label(persona), "all"])]
    frame = frame[frame["stage"].isin(order)].copy()
    frame["row"] = frame.groupby("stage", sort=False).cumcount()
    frame["shown"] = [
        format_value(m, v) for m, v in zip(frame["metric"], frame["value"], strict=True)
    ]
    frame["label"] = frame["kpi"].astype(str) + ": " + frame["shown"] + " (" + frame["target"] + ")"
    frame["status_words"] = frame["status"].map(STATUS_WORDS).fillna(frame["status"])
    if "owner" not in frame.columns:
        frame["owner"] = None
    frame["owner"] = frame["owner"].fillna("not named")
    frame["n"] = (
        frame["n_customers"]
        .astype("Float64")
        .astype(object)
        .where(frame["n_customers"].notna(), "suppressed")
    )
    rows = max(int(frame["row"].max()) + 1 if len(frame) else 1, 1)
    data = frame[["stage", "row", "label", "status", "status_words", "owner", "n"]]
    x = alt.X("stage:N", sort=order, scale=alt.Scale(domain=order), title=None,
              axis=alt.Axis(orient="top", labelAngle=0))  # fmt: skip
    y = alt.Y("row:O", axis=None, scale=alt.Scale(domain=list(range(rows))))
    tooltip = [
        alt.Tooltip("label:N", title="KPI"),
        alt.Tooltip("status_words:N", title="status"),
        alt.Tooltip("n:N", title="n customers"),
        alt.Tooltip("owner:N", title="owner"),
    ]
    base = alt.Chart(data).encode(x=x, y=y, tooltip=tooltip)
    cells = base.mark_rect(cornerRadius=4, opacity=0.85, stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "status:N",
            scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values())),
            legend=alt.Legend(title="KPI status", orient="bottom"),
        )
    )
    text = base.mark_text(fontSize=10, limit=lane_width - 8).encode(text="label:N")
    return (cells + text).properties(
        width=lane_width * len(order), height=row_height * rows, title="KPIs against targets"
    )


def _history(history: pd.DataFrame, names: Sequence[str] | None) -> pd.DataFrame:
    frame = prepare(history, "kpi_history", _HISTORY_COLUMNS)
    if names is not None:
        frame = frame[frame["kpi"].isin([safe_label(n) for n in names])]
    frame = frame.copy()
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True, errors="coerce")
    frame["shown"] = frame["value"].map(lambda v: "suppressed" if pd.isna(v) else f"{v:.3g}")
    frame["n"] = (
        frame["n_customers"]
        .astype("Float64")
        .astype(object)
        .where(frame["n_customers"].notna(), "suppressed")
    )
    return frame.sort_values(["kpi", "finished_at"], kind="stable")


def _target(kpis: pd.DataFrame | None, name: str) -> float | None:
    if kpis is None or "target" not in kpis.columns:
        return None
    rows = kpis[kpis["kpi"].astype(str) == name]["target"].dropna()
    if rows.empty:
        return None
    try:
        return parse_target(str(rows.iloc[0]))[1]
    except ValueError:
        return None


def _trend(frame: pd.DataFrame, target: float | None, *, width: int, height: int,
           axes: bool) -> alt.LayerChart:  # fmt: skip
    x = alt.X("finished_at:T", title=None, axis=alt.Axis(format="%Y-%m-%d") if axes else None)
    scale = alt.Scale(zero=False)
    y_axis = alt.Axis(title=None) if axes else None
    tooltip = [
        alt.Tooltip("finished_at:T", title="build", format="%Y-%m-%d %H:%M"),
        alt.Tooltip("shown:N", title="value"),
        alt.Tooltip("n:N", title="n customers"),
    ]
    shown = frame[frame["value"].notna()]
    base = alt.Chart(shown).encode(x=x)
    layers: list[alt.Chart] = [
        base.mark_area(opacity=0.2, color="#4c78a8").encode(
            y=alt.Y("ci_low:Q", scale=scale, axis=y_axis), y2="ci_high:Q"
        ),
        base.mark_line(color="#4c78a8", point=True).encode(
            y=alt.Y("value:Q", scale=scale, axis=y_axis), tooltip=tooltip
        ),
    ]
    if target is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"target": [target]}))
            .mark_rule(color="#e45756", strokeDash=[4, 3])
            # the line's scale and axis: a sparkline's rule must not bring an axis back
            .encode(y=alt.Y("target:Q", scale=scale, axis=y_axis))
        )
    hidden = frame[frame["value"].isna()]
    if not hidden.empty:  # a suppressed build is marked as such at the bottom, never as 0
        layers.append(
            alt.Chart(hidden)
            .mark_text(text="suppressed", fontSize=9, color="#8c8c8c", baseline="bottom")
            .encode(x=x, y=alt.value(height), tooltip=tooltip)
        )
    return alt.LayerChart(layer=layers, width=width, height=height)


def kpi_trend_chart(
    history: pd.DataFrame,
    *,
    kpis: pd.DataFrame | None = None,
    names: Sequence[str] | None = None,
    width: int = 260,
    height: int = 70,
) -> alt.VConcatChart:
    """Each KPI's value over the builds, with its 95% band and its target.

    Parameters
    ----------
    history
        The published ``kpi_history`` table (``run_id, finished_at, kpi, value, ci_low,
        ci_high, n_customers``).
    kpis
        The ``kpis`` table, for the targets (drawn as a dashed rule); None draws none.
    names
        The KPIs to draw, in this order (default: those of ``kpis``, else every name in the
        history that is not a headline figure).
    width, height
        Pixels of each KPI's panel.

    Returns
    -------
    altair.VConcatChart
        One titled panel per KPI; builds where it was suppressed are marked "suppressed".
    """
    if names is None:
        if kpis is not None:
            names = [str(n) for n in kpis["kpi"]]
        else:
            names = [n for n in pd.unique(history["kpi"].astype(str)) if not n.startswith("map:")]
    frame = _history(history, names)
    panels = []
    for name in names:
        shown = str(safe_label(name))
        rows = frame[frame["kpi"] == shown]
        if rows.empty:
            continue
        chart = _trend(rows, _target(kpis, name), width=width, height=height, axes=True)
        panels.append(chart.properties(title=shown))
    if not panels:
        empty = alt.Chart(pd.DataFrame({"text": ["No KPI history yet"]}))
        panels = [empty.mark_text().encode(text="text:N").properties(width=width, height=height)]
    return alt.vconcat(*panels)


def kpi_sparkline(
    history: pd.DataFrame,
    kpi: str,
    *,
    kpis: pd.DataFrame | None = None,
    width: int = 120,
    height: int = 28,
) -> alt.LayerChart:
    """One KPI's trend over the builds, small and without axes (a table cell, a tile).

    Returns
    -------
    altair.LayerChart
        The value line with its band and the target rule (from ``kpis`` when given).
    """
    frame = _history(history, [kpi])
    if frame.empty:
        msg = f"the history has no KPI {kpi!r}"
        raise CJResearchError(msg)
    return _trend(frame, _target(kpis, kpi), width=width, height=height, axes=False)
