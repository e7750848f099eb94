"""The explorer's tables for one selection, computed from the cube (never from events).

A :class:`Query` names personas, a stage (or every stage), an emotion source, a window of
months, the minimum group size and whether to compare with all customers; :func:`select`
answers it from a :class:`cjresearch.analysis.cube.Cube` with tables shaped like the journey
map's (:mod:`cjresearch.analysis.journey_map`), so the charts of
:mod:`cjresearch.reporting.charts` draw them unchanged. For the whole observation period,
every emotion source and the study's minimum group size the figures equal the published
tables'.

Suppression follows the reports: every figure describing fewer than ``min_group_size``
customers is blanked (:func:`cjresearch.analysis.privacy.suppress`), across *every* persona before
the selected ones are picked, with the same secondary suppression, so that choosing
personas cannot reveal what the tables hide. Customers without a persona count in
``"all"`` only.

Differences from the published tables, stated in the explorer: ``reach`` and the funnel's
``share`` are of the persona's customers *active in the window* (with at least one event
there); emotion is each customer's mean over their observations in the window from the
chosen source; churn is churn by the end of observation, among the customers seen in the
window.

Pain points follow the one definition of the journey map, the reports and the published
``pain_points`` table (:mod:`cjresearch.analysis.journey_map.evidence`, summarised in the
README's "Journey maps"): the customers who met a touchpoint are compared with the stage's
other customers on churn, drop-off, their own emotion and session conversion, adjusted for
persona and the study's controls, pooled across touchpoints, and a touchpoint is a pain
point only when one of them shows harm beyond chance. The cube keeps, for every window, the
per-stratum counts that definition needs (:mod:`cjresearch.analysis.journey_map.windows`);
:func:`select` turns the window's counts into the definition's sums and calls the build's
own :func:`cjresearch.analysis.journey_map.evidence.pain_table` with the build's ``alpha``
and ``seed`` and the query's minimum group size, so for the whole observation period, all
customers and the study's minimum group size the explorer's pain points are the published
ones. In a window, customers count at a touchpoint when they met it there; churn and
drop-off are by the end of observation. Where no touchpoint has ``min_group_size`` customers
on both sides of any comparison in the window, the explorer says so and lists no pain
point; it never falls back to another rule. The window's pain-point table goes through the
published tables' disclosure pass (:func:`cjresearch.analysis.disclosure.protect`, which also
removes rows from which a small group could be recovered by differencing), and a pain point
is shown only where its touchpoint's figures are shown (the suppression above).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjresearch.analysis.cube import ALL_SOURCES, NO_PERSONA, Cube
from cjresearch.analysis.disclosure import protect
from cjresearch.analysis.intervals import t_interval, wilson_intervals
from cjresearch.analysis.journey_map.evidence import PAIN_POINT_COLUMNS, pain_table
from cjresearch.analysis.journey_map.windows import window_sums
from cjresearch.analysis.privacy import suppress, suppress_emotion
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError

__all__ = ["ALL", "TOP_PAIN_POINTS", "Query", "Selection", "select"]

#: Pain points per persona that the pane lists and quotes comments for.
TOP_PAIN_POINTS = 5
#: Windows (and minimum group sizes) whose pain points are kept: they depend on nothing else
#: of a query, and the definition's pooling is the dearest part of a selection.
PAIN_CACHE_SIZE = 32
_pain_cache: OrderedDict[tuple[int, int, int, int], tuple[Cube, pd.DataFrame, list[str]]] = (
    OrderedDict()
)
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
    pains, pain_notes = _pain_points(rows, touchpoints, m)
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
    shown_pains = (
        selection.tables["pain_points"].groupby("persona", sort=False).head(TOP_PAIN_POINTS)
    )
    selection.tables["verbatims"] = _verbatims(cube, shown_pains, a, b)
    selection.notes += pain_notes
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
    mean, low, high, _ = t_interval(total, squares, n_e, bounds=(-1.0, 1.0))
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
    frame = suppress_emotion(frame, min_group_size=m)
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
        out = suppress_emotion(out, min_group_size=m)
    figures = ["n_customers", "n_events", "share", *(["n_churned"] if source is not None else [])]
    return _suppressed(out, m, "n_customers", figures, ["stage", column])


def _pain_points(rows: _Rows, touchpoints: pd.DataFrame, m: int) -> tuple[pd.DataFrame, list[str]]:
    """The shown pain points of the window (module docstring), and what to tell the
    researcher when there are none."""
    key = (id(rows.cube), rows.a, rows.b, m)
    found = _pain_cache.get(key)
    if found is None or found[0] is not rows.cube:
        found = (rows.cube, *_judged(rows, m))
        _pain_cache[key] = found
        while len(_pain_cache) > PAIN_CACHE_SIZE:
            _pain_cache.popitem(last=False)
    _pain_cache.move_to_end(key)
    _, table, notes = found
    if table.empty:
        return table, list(notes)
    hidden = touchpoints.loc[touchpoints["suppressed"].astype(bool)]
    hidden_keys = set(
        zip(hidden["persona"], hidden["stage"].astype(str), hidden["touchpoint"], strict=True)
    )
    keys = zip(table["persona"], table["stage"].astype(str), table["touchpoint"], strict=True)
    shown = np.array([k not in hidden_keys for k in keys], dtype=bool)
    return table[shown].reset_index(drop=True), list(notes)


def _judged(rows: _Rows, m: int) -> tuple[pd.DataFrame, list[str]]:
    """Every group's pain points in the window by the journey map's definition, through the
    published tables' disclosure pass, ranked within each group; or none and why."""
    cube = rows.cube
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in PAIN_POINT_COLUMNS})
    pain = cube.pain
    if pain is None:
        note = (
            "This build's explorer data predate the pain-point evidence, so no pain point is "
            "listed here: rebuild the study (`cjresearch build --force`) to see them."
        )
        return empty, [note]
    labels = list(pain["labels"])
    row_of = {label: i for i, label in enumerate(rows.labels)}
    stratum_row = np.array(
        [row_of.get(labels[g], -1) if g > 0 else -1 for g in pain["stratum_group"]],
        dtype=np.int64,
    )
    counts = {
        name[len("pain_") :]: array[..., rows.a, rows.b]
        for name, array in cube.arrays.items()
        if name.startswith("pain_")
    }
    sums = window_sums(
        counts,
        stratum_row=stratum_row,
        labels=rows.labels,
        stages=cube.stages,
        touchpoints=[(str(s), str(t)) for s, t in pain["touchpoints"]],
        stage_touchpoints=np.asarray(pain["stage_touchpoints"], dtype=np.float64),
        min_group_size=m,
    )
    table = pain_table(
        sums,
        min_group_size=m,
        alpha=float(pain["alpha"]),
        seed=int(pain["seed"]),
        group_order=rows.labels,
    )
    judged = table.filter(like="_adjusted_ci_low").notna().any(axis=1)
    if not judged.any():
        note = (
            f"No touchpoint has {m} or more customers on both sides of a comparison in "
            f"{cube.periods[rows.a]}..{cube.periods[rows.b]}, so the pain-point rule cannot "
            "judge any: widen the window to see pain points."
        )
        return empty, [note]
    n_customers = int(cube.arrays["persona_size"].sum())
    table = protect({"pain_points": table}, min_group_size=m, n_customers=n_customers)[0][
        "pain_points"
    ]
    pains = table[table["is_pain_point"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    return pains.reset_index(drop=True)[list(PAIN_POINT_COLUMNS)], []


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
