"""The history of a study's builds: each measurement's KPIs and headline figures, kept.

Every computation of the artifacts is a *measurement*: the KPIs and the journey map's
headline figures (:func:`cjresearch.analysis.kpis.measure`) of the data as they were. The
artifacts themselves are recomputed whenever the inputs change (and rewritten by
``--force``), so they cannot remember an earlier build; the history can. It is one file in
the artifacts folder that no step rewrites, only appends to:

``<artifacts>/history/measurements.jsonl``
    one JSON object per line and per measurement: ``run_id``, ``finished_at``, the
    artifacts' ``fingerprint``, the personas (id and name) and every figure
    (:data:`~cjresearch.analysis.kpis.FIGURE_COLUMNS`). A line is appended whole or not at
    all (:func:`cjresearch._files.append_text`), after the artifacts it describes are
    complete; a line that cannot be read (edited by hand) is skipped with a warning.

It holds aggregates only (no customer id, every small group already suppressed), so that
``tables/kpi_history.csv`` (:data:`HISTORY_COLUMNS`) can be published from it; but it is
the one file of the artifacts folder that cannot be recomputed from the inputs: keep it
(back it up) when you clear the artifacts. A build whose inputs did not change reuses the
artifacts and measures nothing, so it adds no line; ``--force`` measures again (the same
data give the same figures, and no change).
"""

from __future__ import annotations

import json
import math
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cjresearch._files import append_text, utc_now
from cjresearch.analysis.kpis import FIGURE_COLUMNS
from cjresearch.errors import CJResearchWarning

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_FILE",
    "Measurement",
    "history_table",
    "new_run_id",
    "read_history",
    "record",
]

#: The history's file, relative to the artifacts folder.
HISTORY_FILE = "history/measurements.jsonl"
#: The published ``kpi_history`` table (``tables/kpi_history.csv``).
HISTORY_COLUMNS: tuple[str, ...] = (
    "run_id",
    "finished_at",
    "kpi",
    "value",
    "ci_low",
    "ci_high",
    "n_customers",
    "status",
)
_FORMAT = 1
_FLOATS = ("value", "ci_low", "ci_high", "variance")
_COUNTS = ("persona_id", "n_customers", "successes")


def new_run_id() -> str:
    """A run id for a measurement made outside a build (the build passes its own): UTC
    time and a random suffix, e.g. ``20260630T060000Z-1a2b3c4d``."""
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Measurement:
    """One build's figures, as the history keeps them.

    Attributes
    ----------
    run_id, finished_at
        The build (or computation) that measured them, and when (ISO 8601, UTC).
    fingerprint
        The artifacts' fingerprint (inputs, study file, code).
    personas
        ``(persona_id, persona_name)`` of every persona of the build.
    figures
        :func:`cjresearch.analysis.kpis.measure` output.
    """

    run_id: str
    finished_at: str
    fingerprint: str
    personas: tuple[tuple[int, str], ...] = ()
    figures: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_json(self) -> str:
        """One line of the history file."""
        payload = {
            "format": _FORMAT,
            "run_id": self.run_id,
            "finished_at": self.finished_at,
            "fingerprint": self.fingerprint,
            "personas": [[int(pid), str(name)] for pid, name in self.personas],
            "figures": [
                {c: _plain(row[c]) for c in FIGURE_COLUMNS if c in row}
                for row in self.figures.to_dict(orient="records")
            ],
        }
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Measurement:
        """A line of the history file (ValueError if it is not one)."""
        payload = json.loads(line)
        if not isinstance(payload, dict) or "run_id" not in payload:
            msg = "not a measurement"
            raise ValueError(msg)
        return cls(
            run_id=str(payload["run_id"]),
            finished_at=str(payload.get("finished_at", "")),
            fingerprint=str(payload.get("fingerprint", "")),
            personas=tuple((int(pid), str(name)) for pid, name in payload.get("personas", [])),
            figures=_figures(payload.get("figures", [])),
        )


def _plain(value: Any) -> Any:
    """A cell as JSON: missing values as null, numpy scalars as Python numbers."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
    return value


def _figures(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(records), columns=list(FIGURE_COLUMNS))
    for column in _FLOATS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in _COUNTS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in FIGURE_COLUMNS:
        if column not in _FLOATS and column not in _COUNTS:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def read_history(artifacts_dir: str | Path) -> list[Measurement]:
    """Every measurement in the history, oldest first (none when there is no history).

    Warns
    -----
    CJResearchWarning
        A line that is not a measurement (it is skipped).
    """
    path = Path(artifacts_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.append(Measurement.from_json(line))
        except (ValueError, TypeError, KeyError) as exc:
            warnings.warn(
                f"{path}: line {number} is not a measurement and is skipped ({exc})",
                CJResearchWarning,
                stacklevel=2,
            )
    return found


def record(artifacts_dir: str | Path, measurement: Measurement) -> Path:
    """Append a measurement to the history (atomically); returns the history file."""
    return append_text(Path(artifacts_dir) / HISTORY_FILE, measurement.to_json() + "\n")


def history_table(measurements: Sequence[Measurement]) -> pd.DataFrame:
    """The published history: every figure of every measurement, oldest first.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HISTORY_COLUMNS`: ``run_id``, ``finished_at``, ``kpi`` (a KPI's name,
        or a headline figure's label such as ``map: reach at onboarding, all customers``),
        ``value``, ``ci_low``, ``ci_high``, ``n_customers`` and ``status`` (KPIs: ``met``,
        ``missed``, ``unclear`` or ``suppressed``; headline figures: ``suppressed`` or
        empty). Suppressed figures are blank, as they were published.
    """
    frames = [
        m.figures.assign(run_id=m.run_id, finished_at=m.finished_at)[list(HISTORY_COLUMNS)]
        for m in measurements
        if not m.figures.empty
    ]
    if not frames:
        empty = {c: pd.Series(dtype=object) for c in HISTORY_COLUMNS}
        return pd.DataFrame(empty).astype(
            {c: "float64" for c in ("value", "ci_low", "ci_high")} | {"n_customers": "Int64"}
        )
    out = pd.concat(frames, ignore_index=True)
    out["n_customers"] = out["n_customers"].astype("Int64")
    for column in ("value", "ci_low", "ci_high"):
        out[column] = out[column].astype("float64")
    return out
