"""The journey-map canvas: stages as columns, lanes as rows, as journey-mapping tools draw it.

A :class:`Canvas` is HTML (a CSS grid, an inline SVG for the emotion curve), not an image:
its text wraps instead of being cut, reads at any zoom, is found by search, and prints on A4
landscape (the print stylesheet gives the canvas a landscape page of its own). Every lane
is data: a :class:`Lane` is a title and one cell per stage, and :func:`lane_from_frame`
makes one from any table with a ``stage`` column, so a new lane (owners, KPIs...) is added
with :meth:`Canvas.with_lane` and no change here.

:func:`persona_canvas` builds a persona's canvas from the journey map's tables: what they do
(top touchpoints as actions), channels, how they feel (the emotion curve with its 95% band
in the persona's colour, all customers dashed), their scores (NPS, CSAT, CES), pain points
with their churn pair, opportunities at touchpoint level, and their words (redacted
verbatims). Every data string is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from cjresearch.data.schema import ALL
from cjresearch.reporting.formats import Html, integer, number, percent, signed

__all__ = ["Canvas", "Lane", "lane_from_frame", "persona_canvas"]

_EMPTY = '<span class="cj-none">\u2013</span>'
_CURVE_HEIGHT = 120


@dataclass(frozen=True)
class Lane:
    """One row of the canvas.

    Parameters
    ----------
    key
        A short name (``actions``, ``pain``...), used as the lane's CSS class.
    title
        The lane's heading, in words.
    cells
        Stage -> the cell's HTML (escaped by whoever made it; :func:`lane_from_frame` does).
    graphic
        HTML drawn across every stage column above the cells (the emotion curve).
    note
        HTML under the lane's title (a legend, a unit): written by the lane's maker, never
        data.
    """

    key: str
    title: str
    cells: Mapping[str, str] = field(default_factory=dict)
    graphic: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Canvas:
    """A journey map: a header per stage, then lanes."""

    title: str
    stages: tuple[str, ...]
    stage_labels: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)
    lanes: tuple[Lane, ...] = ()
    color: str = "#4c78a8"

    def with_lane(self, lane: Lane, *, after: str | None = None) -> Canvas:
        """A copy with ``lane`` added at the end, or after the lane whose key is ``after``."""
        lanes = list(self.lanes)
        keys = [existing.key for existing in lanes]
        at = keys.index(after) + 1 if after in keys else len(lanes)
        lanes.insert(at, lane)
        return replace(self, lanes=tuple(lanes))

    @property
    def lane_keys(self) -> list[str]:
        return [lane.key for lane in self.lanes]

    @property
    def html(self) -> Html:
        n = len(self.stages)
        head = "".join(
            f'<div class="cj-stage-head" style="border-top-color: {html.escape(self.color)}">'
            f"<strong>{html.escape(self.stage_labels.get(s, s))}</strong>"
            f"{self.headers.get(s, '')}</div>"
            for s in self.stages
        )
        rows = [f'<div class="cj-lane cj-lane-head"><div class="cj-lane-title"></div>{head}</div>']
        for lane in self.lanes:
            note = f'<span class="cj-lane-note">{lane.note}</span>' if lane.note else ""
            span = ' style="grid-row: span 2"' if lane.graphic else ""
            title = f'<div class="cj-lane-title"{span}>{html.escape(lane.title)}{note}</div>'
            graphic = (
                f'<div class="cj-graphic" style="grid-column: 2 / -1">{lane.graphic}</div>'
                if lane.graphic
                else ""
            )
            cells = "".join(
                f'<div class="cj-cell">{lane.cells.get(s) or _EMPTY}</div>' for s in self.stages
            )
            key = html.escape(lane.key)
            rows.append(f'<div class="cj-lane cj-lane-{key}">{title}{graphic}{cells}</div>')
        return Html(
            f'<section class="cj-canvas" style="--stages: {n}" aria-label="Journey map">'
            f'<h3 class="cj-canvas-title">{html.escape(self.title)}</h3>{"".join(rows)}</section>'
        )

    def __repr__(self) -> str:
        lanes = ", ".join(lane.title for lane in self.lanes)
        return f"{self.title}: {len(self.stages)} stages; lanes: {lanes}"

    def _repr_html_(self) -> str:
        return str(self.html)


def lane_from_frame(
    frame: pd.DataFrame,
    *,
    key: str,
    title: str,
    text: str | Callable[[pd.Series], str],
    stage_col: str = "stage",
    limit: int = 3,
    note: str | None = None,
) -> Lane:
    """A lane from any table with a stage column: up to ``limit`` items per stage.

    ``text`` is a column, or a function of a row to plain text (escaped here).

    >>> table = pd.DataFrame({"stage": ["onboarding"], "owner": ["Dana <ops>"]})
    >>> lane_from_frame(table, key="owners", title="Owner", text="owner").cells
    {'onboarding': '<ul><li>Dana &lt;ops&gt;</li></ul>'}
    """
    cells: dict[str, str] = {}
    if frame is not None and not frame.empty:
        for stage, rows in frame.groupby(frame[stage_col].astype(str), sort=False):
            items = [
                str(row[text]) if isinstance(text, str) else str(text(row))
                for _, row in rows.head(limit).iterrows()
            ]
            shown = [f"<li>{html.escape(item)}</li>" for item in items if item]
            if shown:
                cells[str(stage)] = f"<ul>{''.join(shown)}</ul>"
    return Lane(key=key, title=title, cells=cells, note=note)


# --- a persona's canvas -----------------------------------------------------------------------


def _mine(frame: pd.DataFrame | None, persona: str) -> pd.DataFrame:
    if frame is None or frame.empty or "persona" not in frame.columns:
        return pd.DataFrame()
    return frame[frame["persona"].astype(str) == persona]


def _flag(frame: pd.DataFrame, column: str = "suppressed") -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _top_lane(
    frame: pd.DataFrame, column: str, *, key: str, title: str, label: Callable[[str], str]
) -> Lane:
    shown = frame[~_flag(frame)] if not frame.empty else frame
    if not shown.empty:
        shown = shown[shown["share"] > 0].sort_values(["share"], ascending=False, kind="stable")
    return lane_from_frame(
        shown,
        key=key,
        title=title,
        text=lambda r: f"{label(str(r[column]))} \u00b7 {percent(r['share'])}",
        limit=4 if key == "actions" else 3,
        note="share of the stage's customers",
    )


def _points(
    values: Sequence[float | None], width: float, span: float = 1.0
) -> list[tuple[float, float] | None]:
    step = width / max(len(values), 1)
    half = (_CURVE_HEIGHT / 2 - 6) / span
    return [
        (step * i + step / 2, _CURVE_HEIGHT / 2 - half * max(-span, min(span, float(v))))
        if v is not None and _finite(v)
        else None
        for i, v in enumerate(values)
    ]


def _runs(points: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [r for r in runs if r]


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def curve_span(*frames: pd.DataFrame) -> float:
    """The half-height of the emotion lane's scale: 0.5 (emotion means are rarely far from
    0), or 1 when a band or mean reaches beyond it.

    >>> curve_span(pd.DataFrame({"emotion_mean": [0.2], "emotion_ci_low": [-0.7]}))
    1.0
    """
    extreme = 0.0
    for frame in frames:
        for column in ("emotion_mean", "emotion_ci_low", "emotion_ci_high"):
            if not frame.empty and column in frame.columns:
                values = pd.to_numeric(frame[column], errors="coerce").abs()
                extreme = max(extreme, float(values.max(skipna=True) or 0.0))
    return 0.5 if extreme <= 0.5 else 1.0


def _curve_svg(
    mine: pd.DataFrame,
    everyone: pd.DataFrame,
    stages: Sequence[str],
    color: str,
    label: str,
    span: float,
) -> str:
    """The emotion lane's drawing: the persona's band and line, all customers dashed."""
    width = 100.0 * len(stages)

    def column(frame: pd.DataFrame, name: str) -> list[float | None]:
        if frame.empty or name not in frame.columns:
            return [None] * len(stages)
        hidden = _flag(frame) | _flag(frame, "emotion_suppressed")
        by_stage = frame[~hidden].set_index(frame[~hidden]["stage"].astype(str))[name]
        return [by_stage.get(s) for s in stages]

    parts = [
        f'<line x1="0" x2="{width:.0f}" y1="{_CURVE_HEIGHT / 2}" y2="{_CURVE_HEIGHT / 2}" '
        'class="cj-zero" vector-effect="non-scaling-stroke"/>'
    ]
    high = _points(column(mine, "emotion_ci_high"), width, span)
    low = _points(column(mine, "emotion_ci_low"), width, span)
    for upper, lower in zip(_runs(high), _runs(low), strict=False):
        outline = upper + list(reversed(lower))
        parts.append(
            f'<polygon points="{_path(outline)}" fill="{html.escape(color)}" '
            'fill-opacity="0.25" stroke="none"/>'
        )
    for run in _runs(_points(column(everyone, "emotion_mean"), width, span)):
        parts.append(
            f'<polyline points="{_path(run)}" class="cj-all" fill="none" '
            'vector-effect="non-scaling-stroke"/>'
        )
    line = _points(column(mine, "emotion_mean"), width, span)
    for run in _runs(line):
        parts.append(
            f'<polyline points="{_path(run)}" fill="none" stroke="{html.escape(color)}" '
            'stroke-width="3" vector-effect="non-scaling-stroke"/>'
        )
    for point in line:
        if point is not None:
            x, y = point
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{html.escape(color)}" stroke-width="10" stroke-linecap="round" '
                'vector-effect="non-scaling-stroke"/>'
            )
    return (
        f'<svg class="cj-curve" viewBox="0 0 {width:.0f} {_CURVE_HEIGHT}" '
        f'preserveAspectRatio="none" role="img" aria-label="{html.escape(label, quote=True)}">'
        f"{''.join(parts)}</svg>"
    )


def _emotion_lane(
    the_map: pd.DataFrame,
    persona: str,
    stages: Sequence[str],
    color: str,
    label: Callable[[str], str],
) -> Lane:
    mine, everyone = _mine(the_map, persona), _mine(the_map, ALL)
    cells: dict[str, str] = {}
    for _, row in mine.iterrows():
        stage = str(row["stage"])
        if bool(row.get("suppressed", False)) or bool(row.get("emotion_suppressed", False)):
            cells[stage] = '<span class="cj-none">\u2020 too few to show</span>'
        elif _finite(row.get("emotion_mean")):
            band = f"{signed(row.get('emotion_ci_low'))} to {signed(row.get('emotion_ci_high'))}"
            cells[stage] = (
                f'<span class="cj-value">{signed(row["emotion_mean"])}</span>'
                f'<span class="cj-small">95% CI {band}; n = {integer(row.get("n_emotion"))}</span>'
            )
        else:
            cells[stage] = '<span class="cj-none">no emotion expressed</span>'
    values = [
        (label(str(r["stage"])), r["emotion_mean"])
        for _, r in mine.iterrows()
        if _finite(r.get("emotion_mean"))
    ]
    alt = "Emotion per stage"
    if values:
        worst = min(values, key=lambda v: float(v[1]))
        best = max(values, key=lambda v: float(v[1]))
        alt = (
            f"Emotion per stage, on a scale from -1 to +1: lowest at {worst[0]} "
            f"({signed(worst[1])}), highest at {best[0]} ({signed(best[1])})."
        )
    swatch = html.escape(color)
    span = curve_span(mine, everyone)
    note = (
        f'<span class="cj-key"><i style="background:{swatch}"></i>this persona, 95% band</span>'
        '<span class="cj-key"><i class="cj-key-all"></i>all customers</span>'
        f'<span class="cj-key">scale \u2212{span:g} to +{span:g}, 0 dotted</span>'
    )
    return Lane(
        key="emotion",
        title="How they feel",
        cells=cells,
        graphic=_curve_svg(mine, everyone, stages, color, alt, span),
        note=note,
    )


def _scores_lane(instruments: pd.DataFrame, persona: str) -> Lane | None:
    mine = _mine(instruments, persona)
    if mine.empty:
        return None
    cells: dict[str, str] = {}
    words = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
    for stage, rows in mine.groupby(mine["stage"].astype(str), sort=False):
        items = []
        for _, row in rows.iterrows():
            name = words.get(str(row["instrument"]), str(row["instrument"]))
            if bool(row.get("suppressed", False)) or not _finite(row.get("value")):
                items.append(f"<li>{name} \u2020</li>")
                continue
            value = float(row["value"])
            shown = {
                "nps": f"{value:+.0f}".replace("-", "\u2212"),
                "csat": f"{percent(value)} satisfied",
                "ces": f"{value:.1f} of 7",
            }.get(str(row["instrument"]), f"{value:.2f}")
            items.append(
                f"<li>{name} {html.escape(shown)} "
                f'<span class="cj-small">n = {integer(row["n_customers"])}</span></li>'
            )
        cells[str(stage)] = f"<ul>{''.join(items)}</ul>"
    return Lane(
        key="scores",
        title="Their scores",
        cells=cells,
        note="NPS \u2212100 to +100; CSAT % 4\u20135 of 5; CES effort 1\u20137, low is easy",
    )


def is_pain_point(frame: pd.DataFrame) -> pd.Series:
    """Which rows of the pain points table are pain points: the table's own
    ``is_pain_point`` where it has one, else a score above 0 (beyond chance)."""
    if frame.empty:
        return pd.Series(False, index=frame.index)
    if "is_pain_point" in frame.columns:
        return frame["is_pain_point"].astype("boolean").fillna(False).astype(bool)
    return pd.to_numeric(frame["score"], errors="coerce").fillna(0) > 0


def churn_pair(row: pd.Series) -> str:
    """A pain point's churn among those who met it against the others: ``57% vs 21%``."""
    return f"{percent(row.get('churn_rate'))} vs {percent(row.get('churn_rate_comparison'))}"


def harm_words(row: pd.Series) -> str:
    """Why a pain point is one, in words: each kind of evidence of harm the table names
    (``evidence``), those who met it against the others, e.g. ``churn 57% vs 21%; felt 0.30
    worse``; the churn pair when the table names none. A pain point found by its emotion
    alone is not described by its churn, which may be lower."""
    said = {
        "churn": lambda: f"churn {churn_pair(row)}",
        "drop_off": lambda: (
            f"dropped off {percent(row.get('drop_off'))} vs "
            f"{percent(row.get('drop_off_comparison'))}"
        ),
        "emotion": lambda: _felt_worse(row),
        "session_conversion": lambda: (
            f"sessions converted {percent(row.get('session_conversion'))} vs "
            f"{percent(row.get('session_conversion_comparison'))}"
        ),
    }
    kinds = [k for k in str(row.get("evidence") or "").split("; ") if k in said]
    return "; ".join(said[k]() for k in kinds) if kinds else f"churn {churn_pair(row)}"


def _felt_worse(row: pd.Series) -> str:
    # the estimate the evidence rests on: shrunk, else adjusted, else the raw gap
    for column in ("emotion_gap_shrunk", "emotion_gap_adjusted", "emotion_gap"):
        gap = pd.to_numeric(row.get(column), errors="coerce")
        if pd.notna(gap):
            break
    if pd.notna(gap) and gap < 0:
        return f"felt {number(abs(float(gap)))} worse (on the -1 to +1 scale)"
    return "felt worse than comparable customers"


def _pain_lane(pain_points: pd.DataFrame, persona: str, label: Callable[[str], str]) -> Lane:
    mine = _mine(pain_points, persona)
    if not mine.empty:
        mine = mine[is_pain_point(mine) & ~_flag(mine)].sort_values("rank", kind="stable")
    lane = lane_from_frame(
        mine,
        key="pain",
        title="Pain points",
        text=lambda r: (
            f"{label(str(r['touchpoint']))}: {harm_words(r)} (n = {integer(r['n_customers'])})"
        ),
        limit=2,
        note="why: those who met it vs the others at the stage",
    )
    return lane


def _opportunity_lane(
    opportunities: pd.DataFrame,
    pain_points: pd.DataFrame,
    persona: str,
    label: Callable[[str], str],
) -> Lane:
    mine = _mine(opportunities, persona)
    pains = _mine(pain_points, persona)
    if not pains.empty:
        pains = pains[is_pain_point(pains) & ~_flag(pains)].sort_values("rank", kind="stable")
    first_pain = (
        {
            str(stage): label(str(rows.iloc[0]["touchpoint"]))
            for stage, rows in pains.groupby(pains["stage"].astype(str), sort=False)
        }
        if not pains.empty
        else {}
    )

    def text(row: pd.Series) -> str:
        stage = str(row["stage"])
        touchpoint = row.get("touchpoint")
        effect = row.get("effect")
        if touchpoint is not None and not pd.isna(touchpoint) and str(touchpoint):
            points = f"{100 * float(effect):.0f}" if _finite(effect) else "\u2013"
            return (
                f"Fix {label(str(touchpoint))}: its {integer(row.get('n_customers'))} customers "
                f"churned {points} percentage points more than the others"
            )
        start = f"; start with {first_pain[stage]}" if stage in first_pain else ""
        return (
            f"Make {label(stage)} feel better: {percent(effect)} lower odds of churn per "
            f"step{start}"
        )

    if not mine.empty:
        mine = mine.sort_values("rank", kind="stable")
    return lane_from_frame(
        mine,
        key="opportunities",
        title="Opportunities",
        text=text,
        limit=2,
        note="associations worth testing, not proven causes",
    )


def _quote_lane(verbatims: pd.DataFrame, persona: str) -> Lane:
    mine = _mine(verbatims, persona)
    if not mine.empty and "kind" in mine.columns:
        order = {"most negative": 0, "typical": 1}
        mine = mine.assign(_o=mine["kind"].map(order).fillna(2)).sort_values(
            ["pain_rank", "_o"], kind="stable"
        )
    return lane_from_frame(
        mine,
        key="quotes",
        title="In their words",
        text=lambda r: f"\u201c{r['text']}\u201d",
        limit=2,
        note="comments at the pain points, redacted",
    )


def persona_canvas(
    tables: Mapping[str, pd.DataFrame],
    *,
    persona: str,
    title: str,
    stages: Sequence[str],
    color: str,
    label: Callable[[str], str] = str,
) -> Canvas:
    """A persona's journey map (see the module docstring).

    Parameters
    ----------
    tables
        The persona's slice of the publishable tables: ``journey_map``, ``touchpoints``,
        ``channels``, ``pain_points``, ``opportunities``, ``verbatims`` and, where the study
        has them, ``instruments`` (missing tables leave their lanes empty).
    persona
        The persona's name as the tables have it.
    title
        The canvas's heading.
    stages
        The study's stages, in order.
    color
        The persona's colour.
    label
        The words for a stage's, touchpoint's or channel's name.
    """

    def table(name: str) -> pd.DataFrame:
        return tables.get(name, pd.DataFrame())

    the_map = table("journey_map")
    headers: dict[str, str] = {}
    for _, row in _mine(the_map, persona).iterrows():
        stage = str(row["stage"])
        if bool(row.get("suppressed", False)):
            headers[stage] = '<span class="cj-small">\u2020 fewer than the smallest group</span>'
            continue
        headers[stage] = (
            f'<span class="cj-small">reached by {percent(row.get("reach"))} '
            f"({integer(row.get('n_customers'))}); churned {percent(row.get('churn_rate'))}"
            "</span>"
        )
    lanes: list[Lane] = [
        _top_lane(
            _mine(table("touchpoints"), persona),
            "touchpoint",
            key="actions",
            title="What they do",
            label=label,
        ),
        _top_lane(
            _mine(table("channels"), persona),
            "channel",
            key="channels",
            title="Channels",
            label=label,
        ),
        _emotion_lane(the_map, persona, stages, color, label),
    ]
    scores = _scores_lane(table("instruments"), persona)
    if scores is not None:
        lanes.append(scores)
    lanes += [
        _pain_lane(table("pain_points"), persona, label),
        _opportunity_lane(table("opportunities"), table("pain_points"), persona, label),
        _quote_lane(table("verbatims"), persona),
    ]
    return Canvas(
        title=title,
        stages=tuple(stages),
        stage_labels={s: label(s) for s in stages},
        headers=headers,
        lanes=tuple(lanes),
        color=color,
    )
