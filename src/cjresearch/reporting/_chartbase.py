"""The shared ground of the charts: persona colours, safe labels and table checks.

Private to :mod:`cjresearch.reporting`; :mod:`cjresearch.reporting.charts` re-exports the
public names (``ALL_COLOR``, ``PALETTE``, :func:`safe_label`, :func:`persona_colors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis.privacy import check_publishable
from cjresearch.errors import CJResearchError

#: The colour of "all" customers.
ALL_COLOR = "#8c8c8c"
#: Persona colours in order (Tableau 10 without its grey), cycled beyond ten personas.
PALETTE: tuple[str, ...] = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
)
SUPPRESSED = "suppressed"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_LABEL = 200


def safe_label(value: object) -> object:
    """A data string made safe to embed in a page (see the module docstring).

    Examples
    --------
    >>> safe_label("<script>alert(1)</script>")
    '‹script›alert(1)‹/script›'
    """
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value).replace("<", "\u2039").replace(">", "\u203a")
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "\u2026"


def persona_colors(persona_names: Sequence[str]) -> dict[str, str]:
    """One colour per persona, the same in every chart of a build.

    Parameters
    ----------
    persona_names
        The persona labels in a stable order (e.g. ``JourneyMap.personas``); ``"all"`` may
        be among them and is always grey.

    Returns
    -------
    dict
        ``{label: "#rrggbb"}`` with ``"all"`` first.

    Examples
    --------
    >>> persona_colors(["all", "App natives", "Store loyalists"])
    {'all': '#8c8c8c', 'App natives': '#4c78a8', 'Store loyalists': '#f58518'}
    """
    if isinstance(persona_names, str):
        msg = f"persona_names must be a sequence of names, found the string {persona_names!r}"
        raise CJResearchError(msg)
    colors = {"all": ALL_COLOR}
    others = [str(safe_label(str(n))) for n in dict.fromkeys(persona_names) if n != "all"]
    for i, name in enumerate(others):
        colors[name] = PALETTE[i % len(PALETTE)]
    return colors


# --- helpers -----------------------------------------------------------------------------


def prepare(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """Check and copy a table for charting: no ids, required columns, safe strings."""
    require_columns(frame, columns, name)
    check_publishable(frame, name=name)
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
        ):
            out[column] = series.astype(object).map(safe_label)
            out[column] = out[column].where(series.notna().to_numpy(), None)
    return out


def stage_list(stages: Sequence[str]) -> list[str]:
    if isinstance(stages, str) or not len(stages):
        msg = "stages must be the study's list of stages, in order"
        raise CJResearchError(msg)
    return [str(safe_label(str(s))) for s in stages]


def color_scale(colors: Mapping[str, str] | None, present: Sequence[str]) -> alt.Scale:
    if colors is None:
        colors = persona_colors(list(present))
    missing = [p for p in present if p not in colors]
    if missing:
        colors = {**colors, **{p: PALETTE[i % len(PALETTE)] for i, p in enumerate(missing)}}
    domain = [p for p in colors if p in set(present)]
    return alt.Scale(domain=domain, range=[colors[p] for p in domain])


def persona_color(
    colors: Mapping[str, str] | None, present: Sequence[str], *, legend: bool = True
) -> alt.Color:
    """The colour channel of a chart of several personas (the build's colours); the legend
    shows solid strokes (never the pale fill of a band) and whole names."""
    shown = (
        alt.Legend(
            symbolType="stroke", symbolStrokeWidth=4, symbolOpacity=1, labelLimit=0, orient="bottom"
        )
        if legend
        else None
    )
    return alt.Color("persona:N", scale=color_scale(colors, present), title="Persona", legend=shown)


def shown_personas(
    frame: pd.DataFrame, personas: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the personas to draw (None: every one in the table) and their labels."""
    if personas is not None:
        frame = frame[frame["persona"].isin([str(safe_label(p)) for p in personas])]
    return frame, list(dict.fromkeys(frame["persona"]))


def flag(frame: pd.DataFrame, column: str = "suppressed") -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].fillna(False).astype(bool)


def n_label(values: pd.Series, suppressed: pd.Series) -> pd.Series:
    text = values.map(lambda v: f"{int(v):,}" if pd.notna(v) else "not measured")
    return text.where(~suppressed, SUPPRESSED)


def stage_x(stages: list[str], *, title: str | None = None, orient: str = "bottom") -> alt.X:
    return alt.X(
        "stage:N",
        sort=stages,
        scale=alt.Scale(domain=stages),
        axis=alt.Axis(labelAngle=0, orient=orient, title=title),  # type: ignore[arg-type]
    )


def pick_persona(frame: pd.DataFrame, persona: str, *, strict: bool = True) -> pd.DataFrame:
    persona = str(safe_label(persona))
    if "persona" not in frame.columns:
        return frame
    picked = frame[frame["persona"] == persona]
    if strict and picked.empty and len(frame):
        known = sorted(frame["persona"].dropna().unique().tolist())
        msg = f"persona {persona!r} is not in the table; found {known}"
        raise CJResearchError(msg)
    return picked
