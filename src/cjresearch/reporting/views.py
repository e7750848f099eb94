"""Views: what the report notebooks show, computed from a build's artifacts.

A report notebook is a parameters cell and a handful of calls into this module. Each view
reads the publishable tables the build stored in the artifacts folder (the same frames as
``tables/*.csv``: suppressed below the minimum group size, redacted, free of customer ids),
never the raw tables, so a report costs little more than a kernel start. Charts come from
:mod:`cjresearch.reporting.charts`; tables come as escaped HTML (:class:`Html`) in which suppressed
figures read "suppressed".

- :func:`open_artifacts`: a build's artifacts (computed first when the folder is empty, as on
  a fresh clone running a notebook by hand).
- :func:`persona_view`: one persona's card, journey map, emotion curve, pain points, voices
  and churn drivers.
- :func:`stage_view`: personas compared at one stage, its touchpoints, its pain points and
  its emotion-to-churn association.
- :func:`persona_analysis`: the evidence for the personas, their cards and profiles; refits
  the segmentation when asked for other settings than the build's.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import altair as alt
import pandas as pd

from cjresearch.analysis.privacy import display_frame
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts.catalog import STATISTICS_TABLES, Artifacts
from cjresearch.artifacts.compute import open_artifacts, reanalyse, refit_personas
from cjresearch.data.study import load_study
from cjresearch.errors import CJResearchError
from cjresearch.reporting import charts

__all__ = [
    "EVERY_PERSONA",
    "EmotionChurnView",
    "Html",
    "LagSensitivity",
    "PersonaAnalysis",
    "PersonaView",
    "StageView",
    "emotion_churn_analysis",
    "open_artifacts",
    "persona_analysis",
    "persona_colors_for",
    "persona_view",
    "stage_view",
    "table_html",
]


class Html(str):
    """A fragment of HTML that Jupyter displays as HTML (every data string in it escaped)."""

    def _repr_html_(self) -> str:
        return str(self)


def table_html(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    caption: str | None = None,
    empty: str = "Nothing to show.",
    digits: int = 3,
) -> Html:
    """A table as escaped HTML; suppressed figures read "suppressed", never 0."""
    if frame.empty:
        return Html(f"<p><em>{html.escape(empty)}</em></p>")
    shown = display_frame(frame) if "suppressed" in frame.columns else frame
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    body = shown.to_html(
        index=False,
        escape=True,
        na_rep="",
        float_format=lambda v: f"{v:.{digits}g}",
        border=0,
        classes="cj-table",
    )
    title = f"<p><strong>{html.escape(caption)}</strong></p>" if caption else ""
    return Html(title + body)


def _slice(folder: Path) -> dict[str, pd.DataFrame]:
    """A report's slice of the publishable tables, by table name."""
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def persona_colors_for(artifacts: Artifacts) -> dict[str, str]:
    """The build's persona colours (:func:`~cjresearch.reporting.charts.persona_colors`):
    ``"all"``, the reportable personas, then the others, the same in every page and in the
    explorer."""
    names = [name for _, name in artifacts.personas]
    personas = artifacts.table("personas")
    everyone = personas["persona_name"].astype(str).tolist()
    return charts.persona_colors(["all", *dict.fromkeys([*names, *everyone])])


def _fmt_share(value: object) -> str:
    return "suppressed" if pd.isna(value) else f"{float(value):.1%}"  # type: ignore[arg-type]


def _card(row: pd.Series, traits: pd.DataFrame, verbatims: pd.DataFrame, color: str) -> str:
    name = html.escape(str(row["persona_name"]))
    if bool(row.get("suppressed", False)):
        facts = "<p>Fewer customers than the minimum group size: figures suppressed.</p>"
    else:
        facts = (
            f"<p><strong>{int(row['n_customers']):,}</strong> customers "
            f"({_fmt_share(row['share'])} of all); churn {_fmt_share(row['churn_rate'])} "
            f"(95% CI {_fmt_share(row['churn_ci_low'])}–{_fmt_share(row['churn_ci_high'])}); "
            f"stability {float(row['stability']):.2f} (bootstrap Jaccard; ≥ 0.75 is stable)</p>"
        )
    mine = traits[traits["persona_id"] == row["persona_id"]].sort_values("rank")
    items = "".join(
        f"<li>{html.escape(str(t.feature))}: {t.persona_value:.3g} against {t.overall_value:.3g} "
        f"overall ({t.direction}, standardised difference {t.std_diff:+.2f})</li>"
        for t in mine.itertuples(index=False)
    )
    quotes = verbatims[verbatims["persona_id"] == row["persona_id"]]
    voices = "".join(f"<blockquote>{html.escape(str(t))}</blockquote>" for t in quotes["text"])
    return (
        f'<div class="cj-card" style="border-left: 6px solid {html.escape(color)};'
        f' padding: 0.2em 1em; margin: 1em 0;">'
        f"<h3>{name} <small>(persona {int(row['persona_id'])})</small></h3>{facts}"
        + (f"<p>What sets them apart:</p><ul>{items}</ul>" if items else "")
        + (f"<p>In their words (typical comments, redacted):</p>{voices}" if voices else "")
        + "</div>"
    )


def _forest(
    frame: pd.DataFrame | None,
    stages: Sequence[str],
    colors: dict[str, str],
    title: str,
    estimate: str = "odds_ratio",
) -> Any:
    """A forest plot of odds or hazard ratios, or a sentence saying why there is none."""
    if frame is None or frame.empty or frame[estimate].isna().all():
        return Html(
            "<p><em>No estimate for this group (too few customers or churners, or the "
            "statistics step has not run).</em></p>"
        )
    return charts.forest_plot(frame, stages=stages, colors=colors, estimate=estimate).properties(
        title=title
    )


def _survival(frame: pd.DataFrame | None, stages: Sequence[str], persona: str) -> Any:
    """Kaplan-Meier curves by emotion tercile, or a sentence saying why there are none."""
    if frame is None or frame.empty or not (frame["persona"].astype(str) == persona).any():
        return Html("<p><em>Too few customers at risk for survival curves.</em></p>")
    shown = [s for s in stages if s in set(frame["stage"].astype(str))]
    return charts.km_chart(frame, stages=shown, persona=persona)


def _findings(frame: pd.DataFrame | None, empty: str) -> Html:
    """Plain-language findings as a list, each with its q-value."""
    if frame is None or frame.empty:
        return Html(f"<p><em>{html.escape(empty)}</em></p>")
    items = "".join(
        f"<li>{html.escape(str(r.text))}</li>" for r in frame.sort_values("rank").itertuples()
    )
    return Html(
        f"<ul>{items}</ul><p><small>Associations in observational data, not proof of cause; "
        "q-values are corrected for the number of tests in each family.</small></p>"
    )


@dataclass(frozen=True)
class LagSensitivity:
    """A stage's association at every lag of the study, and the warning if it collapses.

    Attributes
    ----------
    warning
        The plain-language warning, or "" when the association holds as the lag grows.
    table
        The stage's rows of ``emotion_churn_lag``.
    """

    warning: str
    table: pd.DataFrame

    def _repr_html_(self) -> str:
        said = (
            f'<p class="cj-warning"><strong>Warning:</strong> {html.escape(self.warning)}</p>'
            if self.warning
            else "<p>The association holds as the lag grows.</p>"
        )
        return said + table_html(
            self.table,
            columns=[
                "model", "lag_days", "ratio", "ci_low", "ci_high", "p_value", "n_customers",
                "n_churned", "study_lag",
            ],
            caption="The association at each lag (emotion_churn_lag.csv)",
            empty="No lag-sensitivity table in this build.",
        )  # fmt: skip


#: What both reports show of a pain point: its size, emotion and churn lift with interval.
_PAIN_FIGURES = ("n_customers", "emotion_mean", "churn_lift", "lift_ci_low", "lift_ci_high")


@dataclass(frozen=True, kw_only=True)
class _SliceView:
    """What a persona's or a stage's view holds: the study's stages, the build's colours and
    the report's slice of the publishable tables."""

    stages: tuple[str, ...]
    colors: dict[str, str]
    tables: dict[str, pd.DataFrame]

    def _table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())


def _slice_view(artifacts: Artifacts, folder: Path) -> dict[str, Any]:
    """The fields of a :class:`_SliceView` for the report whose slice is ``folder``."""
    return {
        "stages": artifacts.stages,
        "colors": persona_colors_for(artifacts),
        "tables": _slice(folder),
    }


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
    def card(self) -> Html:
        """Size, churn with its interval, stability, distinguishing traits, typical voices."""
        personas = self._table("personas")
        row = personas[personas["persona_id"] == self.persona_id].iloc[0]
        return Html(
            _card(
                row,
                self._table("persona_traits"),
                self._table("persona_verbatims"),
                self.colors.get(str(charts.safe_label(self.name)), charts.ALL_COLOR),
            )
        )

    @property
    def journey_map(self) -> alt.TopLevelMixin:
        """The journey map: touchpoints, channels, reach, emotion, pain points, opportunities."""
        return charts.journey_map_chart(
            self._table("journey_map"),
            self._table("touchpoints"),
            self._table("pain_points"),
            self._table("opportunities"),
            self._table("channels"),
            stages=self.stages,
            persona=self.name,
            colors=self.colors,
        )

    @property
    def emotion_curve(self) -> alt.TopLevelMixin:
        """The persona's emotion per stage (95% band) beside all customers."""
        return charts.emotion_curves(
            self._table("journey_map"),
            stages=self.stages,
            colors=self.colors,
            personas=["all", self.name],
        )

    @property
    def pain_points(self) -> Html:
        """The persona's ranked pain points, each with n."""
        return table_html(
            self._mine("pain_points"),
            columns=["rank", "stage", "touchpoint", *_PAIN_FIGURES, "drop_off", "score"],
            caption="Pain points (score: low emotion, churn lift, drop-off; see the README)",
            empty="No touchpoint stands out beyond chance for this persona.",
        )

    @property
    def churn_drivers(self) -> Any:
        """Odds ratios of churn per emotion step at each stage, this persona and all."""
        return _forest(
            self.tables.get("emotion_churn"),
            self.stages,
            self.colors,
            "Emotion and churn: odds ratio per emotion step (95% CI)",
        )

    @property
    def time_to_churn(self) -> Any:
        """Hazard ratios of churn per emotion step (Cox, emotion as it was expressed)."""
        return _forest(
            self.tables.get("time_to_churn"),
            self.stages,
            self.colors,
            "Emotion and time to churn: hazard ratio per emotion step (95% CI)",
            estimate="hazard_ratio",
        )

    @property
    def survival(self) -> Any:
        """Kaplan-Meier curves of the persona by emotion tercile at each stage."""
        return _survival(self.tables.get("km_curves"), self.stages, self.name)

    @property
    def findings(self) -> Html:
        return _findings(
            self._mine("findings"), "No finding for this persona clears the significance level."
        )

    @property
    def opportunities(self) -> Html:
        return table_html(
            self._mine("opportunities"),
            columns=["rank", "stage", "touchpoint", "n_customers", "reach", "effect", "reason"],
            caption="Opportunities (reach × effect; associations, not proof of cause)",
            empty="No opportunity with an interval clear of no effect.",
        )

    @property
    def voices(self) -> Html:
        """Comments at the persona's top pain points (redacted)."""
        return table_html(
            self._mine("verbatims"),
            columns=["pain_rank", "stage", "touchpoint", "kind", "text", "n_texts"],
            caption="Voices at the pain points (redacted)",
            empty="Too few comments at this persona's pain points to quote.",
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
        **_slice_view(artifacts, artifacts.persona_dir(int(persona))),
    )


# --- stage report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StageView(_SliceView):
    """Everything one stage's report shows."""

    stage: str

    @property
    def personas_compared(self) -> Html:
        """Reach, conversion, emotion (with interval and n) and churn of every persona here."""
        return table_html(
            self._table("journey_map"),
            columns=[
                "persona",
                "n_customers",
                "reach",
                "conversion_next",
                "median_days",
                "emotion_mean",
                "emotion_ci_low",
                "emotion_ci_high",
                "n_emotion",
                "churn_rate",
                "top_touchpoint",
                "top_channel",
            ],
            caption=f"Personas at {self.stage}",
        )

    @property
    def emotion_by_persona(self) -> alt.TopLevelMixin:
        """Emotion at this stage per persona, with its 95% interval."""
        frame = self._table("journey_map")
        frame = frame[frame["emotion_mean"].notna()] if not frame.empty else frame
        scale = alt.Scale(
            domain=[p for p in self.colors if p in set(frame["persona"].astype(str))],
            range=[c for p, c in self.colors.items() if p in set(frame["persona"].astype(str))],
        )
        data = frame[
            ["persona", "emotion_mean", "emotion_ci_low", "emotion_ci_high", "n_emotion"]
        ].assign(persona=lambda f: f["persona"].astype(str).map(charts.safe_label))
        base = alt.Chart(data).encode(y=alt.Y("persona:N", title=None, sort=list(self.colors)))
        return (
            base.mark_rule().encode(
                x=alt.X(
                    "emotion_ci_low:Q", title="emotion (−1 … +1)", scale=alt.Scale(domain=[-1, 1])
                ),
                x2="emotion_ci_high:Q",
            )
            + base.mark_point(filled=True, size=80).encode(
                x="emotion_mean:Q",
                color=alt.Color("persona:N", scale=scale, legend=None),
                tooltip=[
                    "persona:N",
                    alt.Tooltip("emotion_mean:Q", format=".2f"),
                    alt.Tooltip("n_emotion:Q", title="n"),
                ],
            )
        ).properties(width=420, title=f"Emotion at {self.stage} (95% interval)")

    @property
    def churn_drivers(self) -> Any:
        """Odds ratios of churn per emotion step at this stage, per persona."""
        return _forest(
            self.tables.get("emotion_churn"),
            [self.stage],
            self.colors,
            f"Emotion at {self.stage} and churn: odds ratio per emotion step (95% CI)",
        )

    @property
    def survival(self) -> Any:
        """Kaplan-Meier curves of all customers by emotion tercile at this stage."""
        return _survival(self.tables.get("km_curves"), [self.stage], "all")

    @property
    def lag_sensitivity(self) -> LagSensitivity:
        """The stage's lag-sensitivity table (``emotion_churn_lag``) and, when its association
        collapses as the lag grows, the statistics step's plain-language warning."""
        findings = self._table("findings")
        warning = ""
        if not findings.empty:
            mine = findings[
                (findings["kind"] == "lag_sensitivity")
                & (findings["stage"].astype(str) == self.stage)
            ]
            warning = " ".join(mine["text"].astype(str))
        return LagSensitivity(warning, self._table("emotion_churn_lag"))

    @property
    def findings(self) -> Html:
        return _findings(
            self.tables.get("findings"), "No finding at this stage clears the significance level."
        )

    @property
    def touchpoints(self) -> Html:
        return table_html(
            self._table("touchpoints"),
            columns=["persona", "touchpoint", "n_customers", "share", "emotion_mean", "n_emotion"],
            caption=f"Touchpoints at {self.stage}",
        )

    @property
    def pain_points(self) -> Html:
        return table_html(
            self._table("pain_points"),
            columns=["persona", "rank", "touchpoint", *_PAIN_FIGURES, "score"],
            caption=f"Pain points at {self.stage}",
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
    return StageView(stage=stage, **_slice_view(artifacts, artifacts.stage_dir(stage)))


# --- the personas analysis --------------------------------------------------------------


@dataclass(frozen=True)
class PersonaAnalysis:
    """The personas with the evidence for them (the ``personas`` analysis notebook)."""

    personas: pd.DataFrame
    traits: pd.DataFrame
    evidence: pd.DataFrame
    profile: pd.DataFrame
    verbatims: pd.DataFrame
    stages: tuple[str, ...]
    colors: dict[str, str]
    refitted: bool
    settings: dict[str, Any]

    @property
    def evidence_chart(self) -> alt.TopLevelMixin:
        return charts.k_evidence_chart(self.evidence)

    @property
    def evidence_table(self) -> Html:
        return table_html(self.evidence, caption="Evidence per k")

    @property
    def summary(self) -> Html:
        how = "refitted with these settings" if self.refitted else "as built"
        settings = ", ".join(f"{k} = {v!r}" for k, v in self.settings.items())
        return Html(f"<p>Personas {html.escape(how)} ({html.escape(settings)}).</p>")

    @property
    def cards(self) -> Html:
        return Html(
            "".join(
                _card(
                    row,
                    self.traits,
                    self.verbatims,
                    self.colors.get(str(charts.safe_label(str(row["persona_name"]))), "#888"),
                )
                for _, row in self.personas.iterrows()
            )
        )

    @property
    def traits_chart(self) -> alt.TopLevelMixin:
        shown = self.personas[~self.personas["suppressed"].astype(bool)]
        traits = self.traits[self.traits["persona_id"].isin(shown["persona_id"])]
        return charts.persona_traits_chart(traits, shown, colors=self.colors)

    @property
    def channel_chart(self) -> alt.TopLevelMixin:
        return charts.persona_profile_chart(self.profile, kind="channel", colors=self.colors)

    @property
    def stage_chart(self) -> alt.TopLevelMixin:
        return charts.persona_profile_chart(
            self.profile, kind="stage", stages=self.stages, colors=self.colors
        )


def persona_analysis(
    study_file: str | Path,
    artifacts_dir: str | Path,
    *,
    k: int | Literal["auto"] | None = None,
    method: Literal["kmeans", "gmm"] | None = None,
    seed: int | None = None,
) -> PersonaAnalysis:
    """The personas of a build, or of a refit with other settings (None: the study's).

    A refit uses the build's journey features (never the raw log) and is not saved: the
    build's personas stay what reports and assignments use.
    """
    study = load_study(study_file)
    artifacts = open_artifacts(artifacts_dir, study_file=study_file)
    settings = study.personas
    wanted = {
        "k": settings.k if k is None else k,
        "method": settings.method if method is None else method,
        "seed": settings.seed if seed is None else seed,
    }
    built = {"k": settings.k, "method": settings.method, "seed": settings.seed}
    if wanted == built:
        tables = {
            name: artifacts.table(name)
            for name in (
                "personas",
                "persona_traits",
                "persona_k_evidence",
                "persona_profile",
                "persona_verbatims",
            )
        }
        refitted = False
    else:
        tables = _refit(study, artifacts, wanted)
        refitted = True
    names = tables["personas"]["persona_name"].astype(str).tolist()
    return PersonaAnalysis(
        personas=tables["personas"],
        traits=tables["persona_traits"],
        evidence=tables["persona_k_evidence"],
        profile=tables["persona_profile"],
        verbatims=tables["persona_verbatims"],
        stages=artifacts.stages,
        colors=charts.persona_colors(["all", *names]),
        refitted=refitted,
        settings=wanted,
    )


def _refit(study: Any, artifacts: Artifacts, wanted: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return refit_personas(
        study, artifacts, k=wanted["k"], method=wanted["method"], seed=wanted["seed"]
    )


# --- the emotion -> churn analysis ---------------------------------------------------------


@dataclass(frozen=True)
class EmotionChurnView:
    """The emotion -> churn analysis (the ``emotion_churn`` analysis notebook)."""

    tables: dict[str, pd.DataFrame]
    stages: tuple[str, ...]
    persona: str
    colors: dict[str, str]
    recomputed: bool
    settings: dict[str, Any]

    def _pick(self, name: str) -> pd.DataFrame:
        frame = self.tables.get(name, pd.DataFrame())
        if frame.empty or self.persona == EVERY_PERSONA or "persona" not in frame.columns:
            return frame
        return frame[frame["persona"].astype(str).isin([self.persona, "all"])]

    @property
    def summary(self) -> Html:
        how = "recomputed with these settings" if self.recomputed else "as built"
        settings = ", ".join(f"{k} = {v!r}" for k, v in self.settings.items())
        return Html(f"<p>Models {html.escape(how)} ({html.escape(settings)}).</p>")

    @property
    def findings(self) -> Html:
        return _findings(self._pick("findings"), "No finding clears the significance level.")

    @property
    def odds_ratios(self) -> Any:
        return _forest(
            self._pick("emotion_churn"),
            self.stages,
            self.colors,
            "Per stage: odds ratio of churn per emotion step (95% CI)",
        )

    @property
    def hazard_ratios(self) -> Any:
        return _forest(
            self._pick("time_to_churn"),
            self.stages,
            self.colors,
            "Per stage: hazard ratio of churn per emotion step (95% CI)",
            estimate="hazard_ratio",
        )

    @property
    def survival(self) -> Any:
        persona = "all" if self.persona == EVERY_PERSONA else self.persona
        return _survival(self.tables.get("km_curves"), self.stages, persona)

    @property
    def emotion_churn(self) -> Html:
        return table_html(self._pick("emotion_churn"), caption="Per stage (emotion_churn.csv)")

    @property
    def time_to_churn(self) -> Html:
        return table_html(self._pick("time_to_churn"), caption="Time to churn (time_to_churn.csv)")

    @property
    def joint(self) -> Html:
        return table_html(
            self._pick("emotion_churn_joint"),
            caption="Joint model: every stage's emotion together, each net of the others",
        )

    @property
    def diagnostics(self) -> Html:
        return table_html(
            self.tables.get("emotion_churn_joint_diagnostics", pd.DataFrame()),
            caption="Diagnostics of the joint model",
        )

    @property
    def opportunities(self) -> Html:
        return table_html(
            self._pick("opportunity_sizing"),
            caption="Opportunity sizing: modelled churn if emotion rose by one step",
        )


#: ``persona`` of :func:`emotion_churn_analysis` that shows every persona.
EVERY_PERSONA = "every persona"


def emotion_churn_analysis(
    study_file: str | Path,
    artifacts_dir: str | Path,
    *,
    stages: Sequence[str] | None = None,
    persona: str = EVERY_PERSONA,
    controls: Sequence[str] | None = None,
    unit_size: float | None = None,
    correction: Literal["bh", "holm"] | None = None,
) -> EmotionChurnView:
    """The build's emotion -> churn tables, or a recomputation with other settings.

    Parameters
    ----------
    stages
        Stages to model (None or empty: the study's). Fewer stages, a smaller family of tests.
    persona
        A persona's name to show beside all customers, or ``"every persona"``.
    controls, unit_size, correction
        None: the study's ``[statistics]``. Other values recompute the models from the
        build's artifacts (not saved: the build's tables stay what the reports show).

    Raises
    ------
    CJResearchError
        An unknown stage or persona.
    """
    study = load_study(study_file)
    artifacts = open_artifacts(artifacts_dir, study_file=study_file)
    settings = study.statistics
    built: dict[str, Any] = {
        "stages": list(artifacts.stages),
        "controls": list(settings.controls),
        "unit_size": settings.unit_size,
        "correction": settings.correction,
    }
    wanted: dict[str, Any] = {
        "stages": list(stages) if stages else built["stages"],
        "controls": built["controls"] if controls is None else list(controls),
        "unit_size": built["unit_size"] if unit_size is None else unit_size,
        "correction": built["correction"] if correction is None else correction,
    }
    unknown = [s for s in wanted["stages"] if s not in artifacts.stages]
    if unknown:
        msg = f"stages {unknown} are not in the study; its stages are {list(artifacts.stages)}"
        raise CJResearchError(msg)
    known = [EVERY_PERSONA, *artifacts.table("personas")["persona_name"].astype(str)]
    if persona not in known:
        msg = f"persona {persona!r} is not one of {known}"
        raise CJResearchError(msg)
    if wanted == built:
        tables = {name: artifacts.table(name) for name in STATISTICS_TABLES}
    else:
        tables = _reanalyse(study, artifacts, wanted)
    return EmotionChurnView(
        tables,
        tuple(wanted["stages"]),
        persona,
        persona_colors_for(artifacts),
        wanted != built,
        wanted,
    )


def _reanalyse(study: Any, artifacts: Artifacts, wanted: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return reanalyse(artifacts, Settings.resolve(Settings.from_study(study), **wanted))
