"""An attacker with every published table: tries to read, subtract or look up a count of
fewer than ``k`` customers. Written apart from :mod:`cjresearch.analysis.disclosure` (on
purpose in another style) so that a test of one is not a copy of the other."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd

PERSONA_COLUMNS = ("persona", "persona_name")
CELL_COLUMNS = ("stage", "touchpoint", "channel")
GROUP_COLUMNS = (
    "stage",
    "touchpoint",
    "channel",
    "level",
    "from_stage",
    "from_touchpoint",
    "to_stage",
    "to_touchpoint",
    "kind",
    "item",
    "path",
    "tercile",
    "model",
    "source",
    "feature",
    "step",
)
NOT_PEOPLE = {"n_stages", "n_parameters", "n_tests", "n_imputations", "n_lags"}


def counts(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c.startswith("n_") and c not in NOT_PEOPLE and frame[c].dtype.kind in "iuf"
    ]


def leaks(tables: Mapping[str, pd.DataFrame], *, k: int, n_customers: int) -> list[str]:
    """Every way found to learn a count between 1 and k - 1; empty when none."""
    found: list[str] = []

    def check(value: float, what: str) -> None:
        if 0 < round(float(value)) < k:
            found.append(f"{what} = {value:g}")

    for name, frame in tables.items():
        for col in counts(frame):
            for i, value in frame[col].dropna().items():
                check(value, f"{name}[{i}].{col}")
        pairs = [("n_customers", "n_churned"), ("n_persona", "n_customers")]
        if name in {"logrank", "time_to_churn"}:
            pairs.append(("n_customers", "n_events"))
        for whole, part in pairs:
            if {whole, part} <= set(frame.columns):
                for i, value in (frame[whole] - frame[part]).dropna().items():
                    check(value, f"{name}[{i}].{whole} - {part}")
        for rate in ("churn_rate", "churn_rate_observed"):
            if {rate, "n_customers"} <= set(frame.columns):
                churned = (frame[rate] * frame["n_customers"]).round().dropna()
                for i, value in churned.items():
                    check(value, f"{name}[{i}].{rate} x n_customers")
                    check(frame["n_customers"][i] - value, f"{name}[{i}] stayers")
    filled = fill_from_twins(tables)
    for name, frame in filled.items():
        persona = next((c for c in PERSONA_COLUMNS if c in frame.columns), None)
        if persona is None:
            continue
        if name == "personas":
            check(n_customers - frame["n_customers"].sum(), "study total - persona sizes")
            continue
        keys = [c for c in GROUP_COLUMNS if c in frame.columns]
        is_all = frame[persona].astype(str) == "all"
        if not is_all.any():
            continue
        grouped = frame.groupby(keys, dropna=False) if keys else [((), frame)]
        for key, group in grouped:
            everyone = group[is_all[group.index]]
            members = group[~is_all[group.index]]
            if len(everyone) != 1:
                continue
            for col in counts(frame):
                if col == "n_at_risk" or pd.isna(everyone[col].iloc[0]):
                    continue
                rest = everyone[col].iloc[0] - members[col].sum(skipna=True)
                check(rest, f"{name}{key}: all - personas of {col}")
    return found


def fill_from_twins(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each table with its blank counts filled from another table showing the same cell."""
    out = {name: frame.copy() for name, frame in tables.items()}
    for (a, left), (_, right) in itertools.permutations(tables.items(), 2):
        keys = [c for c in (*PERSONA_COLUMNS, *CELL_COLUMNS) if c in left.columns]
        if not keys or keys != [c for c in (*PERSONA_COLUMNS, *CELL_COLUMNS) if c in right]:
            continue
        for col in set(counts(left)) & set(counts(right)):
            donor = right.dropna(subset=[col]).drop_duplicates(keys)[[*keys, col]]
            donor = donor.astype({key: str for key in keys})
            mine_keys = out[a][keys].astype(str)
            merged = mine_keys.merge(donor, on=keys, how="left")[col].to_numpy(float)
            mine = out[a][col].to_numpy(float)
            both = ~np.isnan(mine) & ~np.isnan(merged)
            if not both.any() or not np.array_equal(mine[both], merged[both]):
                continue  # not the same measure: the attacker cannot tell them apart
            blank = np.isnan(mine) & ~np.isnan(merged)
            out[a].loc[blank, col] = merged[blank]
    return out
