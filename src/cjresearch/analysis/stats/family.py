"""One declared family for everything published as a finding, and which estimates are findings.

:func:`declare_family` replaces the q-values that each table computed over its own tests
(what a table made alone carries) with a hierarchy that holds across the published findings:

1. **Stage level, one family.** The all-customers test of every stage in every model (landmark
   logit, lagged Cox, log-rank) and every stage's persona x emotion heterogeneity test are
   corrected together (``correction``: Benjamini-Hochberg or Holm) and share one family name.
2. **Persona level, only where personas differ.** A persona-specific estimate is tested only
   at a stage whose heterogeneity test rejects at level 1 (q < ``alpha``). There, the persona
   rows of the three models are corrected together and their q-values multiplied by
   ``m / R`` (``m`` stages tested for heterogeneity, ``R`` of them rejecting), which keeps the
   false discovery rate over the selected stages at ``alpha`` (Benjamini and Bogomolov 2014,
   "Selective inference on multiple families of hypotheses"). Elsewhere persona rows have no
   q-value and no finding: the finding speaks of all customers.

A row is a ``finding`` when its q-value is below ``alpha`` and, for the logit, the joint
model (net of earlier stages, non-response imputed) agrees: its interval lies on the same
side of 1. A stage whose association collapses as the lag grows (flag ``lag_sensitive``, see
:mod:`cjresearch.analysis.stats.lags`) makes no finding in that model. The journey map's
stage-level opportunities, the opportunity sizing and the findings' solid sentences come only
from rows where ``finding`` is True.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import join_flags
from cjresearch.data.schema import ALL

__all__ = ["confirmed", "declare_family"]


def _label(correction: str) -> str:
    return "BH" if correction == "bh" else "Holm"


def declare_family(
    odds: pd.DataFrame,
    hazards: pd.DataFrame,
    logrank: pd.DataFrame,
    joint: pd.DataFrame,
    settings: Settings,
    *,
    lag_sensitive: Mapping[str, set[str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The ``emotion_churn``, ``time_to_churn`` and ``logrank`` tables with the hierarchy's
    q-values, family names, ``finding`` and ``lag_sensitive`` flags (see the module).

    ``lag_sensitive`` maps ``"landmark logit"`` and ``"lagged Cox"`` to their lag-sensitive
    stages.
    """
    odds, hazards, logrank = odds.copy(), hazards.copy(), logrank.copy()
    tables = (odds, hazards, logrank)
    correction, alpha = settings.correction, settings.alpha
    everyone = [t["persona"].astype(str).to_numpy() == ALL for t in tables]
    het = (
        odds[everyone[0]].drop_duplicates("stage").set_index("stage")["heterogeneity_p"]
        if "heterogeneity_p" in odds.columns
        else pd.Series(dtype=float)
    )
    het = het.astype(float)
    p = np.concatenate(
        [t.loc[e, "p_value"].to_numpy(dtype=float) for t, e in zip(tables, everyone, strict=True)]
        + [het.to_numpy()]
    )
    q = m.adjust(p, correction)
    family = f"findings: stage tests for all customers ({int(np.isfinite(p).sum())} tests, "
    family += f"{_label(correction)})"
    start = _write(tables, everyone, q, family)
    het_q = pd.Series(q[start:], index=het.index)
    odds["heterogeneity_q"] = odds["stage"].astype(str).map(het_q).astype(float)
    _persona_level(tables, everyone, het, het_q, settings)
    sensitive = {k: set(v) for k, v in (lag_sensitive or {}).items()}
    for table, model in ((odds, "landmark logit"), (hazards, "lagged Cox")):
        stages = sensitive.get(model, set())
        hit = table["stage"].astype(str).isin(stages).to_numpy()
        table.loc[hit, "flags"] = [
            join_flags([*f.split(";"), "lag_sensitive"]) for f in table.loc[hit, "flags"]
        ]
        table["finding"] = (table["q_value"].to_numpy(dtype=float) < alpha) & ~hit
    odds["finding"] &= confirmed(odds, joint)
    return odds, hazards, logrank


def _persona_level(
    tables: tuple[pd.DataFrame, ...],
    everyone: list[np.ndarray],
    het: pd.Series,
    het_q: pd.Series,
    settings: Settings,
) -> None:
    """Persona rows' q-values, only at stages whose heterogeneity test rejects (in place)."""
    correction, alpha = settings.correction, settings.alpha
    tested = int(np.isfinite(het.to_numpy()).sum())
    selected = [str(s) for s in het_q.index[het_q.to_numpy() < alpha]]
    for table, e in zip(tables, everyone, strict=True):
        persona = ~e
        table.loc[persona, "q_value"] = np.nan
        if "family" in table.columns:
            table.loc[persona, "family"] = (
                "personas: not tested (the heterogeneity test found no difference at this stage)"
            )
    for stage in selected:
        where = [
            (~e) & (t["stage"].astype(str).to_numpy() == stage)
            for t, e in zip(tables, everyone, strict=True)
        ]
        p = np.concatenate(
            [t.loc[w, "p_value"].to_numpy(dtype=float) for t, w in zip(tables, where, strict=True)]
        )
        q = np.minimum(m.adjust(p, correction) * tested / len(selected), 1.0)
        family = (
            f"personas at {stage}, where personas differ ({int(np.isfinite(p).sum())} tests, "
            f"{_label(correction)} x {tested}/{len(selected)} selected stages)"
        )
        _write(tables, where, q, family)


def _write(
    tables: tuple[pd.DataFrame, ...], masks: list[np.ndarray], q: np.ndarray, family: str
) -> int:
    """Each table's rows under its mask take the next q-values and the family's name (in
    place); returns how many q-values were used."""
    start = 0
    for table, mask in zip(tables, masks, strict=True):
        table.loc[mask, "q_value"] = q[start : start + int(mask.sum())]
        if "family" in table.columns:
            table.loc[mask, "family"] = family
        start += int(mask.sum())
    return start


def confirmed(odds: pd.DataFrame, joint: pd.DataFrame) -> np.ndarray:
    """Per row of ``odds``, whether the joint model agrees: its interval for the same persona
    and stage lies on the same side of 1 as the odds ratio. All-customers rows need a joint
    estimate; persona rows need one only where the joint model has persona rows."""
    key = ["persona", "stage"]
    shown = joint.assign(persona=joint["persona"].astype(str), stage=joint["stage"].astype(str))
    found = shown.set_index(key)[["ci_low", "ci_high"]]
    merged = odds[key].astype(str).join(found, on=key)
    ratio = odds["odds_ratio"].to_numpy(dtype=float)
    low, high = merged["ci_low"].to_numpy(dtype=float), merged["ci_high"].to_numpy(dtype=float)
    agrees = np.where(ratio < 1, high < 1, low > 1) & np.isfinite(ratio)
    has_rows = shown["persona"].ne(ALL).any()
    no_joint = ~np.isfinite(low) | ~np.isfinite(high)
    persona = odds["persona"].astype(str).to_numpy() != ALL
    return np.where(persona & no_joint & ~has_rows, np.isfinite(ratio), agrees & ~no_joint)
