"""Pre-aggregated figures for every time window: what the explorer reads instead of events.

The explorer (:mod:`cjresearch.explore.widgets`) lets a researcher pick personas, a stage, an
emotion source and a window of months; every pane must update at once, on a study of a million
customers too. So a build aggregates the event log and the emotion observations once, for
*every* window of whole months, into small dense arrays; an interaction then only indexes
them.

The unit of every figure is the customer, as in the journey map's tables
(:mod:`cjresearch.analysis.journey_map`), so the explorer's figures for the whole observation period
equal the published ones:

- **reach**: customers with at least one event (at a stage, a touchpoint, a channel, or
  anywhere) inside the window, and how many of them churned;
- **emotion**: each customer's mean emotion over their observations inside the window (at a
  stage or a touchpoint, from one source or all), then the mean, sum of squares and count of
  those customer means, enough for a mean with its t interval for any union of personas;
- **events**: plain event counts.

Distinct customers are not additive over months (a customer active in March and April
counts once in March-April). The arrays are exact nonetheless, with no pass per window: a
customer whose observed months are ``p_1 < ... < p_k`` is in window ``[a, b]`` exactly when
the window holds a contiguous run ``p_i .. p_j`` of them, which happens for
``p_{i-1} < a <= p_i`` and ``p_j <= b < p_{j+1}``: a rectangle in the (a, b) plane. Each
customer adds one rectangle per run (for counts, only the run's first month matters, one
rectangle per observed month), and 2-d prefix sums of the rectangles' corners give every
window at once.

Arrays are indexed ``[..., a, b]`` with ``a <= b`` month indices (``periods``); cells with
``a > b`` are zero. They are an internal artifact (small counts are not suppressed here):
:mod:`cjresearch.explore.widgets` suppresses before showing anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._files import atomic_path
from cjresearch.analysis._codes import codes, factorize
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.verbatims import comment_pool, pick, scored
from cjresearch.errors import CJResearchError

__all__ = [
    "ALL_SOURCES",
    "CUBE_FILE",
    "NO_PERSONA",
    "Cube",
    "build_cube",
    "load_cube",
    "month_periods",
    "window_counts",
    "window_means",
]

CUBE_FILE = "explorer_cube.npz"
#: The cube's format: 2 added the pain-point pieces (:attr:`Cube.pain`); a cube without them
#: (format 1, no ``format`` in its metadata) still loads, with ``pain`` None.
CUBE_FORMAT = 2
VERBATIMS_FILE = "explorer_verbatims.parquet"
ALL_SOURCES = "all"
NO_PERSONA = "(no persona)"
#: Comments kept per persona, touchpoint and month (the most negative ones).
VERBATIMS_PER_CELL = 3


# --- the window arithmetic -----------------------------------------------------------------


def _rectangles(
    n_groups: int,
    n_periods: int,
    group: np.ndarray,
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    b_lo: np.ndarray,
    b_hi: np.ndarray | int,
    weight: np.ndarray,
) -> np.ndarray:
    """Sum of ``weight`` over rectangles ``a_lo..a_hi x b_lo..b_hi`` (inclusive), per group
    (``b_hi`` may be one period for every row)."""
    m = n_periods + 1
    size = n_groups * m * m
    out = np.zeros(size, dtype=np.float64)
    base = group.astype(np.int64)
    base *= m * m
    corners = ((a_lo, 0, b_lo, 0, 1.0), (a_hi, 1, b_lo, 0, -1.0), (a_lo, 0, b_hi, 1, -1.0),
               (a_hi, 1, b_hi, 1, 1.0))  # fmt: skip
    for a, a_shift, b, b_shift, sign in corners:
        # the corner's cell (group, a + a_shift, b + b_shift), built in place
        key = a.astype(np.int64)
        key += a_shift
        key *= m
        key += b
        key += base
        key += b_shift
        out += sign * np.bincount(key, weights=weight, minlength=size)
        del key
    grid = out.reshape(n_groups, m, m).cumsum(axis=1).cumsum(axis=2)
    return grid[:, :n_periods, :n_periods]


def _sorted_cells(
    group: np.ndarray, unit: np.ndarray, period: np.ndarray, n_periods: int, *, inverse: bool = True
) -> tuple[Any, ...]:
    """Distinct (group, unit, period) cells in order, with each cell's neighbours in time.

    Returns the cells' group, unit, period, the previous observed period of the same group
    and unit (-1 for the first), the next one (``n_periods`` for the last) and, for each
    input row, the index of its cell (None without ``inverse``: a sort in place of the keys,
    no index arrays, for counts that need no per-row values).
    """
    n_units = int(unit.max(initial=0)) + 1
    n_groups = int(group.max(initial=0)) + 1
    # int32 keys where they fit (half the memory and a faster sort than int64)
    wide = n_groups * n_units * n_periods >= np.iinfo(np.int32).max
    kind = np.dtype(np.int64 if wide else np.int32)
    key = group.astype(kind)  # a copy: the key is built (and then sorted) in place
    key *= n_units
    key += unit.astype(kind, copy=False)
    key *= n_periods
    key += period.astype(kind, copy=False)
    if inverse:
        cells, rows = _distinct(key)
    else:
        key.sort()
        cells, rows = key[_run_starts(key)], None
    del key
    # groups, units and periods each fit in int32 (their key may not): half the memory of
    # the five arrays over every cell, which the windows then hold
    small = np.int32
    owner = cells // n_periods
    p = (cells % n_periods).astype(small)
    del cells
    same = owner[1:] == owner[:-1]
    prev = np.concatenate((np.array([-1], dtype=small), p[:-1]))[: len(p)]
    prev[1:][~same] = -1
    nxt = np.concatenate((p[1:], np.array([n_periods], dtype=small)))[: len(p)]
    nxt[:-1][~same] = n_periods
    del same
    return (owner // n_units).astype(small), (owner % n_units).astype(small), p, prev, nxt, rows


def _run_starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts."""
    new = np.empty(len(ordered), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return new


def _distinct(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``key`` in order and each row's position among them: what
    ``np.unique(key, return_inverse=True)`` gives, with one argsort and no second pass."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = _run_starts(ordered)
    position = np.cumsum(new, dtype=np.int64) - 1
    inverse = np.empty(len(key), dtype=np.int64)
    inverse[order] = position
    return ordered[new], inverse


def window_counts(
    group: np.ndarray,
    unit: np.ndarray,
    period: np.ndarray,
    *,
    n_groups: int,
    n_periods: int,
    unit_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Distinct units with at least one row in each window, per group.

    Parameters
    ----------
    group, unit, period
        One value per row: group code in ``[0, n_groups)``, unit (customer) code >= 0 and
        period index in ``[0, n_periods)``.
    unit_weight
        Optional weight per unit code (e.g. 1 for churned customers): the sum of the
        weights of the distinct units instead of their number.

    Returns
    -------
    numpy.ndarray
        ``(n_groups, n_periods, n_periods)``; ``[g, a, b]`` counts the units of group ``g``
        seen in periods ``a..b``.

    Examples
    --------
    >>> counts = window_counts(np.array([0, 0, 0]), np.array([7, 7, 8]), np.array([0, 2, 1]),
    ...                        n_groups=1, n_periods=3)
    >>> counts[0].astype(int).tolist()   # unit 7 in months 0 and 2, unit 8 in month 1
    [[1, 2, 2], [0, 1, 2], [0, 0, 1]]
    """
    weights = [None if unit_weight is None else np.asarray(unit_weight, dtype=np.float64)]
    return _first_in_window(group, unit, period, n_groups, n_periods, weights)[0]


def _first_in_window(
    group: np.ndarray,
    unit: np.ndarray,
    period: np.ndarray,
    n_groups: int,
    n_periods: int,
    weights: Sequence[np.ndarray | None],
) -> list[np.ndarray]:
    """:func:`window_counts` for several unit weights (None: 1), sorting the cells once."""
    if len(group) == 0:
        return [np.zeros((n_groups, n_periods, n_periods)) for _ in weights]
    g, u, p, prev, _, _ = _sorted_cells(group, unit, period, n_periods, inverse=False)
    prev += 1  # the first period of each cell's windows
    last = n_periods - 1
    return [
        _rectangles(
            n_groups,
            n_periods,
            g,
            prev,
            p,
            p,
            last,
            np.ones(len(p)) if w is None else w[u],
        )
        for w in weights
    ]


def window_means(
    group: np.ndarray,
    unit: np.ndarray,
    period: np.ndarray,
    value: np.ndarray,
    *,
    n_groups: int,
    n_periods: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group and window: the units' means of ``value`` inside the window, summarised.

    Each unit's mean is over its rows inside the window; the result is the number of units
    with a row there, the sum of their means and the sum of their squared means, each
    ``(n_groups, n_periods, n_periods)``.

    Examples
    --------
    >>> n, total, _ = window_means(np.array([0, 0, 0]), np.array([1, 1, 2]),
    ...                            np.array([0, 1, 1]), np.array([1.0, 0.0, -1.0]),
    ...                            n_groups=1, n_periods=2)
    >>> n[0].astype(int).tolist(), total[0].tolist()   # unit 1: 1 in month 0, 0 in month 1
    ([[1, 2], [0, 2]], [[1.0, -0.5], [0.0, -1.0]])
    """
    shape = (n_groups, n_periods, n_periods)
    if len(group) == 0:
        return np.zeros(shape), np.zeros(shape), np.zeros(shape)
    g, _, p, prev, nxt, inverse = _sorted_cells(group, unit, period, n_periods)
    value = np.asarray(value, dtype=np.float64)
    cell_sum = np.bincount(inverse, weights=value, minlength=len(p))
    cell_n = np.bincount(inverse, minlength=len(p)).astype(np.float64)
    new_owner = prev == -1
    owner = np.cumsum(new_owner) - 1
    start = np.flatnonzero(new_owner)
    position = np.arange(len(p)) - start[owner]
    size = np.diff(np.append(start, len(p)))[owner]
    csum = np.concatenate(([0.0], np.cumsum(cell_sum)))
    cn = np.concatenate(([0.0], np.cumsum(cell_n)))
    n_out, s_out, q_out = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for length in range(int(size.max())):  # runs i..i+length of each unit's months
        first = np.flatnonzero(position + length < size)
        last = first + length
        mean = (csum[last + 1] - csum[first]) / (cn[last + 1] - cn[first])
        args = (n_groups, n_periods, g[first], prev[first] + 1, p[first], p[last], nxt[last] - 1)
        n_out += _rectangles(*args, np.ones(len(first)))
        s_out += _rectangles(*args, mean)
        q_out += _rectangles(*args, mean * mean)
    return n_out, s_out, q_out


def window_totals(
    group: np.ndarray,
    period: np.ndarray,
    *,
    n_groups: int,
    n_periods: int,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Rows per group in each window (plain counts, additive over months), or the sum of
    ``weight`` per row."""
    if len(group) == 0:
        return np.zeros((n_groups, n_periods, n_periods))
    # the (group, period) keys are dense and few: count them, no sort
    key = group.astype(np.int64) * n_periods + period
    every = np.bincount(key, weights=weight, minlength=n_groups * n_periods)
    cells = np.flatnonzero(every)  # a cell whose weights sum to 0 adds nothing
    counts = every[cells]
    g, p = cells // n_periods, cells % n_periods
    zero, last = np.zeros(len(p), dtype=np.int64), np.full(len(p), n_periods - 1)
    return _rectangles(n_groups, n_periods, g, zero, p, p, last, counts.astype(np.float64))


def month_periods(*timestamps: pd.Series) -> tuple[list[str], list[np.ndarray]]:
    """Whole calendar months (UTC) spanning the timestamps, and each timestamp's index."""
    present = [t for t in timestamps if len(t)]
    if not present:
        msg = "the study has no events: nothing to explore"
        raise CJResearchError(msg)
    months = [_month_number(t) for t in timestamps]
    start = min(int(m.min()) for m in months if len(m))
    end = max(int(m.max()) for m in months if len(m))
    labels = [f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(start, end + 1)]
    return labels, [m - start for m in months]


def _month_number(timestamps: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(timestamps, utc=True)
    return (stamps.dt.year.to_numpy() * 12 + stamps.dt.month.to_numpy() - 1).astype(np.int64)


# --- the cube ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cube:
    """Every explorer figure for every window of months (see the module docstring).

    Attributes
    ----------
    periods
        Month labels ``YYYY-MM``, in order; windows index into them.
    personas
        Persona labels by code (``persona_name``); the last is :data:`NO_PERSONA` when some
        customers have no persona.
    persona_ids
        Each persona code's ``persona_id`` (-1 for :data:`NO_PERSONA`).
    stages
        The study's stages, in order.
    sources
        :data:`ALL_SOURCES`, then the emotion sources present.
    touchpoints
        ``(stage, touchpoint)`` pairs, the touchpoint axis of the ``tp_*`` arrays.
    channels
        ``(stage, channel)`` pairs (empty when events have no channel).
    arrays
        ``active`` (persona), ``reach`` / ``reach_churned`` (persona, stage),
        ``emotion_n`` / ``emotion_sum`` / ``emotion_sumsq`` (persona, stage, source),
        ``tp_reach`` / ``tp_churned`` / ``tp_events`` (persona, touchpoint),
        ``tp_emotion_n`` / ``_sum`` / ``_sumsq`` (persona, touchpoint, source),
        ``ch_reach`` / ``ch_events`` (persona, channel), ``persona_size`` (persona): each
        followed by the two window axes except ``persona_size``.
    verbatims
        Redacted comments: ``persona, touchpoint`` (codes; -1 for none), ``stage`` (code),
        ``period``, ``text``, ``text_emotion``, at most :data:`VERBATIMS_PER_CELL` per persona,
        stage, touchpoint and month (the most negative). No customer ids.
    pain
        What the one definition of a pain point needs for every window (None in a cube of
        format 1, or built without settings): ``labels`` (``"all"``, then persona names),
        ``touchpoints`` (``(stage, touchpoint)`` pairs of its touchpoint axis),
        ``stratum_group`` (per stratum of persona by the study's controls, its index into
        ``labels``; 0 for customers without a persona), ``stage_touchpoints`` (per stage),
        and the settings the build judged pain points with (``min_group_size``, ``alpha``,
        ``seed``). Its arrays are ``pain_<piece>`` for each piece of
        :data:`cjresearch.analysis.journey_map.windows.PIECES` (``pain_se_n`` / ``_s`` /
        ``_ss`` for the means), (stratum, stage or touchpoint, a, b).
    """

    periods: tuple[str, ...]
    personas: tuple[str, ...]
    persona_ids: tuple[int, ...]
    stages: tuple[str, ...]
    sources: tuple[str, ...]
    touchpoints: tuple[tuple[str, str], ...]
    channels: tuple[tuple[str, str], ...]
    arrays: dict[str, np.ndarray] = field(repr=False)
    verbatims: pd.DataFrame = field(repr=False)
    pain: dict[str, Any] | None = field(default=None, repr=False)

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``explorer_cube.npz`` and ``explorer_verbatims.parquet`` atomically."""
        from cjresearch.data.tables import write_parquet

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "periods": self.periods,
            "personas": self.personas,
            "persona_ids": self.persona_ids,
            "stages": self.stages,
            "sources": self.sources,
            "touchpoints": self.touchpoints,
            "channels": self.channels,
            "format": CUBE_FORMAT,
            "pain": self.pain,
        }
        target = folder / CUBE_FILE
        with atomic_path(target) as temporary:  # keeps the .npz suffix numpy insists on
            np.savez_compressed(temporary, meta=np.array(json.dumps(meta)), **self.arrays)  # type: ignore[arg-type]
        return [target, write_parquet(self.verbatims, folder / VERBATIMS_FILE)]

    def persona_code(self, label: str) -> int:
        return self.personas.index(label)


def load_cube(folder: str | Path) -> Cube | None:
    """The cube saved in an artifacts folder, or None if there is none."""
    folder = Path(folder)
    path = folder / CUBE_FILE
    if not path.is_file() or not (folder / VERBATIMS_FILE).is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {name: data[name] for name in data.files if name != "meta"}
    return Cube(
        periods=tuple(meta["periods"]),
        personas=tuple(meta["personas"]),
        persona_ids=tuple(int(i) for i in meta["persona_ids"]),
        stages=tuple(meta["stages"]),
        sources=tuple(meta["sources"]),
        touchpoints=tuple((str(s), str(t)) for s, t in meta["touchpoints"]),
        channels=tuple((str(s), str(c)) for s, c in meta["channels"]),
        arrays=arrays,
        verbatims=pd.read_parquet(folder / VERBATIMS_FILE),
        pain=meta.get("pain"),
    )


class _Pairs:
    """The (stage, label) pairs met in some columns, sorted, and each row's pair index."""

    def __init__(self, stages: Sequence[str], columns: Sequence[tuple[np.ndarray, pd.Series]]):
        self.stages = list(stages)
        seen: set[str] = set()
        for _, values in columns:
            seen |= {str(v) for v in factorize(values)[1]}
        self.labels = pd.Index(sorted(seen))
        keys = [self._key(stage, values) for stage, values in columns]
        self.keys = np.unique(np.concatenate([k[k >= 0] for k in keys] or [np.array([], int)]))
        width = max(len(self.labels), 1)
        self.pairs = [(self.stages[k // width], str(self.labels[k % width])) for k in self.keys]

    def _key(self, stage: np.ndarray, values: pd.Series) -> np.ndarray:
        label = codes(values, self.labels)
        return np.where((stage >= 0) & (label >= 0), stage * max(len(self.labels), 1) + label, -1)

    def index(self, stage: np.ndarray, values: pd.Series) -> np.ndarray:
        """Each row's position in :attr:`pairs` (-1 for none)."""
        key = self._key(stage, values)
        position = np.searchsorted(self.keys, key)
        found = (key >= 0) & (position < len(self.keys))
        found[found] = self.keys[position[found]] == key[found]
        return np.where(found, position, -1)


def build_cube(
    *,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    observations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    stages: Sequence[str],
    feedback: pd.DataFrame | None = None,
    cx_lexicon: bool = True,
    settings: Settings | None = None,
) -> Cube:
    """Aggregate a study's canonical tables into a :class:`Cube`.

    Parameters
    ----------
    customers
        ``customer_id, churned``.
    events
        ``customer_id, timestamp, stage, touchpoint`` and optionally ``channel``.
    observations
        :func:`cjresearch.analysis.emotion.emotion_observations` output.
    assignments
        ``customer_id, persona_id, persona_name`` (one row per customer), or None.
    stages
        The study's stages, in order.
    feedback
        Canonical feedback with ``text`` (for the verbatims), or None.
    cx_lexicon
        Score the comments as the study does (``[emotion] text_lexicon``).
    settings
        The study's settings: with them the cube also keeps the pain-point pieces
        (:attr:`Cube.pain`, by the study's controls, sessions and thresholds).
    """
    stages = [str(s) for s in stages]
    ids = pd.Index(customers["customer_id"])
    churned = customers["churned"].to_numpy(dtype=np.float64)
    persona_ids, personas, persona_of = _persona_codes(assignments, ids)
    n_p, n_s = len(personas), len(stages)

    periods, (ev_period, ob_period) = month_periods(events["timestamp"], observations["timestamp"])
    ev_period = _small(ev_period)
    m = len(periods)
    ev_customer = _small(codes(events["customer_id"], ids))
    ob_customer = codes(observations["customer_id"], ids)
    ev_stage = _small(codes(events["stage"], stages))
    ob_stage = codes(observations["stage"], stages)
    has_tp = "touchpoint" in observations.columns
    tp_pairs = _Pairs(
        stages,
        [(ev_stage, events["touchpoint"])]
        + ([(ob_stage, observations["touchpoint"])] if has_tp else []),
    )
    ev_tp_all = _small(tp_pairs.index(ev_stage, events["touchpoint"]))
    ob_tp_all = (
        tp_pairs.index(ob_stage, observations["touchpoint"])
        if has_tp
        else np.full(len(observations), -1, dtype=np.int64)
    )
    if "channel" in events.columns:
        ch_pairs = _Pairs(stages, [(ev_stage, events["channel"])])
        ev_ch_all = _small(ch_pairs.index(ev_stage, events["channel"]))
    else:
        ch_pairs, ev_ch_all = None, np.full(len(events), -1, dtype=np.int32)
    ev_customer, ev_stage, ev_period, ev_tp, ev_ch = _kept(
        (ev_customer >= 0) & (ev_stage >= 0), ev_customer, ev_stage, ev_period, ev_tp_all, ev_ch_all
    )
    del ev_tp_all, ev_ch_all
    keep_ob = (ob_customer >= 0) & (ob_stage >= 0) & observations["emotion"].notna().to_numpy()
    ev_persona = persona_of.astype(np.int32)[ev_customer]
    obs = observations[keep_ob]
    ob_customer, ob_stage, ob_period = ob_customer[keep_ob], ob_stage[keep_ob], ob_period[keep_ob]
    ob_persona = persona_of[ob_customer]
    ob_value = obs["emotion"].to_numpy(dtype=np.float64)
    present = obs["source"].value_counts(sort=False)
    sources = [ALL_SOURCES, *[str(s) for s in present.index[present > 0]]]
    ob_source = codes(obs["source"], sources)
    touchpoints = tp_pairs.pairs
    ob_tp = ob_tp_all[keep_ob]
    channels = ch_pairs.pairs if ch_pairs is not None else []
    n_t, n_c, n_k = len(touchpoints), len(channels), len(sources)

    arrays: dict[str, np.ndarray] = {
        "persona_size": np.bincount(persona_of, minlength=n_p).astype(np.float64),
        "active": window_counts(ev_persona, ev_customer, ev_period, n_groups=n_p, n_periods=m),
    }
    g = ev_persona * n_s + ev_stage
    arrays["reach"], arrays["reach_churned"] = _first_in_window(
        g, ev_customer, ev_period, n_p * n_s, m, [None, churned]
    )
    observed = (ob_persona, ob_customer, ob_period, ob_value, ob_source)
    arrays |= _emotion_arrays("emotion", ob_stage, n_s, observed, n_p, n_k, m)

    g, customer, period = _kept(ev_tp >= 0, ev_persona * n_t + ev_tp, ev_customer, ev_period)
    args = (g, customer, period)
    arrays["tp_reach"], arrays["tp_churned"] = _first_in_window(
        *args, n_p * n_t, m, [None, churned]
    )
    arrays["tp_events"] = window_totals(g, period, n_groups=n_p * n_t, n_periods=m)
    del g, customer, period, args
    ok = ob_tp >= 0
    observed = tuple(column[ok] for column in observed)
    arrays |= _emotion_arrays("tp_emotion", ob_tp[ok], n_t, observed, n_p, n_k, m)

    arrays |= _channel_arrays(ev_ch, (ev_persona, ev_customer, ev_period), n_p, n_c, m)

    _shape_windows(arrays, n_p, n_s, n_t, n_c, m)
    # the per-event codes go before the pain-point pieces make their own
    del ev_customer, ev_stage, ev_period, ev_persona, ev_tp, ev_ch
    del ok, observed, ob_customer, ob_stage, ob_period, ob_persona, ob_value

    verbatims = _verbatims(feedback, ids, persona_of, stages, tp_pairs, m, periods, cx_lexicon)
    study = (customers, events, observations, assignments)
    pain = None if settings is None else _pain_arrays(arrays, *study, settings, periods[0], m)
    return Cube(
        periods=tuple(periods),
        personas=tuple(personas),
        persona_ids=tuple(persona_ids),
        stages=tuple(stages),
        sources=tuple(sources),
        touchpoints=tuple(touchpoints),
        channels=tuple(channels),
        arrays=arrays,
        verbatims=verbatims,
        pain=pain,
    )


def _small(codes: np.ndarray) -> np.ndarray:
    """Per-event codes as int32 (positions in a customers table or a list of stages, pairs
    or months: far below 2**31): half the memory of int64 over a log of tens of millions
    of events. Arithmetic on them stays int32 (group x n + code of a few groups); keys that
    multiply by the customers widen themselves (:func:`_sorted_cells`)."""
    return codes.astype(np.int32)


def _shape_windows(
    arrays: dict[str, np.ndarray], n_p: int, n_s: int, n_t: int, n_c: int, m: int
) -> None:
    """The event counts as (persona, stage, touchpoint or channel, first month, last month)."""
    shapes = {
        "active": (n_p,), "reach": (n_p, n_s), "reach_churned": (n_p, n_s),
        "tp_reach": (n_p, n_t), "tp_churned": (n_p, n_t), "tp_events": (n_p, n_t),
        "ch_reach": (n_p, n_c), "ch_events": (n_p, n_c),
    }  # fmt: skip
    for name, lead in shapes.items():
        arrays[name] = arrays[name].reshape(*lead, m, m)


def _kept(keep: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """The columns at the rows ``keep`` marks: the columns themselves (no copies) when it
    marks every row, as it does for a checked log."""
    return columns if keep.all() else tuple(column[keep] for column in columns)


def _pain_arrays(
    arrays: dict[str, np.ndarray],
    customers: pd.DataFrame,
    events: pd.DataFrame,
    observations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    settings: Settings,
    first_period: str,
    n_periods: int,
) -> dict[str, Any]:
    """Add the pain-point pieces of :mod:`cjresearch.analysis.journey_map.windows` for every
    window to ``arrays`` (the cube's, being built); return what they refer to
    (:attr:`Cube.pain`)."""
    from cjresearch.analysis.journey_map.windows import PIECES, pain_pieces

    pieces = pain_pieces(events, customers, observations, personas=assignments, settings=settings)
    start = int(first_period[:4]) * 12 + int(first_period[5:]) - 1
    n_k = pieces.n_strata
    sizes = {"stage": len(pieces.stages), "touchpoint": len(pieces.touchpoints)}
    periods: dict[int, np.ndarray] = {}  # by the month array: pieces share their rows

    def period_of(month: np.ndarray) -> np.ndarray:
        if id(month) not in periods:
            periods[id(month)] = np.clip(month - start, 0, n_periods - 1).astype(np.int32)
        return periods[id(month)]

    # distinct counts over the same rows differ only by their unit weights: one sort for all
    shared: dict[tuple[str, int, int, int], list[str]] = {}
    for name, (axis, how) in PIECES.items():
        group, unit, month, _ = pieces.rows[name]
        if how == "distinct":
            shared.setdefault((axis, id(group), id(unit), id(month)), []).append(name)
    for (along, *_), names in shared.items():
        group, unit, month, _ = pieces.rows[names[0]]
        weights = [pieces.rows[name][3] for name in names]
        unit = np.zeros(0, dtype=np.int64) if unit is None else unit
        n_groups = n_k * sizes[along]
        found = _first_in_window(group, unit, period_of(month), n_groups, n_periods, weights)
        shape = (n_k, sizes[along], n_periods, n_periods)
        for name, counted in zip(names, found, strict=True):
            arrays[f"pain_{name}"] = counted.reshape(shape)
    for name, (axis, how) in PIECES.items():
        group, unit, month, weight = pieces.rows[name]
        n_groups = n_k * sizes[axis]
        shape = (n_k, sizes[axis], n_periods, n_periods)
        if how == "means":
            values = np.ones(len(group)) if weight is None else weight
            none = np.zeros(0, dtype=np.int64)
            means = window_means(
                group, none if unit is None else unit, period_of(month), values,
                n_groups=n_groups, n_periods=n_periods,
            )  # fmt: skip
            for part, summed in zip(("n", "s", "ss"), means, strict=True):
                arrays[f"pain_{name}_{part}"] = summed.reshape(shape)
        elif how == "total":
            totals = window_totals(
                group, period_of(month), n_groups=n_groups, n_periods=n_periods, weight=weight
            )
            arrays[f"pain_{name}"] = totals.reshape(shape)
    pain = {
        "labels": list(pieces.labels),
        "touchpoints": [list(pair) for pair in pieces.touchpoints],
        "stratum_group": [int(g) for g in pieces.stratum_group],
        "stage_touchpoints": [float(n) for n in pieces.stage_touchpoints],
        "min_group_size": int(settings.min_group_size),
        "alpha": float(settings.alpha),
        "seed": int(settings.seed),
    }
    return pain


def _persona_codes(
    assignments: pd.DataFrame | None, ids: pd.Index
) -> tuple[list[int], list[str], np.ndarray]:
    """Persona ids and labels by code (:data:`NO_PERSONA` last when some customers have no
    persona), and each customer's code."""
    if assignments is not None and len(assignments):
        names = (
            assignments[["persona_id", "persona_name"]]
            .drop_duplicates("persona_id")
            .sort_values("persona_id")
        )
        persona_ids = [int(i) for i in names["persona_id"]]
        personas = [str(n) for n in names["persona_name"]]
        code = pd.Series(np.arange(len(persona_ids)), index=persona_ids)
        persona_of = np.full(len(ids), len(personas), dtype=np.int64)
        at = ids.get_indexer(assignments["customer_id"])
        persona_of[at[at >= 0]] = code.reindex(assignments["persona_id"][at >= 0]).to_numpy()
    else:
        persona_ids, personas = [], []
        persona_of = np.zeros(len(ids), dtype=np.int64)
    if (persona_of == len(personas)).any():
        personas.append(NO_PERSONA)
        persona_ids.append(-1)
    return persona_ids, personas, persona_of


def _channel_arrays(
    channel: np.ndarray,
    events: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_personas: int,
    n_channels: int,
    n_periods: int,
) -> dict[str, np.ndarray]:
    """``ch_reach`` and ``ch_events``, (persona x channel pair, a, b); empty without channels.
    ``events`` holds each event's persona, customer and period."""
    if not n_channels:
        return {name: np.zeros((0, n_periods, n_periods)) for name in ("ch_reach", "ch_events")}
    persona, customer, period = events
    g, customer, period = _kept(channel >= 0, persona * n_channels + channel, customer, period)
    n_groups = n_personas * n_channels
    return {
        "ch_reach": window_counts(g, customer, period, n_groups=n_groups, n_periods=n_periods),
        "ch_events": window_totals(g, period, n_groups=n_groups, n_periods=n_periods),
    }


def _emotion_arrays(
    prefix: str,
    inner: np.ndarray,
    n_inner: int,
    observed: tuple[np.ndarray, ...],
    n_personas: int,
    n_sources: int,
    n_periods: int,
) -> dict[str, np.ndarray]:
    """``<prefix>_n/_sum/_sumsq``, (persona, inner, source, a, b): customers' window means
    from every source (source 0, :data:`ALL_SOURCES`) and from each one."""
    persona, customer, period, value, source = observed
    group = persona * n_inner + inner
    shape = (n_personas, n_inner, n_sources, n_periods, n_periods)
    every = window_means(
        group, customer, period, value, n_groups=n_personas * n_inner, n_periods=n_periods
    )
    each = window_means(
        group * n_sources + source, customer, period, value,
        n_groups=n_personas * n_inner * n_sources, n_periods=n_periods,
    )  # fmt: skip
    out = {}
    for name, whole, by_source in zip(("n", "sum", "sumsq"), every, each, strict=True):
        cube = by_source.reshape(shape)
        cube[:, :, 0] = whole.reshape(shape[:2] + shape[3:])
        out[f"{prefix}_{name}"] = cube
    return out


_VERBATIM_COLUMNS = ("persona", "stage", "touchpoint", "period", "text", "text_emotion")


def _verbatims(
    feedback: pd.DataFrame | None,
    ids: pd.Index,
    persona_of: np.ndarray,
    stages: Sequence[str],
    tp_pairs: _Pairs,
    n_periods: int,
    periods: Sequence[str],
    cx_lexicon: bool,
) -> pd.DataFrame:
    """The most negative comments of every persona, stage, touchpoint and month, redacted, by
    the rule of :mod:`cjresearch.analysis.verbatims` (distinct as written)."""
    empty = pd.DataFrame(
        {
            "persona": pd.Series(dtype="int64"),
            "stage": pd.Series(dtype="int64"),
            "touchpoint": pd.Series(dtype="int64"),
            "period": pd.Series(dtype="int64"),
            "text": pd.Series(dtype=object),
            "text_emotion": pd.Series(dtype="float64"),
        }
    )
    rows = comment_pool(feedback)
    if rows is None:
        return empty
    customer = codes(rows["customer_id"], ids)
    stage = codes(rows["stage"], stages)
    month = _month_number(rows["timestamp"])
    start = int(periods[0][:4]) * 12 + int(periods[0][5:]) - 1
    period = month - start
    keep = (customer >= 0) & (stage >= 0) & (period >= 0) & (period < n_periods)
    if not keep.any():
        return empty
    rows = rows[keep]
    if "touchpoint" in rows.columns:
        tp = tp_pairs.index(stage[keep], rows["touchpoint"])
    else:
        tp = np.full(len(rows), -1, dtype=np.int64)
    pool = pd.DataFrame(
        {
            "persona": persona_of[customer[keep]],
            "stage": stage[keep],
            "touchpoint": tp,
            "period": period[keep],
            "raw": rows["text"].astype(str).reset_index(drop=True),
        }
    )
    picked = pick(
        scored(pool, cx_lexicon=cx_lexicon, customer_ids=ids),
        most_negative=VERBATIMS_PER_CELL,
        typical=0,
        by=["persona", "stage", "touchpoint", "period"],
        distinct_by="raw",
    )
    return picked[list(_VERBATIM_COLUMNS)]
