"""The event log as integer codes, for journeys, the journey map and the cube (not API).

Every analysis over events turns ids, stages and touchpoints into integer positions once and
then counts with ``numpy.bincount``; these are the conversions and their checks, written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from cjresearch.errors import CJResearchError

__all__ = [
    "NS_PER_DAY",
    "check_stages",
    "codes",
    "customer_codes",
    "factorize",
    "nanoseconds",
    "sorted_codes",
    "stage_codes",
    "time_order",
    "touchpoint_codes",
    "unique_ids",
]

NS_PER_DAY = 86_400 * 10**9


def check_stages(stages: Sequence[str]) -> list[str]:
    """The stages as a list; a string, an empty list or a repeated stage is an error."""
    if isinstance(stages, str):
        msg = f"stages must be a sequence of stage names, found the string {stages!r}"
        raise CJResearchError(msg)
    stages = list(stages)
    if not stages:
        msg = "stages is empty; pass the study's stages in order"
        raise CJResearchError(msg)
    if len(set(stages)) != len(stages):
        dupes = sorted({s for s in stages if stages.count(s) > 1})
        msg = f"stages must be unique, found {dupes} more than once"
        raise CJResearchError(msg)
    return stages


def codes(values: pd.Series, index: pd.Index | Sequence[object]) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 for missing or unknown), as int64."""
    index = index if isinstance(index, pd.Index) else pd.Index(index)
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Map the (few) categories once instead of hashing every row.
        return _category_lookup(values, index)[values.cat.codes.to_numpy()]
    # Hash each distinct value once (ids repeat over events): 5x faster on 2.7M events.
    value_codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    lookup = index.get_indexer(uniques).astype(np.int64)
    return np.where(value_codes >= 0, lookup[value_codes], -1)


#: Rows of a log handled at a time where a per-row int64 temporary would otherwise span the
#: whole log (213 MB at 26.6 million events, several at once).
SLICE_ROWS = 2_000_000


def sliced_codes(
    values: pd.Series, index: pd.Index | Sequence[object], rows: int
) -> Iterator[np.ndarray]:
    """:func:`codes` of ``rows`` values at a time, in order (a categorical's categories are
    looked up once): a log's codes without holding them all."""
    index = index if isinstance(index, pd.Index) else pd.Index(index)
    if isinstance(values.dtype, pd.CategoricalDtype):
        lookup = _category_lookup(values, index)
        category_codes = values.cat.codes.to_numpy()
        for start in range(0, len(values), rows):
            yield lookup[category_codes[start : start + rows]]
        return
    for start in range(0, len(values), rows):
        yield codes(values.iloc[start : start + rows], index)


def _category_lookup(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Each category's position in ``index`` (-1: not there), then -1, so that indexing it
    by the codes maps a missing value's code (-1) to -1."""
    return np.append(index.get_indexer(values.cat.categories).astype(np.int64), -1)


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing) and the labels they stand for (category order, else
    order of appearance)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), pd.Index(values.cat.categories)
    value_codes, labels = pd.factorize(values, use_na_sentinel=True)
    return value_codes.astype(np.int64), pd.Index(labels)


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and labels: category order, else sorted, so that the output does not
    depend on the order of the rows."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return factorize(values)
    value_codes, labels = pd.factorize(values, sort=True, use_na_sentinel=True)
    return value_codes.astype(np.int64), pd.Index(labels)


def unique_ids(customers: pd.DataFrame) -> pd.Index:
    """The customers' ids, which must be present and unique."""
    ids = pd.Index(customers["customer_id"])
    if ids.hasnans or not ids.is_unique:
        repeated = ids[ids.duplicated()].unique()[:5].tolist()
        msg = f"customers 'customer_id' must be unique and present; repeated: {repeated}"
        raise CJResearchError(msg)
    return ids


def customer_codes(events: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Each event's customer as a position in ``ids``; every event must have a known one."""
    customer = codes(events["customer_id"], ids)
    if (customer < 0).any():
        unknown = pd.unique(events["customer_id"][customer < 0].astype(object))[:5].tolist()
        msg = (
            f"events has {int((customer < 0).sum())} rows of customers not in customers "
            f"(or missing), e.g. {unknown}"
        )
        raise CJResearchError(msg)
    return customer


def stage_codes(events: pd.DataFrame, stages: list[str], name: str) -> np.ndarray:
    """Each row's stage as a position in ``stages``; every row must have one of them."""
    stage = codes(events["stage"], pd.Index(stages))
    bad = stage < 0
    if bad.any():
        unknown = pd.unique(events["stage"][bad].astype(object))[:8].tolist()
        msg = (
            f"{name} has stages that are not among the stages {stages}: {unknown}; "
            "every row needs one of the study's stages"
        )
        raise CJResearchError(msg)
    return stage


def touchpoint_codes(events: pd.DataFrame, *, sort: bool) -> tuple[np.ndarray, pd.Index]:
    """Each event's touchpoint as a code (:func:`sorted_codes` with ``sort``, else
    :func:`factorize`) and the labels; every event must have a touchpoint."""
    touchpoint, labels = (sorted_codes if sort else factorize)(events["touchpoint"])
    if (touchpoint < 0).any():
        msg = f"events has {int((touchpoint < 0).sum())} rows with a missing touchpoint"
        raise CJResearchError(msg)
    return touchpoint, labels


def nanoseconds(timestamps: pd.Series, name: str) -> np.ndarray:
    """UTC nanoseconds since the epoch (naive timestamps are taken as UTC)."""
    if not pd.api.types.is_datetime64_any_dtype(timestamps):
        msg = f"{name} 'timestamp' must be datetimes, found dtype {timestamps.dtype}"
        raise CJResearchError(msg)
    index = pd.DatetimeIndex(timestamps)
    if index.hasnans:
        msg = f"{name} has {int(index.isna().sum())} rows with a missing timestamp"
        raise CJResearchError(msg)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return index.as_unit("ns").asi8


def time_order(customer: np.ndarray, time: np.ndarray) -> np.ndarray | None:
    """The order that sorts events by customer and time (ties keep their order in the log),
    or None when they are in that order already, as canonical events come."""
    if len(customer) < 2:
        return None
    same = customer[1:] == customer[:-1]
    ordered = bool(np.all(np.where(same, time[1:] >= time[:-1], customer[1:] > customer[:-1])))
    return None if ordered else np.lexsort((np.arange(len(time)), time, customer))
