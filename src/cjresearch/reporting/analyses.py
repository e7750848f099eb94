"""The analysis notebooks' views: how the personas were found; emotion and churn.

Each reads the build's publishable tables, or recomputes them from the build's artifacts
when asked for other settings than the study's (not saved: the build's tables stay what the
reports show). Shown as the persona and stage reports are (:mod:`cjresearch.reporting.views`):
words for names, formatted tables, figures with alt text, a findings digest.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from cjresearch.analysis.settings import Settings
from cjresearch.artifacts.catalog import STATISTICS_TABLES, Artifacts
from cjresearch.artifacts.compute import open_artifacts, reanalyse, refit_personas
from cjresearch.data.study import load_study
from cjresearch.errors import CJResearchError
from cjresearch.reporting import charts
from cjresearch.reporting.digest import CAVEATS, Digest, digest
from cjresearch.reporting.figures import Figure
from cjresearch.reporting.formats import Column, Html, finite, format_table
from cjresearch.reporting.views import (
    Words,
    card_html,
    forest_alt,
    survival_figure,
    words_for,
)

__all__ = [
    "EVERY_PERSONA",
    "EmotionChurnView",
    "PersonaAnalysis",
    "emotion_churn_analysis",
    "persona_analysis",
]

#: ``persona`` of :func:`emotion_churn_analysis` that shows every persona.
EVERY_PERSONA = "every persona"


def _settings_sentence(how: str, settings: dict[str, Any], words: Words) -> Html:
    """The settings in words ("5 personas by k-means, seed 7")."""
    parts = []
    for key, value in settings.items():
        if isinstance(value, list):
            shown = ", ".join(words(v) for v in value) if value else "none"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return Html(f"<p>{html.escape(how)} ({html.escape('; '.join(parts))}).</p>")


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
    words: Words
    refitted: bool
    settings: dict[str, Any]

    @property
    def colors(self) -> dict[str, str]:
        return self.words.colors

    @property
    def evidence_chart(self) -> Figure:
        chosen = self.evidence[self.evidence["chosen"].astype(bool)]["k"].tolist()
        scores = "silhouette, bootstrap stability" + (
            " and BIC" if self.evidence["bic"].notna().any() else ""
        )
        return Figure(
            charts.k_evidence_chart(self.evidence),
            alt=(
                f"The {scores} of each number of personas tried; "
                + (f"k = {chosen[0]} was chosen." if chosen else "none was chosen.")
            ),
        )

    @property
    def evidence_table(self) -> Html:
        columns = [
            Column("k", "Personas (k)", "int"),
            Column("silhouette", "Silhouette", "num"),
            Column("stability_ari", "Stability (adjusted Rand)", "num"),
        ]
        if self.evidence["bic"].notna().any():
            columns.append(Column("bic", "BIC", "num", decimals=0))
        columns.append(
            Column("chosen", "Chosen", format=lambda r: "chosen" if bool(r["chosen"]) else "")
        )
        return format_table(self.evidence, columns, caption="Evidence per number of personas")

    @property
    def summary(self) -> Html:
        how = "Personas refitted with these settings" if self.refitted else "Personas as built"
        return _settings_sentence(how, self.settings, self.words)

    @property
    def cards(self) -> Html:
        return Html(
            "".join(
                card_html(row, self.traits, self.verbatims, self.words)
                for _, row in self.personas.iterrows()
            )
        )

    def _shown_personas(self) -> pd.DataFrame:
        shown = self.personas[~self.personas["suppressed"].astype(bool)]
        return shown.assign(persona_name=shown["persona_name"].astype(str).map(self.words.persona))

    @property
    def traits_chart(self) -> Figure:
        shown = self._shown_personas()
        traits = self.traits[self.traits["persona_id"].isin(shown["persona_id"])]
        traits = traits.assign(feature=traits["feature"].map(self.words.labels.feature))
        return Figure(
            charts.persona_traits_chart(traits, shown, colors=self.words.shown_colors),
            alt=(
                "For each persona, the standardised difference from everyone else of its top "
                "traits: bars right of 0 are higher than everyone else's, left lower."
            ),
        )

    def _profile(self) -> pd.DataFrame:
        profile = self.profile.assign(
            persona_name=self.profile["persona_name"].astype(str).map(self.words.persona),
            item=self.profile["item"].astype(str).map(self.words),
        )
        return profile

    @property
    def channel_chart(self) -> Figure:
        return Figure(
            charts.persona_profile_chart(
                self._profile(), kind="channel", colors=self.words.shown_colors
            ),
            alt="The share of each persona's interactions on each channel, beside all customers.",
        )

    @property
    def stage_chart(self) -> Figure:
        return Figure(
            charts.persona_profile_chart(
                self._profile(),
                kind="stage",
                stages=[self.words(s) for s in self.stages],
                colors=self.words.shown_colors,
            ),
            alt="The share of each persona's customers who reached each stage, beside all.",
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
    words = words_for(artifacts)
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
        tables = refit_personas(
            study,
            artifacts,
            k=wanted["k"],
            method=str(wanted["method"]),
            seed=int(wanted["seed"]),
        )
        refitted = True
        names = tables["personas"]["persona_name"].astype(str).tolist()
        words = Words(
            labels=words.labels,
            persona_names=words.labels.persona_names(tables["personas"], tables["persona_traits"]),
            colors=charts.persona_colors(["all", *names]),
        )
    return PersonaAnalysis(
        personas=tables["personas"],
        traits=tables["persona_traits"],
        evidence=tables["persona_k_evidence"],
        profile=tables["persona_profile"],
        verbatims=tables["persona_verbatims"],
        stages=artifacts.stages,
        words=words,
        refitted=refitted,
        settings=wanted,
    )


# --- the emotion -> churn analysis ---------------------------------------------------------


def _flags_words(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    codes = [f.split(":")[0] for f in str(value).split(";") if f]
    return ", ".join(CAVEATS.get(c, c.replace("_", " ")) for c in codes)


def _lower(ratio: str) -> Column:
    """A ratio per step of lower emotion with its interval (as the plots draw it)."""

    def shown(row: pd.Series) -> str | None:
        from cjresearch.reporting.formats import estimate

        value, low, high = row.get(ratio), row.get("ci_low"), row.get("ci_high")
        if value is None or pd.isna(value) or float(value) <= 0:
            return None

        def turned(bound: Any) -> float:
            # a bound of 0 (or none) has no finite inverse: the interval is left out
            return 1 / float(bound) if finite(bound) and float(bound) > 0 else math.nan

        return estimate(1 / float(value), turned(high), turned(low))

    what = "Odds ratio" if ratio == "odds_ratio" else "Hazard ratio"
    return Column(ratio, f"{what} per step of lower emotion (95% CI)", "num", format=shown)


@dataclass(frozen=True)
class EmotionChurnView:
    """The emotion -> churn analysis (the ``emotion_churn`` analysis notebook)."""

    tables: dict[str, pd.DataFrame]
    stages: tuple[str, ...]
    persona: str
    words: Words
    recomputed: bool
    settings: dict[str, Any]
    alpha: float = 0.05

    @property
    def colors(self) -> dict[str, str]:
        return self.words.colors

    def _pick(self, name: str) -> pd.DataFrame:
        frame = self.tables.get(name, pd.DataFrame())
        if frame.empty or self.persona == EVERY_PERSONA or "persona" not in frame.columns:
            return frame
        return frame[frame["persona"].astype(str).isin([self.persona, "all"])]

    @property
    def summary(self) -> Html:
        how = "Models recomputed with these settings" if self.recomputed else "Models as built"
        return _settings_sentence(how, self.settings, self.words)

    @property
    def findings(self) -> Digest:
        return digest(
            self._pick("emotion_churn"),
            self._pick("time_to_churn"),
            stages=self.stages,
            alpha=self.alpha,
            persona_label=self.words.persona,
            stage_label=self.words,
        )

    def _forest(self, name: str, estimate: str, title: str) -> Figure | Html:
        frame = self._pick(name)
        if frame.empty or frame[estimate].isna().all():
            return Html("<p><em>No estimate (too few customers or churners).</em></p>")
        shown = self.words.shown(frame)
        chart = charts.forest_plot(
            shown,
            stages=self.stages,
            colors=self.words.shown_colors,
            estimate=estimate,
            labels=self.words,
            width=560,
        ).properties(title=title)
        return Figure(chart, alt=forest_alt(shown, estimate, self.words))

    @property
    def odds_ratios(self) -> Figure | Html:
        return self._forest(
            "emotion_churn",
            "odds_ratio",
            "Per stage: odds ratio of churn per step of lower emotion",
        )

    @property
    def hazard_ratios(self) -> Figure | Html:
        return self._forest(
            "time_to_churn",
            "hazard_ratio",
            "Per stage: hazard ratio of churn per step of lower emotion",
        )

    @property
    def survival(self) -> Any:
        persona = "all" if self.persona == EVERY_PERSONA else self.persona
        return survival_figure(self.tables.get("km_curves"), self.stages, persona, self.words)

    def _ratio_table(self, name: str, ratio: str, caption: str, n_col: str) -> Html:
        words = self.words
        frame = self._pick(name)
        return format_table(
            frame,
            [
                Column("stage", "Stage", format=lambda r: words(r["stage"])),
                Column("persona", "Persona", format=lambda r: words.persona(r["persona"])),
                _lower(ratio),
                Column("q_value", "q", "pvalue"),
                Column("n_customers", "Customers", "int"),
                Column(n_col, "Churned", "int"),
                Column("flags", "Caveats", format=lambda r: _flags_words(r.get("flags"))),
            ],
            caption=caption,
            notes=["q: p-value corrected for the number of tests in the family."],
        )

    @property
    def emotion_churn(self) -> Html:
        return self._ratio_table(
            "emotion_churn", "odds_ratio", "Per stage (tables/emotion_churn.csv)", "n_churned"
        )

    @property
    def time_to_churn(self) -> Html:
        return self._ratio_table(
            "time_to_churn", "hazard_ratio", "Time to churn (tables/time_to_churn.csv)", "n_events"
        )

    @property
    def joint(self) -> Html:
        return self._ratio_table(
            "emotion_churn_joint",
            "odds_ratio",
            "Joint model: every stage's emotion together, each net of the others",
            "n_churned",
        )

    @property
    def diagnostics(self) -> Html:
        frame = self.tables.get("emotion_churn_joint_diagnostics", pd.DataFrame())
        return format_table(
            frame,
            [
                Column("model", "Model", format=lambda r: str(r["model"]).capitalize()),
                Column("n_customers", "Customers", "int"),
                Column("n_churned", "Churned", "int"),
                Column("events_per_variable", "Churners per model term", "num", decimals=0),
                Column(
                    "converged",
                    "Converged",
                    format=lambda r: (
                        None if pd.isna(r["converged"]) else "yes" if r["converged"] else "no"
                    ),
                ),
                Column("auc", "Cross-validated AUC", "num"),
                Column("calibration_slope", "Calibration slope", "num"),
                Column("hosmer_lemeshow_p", "Hosmer-Lemeshow p", "pvalue"),
                Column("max_vif", "Largest VIF", "num", decimals=1),
                Column("flags", "Caveats", format=lambda r: _flags_words(r.get("flags"))),
            ],
            caption="Diagnostics of the joint model",
        )

    @property
    def opportunities(self) -> Html:
        frame = self._pick("opportunity_sizing")
        words = self.words

        def fewer(row: pd.Series) -> str | None:
            value = row.get("churners_fewer")
            return None if value is None or pd.isna(value) else f"about {float(value):,.0f}"

        return format_table(
            frame,
            [
                Column("stage", "Stage", format=lambda r: words(r["stage"])),
                Column("persona", "Persona", format=lambda r: words.persona(r["persona"])),
                Column("n_customers", "Customers", "int"),
                Column("churn_rate_modelled", "Churn now (modelled)", "pct"),
                Column(
                    "churn_rate_if_better",
                    "If emotion rose one step (95% CI)",
                    "pct_estimate",
                ),
                Column("churners_fewer", "Fewer churners", format=fewer),
            ],
            caption="Opportunity sizing: modelled churn if emotion rose by one step",
            notes=["A what-if on an association, not a forecast of an intervention."],
        )


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
        words_for(artifacts),
        wanted != built,
        wanted,
        alpha=study.statistics.alpha,
    )


def _reanalyse(study: Any, artifacts: Artifacts, wanted: dict[str, Any]) -> dict[str, pd.DataFrame]:
    return reanalyse(artifacts, Settings.resolve(Settings.from_study(study), **wanted))
