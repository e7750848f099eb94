"""The executive summary the portal opens with, from a build's publishable tables.

Plain data (dicts of text and numbers, kept with the portal's context in
``.cjresearch/portal.json``), drawn by :mod:`cjresearch.reporting.portal`:

- ``tiles``: one per reportable persona: name, colour, size, churn with its interval, NPS
  where the study has it, emotion per stage (the tile's sparkline) and its top pain point
  with its churn pair;
- ``pain_points``: the study's three strongest pain points (all customers, beyond chance,
  by score), each with its churn pair and n;
- ``opportunities``: the three largest opportunities (reach x effect) in words;
- ``overview``: stages x personas, emotion and churn per cell (the heat strip);
- ``findings``: the top five effects of the digest, odds and hazard merged.

Every number here is a published figure (suppressed ones stay withheld).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from cjresearch.artifacts.catalog import Artifacts
from cjresearch.data.schema import ALL
from cjresearch.reporting.canvas import churn_pair, harm_words, is_pain_point
from cjresearch.reporting.digest import digest
from cjresearch.reporting.formats import integer, percent, signed
from cjresearch.reporting.views import EVERYONE, Words, words_for

__all__ = ["executive_summary"]


def _value(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _table(artifacts: Artifacts, name: str) -> pd.DataFrame:
    path = artifacts.folder / "tables" / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def _pains(pain_points: pd.DataFrame, persona: str) -> pd.DataFrame:
    if pain_points.empty:
        return pain_points
    mine = pain_points[pain_points["persona"].astype(str) == persona]
    suppressed = mine.get("suppressed", pd.Series(False, index=mine.index))
    mine = mine[is_pain_point(mine) & ~suppressed.astype("boolean").fillna(False).astype(bool)]
    return mine.sort_values("rank", kind="stable")


def _pain_item(row: pd.Series, words: Words) -> dict[str, Any]:
    return {
        "touchpoint": words(row["touchpoint"]),
        "stage": words(row["stage"]),
        "churn": churn_pair(row),
        "n": integer(row["n_customers"]),
        "text": (
            f"{words(row['touchpoint'])} at {words(row['stage'])}: "
            f"{integer(row['n_customers'])} customers met it; {harm_words(row)} "
            "(those who met it vs the others)"
        ),
    }


def _tiles(artifacts: Artifacts, words: Words) -> list[dict[str, Any]]:
    personas = artifacts.table("personas")
    the_map, pains = _table(artifacts, "journey_map"), _table(artifacts, "pain_points")
    scores = _table(artifacts, "instruments")
    tiles = []
    for pid, name in artifacts.personas:
        row = personas[personas["persona_id"] == pid].iloc[0]
        mine = the_map[the_map["persona"].astype(str) == name] if not the_map.empty else the_map
        curve = []
        for stage in artifacts.stages:
            at = mine[mine["stage"].astype(str) == stage] if not mine.empty else mine
            value = _value(at["emotion_mean"].iloc[0]) if len(at) else None
            curve.append({"stage": words(stage), "emotion": value})
        top = _pains(pains, name)
        nps = None
        if not scores.empty:
            overall = scores[
                (scores["persona"].astype(str) == name)
                & (scores["stage"].astype(str) == ALL)
                & (scores["instrument"] == "nps")
                & ~scores["suppressed"].astype(bool)
            ]
            if len(overall):
                nps = signed(overall["value"].iloc[0], 0)
        tiles.append(
            {
                "id": int(pid),
                "slug": f"persona-{int(pid)}",
                "name": words.persona(name),
                "color": words.color(name),
                "customers": integer(row["n_customers"]),
                "share": percent(row["share"]),
                "churn": percent(row["churn_rate"]),
                "churn_ci": f"{percent(row['churn_ci_low'])}\u2013{percent(row['churn_ci_high'])}",
                "nps": nps,
                "curve": curve,
                "pain": _pain_item(top.iloc[0], words) if len(top) else None,
            }
        )
    return tiles


def _opportunities(artifacts: Artifacts, words: Words) -> list[dict[str, Any]]:
    frame = _table(artifacts, "opportunities")
    if frame.empty:
        return []
    frame = frame[frame["persona"].astype(str) == ALL].sort_values("rank", kind="stable")
    items = []
    for _, row in frame.head(3).iterrows():
        touchpoint = row.get("touchpoint")
        stage = words(row["stage"])
        effect = _value(row.get("effect"))
        if touchpoint is None or pd.isna(touchpoint) or not str(touchpoint):
            text = (
                f"How {stage} feels: {percent(row.get('reach'))} of customers reach it; those "
                f"who felt one step better there had {percent(effect)} lower odds of churning "
                f"(n = {integer(row.get('n_customers'))})"
            )
        else:
            text = (
                f"{words(touchpoint)} at {stage}: its {integer(row.get('n_customers'))} "
                f"customers churned {100 * (effect or 0):.0f} percentage points more than the "
                "others"
            )
        items.append({"stage": stage, "text": text})
    return items


def _overview(artifacts: Artifacts, words: Words) -> dict[str, Any]:
    the_map = _table(artifacts, "journey_map")
    rows = []
    for name in [ALL, *(n for _, n in artifacts.personas)]:
        mine = the_map[the_map["persona"].astype(str) == name] if not the_map.empty else the_map
        cells: list[dict[str, Any]] = []
        for stage in artifacts.stages:
            at = mine[mine["stage"].astype(str) == stage] if not mine.empty else mine
            if not len(at) or bool(at["suppressed"].iloc[0]):
                cells.append({"emotion": None, "text": "\u2020", "churn": ""})
                continue
            emotion = _value(at["emotion_mean"].iloc[0])
            cells.append(
                {
                    "emotion": emotion,
                    "text": signed(emotion) if emotion is not None else "\u2013",
                    "churn": percent(at["churn_rate"].iloc[0]),
                }
            )
        rows.append(
            {
                "name": EVERYONE if name == ALL else words.persona(name),
                "color": words.color(name),
                "cells": cells,
            }
        )
    return {"stages": [words(s) for s in artifacts.stages], "rows": rows}


def executive_summary(artifacts: Artifacts) -> dict[str, Any]:
    """The portal's executive summary of a build (see the module docstring)."""
    words = words_for(artifacts)
    alpha = float(artifacts.summary.get("parameters", {}).get("statistics", {}).get("alpha", 0.05))
    found = digest(
        _table(artifacts, "emotion_churn"),
        _table(artifacts, "time_to_churn"),
        stages=artifacts.stages,
        alpha=alpha,
        persona_label=words.persona,
        stage_label=words,
    )
    pains = _pains(_table(artifacts, "pain_points"), ALL)
    return {
        "tiles": _tiles(artifacts, words),
        "pain_points": [_pain_item(row, words) for _, row in pains.head(3).iterrows()],
        "opportunities": _opportunities(artifacts, words),
        "overview": _overview(artifacts, words),
        "findings": found.sentences(5),
        "nulls": found.nulls,
    }
