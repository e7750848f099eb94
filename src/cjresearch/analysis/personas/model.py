"""The personas step of a build: segmentation, stable identities, profiles and names, in one.

:func:`fit_personas` chains :func:`cjresearch.analysis.personas.segment.segment`,
:func:`cjresearch.analysis.personas.identities.stable_labels`,
:func:`cjresearch.analysis.personas.profiles.persona_table`,
:func:`~cjresearch.analysis.personas.profiles.persona_traits` and
:func:`~cjresearch.analysis.personas.profiles.persona_names` into a :class:`PersonaModel`,
which a build saves into its artifacts folder (:meth:`PersonaModel.save`) and the next build,
or ``cjresearch assign``, loads again (:func:`load_persona_model`).

Identities across rebuilds: when a previous model is given, the new segments are matched to
the previous personas by an optimal assignment of centroids in the *previous* model's encoded
space. Matched personas keep their id and their name; new segments are born with the next
free ids and a generated name; previous personas without a match die. Births and deaths are
recorded in :attr:`PersonaModel.matching`. If the feature set changed, ids start afresh and a
note says so. Names from the study file (``[personas.names]``, persona id = name) always win.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import joblib
import numpy as np
import pandas as pd

from cjresearch._files import atomic_path
from cjresearch.analysis.journeys import select_features
from cjresearch.analysis.personas._html import fitted_html
from cjresearch.analysis.personas.identities import (
    Matching,
    PersonaIdentity,
    centroids_in,
    stable_labels,
)
from cjresearch.analysis.personas.profiles import (
    TRAIT_COLUMNS,
    persona_names,
    persona_table,
    persona_traits,
    persona_verbatims,
    usage_profile,
)
from cjresearch.analysis.personas.segment import (
    ONE_PERSONA,
    SEARCH_SAMPLE,
    Method,
    Segmentation,
    assign,
    segment,
)
from cjresearch.analysis.privacy import suppress
from cjresearch.errors import CJResearchError, StatisticalWarning, StudyFileError

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "MODEL_FILE",
    "PersonaModel",
    "fit_personas",
    "load_persona_model",
    "name_overrides",
    "publishable_tables",
]

#: File name of a saved model inside an artifacts folder.
MODEL_FILE = "personas_model.joblib"
#: Columns of ``assignments.parquet`` (holds customer ids: an artifact, never published).
ASSIGNMENT_COLUMNS = ("customer_id", "persona_id", "persona_name")
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PersonaModel:
    """Personas found in one run, with what is needed to keep and assign them later.

    Attributes
    ----------
    segmentation
        The :class:`~cjresearch.analysis.personas.segment.Segmentation` (encoder, model,
        evidence per k).
    features
        The feature columns segmented on (after expanding patterns).
    segment_to_persona
        Segment label -> persona id.
    names
        Persona id -> name (generated, kept from the previous run, or from the study file).
    matching
        How the segments were matched to the previous run's personas (births, deaths).
    personas
        The published persona table (``persona_id, persona_name, n_customers, share,
        churn_rate, churn_ci_low, churn_ci_high, stability``).
    traits
        The published traits table (``persona_id, feature, persona_value,
        overall_value, std_diff, direction, rank``).
    notes
        Decisions and caveats, as sentences.
    """

    segmentation: Segmentation
    features: tuple[str, ...]
    segment_to_persona: dict[int, int]
    names: dict[int, str]
    matching: Matching
    personas: pd.DataFrame
    traits: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def evidence(self) -> pd.DataFrame:
        """The evidence for k: ``k, silhouette, bic, stability_ari, chosen``."""
        return self.segmentation.evidence

    @property
    def identities(self) -> tuple[PersonaIdentity, ...]:
        """Persona ids, final names and centroids (in this model's encoded space)."""
        return tuple(replace(p, name=self.names[p.persona_id]) for p in self.matching.identities)

    def assignments(self) -> pd.DataFrame:
        """The persona of every customer segmented: columns ``ASSIGNMENT_COLUMNS``."""
        return self._frame(self.segmentation.labels)

    def assign(self, features: pd.DataFrame) -> pd.DataFrame:
        """The persona of each customer in ``features`` (e.g. new customers).

        Parameters
        ----------
        features
            ``customer_id`` plus at least the model's feature columns (output of
            :func:`cjresearch.analysis.journeys.customer_features`). Not modified.

        Returns
        -------
        pandas.DataFrame
            RangeIndex, columns ``customer_id, persona_id, persona_name``, in the order
            of ``features``.
        """
        return self._frame(assign(features, self.segmentation))

    def _frame(self, segments: pd.Series) -> pd.DataFrame:
        ids = segments.map(self.segment_to_persona).to_numpy(dtype=np.int64)
        return pd.DataFrame(
            {
                "customer_id": segments.index.to_numpy(),
                "persona_id": ids,
                "persona_name": pd.Series(ids).map(self.names).to_numpy(dtype=object),
            }
        )

    def save(self, folder: str | Path) -> Path:
        """Write the model to ``folder / MODEL_FILE`` (atomically); return the path."""
        path = Path(folder) / MODEL_FILE
        with atomic_path(path) as temporary:
            joblib.dump({"version": _FORMAT_VERSION, "model": self}, temporary, compress=3)
        return path

    def _repr_html_(self) -> str:
        heading = (
            f"<strong>Personas</strong>: {len(self.names)} personas by "
            f"{html.escape(self.segmentation.method)}, seed {self.segmentation.seed}"
        )
        return fitted_html(heading, self.personas, self.evidence, self.notes)


#: Where the classes a model saved by cjresearch 0.1.0 names (its flat modules) live now.
_MOVED_MODULES = {
    "cjresearch.persona_model": "cjresearch.analysis.personas.model",
    "cjresearch.personas": "cjresearch.analysis.personas.segment",
    "cjresearch.identities": "cjresearch.analysis.personas.identities",
    "cjresearch.profiles": "cjresearch.analysis.personas.profiles",
}


@contextlib.contextmanager
def _old_module_names() -> Iterator[None]:
    """The 0.1.0 module names, resolvable while a saved model is unpickled (only then), so
    that a build after an upgrade still finds the previous model and keeps persona ids."""
    added = []
    for old, new in _MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
            added.append(old)
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def load_persona_model(folder_or_file: str | Path) -> PersonaModel:
    """Load a model saved by :meth:`PersonaModel.save` (a folder or the file itself).

    Raises
    ------
    CJResearchError
        No saved model there, or a file that is not one.
    """
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        msg = (
            f"{path}: no saved persona model; run `cjresearch build` on the study first "
            "(it saves the model into the artifacts folder)"
        )
        raise CJResearchError(msg)
    try:
        with _old_module_names():
            payload = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file: any unpickling error
        msg = f"{path}: not a saved persona model ({type(exc).__name__}: {exc})"
        raise CJResearchError(msg) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), PersonaModel):
        msg = f"{path}: not a saved persona model"
        raise CJResearchError(msg)
    model: PersonaModel = payload["model"]
    return model


def name_overrides(names: Mapping[str, str]) -> dict[int, str]:
    """``[personas.names]`` of the study file (TOML keys are text) as persona id -> name.

    Raises
    ------
    StudyFileError
        A key is not a whole number.
    """
    out: dict[int, str] = {}
    for key, value in names.items():
        try:
            out[int(key)] = str(value)
        except ValueError:
            msg = (
                f"[personas.names]: keys are persona ids (whole numbers, as in "
                f"tables/personas.csv), found {key!r}"
            )
            raise StudyFileError(msg) from None
    return out


def fit_personas(
    features: pd.DataFrame,
    churned: pd.Series,
    *,
    requested: Sequence[str] | None = None,
    k: int | Literal["auto"] = "auto",
    k_range: tuple[int, int] = (2, 8),
    method: Method = "kmeans",
    seed: int | None = 7,
    names: Mapping[int, str] | None = None,
    previous: PersonaModel | None = None,
    n_bootstrap: int = 10,
    n_init: int = 4,
    min_group_size: int = 1,
    early_days: int | None = None,
    search_sample: int = SEARCH_SAMPLE,
) -> PersonaModel:
    """Find personas: segment, keep identities, profile and name them.

    Parameters
    ----------
    features
        The output of :func:`cjresearch.analysis.journeys.customer_features` (all columns; the
        ones segmented on are chosen by ``requested``). Not modified.
    churned
        Churn flag per customer, indexed by ``customer_id`` (same customers).
    requested
        ``[personas] features`` (names or ``prefix*`` patterns); None for the defaults.
    k, k_range, method, seed, n_bootstrap, n_init
        As in :func:`cjresearch.analysis.personas.segment.segment`.
    names
        Persona id -> name overrides (see :func:`name_overrides`).
    previous
        The previous run's model, to keep persona ids and names (see the module docstring).
    min_group_size
        Segments smaller than this are merged into their nearest neighbour (the study's
        ``[reports] min_group_size``).
    early_days
        The early window the ``early_*`` features were measured in, recorded in the notes.
    search_sample
        Above this many customers the number of personas is searched on a seeded sample of
        this many (``[personas] search_sample``; see
        :func:`cjresearch.analysis.personas.segment.segment`).

    Returns
    -------
    PersonaModel
        With one persona, named ``"All customers"`` (unless the study file names it), when
        no persona structure is found (see :func:`cjresearch.analysis.personas.segment.segment`).
    """
    selected = select_features(features, requested)
    segmentation = segment(
        selected,
        k=k,
        k_range=k_range,
        method=method,
        seed=seed,
        n_bootstrap=n_bootstrap,
        n_init=n_init,
        min_size=min_group_size,
        search_sample=search_sample,
    )
    notes = list(segmentation.notes)
    early = [c for c in selected.columns if c.startswith("early_")]
    if early and early_days is not None:
        notes.append(
            f"features {early} are measured in each customer's first {early_days} days "
            "(from signup, else the first event), so how long a customer stayed does not "
            "shape the personas"
        )
    columns = tuple(c for c in selected.columns if c != "customer_id")
    prior: list[PersonaIdentity] = []
    centroids = None
    if previous is not None:
        if previous.features == columns:
            prior = list(previous.identities)
            centroids = centroids_in(previous.segmentation.encoder, selected, segmentation.labels)
        else:
            note = (
                "the feature set changed since the previous build "
                f"({list(previous.features)} -> {list(columns)}): persona ids start afresh"
            )
            notes.append(note)
            warnings.warn(note, StatisticalWarning, stacklevel=2)
    if centroids is None:
        centroids = segmentation.centroids
    persona_ids, matching = stable_labels(segmentation, prior, centroids=centroids)
    if matching.births and prior:
        notes.append(f"personas born in this build: {list(matching.births)}")
    if matching.deaths:
        notes.append(f"personas of the previous build with no match now: {list(matching.deaths)}")

    # a single persona has nothing to stand apart from
    traits = persona_traits(selected, persona_ids, top=5) if segmentation.k >= 2 else _no_traits()
    generated = persona_names(traits) if not traits.empty else {}
    kept = {p.persona_id: p.name for p in prior}
    final: dict[int, str] = {}
    for identity in matching.identities:
        pid = identity.persona_id
        if segmentation.k == 1:  # one population: a kept name would describe a segment
            final[pid] = ONE_PERSONA
            continue
        final[pid] = kept.get(pid) or generated.get(pid) or f"Persona {pid}"
    overrides = dict(names or {})
    unknown = sorted(set(overrides) - set(final))
    if unknown:
        msg = (
            f"[personas.names] names persona ids {unknown} that this build does not have; "
            f"its personas are {sorted(final)}"
        )
        raise StudyFileError(msg)
    final.update(overrides)
    final = _unique_names(final)

    stability = {matching.mapping[s]: v for s, v in enumerate(segmentation.segment_stability)}
    table = persona_table(persona_ids, churned, stability=stability, names=final)
    return PersonaModel(
        segmentation=segmentation,
        features=columns,
        segment_to_persona=dict(matching.mapping),
        names=dict(sorted(final.items())),
        matching=matching,
        personas=table,
        traits=traits,
        notes=tuple(notes),
    )


def _no_traits() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TRAIT_COLUMNS})


def _unique_names(names: dict[int, str]) -> dict[int, str]:
    """Kept and generated names can meet: the later persona id gets `` (2)``, ..."""
    seen: dict[str, int] = {}
    out = {}
    for pid in sorted(names):
        name = names[pid]
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out[pid] = name
    return out


def publishable_tables(
    model: PersonaModel,
    features: pd.DataFrame,
    feedback: pd.DataFrame | None,
    *,
    min_group_size: int,
    cx_lexicon: bool = True,
) -> dict[str, pd.DataFrame]:
    """The persona tables as published: ``personas``, ``persona_traits``,
    ``persona_profile``, ``persona_verbatims`` and ``persona_k_evidence``.

    A persona smaller than ``min_group_size`` keeps its row in ``personas`` with its figures
    blanked (``suppressed``), loses its traits, and is not quoted; no table holds an id.
    """
    assignments = model.assignments()
    personas = suppress(
        model.personas,
        min_group_size=min_group_size,
        columns=["share", "churn_rate", "churn_ci_low", "churn_ci_high"],
    )
    small = personas.loc[personas["suppressed"], "persona_id"]
    return {
        "personas": personas,
        "persona_traits": model.traits[~model.traits["persona_id"].isin(small)].reset_index(
            drop=True
        ),
        "persona_profile": suppress(
            usage_profile(features, assignments), min_group_size=min_group_size, columns=["value"]
        ),
        "persona_verbatims": persona_verbatims(
            feedback, assignments, min_group_size=min_group_size, cx_lexicon=cx_lexicon
        ),
        "persona_k_evidence": model.evidence,
    }
