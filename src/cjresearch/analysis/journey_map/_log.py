"""The journey map's event log as integer codes, and the helpers its tables share (not API).

:func:`prepare` checks the events, customers and personas once and turns them into a
:class:`Log`: per event the customer, stage, touchpoint and channel codes (sorted by customer
and time), per customer the group (persona) and churn, per customer and stage the first and
last event time, per customer the stratum (persona by the study's controls) that pain points
are adjusted within, and per event its session when the study has sessions. Every table of
:mod:`cjresearch.analysis.journey_map` is computed from it
with ``numpy.bincount`` over these codes; memory grows with the events plus customers x
stages, never customers x touchpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import (
    check_stages,
    codes,
    customer_codes,
    nanoseconds,
    sorted_codes,
    stage_codes,
    time_order,
    touchpoint_codes,
    unique_ids,
)
from cjresearch.analysis.journey_map.evidence import strata
from cjresearch.analysis.journeys import session_codes
from cjresearch.analysis.settings import Settings
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError

__all__ = [
    "Log",
    "empty_frame",
    "prepare",
    "prepare_study",
    "ratio",
]


@dataclass(frozen=True)
class Log:
    """The event log and customers as integer codes (not API)."""

    stages: list[str]
    labels: list[str]  # group labels: "all", then persona names
    ids: pd.Index
    group: np.ndarray  # per customer: 0 without persona, 1..P the persona
    churned: np.ndarray  # per customer, bool
    customer: np.ndarray  # per event, sorted by customer and time (int64)
    stage: np.ndarray  # per event (int32, as touchpoint and channel)
    touchpoint: np.ndarray
    touchpoint_labels: pd.Index
    channel: np.ndarray | None
    channel_labels: pd.Index | None
    first: np.ndarray  # customers x stages: first event time (ns), int64 max if never
    last: np.ndarray
    reached: np.ndarray  # customers x stages, bool
    time: np.ndarray  # per event, ns, sorted with the events
    stratum: np.ndarray  # per customer: persona x controls (journey_map.evidence.strata)
    session: np.ndarray | None = None  # per event: session code, None without sessions

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def n_labels(self) -> int:
        """Touchpoint labels (at least 1, so that cell arithmetic never divides by 0)."""
        return max(len(self.touchpoint_labels), 1)

    def session_order(self) -> np.ndarray:
        """The order that sorts events by session and time (sessions need not be contiguous
        in customer-time order when a session_id column names them)."""
        if self.session is None:
            msg = "the study has no sessions"
            raise CJResearchError(msg)
        return np.lexsort((np.arange(len(self.session)), self.time, self.session))

    def group_sum(self, values: np.ndarray, customers: np.ndarray | None = None) -> np.ndarray:
        """Sum of per-row ``values`` by group (row 0 "all"); rows are customers or the given
        customer codes."""
        group = self.group if customers is None else self.group[customers]
        per = np.bincount(group, weights=values, minlength=self.n_groups)
        return np.concatenate([[per.sum()], per[1:]])

    def group_cells(
        self, cell: np.ndarray, n_cells: int, customers: np.ndarray, weights: Any = None
    ) -> np.ndarray:
        """(groups, n_cells) sums over rows with a cell index and a customer."""
        # a new array (take copies), built in place
        key = np.take(self.group, customers).astype(np.int64, copy=False)
        key *= n_cells
        key += cell
        per = np.bincount(key, weights=weights, minlength=self.n_groups * n_cells).reshape(
            self.n_groups, n_cells
        )
        per[0] = per.sum(axis=0)
        return per

    def group_stage_columns(self, n_inner: int) -> dict[str, Any]:
        """``persona`` and ``stage`` columns for a (groups x stages) grid, flattened in C
        order."""
        dtype = pd.CategoricalDtype(self.stages, ordered=True)
        return {
            "persona": pd.array(np.repeat(self.labels, n_inner), dtype="str"),
            "stage": pd.Categorical.from_codes(
                np.tile(np.arange(self.n_stages), self.n_groups), dtype=dtype
            ),
        }

    def complementary(self, keys: list[str]) -> list[str] | None:
        """The keys of secondary suppression across personas of one cell, so that a hidden
        persona count cannot be recovered as "all" minus the others (pointless with a single
        persona)."""
        return keys if self.n_groups > 2 else None


def prepare(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    stages: Sequence[str],
    personas: pd.DataFrame | None,
    controls: Sequence[str] = (),
    session_gap_minutes: float | None = None,
) -> Log:
    """The events, customers and personas checked and coded once (see :class:`Log`).

    ``controls`` are the customers' columns pain points are adjusted for; sessions come from
    the events' ``session_id`` or, without one, from ``session_gap_minutes``."""
    require_columns(events, ("customer_id", "timestamp", "touchpoint", "stage"), "events")
    require_columns(customers, ("customer_id", "churned"), "customers")
    stages = check_stages(stages)
    ids = unique_ids(customers)
    churned_raw = customers["churned"]
    if churned_raw.isna().any() or not pd.api.types.is_bool_dtype(churned_raw):
        msg = (
            f"customers 'churned' must be true/false with no missing values, found dtype "
            f"{churned_raw.dtype}; load the tables with cjresearch.load_tables"
        )
        raise CJResearchError(msg)
    churned = churned_raw.to_numpy(dtype=bool)
    labels, group = _persona_groups(personas, ids)

    customer = customer_codes(events, ids)
    # a study's stages, touchpoints and channels are far fewer than 2**31: int32 codes take
    # half the memory over a long log (keys that multiply by the customers are int64: the
    # customer codes are)
    stage = stage_codes(events, stages, "events").astype(np.int32)
    touchpoint, touchpoint_labels = touchpoint_codes(events, sort=True)
    touchpoint = touchpoint.astype(np.int32)
    time = nanoseconds(events["timestamp"], "events")
    channel: np.ndarray | None = None
    channel_labels: pd.Index | None = None
    if "channel" in events.columns:
        channel, channel_labels = sorted_codes(events["channel"])
        channel = channel.astype(np.int32)

    order = time_order(customer, time)
    if order is not None:
        customer, stage, touchpoint, time = (
            customer[order],
            stage[order],
            touchpoint[order],
            time[order],
        )
        if channel is not None:
            channel = channel[order]
    session_id = None
    if "session_id" in events.columns:
        session_id = events["session_id"] if order is None else events["session_id"].iloc[order]
    session = session_codes(customer, time, session_id, gap_minutes=session_gap_minutes)

    n_customers, n_stages = len(ids), len(stages)
    cell = customer * n_stages + stage
    size = n_customers * n_stages
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, cell, time)
    np.maximum.at(last, cell, time)
    reached = (np.bincount(cell, minlength=size) > 0).reshape(n_customers, n_stages)
    return Log(
        stages=stages,
        labels=labels,
        ids=ids,
        group=group,
        churned=churned,
        customer=customer,
        stage=stage,
        touchpoint=touchpoint,
        touchpoint_labels=touchpoint_labels,
        channel=channel,
        channel_labels=channel_labels,
        first=first.reshape(n_customers, n_stages),
        last=last.reshape(n_customers, n_stages),
        reached=reached,
        time=time,
        stratum=strata(customers.reset_index(drop=True), group, tuple(controls)),
        session=session,
    )


def prepare_study(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    personas: pd.DataFrame | None,
    settings: Settings,
) -> Log:
    """:func:`prepare` with the study's stages, controls and sessions from ``settings``."""
    return prepare(
        events,
        customers,
        stages=settings.require_stages(),
        personas=personas,
        controls=settings.controls,
        session_gap_minutes=settings.session_gap_minutes,
    )


def _persona_groups(personas: pd.DataFrame | None, ids: pd.Index) -> tuple[list[str], np.ndarray]:
    if personas is None:
        return [ALL], np.zeros(len(ids), dtype=np.int64)
    require_columns(personas, ("customer_id", "persona_id", "persona_name"), "personas")
    if personas["customer_id"].duplicated().any():
        repeated = personas["customer_id"][personas["customer_id"].duplicated()].head(5).tolist()
        msg = f"personas has more than one row for a customer, e.g. {repeated}"
        raise CJResearchError(msg)
    if personas[["persona_id", "persona_name"]].isna().any().any():
        msg = "personas has missing persona_id or persona_name values"
        raise CJResearchError(msg)
    names = (
        personas[["persona_id", "persona_name"]]
        .drop_duplicates()
        .assign(persona_name=lambda f: f["persona_name"].astype(str))
    )
    if names["persona_id"].duplicated().any() or names["persona_name"].duplicated().any():
        msg = "personas must give each persona_id exactly one persona_name, and names must differ"
        raise CJResearchError(msg)
    if (names["persona_name"] == ALL).any():
        msg = f"a persona may not be named {ALL!r}: that label stands for all customers"
        raise CJResearchError(msg)
    names = names.sort_values("persona_id", kind="stable").reset_index(drop=True)
    code_of = pd.Series(np.arange(1, len(names) + 1), index=pd.Index(names["persona_id"]))
    position = codes(personas["customer_id"], ids)
    if (position < 0).any():
        unknown = personas["customer_id"][position < 0].head(5).tolist()
        msg = f"personas names customers not in customers, e.g. {unknown}"
        raise CJResearchError(msg)
    group = np.zeros(len(ids), dtype=np.int64)
    group[position] = code_of.reindex(personas["persona_id"].to_numpy()).to_numpy(dtype=np.int64)
    return [ALL, *names["persona_name"].tolist()], group


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """A table without rows: float64 columns of these names."""
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
