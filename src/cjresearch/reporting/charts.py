"""Charts: functions that turn the published tables into Altair charts.

Every function takes tidy, already aggregated tables (the journey map's, the statistics
step's), returns an ``altair`` chart and has no side effect. None embeds raw rows: a frame
with a ``customer_id`` column is refused, and the data of each chart is a small aggregate.

Conventions shared by every chart:

- **Stage order** always follows the study: pass ``stages`` (the study's list); axes and
  facets are sorted by it, never alphabetically.
- **Persona colours** are consistent across a build: compute ``colors =
  persona_colors(names)`` once and pass it to every chart; ``"all"`` is always grey.
- **Tooltips** carry ``n`` beside every estimate.
- **Suppressed** cells (``suppressed`` True, see :func:`cjresearch.analysis.privacy.suppress`) are
  drawn as the word "suppressed", never as 0.
- **Text safety**: Vega-Lite text marks and vega-tooltip (whose default ``sanitize`` is
  ``escapeHTML``) render data strings as text, and vl-convert's SVG escapes them. What they
  cannot prevent is a ``</script>`` inside a label breaking out of the ``<script>`` block
  in which an HTML page embeds the chart's JSON. So every data string is passed through
  :func:`safe_label`: ``<`` and ``>`` become the look-alikes ``‹`` and ``›``, control
  characters are dropped and labels are cut at 200 characters. HTML-escaping instead
  would be displayed literally (``&amp;``) by the already-escaping tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from cjresearch.errors import CJResearchError
from cjresearch.reporting._chartbase import (
    ALL_COLOR,
    PALETTE,
    SUPPRESSED,
    color_scale,
    flag,
    n_label,
    persona_color,
    persona_colors,
    pick_persona,
    prepare,
    safe_label,
    shown_personas,
    stage_list,
    stage_x,
)

__all__ = [
    "ALL_COLOR",
    "PALETTE",
    "TERCILE_COLORS",
    "emotion_curves",
    "forest_plot",
    "funnel_chart",
    "journey_map_chart",
    "k_evidence_chart",
    "km_chart",
    "persona_colors",
    "persona_profile_chart",
    "persona_traits_chart",
    "safe_label",
]

#: Emotion terciles: a sequential palette (dark = felt worst) that no persona uses, and a
#: dash pattern each, so that the curves stay apart in print and for colour-blind readers.
#: Where ties leave only two groups at a stage, the survival step names them q1 (felt worse)
#: and q2: they take the palette's ends.
TERCILE_COLORS = {
    "low": "#3f007d",
    "middle": "#6a51a3",
    "high": "#9e9ac8",
    "q1": "#3f007d",
    "q2": "#9e9ac8",
}
_TERCILE_DASHES = {"low": [1, 0], "middle": [6, 3], "high": [2, 2], "q1": [8, 2], "q2": [1, 3]}
_TERCILE_NAMES = {
    "low": "lowest third",
    "middle": "middle third",
    "high": "highest third",
    "q1": "lower of two groups (ties)",
    "q2": "upper of two groups (ties)",
}
_LOG_TICKS = (0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20, 50)


# --- the journey map ---------------------------------------------------------------------


def journey_map_chart(
    journey_map: pd.DataFrame,
    touchpoints: pd.DataFrame,
    pain_points: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    channels: pd.DataFrame | None = None,
    *,
    stages: Sequence[str],
    persona: str = "all",
    colors: Mapping[str, str] | None = None,
    top_n: int = 3,
    lane_width: int = 120,
    labels: Callable[[str], str] | None = None,
) -> alt.TopLevelMixin:
    """The journey map of one persona: stages as columns, lanes below each other.

    Lanes: the top touchpoints (share of the stage's customers), the top channels, reach,
    the emotion curve with its 95% band, the top pain points and the top opportunities.
    Suppressed stages read "suppressed".

    Parameters
    ----------
    journey_map, touchpoints, pain_points, opportunities, channels
        The :class:`cjresearch.analysis.journey_map.JourneyMap` tables of the same names.
    stages
        The study's stages, in order.
    persona
        The persona label to draw (``"all"`` for everyone).
    colors
        :func:`persona_colors` of the build.
    top_n
        Touchpoints, channels, pain points and opportunities shown per stage.
    lane_width
        Width of one stage column in pixels.
    labels
        The words for a touchpoint's or channel's name (default: the name as it is).

    Returns
    -------
    altair.VConcatChart
    """
    stages = stage_list(stages)
    width = lane_width * len(stages)
    the_map = pick_persona(
        prepare(
            journey_map,
            "journey_map",
            ("persona", "stage", "n_customers", "reach", "emotion_mean", "suppressed"),
        ),
        persona,
    )
    label = str(safe_label(persona))
    palette = dict(colors) if colors is not None else persona_colors([label])
    color = palette.get(label, PALETTE[0])
    words = labels or str
    lanes: list[Any] = [
        _touchpoint_lane(
            touchpoints, "touchpoint", "Touchpoints", label, stages, width, top_n, words
        )
    ]
    if channels is not None and len(channels):
        lanes.append(
            _touchpoint_lane(channels, "channel", "Channels", label, stages, width, top_n, words)
        )
    lanes.append(_reach_lane(the_map, stages, width, color))
    lanes.append(_emotion_lane(the_map, stages, width, color))
    if pain_points is not None:
        lanes.append(_ranked_lane(pain_points, "Pain points", label, stages, width, top_n, words))
    if opportunities is not None:
        lanes.append(
            _ranked_lane(opportunities, "Opportunities", label, stages, width, top_n, words)
        )
    return (
        alt.vconcat(*lanes, spacing=6)
        .properties(title=f"Journey map: {label}")
        .resolve_scale(color="independent")
    )


def _lane_title(title: str) -> alt.Y:
    return alt.Y("row:O", axis=alt.Axis(title=title, labels=False, ticks=False, domain=False))


def _touchpoint_lane(
    table: pd.DataFrame,
    column: str,
    title: str,
    persona: str,
    stages: list[str],
    width: int,
    top_n: int,
    words: Callable[[str], str] = str,
) -> alt.Chart:
    frame = pick_persona(
        prepare(table, column + "s", ("persona", "stage", column, "n_customers", "share")),
        persona,
    )
    visible = frame[~flag(frame) & (frame["share"] > 0)].copy()
    visible = visible.sort_values(["stage", "share"], ascending=[True, False], kind="stable")
    visible["row"] = visible.groupby("stage", sort=False).cumcount() + 1
    visible = visible[visible["row"] <= top_n]
    visible["label"] = [
        f"{words(name)} {100 * share:.0f}%" if share >= 0.005 else f"{words(name)} <1%"
        for name, share in zip(visible[column], visible["share"], strict=True)
    ]
    visible["n"] = n_label(visible["n_customers"], flag(visible))
    data = visible[["stage", "row", "label", column, "n", "share"]]
    return (
        alt.Chart(data)
        .mark_text(fontSize=10)
        .encode(
            x=stage_x(stages, orient="top"),
            y=_lane_title(title),
            text="label:N",
            tooltip=[
                alt.Tooltip("stage:N"),
                alt.Tooltip(f"{column}:N"),
                alt.Tooltip("share:Q", format=".0%", title="share of the stage's customers"),
                alt.Tooltip("n:N", title="n customers"),
            ],
        )
        .properties(width=width, height=16 * top_n)
    )


def _reach_lane(
    the_map: pd.DataFrame, stages: list[str], width: int, color: str
) -> alt.TopLevelMixin:
    data = the_map[["stage", "n_customers", "reach", "churn_rate", "suppressed"]].copy()
    flags = flag(data)
    data["n"] = n_label(data["n_customers"], flags)
    data["label"] = np.where(flags, SUPPRESSED, "")
    data = data.drop(columns=["suppressed", "n_customers"])
    base = alt.Chart(data).encode(x=stage_x(stages))
    bars = base.mark_bar(color=color, opacity=0.7).encode(
        y=alt.Y(
            "reach:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%", title="Reach")
        ),
        tooltip=[
            alt.Tooltip("stage:N"),
            alt.Tooltip("reach:Q", format=".1%", title="reach (of the persona)"),
            alt.Tooltip("churn_rate:Q", format=".1%", title="churn rate"),
            alt.Tooltip("n:N", title="n customers"),
        ],
    )
    text = base.mark_text(color="#555", fontStyle="italic").encode(y=alt.datum(0.5), text="label:N")
    return alt.layer(bars, text).properties(width=width, height=60)


def _emotion_lane(
    the_map: pd.DataFrame, stages: list[str], width: int, color: str
) -> alt.TopLevelMixin:
    columns = ["stage", "emotion_mean", "suppressed"]
    extra = [c for c in ("emotion_ci_low", "emotion_ci_high", "n_emotion") if c in the_map]
    data = the_map[columns + extra].copy()
    for c in ("emotion_ci_low", "emotion_ci_high", "n_emotion"):
        if c not in data:
            data[c] = np.nan
    hidden = flag(data) | data["emotion_mean"].isna()
    data["n"] = n_label(data["n_emotion"], flag(data))
    data["label"] = np.where(
        flag(data), SUPPRESSED, np.where(data["emotion_mean"].isna(), "no emotion", "")
    )
    data = data.drop(columns=["suppressed"])
    y = alt.Y(
        "emotion_mean:Q",
        scale=alt.Scale(domain=[-1, 1]),
        axis=alt.Axis(title="Emotion (95% CI)"),
    )
    tooltip = [
        alt.Tooltip("stage:N"),
        alt.Tooltip("emotion_mean:Q", format=".2f", title="emotion"),
        alt.Tooltip("emotion_ci_low:Q", format=".2f", title="95% CI low"),
        alt.Tooltip("emotion_ci_high:Q", format=".2f", title="95% CI high"),
        alt.Tooltip("n:N", title="n customers"),
    ]
    shown = data[~hidden.to_numpy()]
    base = alt.Chart(shown).encode(x=stage_x(stages))
    band = base.mark_area(color=color, opacity=0.3).encode(y=y, y2="emotion_ci_high:Q")
    band = band.encode(y=alt.Y("emotion_ci_low:Q", scale=alt.Scale(domain=[-1, 1])))
    line = base.mark_line(
        color=color, point=alt.OverlayMarkDef(color=color, filled=True, size=50)
    ).encode(y=y, tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#bbb").encode(y="zero:Q")
    missing = (
        alt.Chart(data[hidden.to_numpy()])
        .mark_text(color="#555", fontStyle="italic")
        .encode(x=stage_x(stages), y=alt.datum(0), text="label:N", tooltip=["stage:N", "n:N"])
    )
    return alt.layer(zero, band, line, missing).properties(width=width, height=140)


def _ranked_lane(
    table: pd.DataFrame,
    title: str,
    persona: str,
    stages: list[str],
    width: int,
    top_n: int,
    words: Callable[[str], str] = str,
) -> alt.Chart:
    frame = pick_persona(
        prepare(table, title.lower().replace(" ", "_"), ("persona", "stage", "rank", "score")),
        persona,
        strict=False,  # a persona too small to rank anything has no rows here
    )
    frame = frame[frame["rank"] <= top_n].copy()
    # an opportunity of a whole stage (no touchpoint) is how the stage feels
    feels = "How " + frame["stage"].astype(str).map(words) + " feels"
    if "touchpoint" in frame:
        what = frame["touchpoint"].map(lambda t: words(t) if t is not None else None)
        what = what.where(frame["touchpoint"].notna(), feels)
    else:
        what = feels
    frame["label"] = [f"#{int(r)} {w}" for r, w in zip(frame["rank"], what, strict=True)]
    frame["what"] = what
    frame["n"] = n_label(frame["n_customers"], flag(frame)) if "n_customers" in frame else ""
    frame["row"] = frame.sort_values("rank").groupby("stage", sort=False).cumcount() + 1
    data = frame[["stage", "row", "label", "what", "rank", "score", "n"]]
    color = "#c0392b" if title == "Pain points" else "#27ae60"
    return (
        alt.Chart(data)
        .mark_text(fontSize=10, color=color, fontWeight="bold")
        .encode(
            x=stage_x(stages),
            y=_lane_title(title),
            text="label:N",
            tooltip=[
                alt.Tooltip("stage:N"),
                alt.Tooltip("what:N", title=title.lower()),
                alt.Tooltip("rank:Q"),
                alt.Tooltip("score:Q", format=".3f"),
                alt.Tooltip("n:N", title="n customers"),
            ],
        )
        .properties(width=width, height=16 * top_n)
    )


# --- emotion curves, funnel --------------------------------------------------------------


def emotion_curves(
    journey_map: pd.DataFrame,
    *,
    stages: Sequence[str],
    colors: Mapping[str, str] | None = None,
    personas: Sequence[str] | None = None,
    width: int = 560,
) -> alt.TopLevelMixin:
    """Emotion curves of several personas on one axis, each with its 95% band.

    Parameters
    ----------
    journey_map
        The ``journey_map`` table.
    stages
        The study's stages, in order.
    colors
        :func:`persona_colors` of the build.
    personas
        Labels to draw; default all in the table.

    Returns
    -------
    altair.LayerChart
    """
    stages = stage_list(stages)
    frame = prepare(
        journey_map,
        "journey_map",
        ("persona", "stage", "emotion_mean", "emotion_ci_low", "emotion_ci_high", "suppressed"),
    )
    frame, present = shown_personas(frame, personas)
    n_col = "n_emotion" if "n_emotion" in frame else "n_customers"
    frame["n"] = n_label(frame[n_col], flag(frame))
    shown = frame[~flag(frame) & frame["emotion_mean"].notna()]
    data = shown[["persona", "stage", "emotion_mean", "emotion_ci_low", "emotion_ci_high", "n"]]
    base = alt.Chart(data).encode(x=stage_x(stages))
    band = base.mark_area(opacity=0.18).encode(
        color=persona_color(colors, present),
        y=alt.Y("emotion_ci_low:Q", scale=alt.Scale(domain=[-1, 1]), title="Emotion (95% CI)"),
        y2="emotion_ci_high:Q",
    )
    line = base.mark_line(point=alt.OverlayMarkDef(filled=True, size=50), strokeWidth=2.5).encode(
        color=persona_color(colors, present),
        y="emotion_mean:Q",
        tooltip=[
            "persona:N",
            "stage:N",
            alt.Tooltip("emotion_mean:Q", format=".2f", title="emotion"),
            alt.Tooltip("emotion_ci_low:Q", format=".2f", title="95% CI low"),
            alt.Tooltip("emotion_ci_high:Q", format=".2f", title="95% CI high"),
            alt.Tooltip("n:N", title="n customers"),
        ],
    )
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#bbb").encode(y="zero:Q")
    return alt.layer(zero, band, line).properties(
        width=width, height=260, title="Emotion along the journey"
    )


def funnel_chart(
    funnel: pd.DataFrame,
    *,
    stages: Sequence[str],
    colors: Mapping[str, str] | None = None,
    personas: Sequence[str] | None = None,
    width: int = 420,
) -> alt.TopLevelMixin:
    """The funnel over the study's stages: share of each persona reaching each stage.

    Parameters
    ----------
    funnel
        The ``funnel`` table.
    stages
        The study's stages, in order.
    colors
        :func:`persona_colors` of the build.
    personas
        Labels to draw; default all in the table.

    Returns
    -------
    altair.LayerChart
    """
    stages = stage_list(stages)
    frame = prepare(funnel, "funnel", ("persona", "stage", "n_customers", "share", "suppressed"))
    frame, present = shown_personas(frame, personas)
    flags = flag(frame)
    frame["n"] = n_label(frame["n_customers"], flags)
    frame["shown_share"] = frame["share"].where(~flags, 0.0)
    frame["label"] = np.where(flags, SUPPRESSED, "")
    if "conversion" not in frame:
        frame["conversion"] = np.nan
    data = frame[["persona", "stage", "share", "shown_share", "conversion", "n", "label"]]
    y = alt.Y("stage:N", sort=stages, scale=alt.Scale(domain=stages), title=None)
    color = persona_color(colors, present)
    base = alt.Chart(data).encode(y=y, yOffset=alt.YOffset("persona:N", sort=present))
    bars = base.mark_bar().encode(
        x=alt.X(
            "shown_share:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%"),
            title="Share of the persona reaching the stage",
        ),
        color=color,
        tooltip=[
            "persona:N",
            "stage:N",
            alt.Tooltip("share:Q", format=".1%", title="reach"),
            alt.Tooltip("conversion:Q", format=".1%", title="of the previous stage's customers"),
            alt.Tooltip("n:N", title="n customers"),
        ],
    )
    text = base.mark_text(align="left", dx=3, fontStyle="italic", color="#555").encode(
        x=alt.datum(0), text="label:N"
    )
    return alt.layer(bars, text).properties(width=width, title="Funnel")


# --- statistics --------------------------------------------------------------------------


def forest_plot(
    table: pd.DataFrame,
    *,
    stages: Sequence[str],
    colors: Mapping[str, str] | None = None,
    estimate: str | None = None,
    width: int = 420,
    labels: Callable[[str], str] | None = None,
) -> alt.TopLevelMixin:
    """Odds or hazard ratios with their 95% intervals, one row per persona and stage.

    The tables hold ratios per step of *higher* emotion; the plot draws them per step of
    *lower* emotion (``1 / ratio``, the interval turned round), as the findings say them: a
    point right of 1 means that customers who felt worse churned more. The axis says so
    ("higher churn" to the right, "lower churn" to the left).

    Parameters
    ----------
    table
        The statistics step's emotion_churn table (``odds_ratio``) or time_to_churn table
        (``hazard_ratio``), with ``persona, stage, n_customers, ci_low, ci_high`` and
        optionally ``n_churned, p_value, q_value, unit_size, flags``.
    stages
        The study's stages, in order.
    colors
        :func:`persona_colors` of the build.
    estimate
        The estimate column; default ``odds_ratio`` or else ``hazard_ratio``.
    labels
        The words for a stage's name (default: the name).

    Returns
    -------
    altair.LayerChart
        Log-scaled x axis with a rule at 1; rows without an estimate read "not estimated".
    """
    if estimate is None:
        estimate = "odds_ratio" if "odds_ratio" in table.columns else "hazard_ratio"
    stages = stage_list(stages)
    words = labels or str
    frame = prepare(
        table, "table", ("persona", "stage", "n_customers", estimate, "ci_low", "ci_high")
    )
    position = {s: i for i, s in enumerate(stages)}
    frame = frame.assign(_p=frame["stage"].map(position)).sort_values(
        ["_p", "persona"], kind="stable"
    )
    frame["row"] = frame["stage"].astype(str).map(words) + " · " + frame["persona"].astype(str)
    flags = flag(frame)
    frame["n"] = n_label(frame["n_customers"], flags)
    valid = frame[estimate].notna() & (frame[estimate] > 0) & ~flags
    frame["label"] = np.where(flags, SUPPRESSED, np.where(valid, "", "not estimated"))
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["shown"] = 1 / frame[estimate].astype(float)
        frame["shown_low"] = 1 / frame["ci_high"].astype(float)
        frame["shown_high"] = 1 / frame["ci_low"].astype(float)
    for column in ("shown", "shown_low", "shown_high"):  # a bound of 0 has no finite inverse
        frame[column] = frame[column].where(np.isfinite(frame[column]) & (frame[column] > 0))
    for optional in ("n_churned", "p_value", "q_value", "unit_size", "flags"):
        if optional not in frame:
            frame[optional] = None
    frame["flags"] = frame["flags"].map(lambda v: "" if v is None or v != v else str(v))
    rows = frame["row"].tolist()
    present = list(dict.fromkeys(frame["persona"]))
    data = frame[
        [
            "row",
            "persona",
            "stage",
            "shown",
            "shown_low",
            "shown_high",
            "n",
            "n_churned",
            "q_value",
            "flags",
            "label",
        ]
    ]
    units = pd.to_numeric(frame["unit_size"], errors="coerce").dropna().unique()
    step = f"{units[0]:g} points" if len(units) == 1 and units[0] != 1 else "1 point"
    what = "odds ratio" if estimate == "odds_ratio" else "hazard ratio"
    title = (
        f"\u2190 lower churn    {what} of churn per {step} lower emotion "
        "(95% CI, log scale)    higher churn \u2192"
    )
    y = alt.Y("row:N", sort=rows, title=None, axis=alt.Axis(labelLimit=0))
    color = persona_color(colors, present)
    tooltip: list[Any] = [
        "persona:N",
        "stage:N",
        alt.Tooltip("shown:Q", format=".2f", title=what),
        alt.Tooltip("shown_low:Q", format=".2f", title="95% CI low"),
        alt.Tooltip("shown_high:Q", format=".2f", title="95% CI high"),
        alt.Tooltip("q_value:Q", format=".3f", title="q value"),
        alt.Tooltip("n:N", title="n customers"),
    ]
    shown = data[valid.to_numpy()]
    low = float(np.nanmin([*shown["shown_low"], 1.0]))
    high = float(np.nanmax([*shown["shown_high"], 1.0]))
    scale = alt.Scale(type="log", domain=[low / 1.15, high * 1.15], nice=False)
    ticks = [t for t in _LOG_TICKS if low / 1.15 <= t <= high * 1.15]
    axis = alt.Axis(values=ticks, format="~g", labelLimit=0)
    x = alt.X("shown:Q", scale=scale, title=title, axis=axis)
    base = alt.Chart(shown).encode(y=y, color=color, tooltip=tooltip)
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("shown_low:Q", scale=scale, title=title, axis=axis), x2="shown_high:Q"
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(x=x)
    one = (
        alt.Chart(pd.DataFrame({"one": [1.0]}))
        .mark_rule(color="#888", strokeDash=[4, 3])
        .encode(x="one:Q")
    )
    missing = (
        alt.Chart(data[~valid.to_numpy()])
        .mark_text(align="right", dx=-4, fontStyle="italic", color="#555")
        .encode(y=y, x=alt.datum(1.0), text="label:N", tooltip=["persona:N", "stage:N", "n:N"])
    )
    return alt.layer(one, rule, point, missing).properties(
        width=width, height=max(20 * len(rows), 40), title=f"Emotion and churn: {what}"
    )


def km_chart(
    km: pd.DataFrame,
    *,
    stages: Sequence[str],
    persona: str = "all",
    width: int = 330,
    columns: int = 3,
    labels: Callable[[str], str] | None = None,
) -> alt.TopLevelMixin:
    """Kaplan-Meier curves by emotion tercile, one panel per stage, for one persona.

    Terciles take a sequential palette of their own (dark: the third who felt worst) and a
    dash pattern each, never the persona colours; panels wrap after ``columns``.

    Parameters
    ----------
    km
        Tidy survival table: ``persona, stage, tercile, time, survival, ci_low, ci_high,
        n_at_risk`` (one row per step).
    stages
        The study's stages, in order (panels follow it).
    persona
        The persona label.
    labels
        The words for a stage's name (default: the name).

    Returns
    -------
    altair.FacetChart
    """
    stages = stage_list(stages)
    words = labels or str
    frame = pick_persona(
        prepare(
            km,
            "km",
            ("persona", "stage", "tercile", "time", "survival", "ci_low", "ci_high", "n_at_risk"),
        ),
        persona,
    )
    if len(frame) > 5000:
        # Keep the curve's shape within Altair's row limit: every k-th step plus the ends.
        step = math.ceil(len(frame) / 4500)
        frame = frame.groupby(["stage", "tercile"], sort=False, group_keys=False).apply(
            lambda g: g.iloc[np.unique(np.r_[np.arange(0, len(g), step), len(g) - 1])]
        )
    data = frame[["stage", "tercile", "time", "survival", "ci_low", "ci_high", "n_at_risk"]]
    data = data.assign(panel=data["stage"].astype(str).map(words))
    present = set(data["tercile"].dropna().astype(str))
    terciles = [t for t in TERCILE_COLORS if t in present]
    terciles += sorted(present - set(terciles))  # every group is drawn, named or not
    known = set(terciles) <= set(TERCILE_COLORS)
    names = _TERCILE_NAMES
    data = data.assign(felt=data["tercile"].map(lambda t: names.get(t, t)))
    shown = [names.get(t, t) for t in terciles]
    color = alt.Color(
        "felt:N",
        sort=shown,
        scale=alt.Scale(domain=shown, range=[TERCILE_COLORS[t] for t in terciles])
        if known
        else alt.Scale(domain=shown, scheme="purples"),
        title="Emotion at the stage",
        legend=alt.Legend(
            symbolType="stroke",
            symbolStrokeWidth=3,
            symbolOpacity=1,
            labelLimit=0,
            orient="bottom",
        ),
    )
    dash = alt.StrokeDash(
        "felt:N",
        sort=shown,
        scale=alt.Scale(domain=shown, range=[_TERCILE_DASHES[t] for t in terciles])
        if known
        else alt.Undefined,
        legend=None,
    )
    base = alt.Chart().encode(x=alt.X("time:Q", title="Days"), color=color)
    band = base.mark_area(opacity=0.12, interpolate="step-after").encode(
        y=alt.Y("ci_low:Q", scale=alt.Scale(domain=[0, 1]), title="Still a customer"),
        y2="ci_high:Q",
    )
    line = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        y="survival:Q",
        strokeDash=dash,
        tooltip=[
            "stage:N",
            "felt:N",
            alt.Tooltip("time:Q", format=".0f", title="day"),
            alt.Tooltip("survival:Q", format=".3f"),
            alt.Tooltip("n_at_risk:Q", title="n at risk"),
        ],
    )
    order = [words(s) for s in stages]
    return (
        alt.layer(band, line, data=data)
        .properties(width=width, height=200)
        .facet(
            facet=alt.Facet("panel:N", sort=order, title=None, header=alt.Header(labelFontSize=13)),
            columns=columns,
        )
        .properties(title=f"Time to churn by emotion at each stage: {safe_label(persona)}")
    )


# --- personas ------------------------------------------------------------------------------


def k_evidence_chart(evidence: pd.DataFrame) -> alt.Chart:
    """The evidence for the number of personas: one panel per score, the chosen k marked.

    Parameters
    ----------
    evidence
        ``k, silhouette, bic, stability_ari, chosen`` (``tables/persona_k_evidence.csv``).
    """
    frame = prepare(evidence, "evidence", ("k", "silhouette", "bic", "stability_ari", "chosen"))
    long = frame.melt(
        id_vars=["k", "chosen"],
        value_vars=["silhouette", "stability_ari", "bic"],
        var_name="score",
        value_name="value",
    ).dropna(subset=["value"])
    words = {
        "silhouette": "Silhouette (separation)",
        "stability_ari": "Stability (adjusted Rand)",
        "bic": "BIC (lower is better)",
    }
    long["score"] = long["score"].map(words)
    base = alt.Chart(long).encode(
        x=alt.X("k:O", title="number of personas (k)"),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        tooltip=["score:N", "k:O", alt.Tooltip("value:Q", format=".3f"), "chosen:N"],
    )
    line = base.mark_line(point=True, color=PALETTE[0])
    chosen = base.transform_filter("datum.chosen").mark_point(
        size=160, shape="diamond", filled=True, color=PALETTE[1]
    )
    return (
        alt.layer(line, chosen, data=long)
        .properties(width=180, height=140)
        .facet(column=alt.Column("score:N", title=None, sort=list(words.values())))
        .resolve_scale(y="independent")
        .properties(title="Evidence per k (diamond: chosen)")
    )


def persona_traits_chart(
    traits: pd.DataFrame,
    personas: pd.DataFrame,
    *,
    colors: Mapping[str, str] | None = None,
) -> alt.Chart:
    """What sets each persona apart: standardised differences of its top traits.

    Parameters
    ----------
    traits
        ``persona_id, feature, std_diff, rank`` (``tables/persona_traits.csv``).
    personas
        ``persona_id, persona_name, n_customers`` (``tables/personas.csv``), for names and n.
    colors
        From :func:`persona_colors`.
    """
    traits = prepare(traits, "traits", ("persona_id", "feature", "std_diff", "rank"))
    named = prepare(personas, "personas", ("persona_id", "persona_name", "n_customers"))
    frame = traits.merge(named[["persona_id", "persona_name", "n_customers"]], on="persona_id")
    frame["n"] = frame["n_customers"].map(lambda v: f"{int(v):,}" if pd.notna(v) else "suppressed")
    scale = color_scale(colors, frame["persona_name"].dropna().unique().tolist())
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("std_diff:Q", title="standardised difference against everyone else"),
            y=alt.Y("feature:N", sort=alt.EncodingSortField("rank"), title=None),
            color=alt.Color("persona_name:N", scale=scale, legend=None),
            tooltip=[
                alt.Tooltip("persona_name:N", title="persona"),
                "feature:N",
                alt.Tooltip("std_diff:Q", format=".2f"),
                alt.Tooltip("n:N", title="n customers"),
            ],
        )
        .properties(width=260, height=110)
        .facet(
            row=alt.Row(
                "persona_name:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")
            )
        )
        .resolve_scale(y="independent")
    )


def persona_profile_chart(
    profile: pd.DataFrame,
    *,
    kind: str = "channel",
    stages: Sequence[str] | None = None,
    colors: Mapping[str, str] | None = None,
) -> alt.Chart:
    """Channel mix or stage reach of every persona beside all customers.

    Parameters
    ----------
    profile
        ``persona_name, kind, item, value, n_customers`` (``tables/persona_profile.csv``).
    kind
        ``"channel"`` (mean share of events per channel) or ``"stage"`` (share who reached).
    stages
        The study's stages, to order the stage profile.
    colors
        From :func:`persona_colors`.
    """
    if kind not in ("channel", "stage"):
        msg = f'kind must be "channel" or "stage", found {kind!r}'
        raise CJResearchError(msg)
    frame = prepare(profile, "profile", ("persona_name", "kind", "item", "value", "n_customers"))
    frame = frame[frame["kind"] == kind]
    suppressed = flag(frame)
    frame = frame.assign(n=n_label(frame["n_customers"], suppressed)).dropna(subset=["value"])
    order = stage_list(stages) if (kind == "stage" and stages is not None) else None
    personas = list(dict.fromkeys(frame["persona_name"]))
    scale = color_scale(colors, personas)
    title = "share of events" if kind == "channel" else "share who reached the stage"
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("item:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
            xOffset=alt.XOffset("persona_name:N", sort=personas),
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format="%")),
            color=alt.Color("persona_name:N", scale=scale, sort=personas, title="persona"),
            tooltip=[
                alt.Tooltip("persona_name:N", title="persona"),
                alt.Tooltip("item:N", title=kind),
                alt.Tooltip("value:Q", format=".1%"),
                alt.Tooltip("n:N", title="n customers"),
            ],
        )
        .properties(width=520, height=220)
    )
