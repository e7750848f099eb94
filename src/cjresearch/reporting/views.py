"""Views: what the report notebooks show, computed from a build's artifacts.

A report notebook is a parameters cell and a handful of calls into this module. Each view
reads the publishable tables the build stored in the artifacts folder (the same frames as
``tables/*.csv``: suppressed below the minimum group size, redacted, free of customer ids),
never the raw tables, so a report costs little more than a kernel start. What a view shows
is written for a reader (:mod:`cjresearch.reporting.formats`): names in words (the study's
``[labels]``, else automatic ones, :mod:`cjresearch.analysis.labels`), tables formatted by
great_tables with one suppression mark, charts as figures with alt text
(:mod:`cjresearch.reporting.figures`), findings as a digest
(:mod:`cjresearch.reporting.digest`), the journey map as a canvas
(:mod:`cjresearch.reporting.canvas`).

- :func:`open_artifacts`: a build's artifacts (computed first when the folder is empty, as on
  a fresh clone running a notebook by hand).
- :func:`persona_view`: one persona's card, journey-map canvas, emotion curve, scores, pain
  points, voices and churn drivers.
- :func:`stage_view`: personas compared at one stage, its touchpoints, its pain points and
  its emotion-to-churn association.
The analysis notebooks' views are in :mod:`cjresearch.reporting.analyses`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from cjresearch.analysis.labels import Labels, auto_label, quoted
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.artifacts.compute import open_artifacts
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError
from cjresearch.reporting import charts
from cjresearch.reporting.canvas import Canvas, churn_pair, is_pain_point, persona_canvas
from cjresearch.reporting.company import Company, company_for
from cjresearch.reporting.digest import Digest, digest
from cjresearch.reporting.figures import Figure
from cjresearch.reporting.formats import Column, Html, format_table, integer, percent, signed
from cjresearch.reporting.lags import LagSensitivity, lag_sensitivity

__all__ = [
    "Html",
    "LagSensitivity",
    "PersonaView",
    "StageView",
    "Words",
    "open_artifacts",
    "persona_colors_for",
    "persona_view",
    "stage_view",
    "survival_figure",
    "table_html",
    "words_for",
]

#: The display name of everyone.
EVERYONE = "All customers"

#: Headings of the publishable tables' columns (anything else: :func:`auto_label`).
COLUMN_WORDS = {
    "persona": "Persona",
    "persona_name": "Persona",
    "stage": "Stage",
    "touchpoint": "Touchpoint",
    "channel": "Channel",
    "n_customers": "Customers",
    "n_churned": "Churned (n)",
    "n_events": "Churned (n)",
    "n_emotion": "Customers with an emotion",
    "n_comparison": "Others at the stage",
    "n_texts": "Comments",
    "share": "Share",
    "reach": "Reach",
    "churn_rate": "Churned",
    "churn_rate_comparison": "Churned (others)",
    "emotion_mean": "Emotion",
    "emotion_gap": "Emotion gap",
    "churn_lift": "Churn lift",
    "drop_off": "Drop-off",
    "score": "Score",
    "rank": "Rank",
    "odds_ratio": "Odds ratio",
    "hazard_ratio": "Hazard ratio",
    "p_value": "p",
    "q_value": "q",
    "stability": "Stability",
    "silhouette": "Silhouette",
    "stability_ari": "Stability (ARI)",
    "bic": "BIC",
    "chosen": "Chosen",
    "k": "Personas (k)",
}


def _kind(column: str, series: pd.Series) -> str:
    """The format of a column of a publishable table, by its name and type."""
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        return "text"
    if column in ("p_value", "q_value") or column.endswith("_p"):
        return "pvalue"
    if column.startswith("n_") or column in ("rank", "k", "n"):
        return "int"
    if column in ("share", "reach") or "rate" in column or column.startswith("share_"):
        return "pct"
    if "emotion" in column:
        return "signed"
    return "num"


def table_html(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    caption: str | None = None,
    empty: str = "Nothing to show.",
    digits: int = 2,
    max_rows: int = 10,
) -> Html:
    """Any publishable table, formatted for reading: headings in words, counts with
    separators, shares as percentages, one suppression mark; columns with no value at all
    left out."""
    if frame.empty:
        return format_table(frame, [], caption=caption, empty=empty)
    names = [c for c in (columns or frame.columns) if c in frame.columns and c != "suppressed"]
    names = [c for c in names if frame[c].notna().any() or c in ("persona", "stage")]
    spec = [
        Column(
            name,
            COLUMN_WORDS.get(name, auto_label(name)),
            _kind(name, frame[name]),  # type: ignore[arg-type]
            decimals=None if _kind(name, frame[name]) == "pct" else digits,
        )
        for name in names
    ]
    return format_table(frame, spec, caption=caption, empty=empty, max_rows=max_rows)


# --- the words of a build --------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The words a build's pages use: labels of names, persona names, colours."""

    labels: Labels
    persona_names: dict[str, str]
    colors: dict[str, str]

    def persona(self, name: object) -> str:
        """A persona's name as the pages show it (``"all"``: all customers)."""
        text = str(name)
        return EVERYONE if text == ALL else self.persona_names.get(text, text)

    def __call__(self, name: object) -> str:
        return self.labels(name)

    def shown(self, frame: pd.DataFrame, column: str = "persona") -> pd.DataFrame:
        """A copy whose persona column holds the names the pages show."""
        if frame.empty or column not in frame.columns:
            return frame
        return frame.assign(**{column: frame[column].astype(str).map(self.persona)})

    @property
    def shown_colors(self) -> dict[str, str]:
        """The build's colours keyed by the names the pages show."""
        return {self.persona(name): color for name, color in self.colors.items()}

    def color(self, name: str) -> str:
        return self.colors.get(str(charts.safe_label(name)), charts.ALL_COLOR)


def persona_colors_for(artifacts: Artifacts) -> dict[str, str]:
    """The build's persona colours (:func:`~cjresearch.reporting.charts.persona_colors`):
    ``"all"``, the reportable personas, then the others, the same in every page and in the
    explorer."""
    names = [name for _, name in artifacts.personas]
    personas = artifacts.table("personas")
    everyone = personas["persona_name"].astype(str).tolist()
    return charts.persona_colors(["all", *dict.fromkeys([*names, *everyone])])


def _maybe(artifacts: Artifacts, name: str) -> pd.DataFrame | None:
    path = artifacts.folder / "tables" / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def words_for(artifacts: Artifacts) -> Words:
    """The build's words: the study's ``[labels]`` and the published ``labels`` table."""
    given = dict(artifacts.summary.get("parameters", {}).get("labels", {}) or {})
    channels = _maybe(artifacts, "channels")
    labels = Labels(
        given,
        stages=artifacts.stages,
        channels=[] if channels is None else channels["channel"].astype(str).unique(),
    )
    table = _maybe(artifacts, "labels")
    if table is not None and len(table):
        personas = table[table["kind"] == "persona"]
        names = dict(zip(personas["name"].astype(str), personas["label"].astype(str), strict=True))
    else:
        personas_table, traits = artifacts.table("personas"), artifacts.table("persona_traits")
        names = labels.persona_names(personas_table, traits)
    return Words(labels=labels, persona_names=names, colors=persona_colors_for(artifacts))


def _alpha(artifacts: Artifacts) -> float:
    return float(artifacts.summary.get("parameters", {}).get("statistics", {}).get("alpha", 0.05))


# --- shared pieces ------------------------------------------------------------------------------


def _slice(folder: Path) -> dict[str, pd.DataFrame]:
    """A report's slice of the publishable tables, by table name."""
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _facts(row: pd.Series, nps: pd.Series | None) -> str:
    if bool(row.get("suppressed", False)):
        return "<p>Fewer customers than the smallest group shown: figures withheld.</p>"
    stable = float(row["stability"]) >= 0.75
    score = ""
    if nps is not None and not bool(nps.get("suppressed", False)):
        score = (
            f" NPS <strong>{signed(nps['value'], 0)}</strong> "
            f"(95% CI {signed(nps['ci_low'], 0)} to {signed(nps['ci_high'], 0)}; "
            f"n = {integer(nps['n_customers'])})."
        )
    return (
        f"<p><strong>{integer(row['n_customers'])}</strong> customers "
        f"({percent(row['share'])} of all). "
        f"<strong>{percent(row['churn_rate'])}</strong> churned "
        f"(95% CI {percent(row['churn_ci_low'])}\u2013{percent(row['churn_ci_high'])}).{score} "
        f"{'A stable' if stable else 'A less stable'} segment (bootstrap Jaccard "
        f"{float(row['stability']):.2f}; 0.75 or more is stable).</p>"
    )


def card_html(
    row: pd.Series,
    traits: pd.DataFrame,
    verbatims: pd.DataFrame,
    words: Words,
    *,
    nps: pd.Series | None = None,
) -> str:
    """A persona's card: size, churn with its interval, stability, traits as sentences,
    typical comments (every string escaped)."""
    raw = str(row["persona_name"])
    color = html.escape(words.color(raw))
    mine = traits[traits["persona_id"] == row["persona_id"]].sort_values("rank")
    sentences = [
        words.labels.trait(t.feature, t.persona_value, t.overall_value, t.direction)
        for t in mine.itertuples(index=False)
    ]
    items = "".join(f"<li>{html.escape(text)}</li>" for text in sentences)
    quotes = verbatims[verbatims["persona_id"] == row["persona_id"]]
    voices = "".join(
        f"<blockquote>\u201c{html.escape(str(t))}\u201d</blockquote>" for t in quotes["text"]
    )
    return (
        f'<div class="cj-card" style="border-left-color: {color}">'
        f"<h3>{html.escape(words.persona(raw))} "
        f'<small class="muted">(persona {int(row["persona_id"])})</small></h3>'
        f"{_facts(row, nps)}"
        + (f"<p>What sets them apart:</p><ul>{items}</ul>" if items else "")
        + (f"<p>In their words (typical comments, redacted):</p>{voices}" if voices else "")
        + "</div>"
    )


def _empty(text: str) -> Html:
    return Html(f"<p><em>{html.escape(text)}</em></p>")


def _forest(
    frame: pd.DataFrame | None,
    stages: Sequence[str],
    words: Words,
    title: str,
    estimate: str = "odds_ratio",
) -> Figure | Html:
    """A forest plot of odds or hazard ratios, or a sentence saying why there is none."""
    if frame is None or frame.empty or frame[estimate].isna().all():
        return _empty(
            "No estimate for this group (too few customers or churners, or the statistics "
            "step has not run)."
        )
    shown = words.shown(frame)
    chart = charts.forest_plot(
        shown, stages=stages, colors=words.shown_colors, estimate=estimate, labels=words
    ).properties(title=title)
    return Figure(chart, alt=forest_alt(shown, estimate, words))


def forest_alt(frame: pd.DataFrame, estimate: str, words: Words) -> str:
    """What a forest plot shows, in a sentence."""
    what = "Odds ratios" if estimate == "odds_ratio" else "Hazard ratios"
    clear = frame[(frame["ci_high"] < 1) | (frame["ci_low"] > 1)]
    where = sorted({words(s) for s in clear["stage"].astype(str)})
    groups = ", ".join(dict.fromkeys(frame["persona"].astype(str)))
    found = (
        f"Intervals clear of 1 at {', '.join(where)}." if where else "No interval is clear of 1."
    )
    return (
        f"{what} of churn per step of lower emotion at each stage, with 95% intervals, for "
        f"{groups}; right of 1 means more churn among those who felt worse. {found}"
    )


def survival_figure(
    frame: pd.DataFrame | None, stages: Sequence[str], persona: str, words: Words
) -> Any:
    """Kaplan-Meier curves by emotion tercile of one persona (``"all"``: everyone), or a
    sentence saying why there are none."""
    if frame is None or frame.empty or not (frame["persona"].astype(str) == persona).any():
        return _empty("Too few customers at risk for survival curves.")
    shown = [s for s in stages if s in set(frame["stage"].astype(str))]
    chart = charts.km_chart(
        frame.assign(persona=frame["persona"].astype(str)),
        stages=shown,
        persona=persona,
        labels=words,
        columns=3 if len(shown) > 1 else 1,
        width=330 if len(shown) > 1 else 560,
    ).properties(title=f"Still a customer, by emotion at each stage: {words.persona(persona)}")
    mine = frame[frame["persona"].astype(str) == persona]
    ends = mine.sort_values("time").groupby(["stage", "tercile"], observed=True)["survival"].last()
    gaps = {
        stage: float(
            ends.get((stage, "high"), float("nan")) - ends.get((stage, "low"), float("nan"))
        )
        for stage in shown
    }
    finite = {s: g for s, g in gaps.items() if g == g}
    widest = (
        f" The thirds part most at {words(max(finite, key=lambda s: finite[s]))}." if finite else ""
    )
    who = "all" if persona == ALL else quoted(words.persona(persona))
    alt_text = (
        f"Share of {who} customers still with us over time, one panel per stage, a line "
        f"for each third of emotion at that stage.{widest}"
    )
    return Figure(chart, alt=alt_text)


@dataclass(frozen=True, kw_only=True)
class _SliceView:
    """What a persona's or a stage's view holds: the study's stages, the build's words and
    the report's slice of the publishable tables."""

    stages: tuple[str, ...]
    words: Words
    tables: dict[str, pd.DataFrame]
    alpha: float = 0.05
    company: Company | None = None  # the study's owners and KPIs (None: it names none)

    @property
    def colors(self) -> dict[str, str]:
        return self.words.colors

    def _table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())


def _slice_view(artifacts: Artifacts, folder: Path, study: str | Path | None) -> dict[str, Any]:
    """The fields of a :class:`_SliceView` for the report whose slice is ``folder``."""
    return {
        "stages": artifacts.stages,
        "words": words_for(artifacts),
        "tables": _slice(folder),
        "alpha": _alpha(artifacts),
        "company": company_for(artifacts, study),
    }


def _pain_columns(words: Words, *, with_persona: bool, with_stage: bool) -> list[Column]:
    columns = [Column("rank", "Rank", "int")]
    if with_persona:
        columns.insert(
            0, Column("persona", "Persona", format=lambda r: words.persona(r["persona"]))
        )
    if with_stage:
        columns.append(Column("stage", "Stage", format=lambda r: words(r["stage"])))
    return [
        *columns,
        Column("touchpoint", "Touchpoint", format=lambda r: words(r["touchpoint"])),
        Column("n_customers", "Customers who met it", "int"),
        Column("emotion_mean", "Their emotion", "signed"),
        Column("churn_rate", "Churned: met it vs the others", format=churn_pair),
        Column(
            "churn_lift", "Churn lift (95% CI)", "estimate", low="lift_ci_low", high="lift_ci_high"
        ),
    ]


def _pain_rows(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[is_pain_point(frame)].sort_values("rank", kind="stable")


# --- persona report -------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonaView(_SliceView):
    """Everything one persona's report shows (each attribute displays in a notebook)."""

    persona_id: int
    name: str

    def _mine(self, name: str) -> pd.DataFrame:
        """A table's rows of this persona."""
        frame = self._table(name)
        return frame[frame["persona"].astype(str) == self.name] if not frame.empty else frame

    @property
    def title(self) -> str:
        """The persona's name as the pages show it."""
        return self.words.persona(self.name)

    @property
    def card(self) -> Html:
        """Size, churn with its interval, NPS, stability, traits as sentences, voices."""
        personas = self._table("personas")
        row = personas[personas["persona_id"] == self.persona_id].iloc[0]
        scores = self._mine("instruments")
        nps = None
        if not scores.empty:
            overall = scores[(scores["stage"].astype(str) == ALL) & (scores["instrument"] == "nps")]
            nps = overall.iloc[0] if len(overall) else None
        return Html(
            card_html(
                row,
                self._table("persona_traits"),
                self._table("persona_verbatims"),
                self.words,
                nps=nps,
            )
        )

    @property
    def canvas(self) -> Canvas:
        """The journey-map canvas: stages across, a lane each for what they do, channels,
        how they feel, their scores, pain points, opportunities and their words; then the
        company's side (owners, KPIs against targets) when the study file names them."""
        canvas = persona_canvas(
            self.tables,
            persona=self.name,
            title=f"Journey map: {self.title}",
            stages=self.stages,
            color=self.words.color(self.name),
            label=self.words,
        )
        if self.company is None:
            return canvas
        return self.company.on_canvas(canvas, persona=self.name, label=self.words)

    @property
    def journey_map(self) -> Canvas:
        """The journey map (the canvas)."""
        return self.canvas

    @property
    def emotion_curve(self) -> Figure:
        """The persona's emotion per stage (95% band) beside all customers."""
        the_map = self.words.shown(self._table("journey_map"))
        mine = the_map[the_map["persona"] == self.title]
        chart = charts.emotion_curves(
            the_map.assign(stage=the_map["stage"].astype(str).map(self.words)),
            stages=[self.words(s) for s in self.stages],
            colors=self.words.shown_colors,
            personas=[EVERYONE, self.title],
        )
        return Figure(chart, alt=_curve_alt(mine, self.title, self.words))

    @property
    def scores(self) -> Html:
        """NPS, CSAT and CES per stage, with intervals and n."""
        return instruments_table(self._mine("instruments"), "stage", self.words, self.stages)

    @property
    def pain_points(self) -> Html:
        """The persona's pain points (beyond chance), each with its churn pair and n."""
        return format_table(
            _pain_rows(self._mine("pain_points")),
            _pain_columns(self.words, with_persona=False, with_stage=True),
            caption="Pain points: touchpoints that go with lower emotion, more churn or drop-off",
            empty="No touchpoint stands out beyond chance for this persona.",
            notes=[
                "Churn lift: churn of the customers who met the touchpoint over the others' "
                "at the stage (risk ratio, Katz 95% interval)."
            ],
        )

    @property
    def churn_drivers(self) -> Figure | Html:
        """Odds ratios of churn per emotion step at each stage, this persona and all."""
        return _forest(
            self.tables.get("emotion_churn"),
            self.stages,
            self.words,
            "Emotion and churn: odds ratio per step of lower emotion (95% CI)",
        )

    @property
    def time_to_churn(self) -> Figure | Html:
        """Hazard ratios of churn per emotion step (Cox, emotion as it was expressed)."""
        return _forest(
            self.tables.get("time_to_churn"),
            self.stages,
            self.words,
            "Emotion and time to churn: hazard ratio per step of lower emotion (95% CI)",
            estimate="hazard_ratio",
        )

    @property
    def survival(self) -> Any:
        """Kaplan-Meier curves of the persona by emotion tercile at each stage."""
        return survival_figure(self.tables.get("km_curves"), self.stages, self.name, self.words)

    @property
    def findings(self) -> Digest:
        """The persona's effects that survive correction, by stage; the rest in one line."""
        return digest(
            self.tables.get("emotion_churn"),
            self.tables.get("time_to_churn"),
            stages=self.stages,
            alpha=self.alpha,
            personas=[self.name],
            own=self.name,
            persona_label=self.words.persona,
            stage_label=self.words,
        )

    @property
    def opportunities(self) -> Html:
        return format_table(
            self._mine("opportunities").sort_values("rank", kind="stable")
            if not self._mine("opportunities").empty
            else self._mine("opportunities"),
            opportunity_columns(self.words),
            caption="Opportunities (reach \u00d7 effect; associations worth testing, not proof)",
            empty="No opportunity with an interval clear of no effect.",
        )

    @property
    def voices(self) -> Html:
        """Comments at the persona's top pain points (redacted)."""
        return format_table(
            self._mine("verbatims"),
            [
                Column("stage", "Stage", format=lambda r: self.words(r["stage"])),
                Column("touchpoint", "Pain point", format=lambda r: self.words(r["touchpoint"])),
                Column("kind", "Which comment", format=lambda r: str(r["kind"]).capitalize()),
                Column("text", "What they said", format=lambda r: f"\u201c{r['text']}\u201d"),
                Column("n_texts", "Comments there", "int"),
            ],
            caption="Voices at the pain points (redacted)",
            empty="Too few comments at this persona's pain points to quote.",
        )


def opportunity_columns(words: Words) -> list[Column]:
    """The columns of an opportunities table."""

    def what(row: pd.Series) -> str:
        touchpoint = row.get("touchpoint")
        if touchpoint is None or pd.isna(touchpoint) or not str(touchpoint):
            return f"How {words(row['stage'])} feels"
        return f"{words(touchpoint)} at {words(row['stage'])}"

    def effect(row: pd.Series) -> str:
        from cjresearch.reporting.formats import estimate

        shown = estimate(
            row.get("effect"), row.get("effect_ci_low"), row.get("effect_ci_high"), kind="pct"
        )
        return (
            f"{shown} lower odds" if row.get("source") == "emotion_churn" else f"{shown} more churn"
        )

    return [
        Column("rank", "Rank", "int"),
        Column("stage", "What", format=what),
        Column("n_customers", "Customers", "int"),
        Column("reach", "Reach", "pct"),
        Column("effect", "Effect (95% CI)", format=effect),
    ]


def instruments_table(
    frame: pd.DataFrame, by: str, words: Words, stages: Sequence[str] = ()
) -> Html:
    """NPS, CSAT and CES side by side, one row per stage (``by="stage"``) or persona."""
    if frame.empty:
        return _empty("The study has no NPS, CSAT or CES answers here.")
    key = frame[by].astype(str)
    order = [*stages, ALL] if by == "stage" else list(dict.fromkeys(key))
    rows = []
    for item in [o for o in order if o in set(key)]:
        mine = frame[key == item]
        row: dict[str, Any] = {by: item}
        for _, r in mine.iterrows():
            kind = str(r["instrument"])
            hidden = bool(r.get("suppressed", False))
            row[kind] = None if hidden else r["value"]
            row[f"{kind}_low"] = None if hidden else r["ci_low"]
            row[f"{kind}_high"] = None if hidden else r["ci_high"]
            row[f"{kind}_n"] = None if hidden else r["n_customers"]
            row["suppressed"] = bool(row.get("suppressed", False)) or hidden
        rows.append(row)
    table = pd.DataFrame(rows)

    def name(r: pd.Series) -> str:
        value = str(r[by])
        if by == "stage":
            return "All stages" if value == ALL else words(value)
        return words.persona(value)

    def nps(r: pd.Series) -> str | None:
        if pd.isna(r.get("nps")):
            return None
        return f"{signed(r['nps'], 0)} ({signed(r['nps_low'], 0)} to {signed(r['nps_high'], 0)})"

    columns = [Column(by, "Stage" if by == "stage" else "Persona", format=name)]
    present = [c for c in ("nps", "csat", "ces") if c in table.columns]
    for instrument in present:
        if instrument == "nps":
            columns.append(Column("nps", "NPS (95% CI)", format=nps))
        elif instrument == "csat":
            columns.append(
                Column(
                    "csat",
                    "CSAT: % satisfied (95% CI)",
                    "pct_estimate",
                    low="csat_low",
                    high="csat_high",
                )
            )
        else:
            columns.append(
                Column(
                    "ces",
                    "CES: mean effort, 1\u20137 (95% CI)",
                    "estimate",
                    decimals=1,
                    low="ces_low",
                    high="ces_high",
                )
            )
        columns.append(Column(f"{instrument}_n", "n", "int"))
    return format_table(
        table,
        columns,
        caption="Scores in their own units",
        notes=[
            "NPS: % promoters (9\u201310) minus % detractors (0\u20136), adjusted-Wald interval. "
            "CSAT: share answering 4 or 5 of 5. CES: 1 very easy to 7 very hard. Each customer "
            "counts once: their latest answer."
        ],
        max_rows=12,
    )


def _curve_alt(mine: pd.DataFrame, name: str, words: Words) -> str:
    shown = mine[mine["emotion_mean"].notna()] if not mine.empty else mine
    if shown.empty:
        return f"Emotion per stage for {quoted(name)}: no emotion measured."
    worst = shown.loc[shown["emotion_mean"].idxmin()]
    best = shown.loc[shown["emotion_mean"].idxmax()]
    return (
        f"Emotion per stage on a scale from -1 to +1 for {quoted(name)} (with its 95% band) "
        f"and all customers (grey): lowest at {words(worst['stage'])} "
        f"({signed(worst['emotion_mean'])}), highest at {words(best['stage'])} "
        f"({signed(best['emotion_mean'])})."
    )


def persona_view(
    artifacts_dir: str | Path, persona: int, *, study_file: str | Path | None = None
) -> PersonaView:
    """The view of one persona's report (``persona``: its id, as in ``tables/personas.csv``).

    Raises
    ------
    CJResearchError
        No such persona, or it is too small to report on (below ``min_group_size``).
    """
    artifacts = open_artifacts(artifacts_dir, study_file=study_file)
    known = dict(artifacts.personas)
    if int(persona) not in known:
        msg = (
            f"persona {persona!r} has no report: the reportable personas are "
            f"{sorted(known)} (smaller ones are suppressed)"
        )
        raise CJResearchError(msg)
    return PersonaView(
        persona_id=int(persona),
        name=known[int(persona)],
        **_slice_view(artifacts, artifacts.persona_dir(int(persona)), study_file),
    )


# --- stage report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageView(_SliceView):
    """Everything one stage's report shows."""

    stage: str

    @property
    def title(self) -> str:
        return self.words(self.stage)

    @property
    def personas_compared(self) -> Html:
        """Reach, conversion, emotion (with interval and n) and churn of every persona here."""
        frame = self._table("journey_map")
        words = self.words
        return format_table(
            frame,
            [
                Column("persona", "Persona", format=lambda r: words.persona(r["persona"])),
                Column("n_customers", "Customers", "int"),
                Column("reach", "Reach", "pct"),
                Column("conversion_next", "Go on to the next stage", "pct"),
                Column("median_days", "Median days here", "num", decimals=1),
                Column(
                    "emotion_mean",
                    "Emotion (95% CI)",
                    "estimate",
                    low="emotion_ci_low",
                    high="emotion_ci_high",
                ),
                Column("n_emotion", "n (emotion)", "int"),
                Column(
                    "churn_rate",
                    "Churned (95% CI)",
                    "pct_estimate",
                    low="churn_ci_low",
                    high="churn_ci_high",
                ),
                Column(
                    "top_touchpoint", "Top touchpoint", format=lambda r: words(r["top_touchpoint"])
                ),
            ],
            caption=f"Personas at {self.title}",
        )

    @property
    def scores(self) -> Html:
        """NPS, CSAT and CES of every persona at this stage."""
        return instruments_table(self._table("instruments"), "persona", self.words)

    @property
    def emotion_by_persona(self) -> Figure | Html:
        """Emotion at this stage per persona, with its 95% interval."""
        frame = self._table("journey_map")
        frame = frame[frame["emotion_mean"].notna()] if not frame.empty else frame
        if frame.empty:
            return _empty("No emotion measured at this stage.")
        shown = self.words.shown(frame)
        colors = self.words.shown_colors
        present = set(shown["persona"].astype(str))
        scale = alt.Scale(
            domain=[p for p in colors if p in present],
            range=[c for p, c in colors.items() if p in present],
        )
        data = shown[
            ["persona", "emotion_mean", "emotion_ci_low", "emotion_ci_high", "n_emotion"]
        ].assign(persona=lambda f: f["persona"].astype(str).map(charts.safe_label))
        y = alt.Y("persona:N", title=None, sort=list(colors), axis=alt.Axis(labelLimit=0))
        base = alt.Chart(data).encode(y=y)
        chart = (
            base.mark_rule(strokeWidth=2).encode(
                x=alt.X(
                    "emotion_ci_low:Q",
                    title="emotion (\u22121 very negative \u2026 +1 very positive), 95% CI",
                    scale=alt.Scale(domain=[-1, 1]),
                ),
                x2="emotion_ci_high:Q",
                color=alt.Color("persona:N", scale=scale, legend=None),
            )
            + base.mark_point(filled=True, size=90, opacity=1).encode(
                x="emotion_mean:Q", color=alt.Color("persona:N", scale=scale, legend=None)
            )
        ).properties(width=560, title=f"Emotion at {self.title} (95% interval)")
        worst = shown.loc[shown["emotion_mean"].idxmin()]
        best = shown.loc[shown["emotion_mean"].idxmax()]
        alt_text = (
            f"Mean emotion at {self.title} per persona with 95% intervals: lowest "
            f"{worst['persona']} ({signed(worst['emotion_mean'])}), highest {best['persona']} "
            f"({signed(best['emotion_mean'])})."
        )
        return Figure(chart, alt=alt_text)

    @property
    def churn_drivers(self) -> Figure | Html:
        """Odds ratios of churn per emotion step at this stage, per persona."""
        return _forest(
            self.tables.get("emotion_churn"),
            [self.stage],
            self.words,
            f"Emotion at {self.title} and churn: odds ratio per step of lower emotion (95% CI)",
        )

    @property
    def survival(self) -> Any:
        """Kaplan-Meier curves of all customers by emotion tercile at this stage."""
        return survival_figure(self.tables.get("km_curves"), [self.stage], ALL, self.words)

    @property
    def lag_sensitivity(self) -> LagSensitivity:
        """The stage's lag-sensitivity table and, when its association collapses as the lag
        grows, the statistics step's warning (:func:`cjresearch.reporting.lags.lag_sensitivity`)."""
        return lag_sensitivity(self.tables, self.stage)

    @property
    def findings(self) -> Digest:
        return digest(
            self.tables.get("emotion_churn"),
            self.tables.get("time_to_churn"),
            stages=[self.stage],
            alpha=self.alpha,
            persona_label=self.words.persona,
            stage_label=self.words,
        )

    @property
    def touchpoints(self) -> Html:
        """The stage's touchpoints: all customers' share, emotion and n, then each persona's
        share."""
        frame = self._table("touchpoints")
        if frame.empty:
            return _empty("No touchpoint recorded at this stage.")
        everyone = frame[frame["persona"].astype(str) == ALL].sort_values(
            "share", ascending=False, kind="stable"
        )
        everyone = everyone[everyone["share"].fillna(1) > 0]
        others = frame[frame["persona"].astype(str) != ALL]
        shares = others.pivot_table(
            index="touchpoint", columns="persona", values="share", aggfunc="first", observed=True
        )
        table = everyone.merge(
            shares.add_prefix("p:"), left_on="touchpoint", right_index=True, how="left"
        )
        words = self.words
        columns = [
            Column("touchpoint", "Touchpoint", format=lambda r: words(r["touchpoint"])),
            Column("n_customers", "Customers", "int"),
            Column("share", "Share of the stage's customers", "pct"),
            Column("emotion_mean", "Emotion", "signed"),
            Column("n_emotion", "n (emotion)", "int"),
        ]
        for persona in shares.columns:
            columns.append(Column(f"p:{persona}", f"{words.persona(persona)}: share", "pct"))
        return format_table(table, columns, caption=f"Touchpoints at {self.title}")

    @property
    def management(self) -> Html:
        """The stage's owner, what customers expect, and its KPIs against their targets."""
        company = self.company
        return Html("") if company is None else company.stage_html(self.stage, self.words)

    @property
    def pain_points(self) -> Html:
        return format_table(
            _pain_rows(self._table("pain_points")),
            _pain_columns(self.words, with_persona=True, with_stage=False),
            caption=f"Pain points at {self.title}",
            empty="No touchpoint at this stage stands out beyond chance.",
        )


def stage_view(
    artifacts_dir: str | Path, stage: str, *, study_file: str | Path | None = None
) -> StageView:
    """The view of one stage's report.

    Raises
    ------
    CJResearchError
        The stage is not one of the study's.
    """
    artifacts = open_artifacts(artifacts_dir, study_file=study_file)
    if stage not in artifacts.stages:
        msg = f"stage {stage!r} is not in the study; its stages are {list(artifacts.stages)}"
        raise CJResearchError(msg)
    return StageView(stage=stage, **_slice_view(artifacts, artifacts.stage_dir(stage), study_file))
