"""Profiles: describe personas by size, churn and the traits that set them apart.

:func:`persona_table` gives one row per persona (size, share, churn rate with a Wilson
interval from :func:`cjresearch.analysis.intervals.wilson_intervals`, stability).
:func:`persona_traits` lists, per persona, the features on which it differs most from
everyone else, as standardised differences. :func:`persona_names` turns those traits into
short descriptive names ("Phone-first, support-heavy").

Standardised difference
-----------------------
For persona ``p`` and feature ``x``, with ``m_p, s_p, n_p`` the mean, sample standard
deviation (``ddof=1``) and count of the non-missing values of ``x`` inside ``p`` and
``m_r, s_r, n_r`` the same for the rest of the customers (everyone not in ``p``)::

    pooled_sd = sqrt(((n_p - 1) * s_p**2 + (n_r - 1) * s_r**2) / (n_p + n_r - 2))
    std_diff  = (m_p - m_r) / pooled_sd          (0 when pooled_sd == 0)

i.e. Cohen's d of the persona against the rest. A feature with fewer than two non-missing
values in the persona or in the rest is skipped for that persona.

Names are plain text; escape them when publishing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.intervals import wilson_intervals
from cjresearch.analysis.verbatims import comment_pool, n_quotable, pick, scored
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError

__all__ = [
    "PERSONA_TABLE_COLUMNS",
    "PROFILE_COLUMNS",
    "TRAIT_COLUMNS",
    "VERBATIM_COLUMNS",
    "persona_names",
    "persona_table",
    "persona_traits",
    "persona_verbatims",
    "usage_profile",
]

PERSONA_TABLE_COLUMNS: tuple[str, ...] = (
    "persona_id",
    "persona_name",
    "n_customers",
    "share",
    "churn_rate",
    "churn_ci_low",
    "churn_ci_high",
    "stability",
)
VERBATIM_COLUMNS: tuple[str, ...] = (
    "persona_id",
    "persona_name",
    "rank",
    "text",
    "text_emotion",
    "persona_median_emotion",
    "n_customers_with_text",
)
PROFILE_COLUMNS: tuple[str, ...] = (
    "persona_id",
    "persona_name",
    "kind",
    "item",
    "value",
    "n_customers",
)
TRAIT_COLUMNS: tuple[str, ...] = (
    "persona_id",
    "feature",
    "persona_value",
    "overall_value",
    "std_diff",
    "direction",
    "rank",
)


# --- Persona table ----------------------------------------------------------------------


def _check_labels(labels: pd.Series, name: str = "labels") -> pd.Series:
    if not isinstance(labels, pd.Series):
        msg = f"{name} must be a pandas Series indexed by customer_id; got {type(labels).__name__}."
        raise CJResearchError(msg)
    if labels.index.has_duplicates:
        dup = labels.index[labels.index.duplicated()].unique().tolist()[:5]
        msg = f"{name} index (customer_id) must be unique; repeated: {dup}."
        raise CJResearchError(msg)
    if labels.isna().any():
        missing = labels.index[labels.isna()].tolist()[:5]
        msg = f"{name} has missing persona labels, e.g. for customers {missing}."
        raise CJResearchError(msg)
    try:
        as_int = labels.astype("int64")
    except (TypeError, ValueError) as exc:
        msg = f"{name} must hold integer persona ids; got dtype {labels.dtype}."
        raise CJResearchError(msg) from exc
    if not (as_int.astype(float) == labels.astype(float)).all():
        msg = f"{name} must hold integer persona ids; found non-integer values."
        raise CJResearchError(msg)
    return as_int


def _check_same_customers(a: pd.Index, b: pd.Index, a_name: str, b_name: str) -> None:
    only_a = a.difference(b)
    only_b = b.difference(a)
    if len(only_a) or len(only_b):
        msg = (
            f"{a_name} and {b_name} must cover the same customers; "
            f"{len(only_a)} only in {a_name} (e.g. {only_a[:5].tolist()}), "
            f"{len(only_b)} only in {b_name} (e.g. {only_b[:5].tolist()})."
        )
        raise CJResearchError(msg)


def _check_known_ids(mapping: Mapping[int, Any], known: list[int], what: str) -> None:
    unknown = sorted(set(mapping) - set(known), key=str)
    if unknown:
        msg = f"{what} names unknown persona id(s) {unknown}; known persona ids: {known}."
        raise CJResearchError(msg)


def persona_table(
    labels: pd.Series,
    churned: pd.Series,
    *,
    stability: Mapping[int, float] | None = None,
    names: Mapping[int, str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per persona: size, share, churn rate with its Wilson interval, stability.

    Parameters
    ----------
    labels
        Integer persona id per customer, indexed by ``customer_id`` (unique). Not modified.
    churned
        Churn flag per customer (bool or 0/1, no missing values), indexed by
        ``customer_id``; must cover exactly the customers of ``labels`` (order may differ).
    stability
        Optional persona id -> stability score (e.g. bootstrap Jaccard); NaN where absent.
    names
        Optional persona id -> name; ``"Persona <id>"`` where absent.
    confidence
        Coverage of the churn interval.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, sorted by ``persona_id``, columns ``persona_id`` (int),
        ``persona_name``, ``n_customers``, ``share`` (of all customers), ``churn_rate``,
        ``churn_ci_low``, ``churn_ci_high`` (Wilson), ``stability``.

    Raises
    ------
    CJResearchError
        Labels are not integers or have missing values, an index repeats, the two
        indexes hold different customers, ``churned`` is not binary, or ``stability`` /
        ``names`` name unknown persona ids.

    Examples
    --------
    >>> labels = pd.Series([0, 0, 1, 1], index=list("abcd"))
    >>> churned = pd.Series([True, False, False, False], index=list("abcd"))
    >>> persona_table(labels, churned)[["persona_id", "n_customers", "churn_rate"]]
       persona_id  n_customers  churn_rate
    0           0            2         0.5
    1           1            2         0.0
    """
    ids = _check_labels(labels)
    if not isinstance(churned, pd.Series):
        msg = (
            f"churned must be a pandas Series indexed by customer_id; got {type(churned).__name__}."
        )
        raise CJResearchError(msg)
    if churned.index.has_duplicates:
        msg = "churned index (customer_id) must be unique."
        raise CJResearchError(msg)
    _check_same_customers(labels.index, churned.index, "labels", "churned")
    flags = churned.reindex(labels.index)
    if flags.isna().any() or not flags.isin([0, 1, True, False]).all():
        bad = flags[flags.isna() | ~flags.isin([0, 1, True, False])].head(5).tolist()
        msg = f"churned must be boolean or 0/1 with no missing values; found e.g. {bad}."
        raise CJResearchError(msg)
    flags = flags.astype(bool)
    known = sorted(int(i) for i in ids.unique())
    _check_known_ids(stability or {}, known, "stability")
    _check_known_ids(names or {}, known, "names")

    grouped = flags.groupby(ids.to_numpy()).agg(["size", "sum"]).sort_index()
    n = grouped["size"].to_numpy(dtype="int64")
    k = grouped["sum"].to_numpy(dtype="int64")
    low, high = wilson_intervals(k, n, confidence=confidence)
    return pd.DataFrame(
        {
            "persona_id": np.asarray(known, dtype="int64"),
            "persona_name": [(names or {}).get(i, f"Persona {i}") for i in known],
            "n_customers": n,
            "share": n / n.sum(),
            "churn_rate": k / n,
            "churn_ci_low": low,
            "churn_ci_high": high,
            "stability": [float((stability or {}).get(i, np.nan)) for i in known],
        },
        columns=list(PERSONA_TABLE_COLUMNS),
    )


# --- Traits -----------------------------------------------------------------------------


def _numeric_features(features: pd.DataFrame, id_col: str) -> pd.DataFrame:
    """Every feature as a float column; categoricals as one 0/1 indicator per level."""
    out: dict[str, pd.Series] = {}
    for col in features.columns:
        if col == id_col:
            continue
        values = features[col]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[str(col)] = values.astype("float64")
        else:
            present = values.notna()
            levels = sorted({str(v) for v in values[present]})
            text = values.astype("string")
            for level in levels:
                indicator = (text == level).astype("float64")
                out[f"{col}={level}"] = indicator.where(present.to_numpy(), np.nan)
    return pd.DataFrame(out, index=features.index)


def usage_profile(
    features: pd.DataFrame,
    assignments: pd.DataFrame,
) -> pd.DataFrame:
    """Channel and stage profile of every persona, and of all customers.

    Parameters
    ----------
    features
        The output of :func:`cjresearch.analysis.journeys.customer_features` (``customer_id``,
        ``channel_share_<c>`` and ``reached_<s>`` columns are used). Not modified.
    assignments
        ``customer_id, persona_id, persona_name`` for the same customers.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, columns ``persona_id`` (Int64; missing for all customers),
        ``persona_name`` (``"all"`` for all customers), ``kind`` (``"channel"``: the mean
        share of the customers' events on that channel; ``"stage"``: the share of the
        customers who reached that stage), ``item`` (channel or stage, in the features'
        order), ``value`` and ``n_customers`` (the group's size).
    """
    if "customer_id" not in features.columns:
        msg = f"features has no 'customer_id' column; found {list(features.columns)}"
        raise CJResearchError(msg)
    merged = features.merge(
        assignments[["customer_id", "persona_id", "persona_name"]], on="customer_id", how="inner"
    )
    if len(merged) != len(features):
        msg = (
            f"assignments cover {len(merged)} of the {len(features)} customers in features; "
            "pass the assignments of the same build"
        )
        raise CJResearchError(msg)
    columns = {
        **{
            c: ("channel", c.removeprefix("channel_share_"))
            for c in features.filter(like="channel_share_").columns
        },
        **{
            c: ("stage", c.removeprefix("reached_"))
            for c in features.filter(like="reached_").columns
        },
    }
    values = merged[list(columns)].astype(np.float64)
    groups = [
        (pd.NA, ALL, values),
        *(
            (pid, str(name), values[merged["persona_id"].to_numpy() == pid])
            for pid, name in merged[["persona_id", "persona_name"]]
            .drop_duplicates()
            .sort_values("persona_id")
            .itertuples(index=False)
        ),
    ]
    rows = [
        {
            "persona_id": pid,
            "persona_name": name,
            "kind": kind,
            "item": item,
            "value": float(frame[column].mean()),
            "n_customers": len(frame),
        }
        for pid, name, frame in groups
        for column, (kind, item) in columns.items()
    ]
    out = pd.DataFrame(rows, columns=list(PROFILE_COLUMNS))
    return out.astype({"persona_id": "Int64", "n_customers": "int64"})


def persona_verbatims(
    feedback: pd.DataFrame | None,
    assignments: pd.DataFrame,
    *,
    per_persona: int = 3,
    min_group_size: int = 10,
    cx_lexicon: bool = True,
) -> pd.DataFrame:
    """Representative comments of each persona, redacted, with no customer id.

    Quoted by the rule of :mod:`cjresearch.analysis.verbatims`: a persona's comments are
    scored on the emotion scale (:func:`cjresearch.analysis.emotion.score_texts`, with
    ``cx_lexicon``); the representative ones are those closest to the persona's median score
    (the typical voice, not the loudest), one per customer, distinct texts only. A persona
    whose comments come from fewer than ``min_group_size`` customers gets none: a handful of
    comments would describe, and might identify, too few people. Texts are redacted with
    :func:`cjresearch.analysis.privacy.redact` before they are compared, so two comments
    differing only in an e-mail address count once.

    Parameters
    ----------
    feedback
        Canonical feedback (``customer_id``, ``text``); None or no text gives no rows.
    assignments
        ``customer_id, persona_id, persona_name``.
    per_persona
        How many comments per persona.
    min_group_size
        Fewest distinct customers with a comment for a persona to be quoted.
    cx_lexicon
        Score with the customer-experience lexicon (as the study's ``[emotion]``).

    Returns
    -------
    pandas.DataFrame
        RangeIndex, columns :data:`VERBATIM_COLUMNS`: ``persona_id, persona_name, rank``
        (1 = closest to the median), ``text`` (redacted), ``text_emotion``,
        ``persona_median_emotion``, ``n_customers_with_text``.
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in VERBATIM_COLUMNS})
    comments = comment_pool(feedback)
    if comments is None:
        return empty
    rows = comments[["customer_id", "text"]].merge(
        assignments[["customer_id", "persona_id", "persona_name"]], on="customer_id"
    )
    if rows.empty:
        return empty
    rows = scored(
        rows.assign(raw=rows["text"].astype(str)),
        cx_lexicon=cx_lexicon,
        customer_ids=assignments["customer_id"],
    )
    parts = []
    for (pid, name), group in rows.groupby(["persona_id", "persona_name"], sort=True):
        n_customers = n_quotable(group["customer_id"], min_group_size=min_group_size)
        if n_customers is None:
            continue
        picked = pick(group, most_negative=0, typical=per_persona, typical_rule="one per customer")
        parts.append(
            pd.DataFrame(
                {
                    "persona_id": pid,
                    "persona_name": name,
                    "rank": np.arange(1, len(picked) + 1),
                    "text": picked["text"].to_numpy(),
                    "text_emotion": picked["text_emotion"].to_numpy(),
                    "persona_median_emotion": float(group["text_emotion"].median()),
                    "n_customers_with_text": n_customers,
                }
            )
        )
    if not parts:
        return empty
    return pd.concat(parts, ignore_index=True)[list(VERBATIM_COLUMNS)]


def persona_traits(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    top: int = 5,
    id_col: str = "customer_id",
) -> pd.DataFrame:
    """What sets each persona apart from everyone else, strongest traits first.

    Parameters
    ----------
    features
        One row per customer: ``id_col`` plus feature columns (e.g. the output of
        :func:`cjresearch.analysis.journeys.customer_features`). Numeric and boolean columns are
        used as they are; every other column is categorical and contributes one 0/1
        indicator per level, named ``<col>=<level>`` (missing stays missing). Not modified.
    labels
        Integer persona id per customer, indexed by customer id; must cover exactly the
        customers of ``features``. At least two personas.
    top
        How many traits to keep per persona (by ``|std_diff|``).
    id_col
        The customer id column of ``features``.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, sorted by ``persona_id`` then ``rank``, columns ``persona_id``,
        ``feature``, ``persona_value`` (mean in the persona, ignoring NaN),
        ``overall_value`` (mean over all customers, ignoring NaN), ``std_diff`` (persona
        mean minus mean of the rest, over the pooled SD; see the module docstring),
        ``direction`` (``"higher"`` when ``std_diff >= 0``, else ``"lower"``) and
        ``rank`` (1..``top`` within persona; ties keep the feature order).

    Raises
    ------
    CJResearchError
        ``top < 1``, ``id_col`` is missing or repeats, labels are invalid or cover other
        customers than ``features``, or there are fewer than two personas.
    """
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        msg = f"top must be a positive integer; got {top!r}."
        raise CJResearchError(msg)
    if id_col not in features.columns:
        msg = (
            f"features has no '{id_col}' column; found {list(features.columns)}. "
            "Pass id_col= to name the customer id column."
        )
        raise CJResearchError(msg)
    if features[id_col].duplicated().any():
        msg = f"features column '{id_col}' must be unique (one row per customer)."
        raise CJResearchError(msg)
    ids = _check_labels(labels)
    _check_same_customers(pd.Index(features[id_col]), labels.index, "features", "labels")
    personas = sorted(int(i) for i in ids.unique())
    if len(personas) < 2:
        msg = f"persona_traits needs at least two personas to compare; got {personas}."
        raise CJResearchError(msg)

    matrix = _numeric_features(features, id_col)
    values = matrix.to_numpy(dtype="float64")
    group = ids.reindex(pd.Index(features[id_col])).to_numpy()
    counts = (~np.isnan(values)).sum(axis=0)
    totals = np.nansum(values, axis=0)
    overall = np.divide(totals, counts, out=np.full(totals.shape, np.nan), where=counts > 0)
    rows: list[dict[str, Any]] = []
    for persona in personas:
        inside = group == persona
        found: list[dict[str, Any]] = []
        for j, name in enumerate(matrix.columns):
            a = values[inside, j]
            b = values[~inside, j]
            a = a[~np.isnan(a)]
            b = b[~np.isnan(b)]
            if len(a) < 2 or len(b) < 2:
                continue
            pooled_var = ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (
                len(a) + len(b) - 2
            )
            pooled_sd = math.sqrt(max(pooled_var, 0.0))
            diff = float(a.mean() - b.mean())
            d = diff / pooled_sd if pooled_sd > 0 else 0.0
            found.append(
                {
                    "persona_id": persona,
                    "feature": name,
                    "persona_value": float(a.mean()),
                    "overall_value": float(overall[j]),
                    "std_diff": d,
                    "direction": "higher" if d >= 0 else "lower",
                }
            )
        found.sort(key=lambda r: -abs(r["std_diff"]))  # stable: ties keep feature order
        for rank, row in enumerate(found[:top], start=1):
            rows.append({**row, "rank": rank})
    out = pd.DataFrame(rows, columns=list(TRAIT_COLUMNS))
    return out.astype(
        {
            "persona_id": "int64",
            "feature": "object",
            "persona_value": "float64",
            "overall_value": "float64",
            "std_diff": "float64",
            "direction": "object",
            "rank": "int64",
        }
    )


# --- Names ------------------------------------------------------------------------------


def _phrase(feature: str, direction: str) -> str:
    """The vocabulary of :func:`persona_names` (see there)."""
    higher = direction == "higher"
    if feature.startswith("channel_share_"):
        channel = feature.removeprefix("channel_share_")
        return f"{channel.capitalize()}-first" if higher else f"little {channel}"
    if feature == "reached_support" and higher:
        return "support-heavy"
    if feature in {"events_per_30_days", "n_events"}:
        return "highly active" if higher else "occasional"
    if feature.startswith("events_") and higher:
        return f"heavy {feature.removeprefix('events_')}"
    if feature.startswith("emotion_"):
        stage = feature.removeprefix("emotion_")
        return f"happy at {stage}" if higher else f"unhappy at {stage}"
    if feature == "age":
        return "older" if higher else "younger"
    if "=" in feature and higher:
        col, level = feature.split("=", 1)
        return f"{level} {col}"
    return f"{feature} {direction}"


def _suffix(i: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(ord("A") + r) + letters
    return letters


def persona_names(
    traits: pd.DataFrame, *, overrides: Mapping[int, str] | None = None
) -> dict[int, str]:
    """A short descriptive name per persona, from its top traits.

    Each trait (feature, direction) becomes a phrase:

    ========================  =========  ==========================
    feature                   direction  phrase
    ========================  =========  ==========================
    ``channel_share_<c>``     higher     ``<C>-first`` (``Phone-first``)
    ``channel_share_<c>``     lower      ``little <c>``
    ``reached_support``       higher     ``support-heavy``
    ``events_per_30_days``    higher     ``highly active``
    ``events_per_30_days``    lower      ``occasional``
    ``n_events``              higher     ``highly active``
    ``n_events``              lower      ``occasional``
    ``events_<stage>``        higher     ``heavy <stage>``
    ``emotion_<stage>``       higher     ``happy at <stage>``
    ``emotion_<stage>``       lower      ``unhappy at <stage>``
    ``age``                   higher     ``older``
    ``age``                   lower      ``younger``
    ``<col>=<level>``         higher     ``<level> <col>`` (``premium plan``)
    anything else             either     ``<feature> <direction>``
    ========================  =========  ==========================

    The name joins the first two distinct phrases by rank with ``", "``, first letter
    upper-cased. A persona without traits is ``"Persona <id>"``. Personas that would
    share a name get `` (A)``, `` (B)``, ... appended in persona id order. Names are plain
    text (no HTML escaping).

    Parameters
    ----------
    traits
        Output of :func:`persona_traits` (needs ``persona_id``, ``feature``,
        ``direction``, ``rank``). Not modified.
    overrides
        Persona id -> name (from the study file's ``[personas.names]``), replacing the
        generated names.

    Returns
    -------
    dict of int to str
        Persona id -> name, in persona id order; names are unique.

    Raises
    ------
    CJResearchError
        ``traits`` lacks a column, an override names an unknown persona id, or the
        overrides make two names equal.

    Examples
    --------
    >>> traits = pd.DataFrame({
    ...     "persona_id": [0, 0, 1],
    ...     "feature": ["channel_share_phone", "reached_support", "age"],
    ...     "direction": ["higher", "higher", "lower"],
    ...     "rank": [1, 2, 1],
    ... })
    >>> persona_names(traits)
    {0: 'Phone-first, support-heavy', 1: 'Younger'}
    """
    required = ["persona_id", "feature", "direction", "rank"]
    missing = [c for c in required if c not in traits.columns]
    if missing:
        msg = (
            f"traits lacks column(s) {missing}; found {list(traits.columns)}. "
            "Pass the output of persona_traits."
        )
        raise CJResearchError(msg)
    ordered = traits.sort_values(["persona_id", "rank"], kind="stable")
    generated: dict[int, str] = {}
    for persona, group in ordered.groupby("persona_id", sort=True):
        phrases: list[str] = []
        for feature, direction in zip(group["feature"], group["direction"], strict=True):
            phrase = _phrase(str(feature), str(direction))
            if phrase not in phrases:
                phrases.append(phrase)
            if len(phrases) == 2:
                break
        name = ", ".join(phrases) or f"Persona {persona}"
        generated[int(persona)] = name[:1].upper() + name[1:]

    counts: dict[str, int] = {}
    for name in generated.values():
        counts[name] = counts.get(name, 0) + 1
    seen: dict[str, int] = {}
    unique: dict[int, str] = {}
    for persona in sorted(generated):
        name = generated[persona]
        if counts[name] > 1:
            unique[persona] = f"{name} ({_suffix(seen.get(name, 0))})"
            seen[name] = seen.get(name, 0) + 1
        else:
            unique[persona] = name

    overrides = overrides or {}
    _check_known_ids(overrides, sorted(unique), "overrides")
    final = {p: str(overrides.get(p, n)) for p, n in unique.items()}
    clash = sorted({n for n in final.values() if list(final.values()).count(n) > 1})
    if clash:
        msg = f"persona names must be unique; after the overrides {clash} name several personas."
        raise CJResearchError(msg)
    return final
