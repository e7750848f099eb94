"""What changed between two builds: figures beyond chance, KPI statuses, personas; alerts.

Two measurements (:func:`cjresearch.analysis.kpis.measure`, one kept per build in the
history) are compared figure by figure, matched by ``key`` (a KPI by its name and
definition, a headline figure by metric, stage and persona id, which stay across rebuilds):

- a share (csat, conversion, churn rate, reach) by the two-proportion z-test
  (``statsmodels.stats.proportion.proportions_ztest``, pooled);
- a mean (nps, ces, emotion) by Welch's t-test from the two means, variances and counts
  (``scipy.stats.ttest_ind_from_stats``);
- every test of one comparison in one family, corrected together (Benjamini-Hochberg by
  default, ``[statistics] correction``); a change is beyond chance when its q-value is below
  ``[statistics] alpha``. Figures suppressed in either build are not compared.

The two builds' customers overlap (the same customers, more of them later); the tests treat
them as independent samples, which overstates the variance of the difference for a stable
population: they err towards "no change".

:func:`changes_table` lists the figures whose change is beyond chance, the KPIs whose status
changed and the personas born and died (:data:`CHANGE_COLUMNS`); unchanged data give an
empty table. :func:`alert_table` turns the changes that need someone's attention into
alerts (:data:`ALERT_COLUMNS`): a KPI newly missed (missed now, and not missed in the
previous build, or there was none) and any figure that worsened beyond chance (a KPI moving
away from its target, a journey-map figure dropping: reach, conversion, emotion; or churn
rising). :func:`kpi_table` is the published ``kpis`` table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportions_ztest

from cjresearch.analysis.kpis import FIGURE_COLUMNS, SHARE_METRICS, format_value
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import adjust_pvalues
from cjresearch.errors import CJResearchError

__all__ = [
    "ALERT_COLUMNS",
    "CHANGE_COLUMNS",
    "COMPARISON_COLUMNS",
    "KPI_COLUMNS",
    "alert_table",
    "changes_table",
    "compare",
    "kpi_table",
]

#: The published ``kpis`` table (``tables/kpis.csv``).
KPI_COLUMNS: tuple[str, ...] = (
    "kpi",
    "stage",
    "touchpoint",
    "persona",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n_customers",
    "target",
    "status",
    "owner",
    "previous_value",
    "change",
    "change_q_value",
)
#: What :func:`compare` adds to each current figure.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "key",
    "previous_value",
    "previous_status",
    "change",
    "test",
    "p_value",
    "q_value",
    "beyond_chance",
    "worse",
)
#: The published ``changes`` table (``tables/changes.csv``).
CHANGE_COLUMNS: tuple[str, ...] = (
    "kind",
    "kpi",
    "stage",
    "touchpoint",
    "persona",
    "metric",
    "previous_value",
    "value",
    "change",
    "test",
    "p_value",
    "q_value",
    "previous_status",
    "status",
    "previous_run_id",
    "description",
)
#: The fields of each alert (``alerts.json``).
ALERT_COLUMNS: tuple[str, ...] = (
    "kpi",
    "status",
    "value",
    "target",
    "previous_value",
    "owner",
    "message",
    "kind",
    "stage",
    "touchpoint",
    "persona",
    "metric",
    "ci_low",
    "ci_high",
    "n_customers",
    "previous_status",
    "change",
    "q_value",
    "previous_run_id",
)
#: Metrics where a lower value is the better one (for the figures without a target).
_LOWER_IS_BETTER = frozenset({"churn_rate", "ces"})


def _check(frame: pd.DataFrame, name: str) -> None:
    missing = [c for c in FIGURE_COLUMNS if c not in frame.columns]
    if missing:
        msg = f"{name} has no column(s) {missing}; pass cjresearch.analysis.kpis.measure output"
        raise CJResearchError(msg)


def _higher_is_better(metric: str, target: object) -> bool:
    if isinstance(target, str) and target.strip():
        return target.strip().startswith((">", "\u2265"))
    return metric not in _LOWER_IS_BETTER


def _proportion_p(x1: float, n1: float, x0: float, n0: float) -> float:
    pooled = (x1 + x0) / (n1 + n0)
    if pooled in (0.0, 1.0):
        return 1.0  # every customer alike in both builds
    _, p = proportions_ztest([x1, x0], [n1, n0])
    return float(p)


def _welch_p(m1: float, v1: float, n1: float, m0: float, v0: float, n0: float) -> float:
    if n1 < 2 or n0 < 2 or not (math.isfinite(v1) and math.isfinite(v0)):
        return math.nan
    if v1 == 0 and v0 == 0:
        return 1.0 if m1 == m0 else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sps.ttest_ind_from_stats(
            m1, math.sqrt(v1), n1, m0, math.sqrt(v0), n0, equal_var=False
        )
    return float(result.pvalue)


def compare(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    *,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Each current figure against the same figure of the previous build.

    Parameters
    ----------
    current, previous
        :func:`cjresearch.analysis.kpis.measure` outputs (the previous from the history),
        or None for ``previous`` when this is the first build.
    settings, **options
        A :class:`~cjresearch.analysis.settings.Settings` and/or its fields as keywords:
        ``alpha`` and ``correction`` (``"bh"`` or ``"holm"``).

    Returns
    -------
    pandas.DataFrame
        One row per current figure, in its order, with columns :data:`COMPARISON_COLUMNS`:
        ``key``, ``previous_value`` and ``previous_status`` (missing when the previous build
        had no such figure), ``change`` (current minus previous value), ``test``
        (``two-proportion z`` or ``Welch t``, where both values are shown), ``p_value``,
        ``q_value`` (over every figure tested), ``beyond_chance`` (``q_value < alpha``) and
        ``worse`` (beyond chance, and in the direction away from the target, or for the
        headline figures down, churn rate up).
    """
    settings = Settings.resolve(settings, **options)
    _check(current, "current")
    out = pd.DataFrame({"key": current["key"].astype(str).to_numpy()})
    out["previous_value"] = np.nan
    out["previous_status"] = pd.Series([None] * len(out), dtype=object)
    out["test"] = pd.Series([None] * len(out), dtype=object)
    p_values = np.full(len(out), np.nan)
    if previous is not None and not previous.empty:
        _check(previous, "previous")
        before = previous.drop_duplicates("key", keep="last").set_index("key")
        matched = before.reindex(out["key"])
        out["previous_value"] = matched["value"].astype("float64").to_numpy()
        statuses = matched["status"].astype(object).to_numpy()
        out["previous_status"] = [s if isinstance(s, str) else None for s in statuses]
        for i, (now, then) in enumerate(
            zip(current.itertuples(index=False), matched.itertuples(index=False), strict=True)
        ):
            if pd.isna(now.value) or pd.isna(then.value):
                continue
            if now.metric in SHARE_METRICS:
                if pd.isna(now.successes) or pd.isna(then.successes):
                    continue
                p_values[i] = _proportion_p(
                    float(now.successes),
                    float(now.n_customers),
                    float(then.successes),
                    float(then.n_customers),
                )
                out.loc[i, "test"] = "two-proportion z"
            else:
                p_values[i] = _welch_p(
                    float(now.value),
                    float(now.variance),
                    float(now.n_customers),
                    float(then.value),
                    float(then.variance),
                    float(then.n_customers),
                )
                out.loc[i, "test"] = None if math.isnan(p_values[i]) else "Welch t"
    out["change"] = current["value"].astype("float64").to_numpy() - out["previous_value"]
    out["p_value"] = p_values
    out["q_value"] = adjust_pvalues(p_values, method=settings.correction)
    out["beyond_chance"] = (out["q_value"] < settings.alpha).to_numpy()
    better_up = np.array(
        [
            _higher_is_better(m, t)
            for m, t in zip(current["metric"], current["target"], strict=True)
        ],
        dtype=bool,
    )
    went_down = (out["change"] < 0).to_numpy()
    went_up = (out["change"] > 0).to_numpy()
    out["worse"] = out["beyond_chance"].to_numpy() & np.where(better_up, went_down, went_up)
    return out[list(COMPARISON_COLUMNS)]


def kpi_table(current: pd.DataFrame, compared: pd.DataFrame) -> pd.DataFrame:
    """The published ``kpis`` table: each KPI with its status and its change since the
    previous build.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`KPI_COLUMNS`: ``kpi, stage, touchpoint, persona`` (``all`` for every
        customer), ``metric, value, ci_low, ci_high, n_customers, target, status`` (``met``,
        ``missed``, ``unclear`` or ``suppressed``), ``owner``, ``previous_value``,
        ``change`` and ``change_q_value`` (the q-value of the change, over every figure
        compared).
    """
    _check(current, "current")
    merged = _joined(current, compared)
    kpis = merged[merged["kind"] == "kpi"].reset_index(drop=True)
    return kpis.rename(columns={"q_value": "change_q_value"})[list(KPI_COLUMNS)]


def _joined(current: pd.DataFrame, compared: pd.DataFrame) -> pd.DataFrame:
    if (
        len(current) != len(compared)
        or not (
            current["key"].astype(str).to_numpy() == compared["key"].astype(str).to_numpy()
        ).all()
    ):
        msg = "compared must be compare(current, ...) of the same current figures"
        raise CJResearchError(msg)
    return pd.concat(
        [current.reset_index(drop=True), compared.drop(columns="key").reset_index(drop=True)],
        axis=1,
    )


def _q(q: float) -> str:
    """A q-value as a sentence shows it (no scientific notation).

    >>> _q(2e-12), _q(0.0123)
    ('q < 0.001', 'q = 0.012')
    """
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def changes_table(
    current: pd.DataFrame,
    compared: pd.DataFrame,
    *,
    previous_run_id: str | None,
    personas: Sequence[tuple[int, str]] = (),
    previous_personas: Sequence[tuple[int, str]] | None = None,
) -> pd.DataFrame:
    """What changed since the previous build, one row per change.

    Parameters
    ----------
    current, compared
        :func:`cjresearch.analysis.kpis.measure` output and its :func:`compare` result.
    previous_run_id
        The build compared with; None when there was none (then nothing changed).
    personas, previous_personas
        ``(persona_id, persona_name)`` of this build's and the previous build's personas.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHANGE_COLUMNS`. ``kind`` is ``kpi_change`` or ``map_change`` (a KPI
        or a headline figure whose change is beyond chance, with its ``test``, ``p_value``
        and ``q_value``), ``kpi_status`` (a KPI whose status changed, significant or not),
        ``persona_birth`` or ``persona_death``; ``description`` says it in a sentence. Empty
        when nothing changed or there was no previous build.
    """
    columns = list(CHANGE_COLUMNS)
    if previous_run_id is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    merged = _joined(current, compared)
    rows: list[dict[str, object]] = []
    for r in merged[merged["beyond_chance"]].itertuples(index=False):
        verb = "rose" if r.change > 0 else "fell"
        rows.append(
            {
                **_figure_fields(r),
                "kind": f"{r.kind}_change",
                "description": (
                    f"{r.kpi} {verb} from {format_value(r.metric, r.previous_value)} to "
                    f"{format_value(r.metric, r.value)} (n = {r.n_customers:,}); beyond chance "
                    f"({r.test} test, {_q(r.q_value)})"
                ),
            }
        )
    kpis = merged[merged["kind"] == "kpi"]
    for r in kpis.itertuples(index=False):
        if r.previous_status is None or r.previous_status == r.status:
            continue
        rows.append(
            {
                **_figure_fields(r),
                "kind": "kpi_status",
                "description": (
                    f"{r.kpi} is now {r.status} (was {r.previous_status}): "
                    f"{format_value(r.metric, r.value)} against the target {r.target}"
                ),
            }
        )
    if previous_personas is not None:
        before, now = dict(previous_personas), dict(personas)
        for pid, name in now.items():
            if pid not in before:
                rows.append(_persona_row("persona_birth", pid, name, "appeared"))
        for pid, name in before.items():
            if pid not in now:
                rows.append(_persona_row("persona_death", pid, name, "no longer appears"))
    frame = pd.DataFrame(rows, columns=columns)
    frame["previous_run_id"] = previous_run_id
    return frame.astype({"value": "float64", "previous_value": "float64", "change": "float64"})


def _figure_fields(r: object) -> dict[str, object]:
    """The columns a change row takes from its figure."""
    return {c: getattr(r, c) for c in CHANGE_COLUMNS if hasattr(r, c)}


def _persona_row(kind: str, pid: int, name: str, what: str) -> dict[str, object]:
    return {
        "kind": kind,
        "kpi": None,
        "persona": name,
        "description": f"Persona {pid} ({name}) {what}",
    }


def alert_table(
    current: pd.DataFrame,
    compared: pd.DataFrame,
    *,
    previous_run_id: str | None,
    owners: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """The alerts of a build: KPIs newly missed and figures that worsened beyond chance.

    Parameters
    ----------
    current, compared
        :func:`cjresearch.analysis.kpis.measure` output and its :func:`compare` result.
    previous_run_id
        The build compared with (None: the first build, where a missed KPI is new).
    owners
        Stage -> owner, for the headline figures (a KPI has its own owner).

    Returns
    -------
    pandas.DataFrame
        One row per alert, KPIs first, with columns :data:`ALERT_COLUMNS`: ``kpi`` (the KPI's
        name, or the headline figure's), ``status``, ``value``, ``target``,
        ``previous_value``, ``owner``, ``message`` (a sentence naming the figure, what
        happened and the owner), ``kind`` (``kpi`` or ``map``), ``stage, touchpoint,
        persona, metric, ci_low, ci_high, n_customers, previous_status, change, q_value``
        and ``previous_run_id``.
    """
    merged = _joined(current, compared)
    owners = dict(owners or {})
    rows = []
    for r in merged.itertuples(index=False):
        missed = r.kind == "kpi" and r.status == "missed" and r.previous_status != "missed"
        # a headline figure alerts for all customers; a persona's drop is listed in the
        # changes (a KPI can watch one persona)
        worse = r.worse and (r.kind == "kpi" or pd.isna(r.persona_id))
        if not (missed or worse):
            continue
        owner = r.owner if r.kind == "kpi" else owners.get(str(r.stage))
        rows.append(
            {
                **{c: getattr(r, c) for c in ALERT_COLUMNS if hasattr(r, c)},
                "owner": owner,
                "q_value": r.q_value,
                "previous_run_id": previous_run_id,
                "message": _alert_message(r, missed=missed, worse=worse, owner=owner),
            }
        )
    return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))


def _alert_message(r: object, *, missed: bool, worse: bool, owner: str | None) -> str:
    def get(field: str) -> Any:
        return getattr(r, field)

    metric, name = get("metric"), get("kpi")
    now = format_value(metric, get("value"))
    parts = []
    if missed:
        interval = (
            f" (95% interval {format_value(metric, get('ci_low'))} to "
            f"{format_value(metric, get('ci_high'))}, n = {get('n_customers'):,})"
        )
        was = (
            "first measurement"
            if get("previous_status") is None
            else f"was {format_value(metric, get('previous_value'))}, {get('previous_status')}"
        )
        parts.append(f"{name} misses its target {get('target')}: {now}{interval}; {was}")
    if worse:
        verb = "rose" if get("change") > 0 else "fell"
        parts.append(
            f"{name if not missed else 'it'} {verb} from "
            f"{format_value(metric, get('previous_value'))} to {now}, beyond chance "
            f"({_q(get('q_value'))})"
        )
    who = f"Owner: {owner}." if owner else "No owner is named in the study file."
    return "; ".join(parts) + ". " + who
