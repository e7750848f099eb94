"""cjresearch: an open research toolkit for customer journey mapping.

The researcher's facade: the study file and tables, the analyses, the build, the artifacts
and the explorer, re-exported from the subpackages that own them (the plumbing stays there).
The package is layered, each layer importing only those below it (under all of them the
shared base: ``errors``, files, checks, the version, memory and background work)::

    data       -> the study file, the canonical tables and their validation
    datasets   -> the synthetic sample study with planted truth
    analysis   -> pure computation: emotion, journeys, personas, statistics, journey maps
    artifacts  -> a study's computation, once, as named steps; the catalog; the manifest
    reporting  -> artifacts to pages: charts, views, notebooks, execution, publishing
    explore    -> the ipywidgets explorer and its JupyterLab / Voila launcher
    build, cli -> the job and the command line

Attributes load lazily (PEP 562), so ``import cjresearch`` and the CLI's ``--version`` stay
fast and nothing runs at import.

>>> import cjresearch as cj
>>> cj.normalise_scores
<function normalise_scores at ...>
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cjresearch._version import __version__

#: Public name -> the module that owns it.
_EXPORTS = {
    "Study": "cjresearch.data.study",
    "load_study": "cjresearch.data.study",
    "StudyTables": "cjresearch.data.tables",
    "load_tables": "cjresearch.data.tables",
    "validate_tables": "cjresearch.data.tables",
    "ALL": "cjresearch.data.schema",
    "INSTRUMENTS": "cjresearch.data.schema",
    "INSTRUMENT_SCALES": "cjresearch.data.schema",
    "Settings": "cjresearch.analysis.settings",
    "TextScorer": "cjresearch.analysis.emotion",
    "emotion_observations": "cjresearch.analysis.emotion",
    "normalise_scores": "cjresearch.analysis.emotion",
    "score_texts": "cjresearch.analysis.emotion",
    "stage_emotion": "cjresearch.analysis.emotion",
    "text_score_agreement": "cjresearch.analysis.emotion",
    "customer_features": "cjresearch.analysis.journeys",
    "select_features": "cjresearch.analysis.journeys",
    "stage_transitions": "cjresearch.analysis.journeys",
    "JourneyMap": "cjresearch.analysis.journey_map",
    "build_map": "cjresearch.analysis.journey_map",
    "redact": "cjresearch.analysis.privacy",
    "suppress": "cjresearch.analysis.privacy",
    "PersonaModel": "cjresearch.analysis.personas.model",
    "fit_personas": "cjresearch.analysis.personas.model",
    "load_persona_model": "cjresearch.analysis.personas.model",
    "EmotionChurnResult": "cjresearch.analysis.stats",
    "adjust_pvalues": "cjresearch.analysis.stats",
    "analyse": "cjresearch.analysis.stats",
    "emotion_churn": "cjresearch.analysis.stats",
    "findings": "cjresearch.analysis.stats",
    "joint_model": "cjresearch.analysis.stats",
    "opportunities": "cjresearch.analysis.stats",
    "survival_curves": "cjresearch.analysis.stats",
    "time_to_churn": "cjresearch.analysis.stats",
    "generate_sample": "cjresearch.datasets.sample",
    "write_sample": "cjresearch.datasets.sample",
    "Artifacts": "cjresearch.artifacts.catalog",
    "assign_new_customers": "cjresearch.artifacts.compute",
    "compute_artifacts": "cjresearch.artifacts.compute",
    "open_artifacts": "cjresearch.artifacts.compute",
    "BuildResult": "cjresearch.build",
    "build": "cjresearch.build",
    "ReportSpec": "cjresearch.reporting.reports",
    "PortalContext": "cjresearch.reporting.portal",
    "publish_reports": "cjresearch.reporting.reports",
    "notebook_parameters": "cjresearch.reporting.notebooks",
    "run_notebook": "cjresearch.reporting.reports",
    "ExecutionOptions": "cjresearch.reporting.execute",
    "Provenance": "cjresearch.reporting.html",
    "Explorer": "cjresearch.explore.widgets",
    "ArgumentError": "cjresearch.errors",
    "CJResearchError": "cjresearch.errors",
    "CJResearchWarning": "cjresearch.errors",
    "DataError": "cjresearch.errors",
    "DataWarning": "cjresearch.errors",
    "OutputLockedError": "cjresearch.errors",
    "StatisticalWarning": "cjresearch.errors",
    "StudyFileError": "cjresearch.errors",
}
#: Modules offered whole (``cj.charts.forest_plot(...)``).
_MODULES = {
    "charts": "cjresearch.reporting.charts",
    "views": "cjresearch.reporting.views",
}

__all__ = [
    "ALL",
    "INSTRUMENTS",
    "INSTRUMENT_SCALES",
    "ArgumentError",
    "Artifacts",
    "BuildResult",
    "CJResearchError",
    "CJResearchWarning",
    "DataError",
    "DataWarning",
    "EmotionChurnResult",
    "ExecutionOptions",
    "Explorer",
    "JourneyMap",
    "OutputLockedError",
    "PersonaModel",
    "PortalContext",
    "Provenance",
    "ReportSpec",
    "Settings",
    "StatisticalWarning",
    "Study",
    "StudyFileError",
    "StudyTables",
    "TextScorer",
    "__version__",
    "adjust_pvalues",
    "analyse",
    "assign_new_customers",
    "build",
    "build_map",
    "charts",
    "compute_artifacts",
    "customer_features",
    "emotion_churn",
    "emotion_observations",
    "findings",
    "fit_personas",
    "generate_sample",
    "joint_model",
    "load_persona_model",
    "load_study",
    "load_tables",
    "normalise_scores",
    "notebook_parameters",
    "open_artifacts",
    "opportunities",
    "publish_reports",
    "redact",
    "run_notebook",
    "score_texts",
    "select_features",
    "stage_emotion",
    "stage_transitions",
    "suppress",
    "survival_curves",
    "text_score_agreement",
    "time_to_churn",
    "validate_tables",
    "views",
    "write_sample",
]

if TYPE_CHECKING:
    from cjresearch.analysis.emotion import (
        TextScorer,
        emotion_observations,
        normalise_scores,
        score_texts,
        stage_emotion,
        text_score_agreement,
    )
    from cjresearch.analysis.journey_map import JourneyMap, build_map
    from cjresearch.analysis.journeys import customer_features, select_features, stage_transitions
    from cjresearch.analysis.personas.model import PersonaModel, fit_personas, load_persona_model
    from cjresearch.analysis.privacy import redact, suppress
    from cjresearch.analysis.settings import Settings
    from cjresearch.analysis.stats import (
        EmotionChurnResult,
        adjust_pvalues,
        analyse,
        emotion_churn,
        findings,
        joint_model,
        opportunities,
        survival_curves,
        time_to_churn,
    )
    from cjresearch.artifacts.catalog import Artifacts
    from cjresearch.artifacts.compute import assign_new_customers, compute_artifacts, open_artifacts
    from cjresearch.build import BuildResult, build
    from cjresearch.data.schema import ALL, INSTRUMENT_SCALES, INSTRUMENTS
    from cjresearch.data.study import Study, load_study
    from cjresearch.data.tables import StudyTables, load_tables, validate_tables
    from cjresearch.datasets.sample import generate_sample, write_sample
    from cjresearch.errors import (
        ArgumentError,
        CJResearchError,
        CJResearchWarning,
        DataError,
        DataWarning,
        OutputLockedError,
        StatisticalWarning,
        StudyFileError,
    )
    from cjresearch.explore.widgets import Explorer
    from cjresearch.reporting import charts, views
    from cjresearch.reporting.execute import ExecutionOptions
    from cjresearch.reporting.html import Provenance
    from cjresearch.reporting.notebooks import notebook_parameters
    from cjresearch.reporting.portal import PortalContext
    from cjresearch.reporting.reports import ReportSpec, publish_reports, run_notebook


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value: Any = importlib.import_module(_MODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        msg = f"module 'cjresearch' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
