"""Quoting customers: one rule for every comment a table, a report or the explorer shows.

A quote is drawn from a *pool*: the feedback comments (rows with a non-blank ``text``) of one
group of customers, such as a persona, the customers who met a pain point, or an explorer cell.

1. :func:`comment_pool` keeps the feedback rows that carry a comment;
2. :func:`scored` scores each comment on the emotion scale with the study's lexicon setting
   (:func:`cjresearch.analysis.emotion.score_texts` on the text as written, ``cx_lexicon``
   being ``[emotion] text_lexicon``) and redacts it (:func:`cjresearch.analysis.privacy.redact`);
3. :func:`n_quotable` is the privacy rule: a pool whose comments come from fewer than
   ``min_group_size`` distinct customers is not quoted from, since a handful of comments would
   describe, and might identify, too few people;
4. :func:`pick` quotes each text once (distinct texts) and picks the *most negative*
   comments (lowest score) and the *typical* ones (closest to the pool's median score).

What the tables pick differs, and each difference is a parameter of :func:`pick`:

- the journey map's ``verbatims`` (:mod:`cjresearch.analysis.journey_map.pain_points`): per
  pain point the most negative comment and two typical ones, among the distinct redacted
  texts (the median is theirs; ties keep the order of the feedback);
- the ``persona_verbatims`` (:func:`cjresearch.analysis.personas.profiles.persona_verbatims`):
  per persona the typical voice only, one comment per customer (``typical="one per
  customer"``: the median of all the persona's comments, each customer's comment closest to
  it, ties broken by text, then distinct texts);
- the explorer's cube (:mod:`cjresearch.analysis.cube`): the most negative comments of every
  persona, stage, touchpoint and month, distinct by the text *as written* (``distinct_by=
  "raw"``), with no pool-size rule of its own: the explorer quotes them only at the pain
  points it shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from cjresearch.analysis.emotion import score_texts
from cjresearch.analysis.privacy import redact

__all__ = ["KINDS", "comment_pool", "n_quotable", "pick", "scored"]

#: The ``kind`` of a picked comment.
KINDS: tuple[str, str] = ("most negative", "typical")


def comment_pool(feedback: pd.DataFrame | None) -> pd.DataFrame | None:
    """The feedback rows that carry a comment (a ``text`` that is neither missing nor blank).

    Returns
    -------
    pandas.DataFrame or None
        Those rows, as they are (index kept); None when there is no feedback or it has no
        ``text`` column.

    Examples
    --------
    >>> feedback = pd.DataFrame({"customer_id": ["a", "b", "c"], "text": ["slow", " ", None]})
    >>> comment_pool(feedback)["customer_id"].tolist()
    ['a']
    """
    if feedback is None or "text" not in feedback.columns:
        return None
    text = feedback["text"]
    present = text.notna().to_numpy() & (text.astype(str).str.strip() != "").to_numpy()
    return feedback[present]


def scored(
    pool: pd.DataFrame,
    *,
    cx_lexicon: bool,
    customer_ids: Iterable[object] | None,
    raw: str = "raw",
) -> pd.DataFrame:
    """The pool with each comment scored and redacted.

    Parameters
    ----------
    pool
        Comments, the text as written in column ``raw``. Not modified.
    cx_lexicon
        Score with the customer-experience lexicon on top of VADER (the study's
        ``[emotion] text_lexicon``).
    customer_ids
        The study's customer ids: a comment that names one quotes it as ``[id]``
        (:func:`cjresearch.analysis.privacy.redact`). Required, so that no caller forgets.
    raw
        The column of the comments as written.

    Returns
    -------
    pandas.DataFrame
        A copy with ``text_emotion`` (the score of the text as written, in [-1, 1]) and
        ``text`` (redacted) added.

    Examples
    --------
    >>> pool = pd.DataFrame({"raw": ["Call me on +44 20 7946 0958, it crashed"]})
    >>> scored(pool, cx_lexicon=True, customer_ids=None)["text"].tolist()
    ['Call me on [phone], it crashed']
    """
    texts = pool[raw]
    return pool.assign(
        text_emotion=score_texts(texts, cx_lexicon=cx_lexicon).to_numpy(dtype=np.float64),
        text=redact(texts, customer_ids=customer_ids).to_numpy(),
    )


def n_quotable(customers: pd.Series, *, min_group_size: int) -> int | None:
    """The number of distinct customers behind a pool, or None when they are too few to quote.

    Examples
    --------
    >>> n_quotable(pd.Series(["a", "a", "b"]), min_group_size=2), n_quotable(
    ...     pd.Series(["a", "a"]), min_group_size=2)
    (2, None)
    """
    n = int(customers.nunique())
    return n if n >= min_group_size else None


def pick(
    pool: pd.DataFrame,
    *,
    most_negative: int,
    typical: int,
    by: Sequence[str] = (),
    distinct_by: Literal["text", "raw"] = "text",
    typical_rule: Literal["distinct texts", "one per customer"] = "distinct texts",
    customer: str = "customer_id",
) -> pd.DataFrame:
    """Pick the comments to quote from each pool (see the module docstring for the rule).

    Parameters
    ----------
    pool
        Scored comments (:func:`scored`): ``text``, ``text_emotion``, the ``by`` columns and,
        for ``distinct_by="raw"``, ``raw`` or, for ``typical_rule="one per customer"``, the
        ``customer`` column. Its row order breaks ties (its index is not used). Not modified.
    most_negative, typical
        How many comments of each kind per pool.
    by
        Columns whose values define the pools (none: the whole frame is one pool).
    distinct_by
        Each ``text`` (redacted) once, or each comment as written (``"raw"``) once.
    typical_rule
        ``"distinct texts"``: the typical comments are the distinct texts (the most negative
        ones left out) closest to the median of the distinct texts' scores, ties in pool
        order. ``"one per customer"``: the median of all the pool's comments; each customer's
        comment closest to it (ties broken by text), then distinct texts.
    customer
        The customer column, for ``typical_rule="one per customer"``.

    Returns
    -------
    pandas.DataFrame
        The picked rows of ``pool`` (RangeIndex), pools in the order of their ``by`` values,
        within each the most negative comments (lowest score first) and then the typical ones
        (closest first), with ``kind`` (:data:`KINDS`), ``rank`` (1, 2, ... within the pool)
        and ``median_emotion`` (the median the typical comments are closest to).

    Examples
    --------
    >>> pool = pd.DataFrame({"text": ["awful", "fine", "fine", "good", "ok", "great"],
    ...                      "text_emotion": [-0.8, 0.2, 0.2, 0.5, 0.1, 0.9]})
    >>> pick(pool, most_negative=1, typical=2)[["text", "kind"]].to_numpy().tolist()
    [['awful', 'most negative'], ['fine', 'typical'], ['ok', 'typical']]
    """
    keys = list(by)
    frame = pool.reset_index(drop=True)
    frame["_pool"] = frame.groupby(keys, sort=True).ngroup() if keys else 0
    distinct = frame.drop_duplicates(["_pool", distinct_by])
    worst = distinct.sort_values(["_pool", "text_emotion"], kind="stable")
    worst = worst.groupby("_pool", sort=False).head(most_negative)
    if typical_rule == "distinct texts":
        median = distinct.groupby("_pool")["text_emotion"].median()
        rest = distinct.drop(index=worst.index).assign(
            _distance=lambda f: (f["text_emotion"] - f["_pool"].map(median)).abs()
        )
        close = rest.sort_values(["_pool", "_distance"], kind="stable")
    else:
        median = frame.groupby("_pool")["text_emotion"].median()
        rest = frame[~frame["text"].isin(worst["text"])].assign(
            _distance=lambda f: (f["text_emotion"] - f["_pool"].map(median)).abs()
        )
        close = rest.sort_values(["_pool", "_distance", "text"], kind="stable")
        close = close.drop_duplicates(["_pool", customer]).drop_duplicates(["_pool", "text"])
    close = close.groupby("_pool", sort=False).head(typical).drop(columns="_distance")
    parts = [
        part for part in (worst.assign(kind=KINDS[0]), close.assign(kind=KINDS[1])) if len(part)
    ]
    picked = pd.concat(parts) if parts else worst.assign(kind=KINDS[0])
    picked = picked.assign(_k=picked["kind"] == KINDS[1])
    picked = picked.sort_values(["_pool", "_k"], kind="stable")
    picked["rank"] = picked.groupby("_pool").cumcount().to_numpy() + 1
    picked["median_emotion"] = picked["_pool"].map(median).to_numpy(dtype=np.float64)
    return picked.drop(columns=["_pool", "_k"]).reset_index(drop=True)
