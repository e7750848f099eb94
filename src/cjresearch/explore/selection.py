"""The explorer's tables for one selection, computed from the cube (never from events).

A :class:`Query` names personas, a stage (or every stage), an emotion source, a window of
months, the minimum group size and whether to compare with all customers; :func:`select`
answers it from a :class:`cjresearch.analysis.cube.Cube` with tables shaped like the journey map's
(:mod:`cjresearch.analysis.journey_map`), so the charts of :mod:`cjresearch.reporting.charts`
draw them unchanged. For the whole observation period, every emotion source and the study's
minimum group size the figures equal the published tables'.

Suppression follows the reports: every figure describing fewer than ``min_group_size``
customers is blanked (:func:`cjresearch.analysis.privacy.suppress`), across *every* persona before
the selected ones are picked, with the same secondary suppression, so that choosing
personas cannot reveal what the tables hide. Customers without a persona count in
``"all"`` only.

Differences from the published tables, stated in the explorer: ``reach`` and the funnel's
``share`` are of the persona's customers *active in the window* (with at least one event
there); emotion is each customer's mean over their observations in the window from the
chosen source; churn is churn by the end of observation, among the customers seen in the
window. Pain points compare the customers who met a touchpoint in the window with the
stage's other customers in the window (a risk ratio with its 95% interval, not corrected
for the many touchpoints compared). A touchpoint is a pain point when that interval lies
above 1 or its emotion is at least :data:`MIN_EMOTION_GAP` below the stage's; they rank by
how far the interval lies above 1 (log scale) plus how far the emotion lies below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjresearch.analysis.cube import ALL_SOURCES, NO_PERSONA, Cube
from cjresearch.analysis.journey_map import ALL, _risk_ratio, _t_interval
from cjresearch.analysis.personas.profiles import wilson_intervals
from cjresearch.analysis.privacy import suppress
from cjresearch.errors import CJResearchError

__all__ = ["ALL", "Query", "Selection", "select"]

#: Pain points listed per persona (and stage, when every stage is shown).
TOP_PAIN_POINTS = 5
#: A touchpoint felt at least this much worse than its stage (on the -1..1 scale) is a pain
#: point even without a churn lift beyond chance.
MIN_EMOTION_GAP = 0.1
#: Comments shown per pain point.
VERBATIMS_PER_PAIN = 3


@dataclass(frozen=True)
class Query:
    """What the researcher picked. ``window`` is (first, last) month index, inclusive;
    None is the whole period. ``stage`` None is every stage."""

    personas: tuple[str, ...]
    stage: str | None = None
    source: str = ALL_SOURCES
    window: tuple[int, int] | None = None
    min_group_size: int = 10
    compare: bool = True


@dataclass
class Selection:
    """The tables of one selection, and what to tell the researcher about it."""

    query: Query
    labels: list[str]
    window: tuple[str, str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def _check(cube: Cube, query: Query) -> tuple[int, int]:
    rows = [p for p in cube.personas if p != NO_PERSONA]
    unknown = [p for p in query.personas if p not in rows]
    if unknown:
        msg = f"unknown persona {unknown[0]!r}; the study's personas are: {', '.join(rows)}"
        raise CJResearchError(msg)
    if query.stage is not None and query.stage not in cube.stages:
        msg = f"unknown stage {query.stage!r}; the stages are: {', '.join(cube.stages)}"
        raise CJResearchError(msg)
    if query.source not in cube.sources:
        msg = f"no emotion from source {query.source!r}; available: {', '.join(cube.sources)}"
        raise CJResearchError(msg)
    if isinstance(query.min_group_size, bool) or int(query.min_group_size) < 1:
        msg = f"the minimum group size must be a whole number >= 1, not {query.min_group_size!r}"
        raise CJResearchError(msg)
    a, b = (0, len(cube.periods) - 1) if query.window is None else query.window
    if not 0 <= a <= b < len(cube.periods):
        msg = (
            f"the window must run forwards within {cube.periods[0]}..{cube.periods[-1]}, "
            f"not months {a}..{b}"
        )
        raise CJResearchError(msg)
    if not query.personas and not query.compare:
        msg = "pick at least one persona, or compare with all customers"
        raise CJResearchError(msg)
    return a, b


class _Rows:
    """Per-row (``all``, then each persona) sums of cube arrays over one window."""

    def __init__(self, cube: Cube, a: int, b: int) -> None:
        self.cube = cube
        self.a, self.b = a, b
        self.labels = [ALL, *[p for p in cube.personas if p != NO_PERSONA]]
        self.codes = [cube.personas.index(p) for p in self.labels[1:]]

    def __call__(self, name: str) -> np.ndarray:
        """``(rows, ...)``: the array's window cell, ``all`` first (every persona code)."""
        cell = self.cube.arrays[name][..., self.a, self.b]
        return np.concatenate([cell.sum(axis=0, keepdims=True), cell[self.codes]], axis=0)


def select(cube: Cube, query: Query) -> Selection:
    """Answer a query from the cube.

    Returns
    -------
    Selection
        ``tables``: ``journey_map``, ``funnel``, ``touchpoints``, ``channels``,
        ``pain_points``, ``verbatims`` (see the module docstring), each with rows only for
        the selected labels (the personas, then ``"all"`` when comparing).

    Raises
    ------
    CJResearchError
        An unknown persona, stage or source, a window that runs backwards or outside the
        study, a minimum group size below 1, or nothing to show.
    """
    a, b = _check(cube, query)
    m = int(query.min_group_size)
    rows = _Rows(cube, a, b)
    labels = [*query.personas, *([ALL] if query.compare else [])]
    source = cube.sources.index(query.source)
    journey = _journey(rows, source, m)
    touchpoints = _labelled(rows, cube.touchpoints, "touchpoint", "tp", m, source=source)
    channels = _labelled(rows, cube.channels, "channel", "ch", m)
    pains = _pain_points(rows, journey, touchpoints, source, m)
    stages = [query.stage] if query.stage is not None else list(cube.stages)

    def pick(frame: pd.DataFrame, *, by_stage: bool = True) -> pd.DataFrame:
        keep = frame["persona"].isin(labels)
        if by_stage:
            keep &= frame["stage"].astype(str).isin(stages)
        out = frame[keep].copy()
        order = {label: i for i, label in enumerate(labels)}
        out["_o"] = out["persona"].map(order)
        return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)

    selection = Selection(query=query, labels=labels, window=(cube.periods[a], cube.periods[b]))
    selection.tables = {
        "journey_map": pick(journey, by_stage=False),
        "funnel": pick(_funnel(journey), by_stage=False),
        "touchpoints": pick(touchpoints, by_stage=False),
        "channels": pick(channels, by_stage=False),
        "pain_points": pick(pains),
    }
    selection.tables["verbatims"] = _verbatims(cube, selection.tables["pain_points"], a, b)
    shown = selection.tables["journey_map"]
    if len(shown) and shown["suppressed"].all():
        selection.notes.append(
            f"Every stage of this selection has fewer than {m} customers in "
            f"{selection.window[0]}..{selection.window[1]}: widen the window or pick more "
            "personas."
        )
    elif len(shown) and shown["emotion_suppressed"].all():
        selection.notes.append(
            f"Fewer than {m} customers expressed an emotion from source {query.source!r} at "
            "any stage of this selection: choose another source or widen the window."
        )
    return selection


def _stage_frame(rows: _Rows, n_inner: int) -> dict[str, object]:
    cube = rows.cube
    dtype = pd.CategoricalDtype(list(cube.stages), ordered=True)
    return {
        "persona": np.repeat(rows.labels, n_inner),
        "stage": pd.Categorical(np.tile(list(cube.stages), len(rows.labels)), dtype=dtype),
    }


def _suppressed(
    frame: pd.DataFrame, m: int, count: str, columns: list[str], keys: list[str], **kw: str
) -> pd.DataFrame:
    many = len(frame["persona"].unique()) > 2  # secondary suppression as the tables do
    return suppress(
        frame,
        min_group_size=m,
        count_col=count,
        columns=columns,
        complementary_by=keys if many else None,
        **kw,
    )


def _journey(rows: _Rows, source: int, m: int) -> pd.DataFrame:
    reach = rows("reach")  # rows x stages
    churned = rows("reach_churned")
    active = rows("active")  # rows
    n_e = rows("emotion_n")[:, :, source]
    total = rows("emotion_sum")[:, :, source]
    squares = rows("emotion_sumsq")[:, :, source]
    mean, low, high, _ = _t_interval(total, squares, n_e)
    churn_low, churn_high = wilson_intervals(churned.ravel(), reach.ravel())
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(active[:, None] > 0, reach / active[:, None], np.nan)
        previous = np.full_like(reach, np.nan)
        previous[:, 1:] = np.where(reach[:, :-1] > 0, reach[:, 1:] / reach[:, :-1], np.nan)
        churn = np.where(reach > 0, churned / reach, np.nan)
    n_stages = reach.shape[1]
    frame = pd.DataFrame(
        {
            **_stage_frame(rows, n_stages),
            "n_customers": reach.ravel(),
            "reach": share.ravel(),
            "emotion_mean": np.where(n_e > 0, mean, np.nan).ravel(),
            "emotion_ci_low": low.ravel(),
            "emotion_ci_high": high.ravel(),
            "churn_rate": churn.ravel(),
            "churn_ci_low": churn_low,
            "churn_ci_high": churn_high,
            "n_persona": np.repeat(active, n_stages).astype(np.float64),
            "reach_of_previous": previous.ravel(),
            "n_emotion": n_e.ravel(),
        }
    )
    frame = suppress(
        frame,
        min_group_size=m,
        count_col="n_emotion",
        columns=["n_emotion", "emotion_mean", "emotion_ci_low", "emotion_ci_high"],
        flag_col="emotion_suppressed",
    )
    figures = ["n_customers", "reach", "churn_rate", "churn_ci_low", "churn_ci_high"]
    frame = _suppressed(frame, m, "n_customers", [*figures, "reach_of_previous"], ["stage"])
    frame.loc[frame["n_persona"] < m, "n_persona"] = np.nan
    frame["emotion_suppressed"] = frame["emotion_suppressed"] | frame["suppressed"]
    return frame


def _funnel(journey: pd.DataFrame) -> pd.DataFrame:
    frame = journey[["persona", "stage", "n_customers", "reach", "suppressed"]].rename(
        columns={"reach": "share"}
    )
    frame.insert(2, "step", frame["stage"].cat.codes.to_numpy() + 1)
    return frame.reset_index(drop=True)


def _labelled(
    rows: _Rows,
    pairs: Sequence[tuple[str, str]],
    column: str,
    prefix: str,
    m: int,
    *,
    source: int | None = None,
) -> pd.DataFrame:
    """touchpoints / channels: one row per label and (stage, touchpoint) pair."""
    cube = rows.cube
    columns = ["persona", "stage", column, "n_customers", "n_events", "share"]
    if source is not None:
        columns += ["emotion_mean", "n_emotion", "n_churned"]
    if not pairs:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in [*columns, "suppressed"]})
    reach = rows(f"{prefix}_reach")  # rows x pairs
    stage_of = np.array([cube.stages.index(s) for s, _ in pairs])
    stage_reach = rows("reach")[:, stage_of]
    dtype = pd.CategoricalDtype(list(cube.stages), ordered=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(stage_reach > 0, reach / stage_reach, np.nan)
    frame = {
        "persona": np.repeat(rows.labels, len(pairs)),
        "stage": pd.Categorical(np.tile([s for s, _ in pairs], len(rows.labels)), dtype=dtype),
        column: np.tile([t for _, t in pairs], len(rows.labels)),
        "n_customers": reach.ravel(),
        "n_events": rows(f"{prefix}_events").ravel(),
        "share": share.ravel(),
    }
    if source is not None:
        n_e = rows("tp_emotion_n")[:, :, source]
        total = rows("tp_emotion_sum")[:, :, source]
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["emotion_mean"] = np.where(n_e > 0, total / n_e, np.nan).ravel()
        frame["n_emotion"] = n_e.ravel()
        frame["n_churned"] = rows("tp_churned").ravel()
    out = pd.DataFrame(frame)
    if source is not None:
        out = suppress(
            out,
            min_group_size=m,
            count_col="n_emotion",
            columns=["n_emotion", "emotion_mean"],
            flag_col="emotion_suppressed",
        )
    figures = ["n_customers", "n_events", "share", *(["n_churned"] if source is not None else [])]
    return _suppressed(out, m, "n_customers", figures, ["stage", column])


def _pain_points(
    rows: _Rows, journey: pd.DataFrame, touchpoints: pd.DataFrame, source: int, m: int
) -> pd.DataFrame:
    """Touchpoints whose customers churned more, or felt worse, than the stage's others."""
    columns = [
        "persona", "stage", "touchpoint", "n_customers", "emotion_mean", "stage_emotion",
        "emotion_gap", "churn_rate", "n_comparison", "churn_rate_comparison", "churn_lift",
        "lift_ci_low", "lift_ci_high", "score", "rank",
    ]  # fmt: skip
    if touchpoints.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    stage_rows = journey.set_index(["persona", "stage"])
    keys = pd.MultiIndex.from_arrays([touchpoints["persona"], touchpoints["stage"]])
    stage_n = stage_rows["n_customers"].reindex(keys).to_numpy(dtype=np.float64)
    stage_emotion = stage_rows["emotion_mean"].reindex(keys).to_numpy(dtype=np.float64)
    # the stage's churned customers, recomputed unsuppressed from the cube for the rest group
    churned = pd.DataFrame(
        rows("reach_churned"), index=rows.labels, columns=list(rows.cube.stages)
    ).stack()
    stage_churned = churned.reindex(
        pd.MultiIndex.from_arrays([touchpoints["persona"], touchpoints["stage"].astype(str)])
    ).to_numpy(dtype=np.float64)
    n = touchpoints["n_customers"].to_numpy(dtype=np.float64)
    hit = touchpoints["n_churned"].to_numpy(dtype=np.float64)
    n_rest = stage_n - n
    rest_churned = stage_churned - hit
    lift, low, high = _risk_ratio(hit, n, rest_churned, n_rest)
    emotion = touchpoints["emotion_mean"].to_numpy(dtype=np.float64)
    gap = emotion - stage_emotion
    with np.errstate(divide="ignore", invalid="ignore"):
        churn = np.where(n > 0, hit / n, np.nan)
        churn_rest = np.where(n_rest > 0, rest_churned / n_rest, np.nan)
        score = np.nan_to_num(np.maximum(np.log(low), 0)) + np.nan_to_num(np.maximum(-gap, 0))
    frame = pd.DataFrame(
        {
            "persona": touchpoints["persona"].to_numpy(),
            "stage": touchpoints["stage"],
            "touchpoint": touchpoints["touchpoint"].to_numpy(),
            "n_customers": n,
            "emotion_mean": emotion,
            "stage_emotion": stage_emotion,
            "emotion_gap": gap,
            "churn_rate": churn,
            "n_comparison": n_rest,
            "churn_rate_comparison": churn_rest,
            "churn_lift": lift,
            "lift_ci_low": low,
            "lift_ci_high": high,
            "score": score,
        }
    )
    # only touchpoints with both groups large enough, and something beyond chance or below
    worse = (np.nan_to_num(low) > 1) | (np.nan_to_num(gap) <= -MIN_EMOTION_GAP)
    usable = (n >= m) & (n_rest >= m) & worse
    frame = frame[usable].sort_values(["persona", "stage", "score"], ascending=[True, True, False])
    frame["rank"] = frame.groupby(["persona", "stage"], observed=True).cumcount() + 1
    frame = frame[frame["rank"] <= TOP_PAIN_POINTS]
    return frame.reset_index(drop=True)[columns]


def _verbatims(cube: Cube, pains: pd.DataFrame, a: int, b: int) -> pd.DataFrame:
    """The most negative comments at the shown pain points, from the window."""
    columns = ["persona", "stage", "touchpoint", "text", "text_emotion"]
    texts = cube.verbatims
    if pains.empty or texts.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    texts = texts[(texts["period"] >= a) & (texts["period"] <= b)]
    tp_index = {pair: i for i, pair in enumerate(cube.touchpoints)}
    parts = []
    for pain in pains.itertuples(index=False):
        t = tp_index[(str(pain.stage), str(pain.touchpoint))]
        found = texts[(texts["touchpoint"] == t)]
        if pain.persona != ALL:
            found = found[found["persona"] == cube.personas.index(pain.persona)]
        found = found.sort_values("text_emotion", kind="stable").drop_duplicates("text")
        for text in found.head(VERBATIMS_PER_PAIN).itertuples(index=False):
            parts.append(
                (pain.persona, str(pain.stage), pain.touchpoint, text.text, text.text_emotion)
            )
    return pd.DataFrame(parts, columns=columns)
