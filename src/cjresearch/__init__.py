"""cjresearch: an open research toolkit for customer journey mapping.

The public API, re-exported from the modules that own it. Attributes load lazily (PEP 562),
so ``import cjresearch`` and the CLI's ``--version`` stay fast and nothing runs at import.

>>> import cjresearch as cj
>>> cj.normalise_scores
<function normalise_scores at ...>
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cjresearch._version import __version__

_EXPORTS = {
    "Study": "cjresearch.data.study",
    "load_study": "cjresearch.data.study",
    "StudyTables": "cjresearch.data.tables",
    "load_tables": "cjresearch.data.tables",
    "INSTRUMENTS": "cjresearch.data.schema",
    "INSTRUMENT_SCALES": "cjresearch.data.schema",
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
    "generate_sample": "cjresearch.datasets.sample",
    "write_sample": "cjresearch.datasets.sample",
    "EmotionChurnResult": "cjresearch.analysis.stats",
    "adjust_pvalues": "cjresearch.analysis.stats",
    "analyse": "cjresearch.analysis.stats",
    "emotion_churn": "cjresearch.analysis.stats",
    "findings": "cjresearch.analysis.stats",
    "joint_model": "cjresearch.analysis.stats",
    "opportunities": "cjresearch.analysis.stats",
    "survival_curves": "cjresearch.analysis.stats",
    "time_to_churn": "cjresearch.analysis.stats",
    "BuildResult": "cjresearch.build",
    "build": "cjresearch.build",
    "ReportSpec": "cjresearch.reporting.reports",
    "PortalContext": "cjresearch.reporting.portal",
    "publish_reports": "cjresearch.reporting.reports",
    "notebook_parameters": "cjresearch.reporting.notebooks",
    "run_notebook": "cjresearch.reporting.reports",
    "CJResearchError": "cjresearch.errors",
    "CJResearchWarning": "cjresearch.errors",
    "DataError": "cjresearch.errors",
    "DataWarning": "cjresearch.errors",
    "StatisticalWarning": "cjresearch.errors",
    "StudyFileError": "cjresearch.errors",
}

__all__ = [
    "INSTRUMENTS",
    "INSTRUMENT_SCALES",
    "BuildResult",
    "CJResearchError",
    "CJResearchWarning",
    "DataError",
    "DataWarning",
    "EmotionChurnResult",
    "JourneyMap",
    "PortalContext",
    "ReportSpec",
    "StatisticalWarning",
    "Study",
    "StudyFileError",
    "StudyTables",
    "TextScorer",
    "__version__",
    "adjust_pvalues",
    "analyse",
    "build",
    "build_map",
    "customer_features",
    "emotion_churn",
    "emotion_observations",
    "findings",
    "generate_sample",
    "joint_model",
    "load_study",
    "load_tables",
    "normalise_scores",
    "notebook_parameters",
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
    from cjresearch.analysis.privacy import redact, suppress
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
    from cjresearch.build import BuildResult, build
    from cjresearch.data.schema import INSTRUMENT_SCALES, INSTRUMENTS
    from cjresearch.data.study import Study, load_study
    from cjresearch.data.tables import StudyTables, load_tables
    from cjresearch.datasets.sample import generate_sample, write_sample
    from cjresearch.errors import (
        CJResearchError,
        CJResearchWarning,
        DataError,
        DataWarning,
        StatisticalWarning,
        StudyFileError,
    )
    from cjresearch.reporting.notebooks import notebook_parameters
    from cjresearch.reporting.portal import PortalContext
    from cjresearch.reporting.reports import ReportSpec, publish_reports, run_notebook


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'cjresearch' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
