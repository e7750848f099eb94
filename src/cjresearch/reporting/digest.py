"""The findings digest: the few emotion-churn effects that survive correction, in words.

The statistics step fits, per stage and persona, a logistic model of churn (odds ratio) and
a Cox model of the time to churn (hazard ratio), each per ``unit_size`` step of emotion and
corrected for many tests (q-values). A page shows them as a digest:

- one sentence per persona and stage whose odds ratio or hazard ratio clears ``alpha``
  after correction, the two merged into that one sentence;
- grouped by stage, in the study's order; the strongest first within a stage;
- every other estimate summarised in one line ("No clear association at 4 other stages");
- shaky estimates (flags of the models) start with "Tentative".

Direction is stated one way everywhere, the way the forest plots draw it
(:func:`cjresearch.reporting.charts.forest_plot`): the ratio per step of *lower* emotion, so
that a ratio above 1 means customers who felt worse churned more.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from cjresearch.analysis.labels import quoted
from cjresearch.data.schema import ALL
from cjresearch.reporting.formats import Html, integer, number, pvalue

__all__ = ["Digest", "Finding", "digest", "lower_emotion_ratio"]

#: Flags that make an estimate tentative, in a reader's words.
CAVEATS = {
    "small_group": "a small group",
    "low_epv": "few churners for the model's terms",
    "separation": "emotion separates churners almost perfectly",
    "quasi_separation": "extreme fitted risks",
    "not_converged": "the model did not converge",
    "fit_failed": "the model could not be fitted",
    "high_vif": "emotion overlaps with the controls",
    "ph_violated": "the effect changes over time",
}


def lower_emotion_ratio(ratio: float, low: float, high: float) -> tuple[float, float, float]:
    """A ratio per step of higher emotion turned into the ratio per step of lower emotion.

    >>> lower_emotion_ratio(0.5, 0.4, 0.625)
    (2.0, 1.6, 2.5)
    """
    return 1 / ratio, 1 / high, 1 / low


@dataclass(frozen=True)
class Finding:
    """One sentence of a digest (``strength``: the larger |log ratio|)."""

    stage: str
    persona: str
    text: str
    q_value: float
    strength: float
    tentative: bool


@dataclass(frozen=True)
class Digest:
    """The findings of one page, grouped by stage, and the one line about the rest."""

    findings: list[Finding] = field(default_factory=list)
    stages: tuple[str, ...] = ()
    nulls: str | None = None
    empty: str = "No association between emotion and churn clears the significance level."
    stage_label: Callable[[str], str] = str

    def sentences(self, limit: int | None = None) -> list[str]:
        """The findings' sentences, strongest first."""
        ranked = sorted(self.findings, key=lambda f: (f.tentative, f.q_value, -f.strength))
        return [f.text for f in ranked[:limit]]

    def __repr__(self) -> str:
        # the notebook's text/plain output: the sentences, never a function's address
        lines = [*self.sentences(), self.nulls or ""] if self.findings else [self.empty]
        return "\n".join(line for line in lines if line)

    def _repr_html_(self) -> str:
        return str(self.html)

    @property
    def html(self) -> Html:
        """Grouped by stage, each group a short list, then the line about the nulls."""
        parts: list[str] = []
        for stage in self.stages:
            mine = sorted(
                (f for f in self.findings if f.stage == stage),
                key=lambda f: (f.tentative, -f.strength),
            )
            if mine:
                items = "".join(f"<li>{html.escape(f.text)}</li>" for f in mine)
                heading = html.escape(self.stage_label(stage))
                parts.append(f'<h4 class="cj-stage">{heading}</h4><ul>{items}</ul>')
        if not parts:
            parts.append(f"<p><em>{html.escape(self.empty)}</em></p>")
        if self.nulls:
            parts.append(f'<p class="cj-nulls">{html.escape(self.nulls)}</p>')
        parts.append(
            '<p class="muted"><small>Associations in observational data, not proof of cause; '
            "intervals are 95%, q-values are corrected for the number of tests.</small></p>"
        )
        return Html(f'<div class="cj-digest">{"".join(parts)}</div>')


def _flags(row: pd.Series | None) -> list[str]:
    if row is None:
        return []
    text = row.get("flags")
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    return [f.split(":")[0] for f in str(text).split(";") if f]


def _significant(row: pd.Series | None, ratio: str, alpha: float) -> bool:
    if row is None:
        return False
    values = [row.get(ratio), row.get("ci_low"), row.get("ci_high"), row.get("q_value")]
    try:
        finite = all(math.isfinite(float(v)) and float(v) > 0 for v in values[:3])
    except (TypeError, ValueError):
        return False
    return finite and math.isfinite(float(values[3])) and float(values[3]) < alpha


def _part(row: pd.Series, ratio: str, what: str) -> tuple[str, float]:
    value, low, high = lower_emotion_ratio(
        float(row[ratio]), float(row["ci_low"]), float(row["ci_high"])
    )
    return (
        f"{number(value)} times the {what} ({number(low)}\u2013{number(high)})",
        abs(math.log(value)),
    )


def _sentence(
    odds: pd.Series | None,
    hazard: pd.Series | None,
    *,
    alpha: float,
    who: str,
    stage: str,
) -> Finding | None:
    keep: list[tuple[pd.Series, str, str]] = [
        (row, ratio, what)
        for row, ratio, what in (
            (odds, "odds_ratio", "odds"),
            (hazard, "hazard_ratio", "rate over time"),
        )
        if row is not None and _significant(row, ratio, alpha)
    ]
    if not keep:
        return None
    parts = [_part(row, ratio, what) for row, ratio, what in keep]
    first = keep[0][0]
    lower = float(first[keep[0][1]]) < 1  # higher emotion, lower churn: worse felt, more churn
    unit = float(first.get("unit_size", 0.5))
    step = "1 point" if unit == 1 else f"{unit:g} points"
    verb = "churned more" if lower else "churned less"
    n = integer(first.get("n_customers"))
    q = min(float(row["q_value"]) for row, _, _ in keep)
    reasons = sorted({CAVEATS[f] for row, _, _ in keep for f in _flags(row) if f in CAVEATS})
    wide = any(float(r["ci_high"]) / float(r["ci_low"]) > 4 for r, _, _ in keep)
    if wide:
        reasons.append("a wide interval")
    text = (
        f"{who} who felt {step} worse at {stage} {verb}: "
        f"{' and '.join(p for p, _ in parts)}; n = {n}, q {_q(q)}."
    )
    if reasons:
        text = f"Tentative ({', '.join(reasons)}): {text}"
    return Finding(
        stage="",
        persona="",
        text=text,
        q_value=q,
        strength=max(s for _, s in parts),
        tentative=bool(reasons),
    )


def _q(q: float) -> str:
    shown = pvalue(q)
    return shown if shown.startswith("<") else f"= {shown}"


def _who(persona: str, label: Callable[[str], str], own: str | None) -> str:
    if own is not None and persona == own:
        return "Customers of this persona"
    if persona == ALL:
        return "Customers"
    return f"{quoted(label(persona))} customers"


def digest(
    emotion_churn: pd.DataFrame | None,
    time_to_churn: pd.DataFrame | None,
    *,
    stages: Sequence[str],
    alpha: float,
    personas: Sequence[str] | None = None,
    own: str | None = None,
    persona_label: Callable[[str], str] = str,
    stage_label: Callable[[str], str] = str,
) -> Digest:
    """The digest of the estimates of some personas at some stages.

    Parameters
    ----------
    emotion_churn, time_to_churn
        The statistics step's tables (odds ratios; hazard ratios).
    stages
        The stages to cover, in the study's order.
    alpha
        The significance level the q-values are held to.
    personas
        The personas to cover (``"all"`` for everyone); default every one in the tables.
    own
        The page's own persona, named "customers of this persona".
    persona_label, stage_label
        The words for a persona's and a stage's name.

    Returns
    -------
    Digest
    """
    frames = [f for f in (emotion_churn, time_to_churn) if f is not None and not f.empty]
    if not frames:
        return Digest(stages=tuple(stages), stage_label=stage_label)

    def rows(frame: pd.DataFrame | None) -> dict[tuple[str, str], pd.Series]:
        if frame is None or frame.empty:
            return {}
        return {(str(r["persona"]), str(r["stage"])): r for _, r in frame.iterrows()}

    odds, hazards = rows(emotion_churn), rows(time_to_churn)
    keys = list(dict.fromkeys([*odds, *hazards]))
    wanted = None if personas is None else {str(p) for p in personas}
    findings: list[Finding] = []
    nulls: list[tuple[str, str]] = []
    for persona, stage in keys:
        if stage not in stages or (wanted is not None and persona not in wanted):
            continue
        found = _sentence(
            odds.get((persona, stage)),
            hazards.get((persona, stage)),
            alpha=alpha,
            who=_who(persona, persona_label, own),
            stage=stage_label(stage),
        )
        if found is None:
            if _estimated(odds.get((persona, stage)), hazards.get((persona, stage))):
                nulls.append((persona, stage))
            continue
        findings.append(
            Finding(stage, persona, found.text, found.q_value, found.strength, found.tentative)
        )
    return Digest(
        findings=findings,
        stages=tuple(stages),
        nulls=_null_line(nulls, stages, persona_label, stage_label, bool(findings)),
        stage_label=stage_label,
    )


def _estimated(*rows: pd.Series | None) -> bool:
    """Whether a persona and stage has an estimate at all (not suppressed, not failed)."""
    for row in rows:
        if row is None:
            continue
        for ratio in ("odds_ratio", "hazard_ratio"):
            value = row.get(ratio)
            if value is not None and isinstance(value, int | float) and math.isfinite(value):
                return True
    return False


def _null_line(
    nulls: list[tuple[str, str]],
    stages: Sequence[str],
    persona_label: Callable[[str], str],
    stage_label: Callable[[str], str],
    any_finding: bool,
) -> str | None:
    """One line for every estimate without a clear association."""
    if not nulls:
        return None
    other = " other" if any_finding else ""
    personas = list(dict.fromkeys(p for p, _ in nulls))
    order = {s: i for i, s in enumerate(stages)}
    if len(personas) == 1:
        where = sorted({s for _, s in nulls}, key=lambda s: order.get(s, len(order)))
        names = ", ".join(stage_label(s) for s in where)
        count = f"{len(where)}{other} stage{'s' if len(where) != 1 else ''}"
        return f"No clear association between emotion and churn at {count} ({names})."
    count = f"{len(nulls)}{other} persona and stage combination{'s' if len(nulls) != 1 else ''}"
    return f"No clear association between emotion and churn for {count}."
