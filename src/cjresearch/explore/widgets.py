"""The explorer: linked ipywidgets controls over a build's artifacts, in JupyterLab or Voila.

In a notebook, as a cell's last expression::

    from cjresearch.explore.widgets import Explorer
    Explorer("processed", study_file="study.toml")

Controls: personas (several, to compare), stage, emotion source, window of months, minimum
group size (never below the study's) and "compare to all customers". Panes: the journey map
of the first chosen persona, the emotion curves, the funnel, pain points with what
customers said there, the emotion -> churn forest plot and the plain-language findings, and
the KPIs of the chosen personas (and of all customers) at the chosen stage, with their
status against target and their trend over the builds (the build's figures: the window and
source controls do not change them).

Every change recomputes from the pre-aggregated cube (:mod:`cjresearch.analysis.cube`,
:mod:`cjresearch.explore.selection`), never from the event log, and redraws the panes it affects.
Charts are ``altair.JupyterChart`` widgets with the Vega bundle served from vl-convert
(``enable_offline``), so they render with no network; tables and comments are escaped HTML.
The same rules as the reports hold: figures below the minimum group size are suppressed,
comments are redacted, and no customer id is shown. "Export selection" writes the view's
tables as CSV and its charts as SVG.
"""

from __future__ import annotations

import html
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import altair as alt
import ipywidgets as w
import numpy as np
import pandas as pd

from cjresearch.analysis.cube import ALL_SOURCES
from cjresearch.artifacts.compute import open_artifacts, open_cube
from cjresearch.errors import CJResearchError
from cjresearch.explore.selection import TOP_PAIN_POINTS, Query, Selection, select
from cjresearch.reporting import charts, kpi_charts, owner_views, views

__all__ = ["ALL_STAGES", "Explorer"]

SOURCE_LABELS = {
    ALL_SOURCES: "All sources",
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES (effort)",
    "rating": "Ratings",
    "text": "Free text (scored)",
    "valence": "Touchpoint valence (study file)",
    "event": "Emotion on events",
}
ALL_STAGES = "(every stage)"
#: Panes and the parts of the query each one shows (a pane is redrawn only when they change).
_PANES: dict[str, tuple[str, ...]] = {  # in drawing order: the quick text first
    "summary": ("labels", "stage", "source", "window", "min_group_size"),
    "emotion": ("labels", "source", "window", "min_group_size"),
    "funnel": ("labels", "window", "min_group_size"),
    "map": ("focus", "source", "window", "min_group_size"),
    "forest": ("labels", "stage"),
    "findings": ("labels", "stage"),
    "pain": ("labels", "stage", "source", "window", "min_group_size"),
    "kpis": ("labels", "stage"),
    "kpi_trend": ("labels", "stage"),
}
_CHART_PANES = ("map", "emotion", "funnel", "forest", "kpi_trend")
#: Chart specs kept for selections seen before (going back to one is instant).
SPEC_CACHE = 64
MODEL_NOTE = (
    "The churn models are fitted once per build on the whole observation period and every "
    "emotion source; the window and source controls change the descriptive panes only. "
    "Associations in observational data, not proof of cause; q-values are corrected for the "
    "number of tests in each family."
)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class Explorer(w.VBox):
    """Explore a study's personas, stages, emotion and churn with linked widgets.

    Parameters
    ----------
    artifacts_dir
        A build's artifacts folder (``cjresearch build`` writes it).
    study_file
        The study, to compute the artifacts first when the folder holds none.
    export_dir
        Where "Export selection" writes (default: ``explorer-exports`` in the working
        folder).

    Attributes
    ----------
    persona, stage, source, window, min_group_size, compare, export_button
        The controls.
    map_chart, emotion_chart, funnel_chart, forest_chart, kpi_trend_chart
        The charts (``altair.JupyterChart``).
    kpi_pane
        The KPIs of the selection with their status (HTML).
    selection
        The current :class:`cjresearch.explore.selection.Selection` (None while a message explains
        why nothing can be shown).
    last_update_s
        Seconds the last control change took to update every pane.
    """

    def __init__(
        self,
        artifacts_dir: str | Path,
        *,
        study_file: str | Path | None = None,
        export_dir: str | Path | None = None,
    ) -> None:
        artifacts = open_artifacts(artifacts_dir, study_file=study_file)
        self.artifacts = artifacts
        settings = artifacts.settings()
        self.cube = open_cube(artifacts, settings)
        self.stages = list(artifacts.stages)
        self.study_min = settings.min_group_size
        self.export_dir = Path(export_dir) if export_dir is not None else Path("explorer-exports")
        self.colors = views.persona_colors_for(artifacts)
        self.emotion_churn = artifacts.table("emotion_churn")
        self.findings = artifacts.table("findings")
        self.kpis, self.kpi_history, _ = owner_views.management_tables(artifacts)
        # cells the build's suppression pass hid (against differencing across the published
        # tables) stay hidden here too
        published = artifacts.table("journey_map")
        self._hidden_emotion = set(
            zip(
                published.loc[published["emotion_mean"].isna(), "persona"].astype(str),
                published.loc[published["emotion_mean"].isna(), "stage"].astype(str),
                strict=True,
            )
        )
        names = [name for _, name in artifacts.personas if name in self.cube.personas]
        self.selection: Selection | None = None
        self.last_update_s = float("nan")
        self._charts: dict[str, alt.TopLevelMixin] = {}
        self._drawn: dict[str, tuple[Any, ...]] = {}
        self._specs: OrderedDict[tuple[str, tuple[Any, ...]], tuple[Any, dict[str, Any]]] = (
            OrderedDict()
        )

        self.persona = w.SelectMultiple(
            options=names, value=tuple(names[:1]), rows=min(max(len(names), 2), 6),
            description="Personas",
        )  # fmt: skip
        self.stage = w.Dropdown(options=[ALL_STAGES, *self.stages], description="Stage")
        self.source = w.Dropdown(
            options=[(SOURCE_LABELS.get(s, s), s) for s in self.cube.sources],
            value=ALL_SOURCES,
            description="Emotion",
        )
        periods = list(self.cube.periods)
        self.window = w.SelectionRangeSlider(
            options=periods, index=(0, len(periods) - 1), description="Months",
            continuous_update=False, layout=w.Layout(width="420px"),
        )  # fmt: skip
        self.min_group_size = w.IntSlider(
            value=self.study_min, min=self.study_min, max=max(10 * self.study_min, 100),
            description="Min group", continuous_update=False,
        )  # fmt: skip
        self.compare = w.Checkbox(value=True, description="Compare to all customers")
        self.export_button = w.Button(description="Export selection", icon="download")
        self.export_button.on_click(lambda _: self.export())
        self.persona.add_class("cjr-persona")

        alt.JupyterChart.enable_offline()
        self.map_chart = self._chart("map")
        self.emotion_chart = self._chart("emotion")
        self.funnel_chart = self._chart("funnel")
        self.forest_chart = self._chart("forest")
        self.kpi_trend_chart = self._chart("kpi_trend")
        self.message = w.HTML().add_class("cjr-message")
        self.summary = w.HTML().add_class("cjr-summary")
        self.findings_pane = w.HTML().add_class("cjr-findings")
        self.pain_pane = w.HTML().add_class("cjr-pain")
        self.kpi_pane = w.HTML().add_class("cjr-kpis")

        controls = w.HBox(
            [
                self.persona,
                w.VBox([self.stage, self.source, self.compare]),
                w.VBox([self.window, self.min_group_size, self.export_button]),
            ]
        )
        super().__init__(
            [
                controls,
                self.message,
                self.summary,
                w.HBox([self.emotion_chart, self.funnel_chart]),
                self.map_chart,
                w.HTML("<h4>Pain points and what customers said there</h4>"),
                self.pain_pane,
                w.HTML("<h4>Emotion and churn</h4>"),
                w.HBox([self.forest_chart, self.findings_pane]),
                w.HTML("<h4>KPIs against targets</h4>"),
                self.kpi_pane,
                self.kpi_trend_chart,
            ]
        )
        self.add_class("cjr-explorer")
        for name in ("persona", "stage", "source", "window", "min_group_size", "compare"):
            getattr(self, name).observe(self._changed(name), names="value")
        self.refresh()

    # --- state ------------------------------------------------------------------------

    def _chart(self, name: str) -> alt.JupyterChart:
        placeholder = alt.Chart(pd.DataFrame({"x": []})).mark_point()
        chart = alt.JupyterChart(placeholder)
        chart.add_class(f"cjr-chart-{name}")
        return chart

    def query(self) -> Query:
        """The controls' values as a :class:`cjresearch.explore.selection.Query`."""
        periods = list(self.cube.periods)
        first, last = self.window.value
        return Query(
            personas=tuple(self.persona.value),
            stage=None if self.stage.value == ALL_STAGES else self.stage.value,
            source=self.source.value,
            window=(periods.index(first), periods.index(last)),
            min_group_size=max(int(self.min_group_size.value), self.study_min),
            compare=bool(self.compare.value),
        )

    def _pane_key(self, pane: str, selection: Selection) -> tuple[Any, ...]:
        q = selection.query
        parts = {
            "focus": selection.labels[0],
            "labels": tuple(selection.labels),
            "source": q.source,
            "window": q.window,
            "min_group_size": q.min_group_size,
            "stage": q.stage,
        }
        return tuple(parts[name] for name in _PANES[pane])

    def _changed(self, control: str) -> Callable[[Any], None]:
        return lambda _change: self.refresh(control)

    def refresh(self, control: str | None = None) -> None:
        """Recompute the selection and redraw the panes whose part of it changed (every pane
        when ``control`` is None). An impossible selection shows a message and leaves the
        panes as they were."""
        started = time.perf_counter()
        try:
            selection = select(self.cube, self.query())
        except CJResearchError as exc:
            self.selection = None
            self.message.value = f'<p style="color:#a33"><strong>{_esc(exc)}</strong></p>'
            self.last_update_s = time.perf_counter() - started
            return
        self.selection = selection
        self.message.value = "".join(
            f'<p style="color:#a33">{_esc(note)}</p>' for note in selection.notes
        )
        for pane in _PANES:
            key = self._pane_key(pane, selection)
            if control is not None and self._drawn.get(pane) == key:
                continue
            if pane in _CHART_PANES:
                self._show(pane, key, selection)
            else:
                getattr(self, f"_draw_{pane}")(selection)
            self._drawn[pane] = key
        self.last_update_s = time.perf_counter() - started

    # --- panes ------------------------------------------------------------------------

    def _show(self, pane: str, key: tuple[Any, ...], selection: Selection) -> None:
        """Draw chart ``pane`` for ``selection``, or reuse the spec drawn for the same key.

        The spec is sent without altair's schema validation (half the cost of an update):
        the chart functions' specs are validated by their tests, and these charts have no
        parameters for JupyterChart to track.
        """
        cached = self._specs.get((pane, key))
        if cached is None:
            chart = getattr(self, f"_chart_{pane}")(selection)
            cached = (chart, chart.to_dict(validate=False))
            self._specs[(pane, key)] = cached
            while len(self._specs) > SPEC_CACHE:
                self._specs.popitem(last=False)
        else:
            self._specs.move_to_end((pane, key))
        self._charts[pane] = cached[0]
        getattr(self, f"{pane}_chart").spec = cached[1]

    def _focus(self, selection: Selection) -> str:
        return selection.labels[0]

    def _chart_map(self, selection: Selection) -> alt.TopLevelMixin:
        focus = self._focus(selection)
        return charts.journey_map_chart(
            selection["journey_map"],
            selection["touchpoints"],
            selection["pain_points"],
            None,
            selection["channels"],
            stages=self.stages,
            persona=focus,
            colors=self.colors,
            lane_width=110,
        )

    def _chart_emotion(self, selection: Selection) -> alt.TopLevelMixin:
        frame = selection["journey_map"]
        hidden = [
            (str(p), str(s)) in self._hidden_emotion
            for p, s in zip(frame["persona"], frame["stage"], strict=True)
        ]
        if any(hidden):
            frame = frame.copy()
            emotion = [
                c for c in frame.columns if c.startswith("emotion_") and c != "emotion_suppressed"
            ]
            frame.loc[hidden, emotion] = np.nan
        chart = charts.emotion_curves(
            frame,
            stages=self.stages,
            colors=self.colors,
            personas=selection.labels,
            width=460,
        )
        source = SOURCE_LABELS.get(selection.query.source, selection.query.source)
        return chart.properties(title=f"Emotion along the journey ({source})")

    def _chart_funnel(self, selection: Selection) -> alt.TopLevelMixin:
        return charts.funnel_chart(
            selection["funnel"],
            stages=self.stages,
            colors=self.colors,
            personas=selection.labels,
            width=320,
        )

    def _models(self, selection: Selection, table: pd.DataFrame) -> pd.DataFrame:
        keep = table["persona"].astype(str).isin(selection.labels)
        if selection.query.stage is not None and "stage" in table.columns:
            keep &= table["stage"].astype(str) == selection.query.stage
        return table[keep]

    def _chart_forest(self, selection: Selection) -> alt.TopLevelMixin:
        rows = self._models(selection, self.emotion_churn)
        if rows.empty:
            chart: alt.TopLevelMixin = (
                alt.Chart(pd.DataFrame({"text": ["No model for this selection"]}))
                .mark_text()
                .encode(text="text:N")
            )
        else:
            chart = charts.forest_plot(rows, stages=self.stages, colors=self.colors, width=360)
        return chart

    def _draw_findings(self, selection: Selection) -> None:
        rows = self._models(selection, self.findings).sort_values("rank").head(8)
        items = "".join(f"<li>{_esc(r.text)}</li>" for r in rows.itertuples())
        body = f"<ul>{items}</ul>" if items else "<p><em>No finding for this selection.</em></p>"
        self.findings_pane.value = f"{body}<p><small>{_esc(MODEL_NOTE)}</small></p>"

    def _draw_pain(self, selection: Selection) -> None:
        pains = selection["pain_points"]
        if pains.empty:
            said = " ".join(_esc(n) for n in selection.notes if "pain-point" in n)
            self.pain_pane.value = (
                f"<p><em>{said}</em></p>"
                if said
                else "<p><em>No touchpoint in this selection shows harm beyond chance (churn, "
                "drop-off, its own emotion or session conversion, adjusted for persona and "
                "the study's controls) among groups of at least "
                f"{selection.query.min_group_size} customers.</em></p>"
            )
            return
        table = views.table_html(
            pains.groupby("persona", sort=False).head(TOP_PAIN_POINTS),
            columns=[
                "persona", "stage", "touchpoint", "rank", "evidence", "n_customers",
                "churn_rate", "churn_rate_comparison", "churn_lift_shrunk",
                "churn_lift_shrunk_ci_low", "churn_lift_shrunk_ci_high", "emotion_gap",
                "drop_off", "drop_off_comparison", "session_conversion_gap", "n_comparison",
            ],
        )  # fmt: skip
        said = selection["verbatims"]
        quotes = "".join(
            f"<li><strong>{_esc(r.persona)} · {_esc(r.stage)} · {_esc(r.touchpoint)}</strong>: "
            f"&ldquo;{_esc(r.text)}&rdquo; <small>(text emotion {r.text_emotion:.2f})</small></li>"
            for r in said.itertuples()
        )
        note = (
            "<p><small>Pain points by the one definition the journey map and the reports use "
            "(README, Journey maps): customers who met the touchpoint against the stage's "
            "other customers, adjusted for persona and the study's controls and pooled "
            "across touchpoints; <em>evidence</em> names the comparisons whose interval lies "
            "wholly on the side of harm. An association, not a proven cause. Comments are "
            "redacted.</small></p>"
        )
        self.pain_pane.value = str(table) + note + (f"<ul>{quotes}</ul>" if quotes else "")

    def _selected_kpis(self, selection: Selection) -> pd.DataFrame:
        return owner_views.kpis_for(
            self.kpis, personas=selection.labels, stage=selection.query.stage
        )

    def _draw_kpis(self, selection: Selection) -> None:
        where = selection.query.stage or "any stage"
        self.kpi_pane.value = owner_views.kpi_status_html(
            self._selected_kpis(selection),
            empty=(
                f"No KPI for these personas at {where}: add [[kpis]] entries to the study "
                "file (see the README, Journey management)."
            ),
        ) + (
            "<p><small>KPIs are the build's figures over the whole observation period; "
            "met and missed mean the whole 95% interval lies on one side of the "
            "target.</small></p>"
        )

    def _chart_kpi_trend(self, selection: Selection) -> alt.TopLevelMixin:
        shown = self._selected_kpis(selection)
        return kpi_charts.kpi_trend_chart(
            self.kpi_history, kpis=shown, names=list(shown["kpi"]), width=360, height=60
        )

    def _draw_summary(self, selection: Selection) -> None:
        the_map = selection["journey_map"]
        sizes = the_map.drop_duplicates("persona")[["persona", "n_persona"]]
        who = ", ".join(
            f"{_esc(r.persona)}: "
            + ("fewer than the minimum" if pd.isna(r.n_persona) else f"{int(r.n_persona):,}")
            for r in sizes.itertuples()
        )
        q = selection.query
        self.summary.value = (
            f"<p>Months <strong>{_esc(selection.window[0])}</strong> to "
            f"<strong>{_esc(selection.window[1])}</strong> · emotion from "
            f"<strong>{_esc(SOURCE_LABELS.get(q.source, q.source))}</strong> · "
            f"stage <strong>{_esc(q.stage or 'every stage')}</strong> · groups under "
            f"{q.min_group_size} customers suppressed.<br>Customers active in the window: "
            f"{who}.</p>"
        )

    # --- export -----------------------------------------------------------------------

    def export(self, folder: str | Path | None = None) -> Path | None:
        """Write the current view's tables (CSV) and charts (SVG) into a new folder.

        Returns the folder, or None (with a message) when nothing is selected. The folder
        appears complete or not at all.
        """
        if self.selection is None:
            self.message.value = "<p><em>Nothing to export: fix the selection first.</em></p>"
            return None
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        target = Path(folder) if folder is not None else self.export_dir / f"selection-{stamp}"
        partial = target.with_name(target.name + ".partial")
        partial.mkdir(parents=True, exist_ok=False)
        for name, frame in self.selection.tables.items():
            frame.to_csv(partial / f"{name}.csv", index=False)
        models = self._models(self.selection, self.emotion_churn)
        models.to_csv(partial / "emotion_churn.csv", index=False)
        for name, chart in self._charts.items():
            chart.save(str(partial / f"{name}.svg"), format="svg")
        partial.replace(target)
        self.message.value = f"<p>Exported the selection to <code>{_esc(target)}</code>.</p>"
        return target
