"""Native instruments: NPS, CSAT and CES in the units researchers and stakeholders use.

The emotion scale (-1 to +1) puts every signal on one axis; the instruments' own units are
what a CX team reports. :func:`instrument_summary` gives, per persona (and ``"all"``) and
per stage (and ``"all"`` stages), with n and a 95% interval:

=========  =========================================  ==========================================
measure    what                                       interval
=========  =========================================  ==========================================
``nps``    % promoters (9-10) - % detractors (0-6),   adjusted Wald (Rocks 2016: three
           from -100 to +100                          pseudo-answers, 3/4 promoter, 3/4
                                                      detractor, 3/2 passive), clipped
``csat``   % satisfied (4 or 5 of 1-5)                Wilson score
``ces``    mean effort score (1-7, low is easy)       Student's t
=========  =========================================  ==========================================

Each customer counts once per cell: their latest answer to the instrument at that stage (or,
for all stages, their latest anywhere), so that n is a number of customers like every other
n of a build and a customer who answers often does not weigh more. Cells that describe fewer
than ``min_group_size`` customers are suppressed (:func:`cjresearch.analysis.privacy.suppress`,
with the complementary rule across the personas of a stage and instrument).

Rocks, B. (2016). Interval estimation for the "net promoter score". *The American
Statistician* 70(4), 365-372.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import codes
from cjresearch.analysis.intervals import Z95, t_interval, wilson_intervals
from cjresearch.analysis.privacy import suppress
from cjresearch.data.schema import ALL

__all__ = ["INSTRUMENT_COLUMNS", "MEASURES", "instrument_summary", "nps_interval"]

#: Columns of ``tables/instruments.csv``.
INSTRUMENT_COLUMNS = (
    "persona",
    "stage",
    "instrument",
    "measure",
    "value",
    "ci_low",
    "ci_high",
    "n_customers",
    "share_top",
    "share_bottom",
    "suppressed",
)
#: instrument -> (measure, unit) of the summary.
MEASURES = {
    "nps": ("net promoter score", "points from -100 to +100"),
    "csat": ("% satisfied (4-5)", "percent"),
    "ces": ("mean effort (1-7, low is easy)", "score"),
}


def nps_interval(
    promoters: np.ndarray, detractors: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS (points, -100..100) with the adjusted-Wald 95% interval of Rocks (2016).

    >>> value, low, high = nps_interval(np.array([50]), np.array([20]), np.array([100]))
    >>> float(value[0]), round(float(low[0]), 1), round(float(high[0]), 1)
    (30.0, 14.1, 44.2)
    """
    promoters, detractors = np.asarray(promoters, float), np.asarray(detractors, float)
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100 * (promoters - detractors) / n
        adjusted = n + 3
        p = (promoters + 0.75) / adjusted
        d = (detractors + 0.75) / adjusted
        centre = p - d
        se = np.sqrt((p + d - centre**2) / adjusted)
    low = np.clip(100 * (centre - Z95 * se), -100, 100)
    high = np.clip(100 * (centre + Z95 * se), -100, 100)
    return value, low, high


def _sums(answers: pd.DataFrame, *, personas: bool) -> pd.DataFrame:
    """The sums of every persona x stage x instrument cell of customers' latest answers
    (``answers`` in time order), both the single personas (with ``personas``) and stages and
    ``"all"`` of each: one grouping at a time, each summed as soon as it is made (the four
    copies of the answers held at once took 130 MB at 100,000 customers)."""
    keys = ["persona", "stage", "instrument"]
    groupings = [["stage", "instrument"], ["instrument"]]
    if personas:
        groupings += [["persona", "stage", "instrument"], ["persona", "instrument"]]
    parts = []
    for by in groupings:
        latest = answers.drop_duplicates([*by, "customer_id"], keep="last")
        latest = latest.assign(**{k: ALL for k in keys if k not in by})
        parts.append(
            latest.groupby(keys, sort=False).agg(
                n_customers=("customer_id", "size"),
                top=("top", "sum"),
                bottom=("bottom", "sum"),
                total=("score", "sum"),
                total_sq=("sq", "sum"),
            )
        )
        del latest
    return pd.concat(parts).reset_index()


def _with_personas(answers: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The answers of customers with a persona, in order, with its name as ``persona``; ids
    compared as text. Looked up by position (an inner merge on text ids copied every
    answer's id as a string: the suppression step's peak at 1,000,000 customers)."""
    ids = pd.Index(assignments["customer_id"].astype(str))
    if not ids.is_unique:  # a customer in two personas: every pairing, as a join gives
        personas = assignments[["customer_id", "persona_name"]].astype(str)
        joined = answers.astype({"customer_id": str}).merge(personas, on="customer_id")
        return joined.rename(columns={"persona_name": "persona"})
    mine = answers["customer_id"]
    if isinstance(mine.dtype, pd.CategoricalDtype) and mine.cat.categories.astype(str).is_unique:
        mine = mine.cat.rename_categories(mine.cat.categories.astype(str))  # text once each
    else:
        mine = mine.astype(str)
    at = codes(mine, ids)
    names = assignments["persona_name"].astype(str).to_numpy()
    known = at >= 0
    return answers.loc[known].assign(persona=names[at[known]]).reset_index(drop=True)


def instrument_summary(
    feedback: pd.DataFrame | None,
    assignments: pd.DataFrame | None,
    *,
    stages: Sequence[str],
    min_group_size: int,
) -> pd.DataFrame:
    """NPS, CSAT and CES per persona and stage, with 95% intervals and n (module docstring).

    Parameters
    ----------
    feedback
        Canonical feedback: ``customer_id, timestamp, stage, instrument, score``; rows of
        other instruments are ignored. None: no feedback, an empty table.
    assignments
        ``customer_id, persona_name`` (None: everyone is ``"all"`` only).
    stages
        The study's stages, in order (rows follow it, ``"all"`` last).
    min_group_size
        Cells describing fewer customers are suppressed.

    Returns
    -------
    pandas.DataFrame
        :data:`INSTRUMENT_COLUMNS`: ``persona, stage, instrument`` (``nps``, ``csat``,
        ``ces``), ``measure`` (its words), ``value`` (NPS points, CSAT share satisfied in
        [0, 1], CES mean), ``ci_low, ci_high``, ``n_customers``, ``share_top`` (promoters;
        satisfied; easy, 1-3), ``share_bottom`` (detractors; dissatisfied, 1-2; hard, 5-7),
        ``suppressed``.
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in INSTRUMENT_COLUMNS})
    if feedback is None or feedback.empty:
        return empty.astype({"suppressed": bool})
    require_columns(
        feedback, ("customer_id", "timestamp", "stage", "instrument", "score"), "feedback"
    )
    answers = feedback.loc[
        feedback["instrument"].astype(str).isin(list(MEASURES)) & feedback["score"].notna(),
        ["customer_id", "timestamp", "stage", "instrument", "score"],
    ].astype({"stage": str, "instrument": str})
    if answers.empty:
        return empty.astype({"suppressed": bool})
    persona_order = {ALL: -1}
    if assignments is not None:
        if "persona_id" in assignments.columns:
            ids = assignments.drop_duplicates("persona_name").sort_values("persona_id")
            persona_order |= {str(p): i for i, p in enumerate(ids["persona_name"])}
        answers = _with_personas(answers, assignments)
    else:
        answers = answers.assign(persona=ALL)
    score = answers["score"].to_numpy(float)
    instrument = answers["instrument"].to_numpy()
    top = np.select(
        [instrument == "nps", instrument == "csat"], [score >= 9, score >= 4], score <= 3
    )
    bottom = np.select(
        [instrument == "nps", instrument == "csat"], [score <= 6, score <= 2], score >= 5
    )
    answers = answers.assign(top=top.astype(float), bottom=bottom.astype(float), sq=score**2)
    del score, instrument, top, bottom
    answers = answers.sort_values("timestamp", kind="stable")  # the latest answer is last
    sums = _sums(answers, personas=assignments is not None)
    del answers
    keys = ["persona", "stage", "instrument"]
    n = sums["n_customers"].to_numpy(float)
    value, low, high = nps_interval(sums["top"].to_numpy(), sums["bottom"].to_numpy(), n)
    c_low, c_high = wilson_intervals(sums["top"].to_numpy(), n)
    mean, e_low, e_high, _ = t_interval(
        sums["total"].to_numpy(float), sums["total_sq"].to_numpy(float), n
    )
    kind = sums["instrument"].to_numpy()
    out = sums[keys].assign(
        measure=[MEASURES[k][0] for k in kind],
        value=np.select([kind == "nps", kind == "csat"], [value, sums["top"] / n], mean),
        ci_low=np.select([kind == "nps", kind == "csat"], [low, c_low], e_low),
        ci_high=np.select([kind == "nps", kind == "csat"], [high, c_high], e_high),
        n_customers=n,
        share_top=sums["top"] / n,
        share_bottom=sums["bottom"] / n,
    )
    order = {s: i for i, s in enumerate([*stages, ALL])}
    out = out.assign(
        _s=out["stage"].map(order).fillna(len(order)),
        _p=out["persona"].map(persona_order).fillna(len(persona_order)),
        _i=out["instrument"].map({k: i for i, k in enumerate(MEASURES)}),
    ).sort_values(["_p", "persona", "_s", "_i"], kind="stable")
    out = out.drop(columns=["_s", "_p", "_i"]).reset_index(drop=True)
    published = suppress(
        out,
        min_group_size=min_group_size,
        columns=["value", "ci_low", "ci_high", "share_top", "share_bottom"],
        complementary_by=["stage", "instrument"],
    )
    return published[list(INSTRUMENT_COLUMNS)]
