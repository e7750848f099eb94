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
    "Study": "cjresearch.config",
    "load_study": "cjresearch.config",
    "StudyTables": "cjresearch.io",
    "load_tables": "cjresearch.io",
    "INSTRUMENTS": "cjresearch.schema",
    "INSTRUMENT_SCALES": "cjresearch.schema",
    "TextScorer": "cjresearch.emotion",
    "emotion_observations": "cjresearch.emotion",
    "normalise_scores": "cjresearch.emotion",
    "score_texts": "cjresearch.emotion",
    "stage_emotion": "cjresearch.emotion",
    "text_score_agreement": "cjresearch.emotion",
    "customer_features": "cjresearch.journeys",
    "select_features": "cjresearch.journeys",
    "stage_transitions": "cjresearch.journeys",
    "JourneyMap": "cjresearch.journey_map",
    "build_map": "cjresearch.journey_map",
    "redact": "cjresearch.privacy",
    "suppress": "cjresearch.privacy",
    "generate_sample": "cjresearch.sample",
    "write_sample": "cjresearch.sample",
    "EmotionChurnResult": "cjresearch.stats",
    "adjust_pvalues": "cjresearch.stats",
    "analyse": "cjresearch.stats",
    "emotion_churn": "cjresearch.stats",
    "findings": "cjresearch.stats",
    "joint_model": "cjresearch.stats",
    "opportunities": "cjresearch.stats",
    "survival_curves": "cjresearch.stats",
    "time_to_churn": "cjresearch.stats",
    "BuildResult": "cjresearch.build",
    "build": "cjresearch.build",
    "ReportSpec": "cjresearch.pipeline",
    "PortalContext": "cjresearch.portal",
    "publish_reports": "cjresearch.site",
    "notebook_parameters": "cjresearch.notebooks",
    "run_notebook": "cjresearch.notebooks",
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
    from cjresearch.build import BuildResult, build
    from cjresearch.config import Study, load_study
    from cjresearch.emotion import (
        TextScorer,
        emotion_observations,
        normalise_scores,
        score_texts,
        stage_emotion,
        text_score_agreement,
    )
    from cjresearch.errors import (
        CJResearchError,
        CJResearchWarning,
        DataError,
        DataWarning,
        StatisticalWarning,
        StudyFileError,
    )
    from cjresearch.io import StudyTables, load_tables
    from cjresearch.journey_map import JourneyMap, build_map
    from cjresearch.journeys import customer_features, select_features, stage_transitions
    from cjresearch.notebooks import notebook_parameters, run_notebook
    from cjresearch.pipeline import ReportSpec
    from cjresearch.portal import PortalContext
    from cjresearch.privacy import redact, suppress
    from cjresearch.sample import generate_sample, write_sample
    from cjresearch.schema import INSTRUMENT_SCALES, INSTRUMENTS
    from cjresearch.site import publish_reports
    from cjresearch.stats import (
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
