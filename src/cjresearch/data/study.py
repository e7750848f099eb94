"""The study file: a small TOML file that tells cjresearch where the data are and how to read them.

:func:`load_study` reads and validates it into a :class:`Study`. Every path in the file is
resolved relative to the file itself, so a study folder can be moved or shared as a whole.
Every error names the file, the key and what was expected::

    study.toml: [personas] k: expected "auto" or a whole number, found 'three'

The format is documented key by key in the README ("The study file").
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cjresearch.data.names import MAX_NAME_LENGTH, name_problems
from cjresearch.data.schema import CANONICAL_COLUMNS
from cjresearch.errors import StudyFileError

__all__ = [
    "ChurnSettings",
    "ColumnSettings",
    "DataSettings",
    "EmotionSettings",
    "PersonaSettings",
    "ReportSettings",
    "StatisticsSettings",
    "Study",
    "StudySettings",
    "load_study",
    "table_kind",
]

#: File name endings of the tables cjresearch reads, and the reader each takes.
TABLE_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def table_kind(path: str | Path) -> str | None:
    """``"csv"`` (plain or gzip-compressed) or ``"parquet"`` by the file's name, else None.

    >>> table_kind("events.csv.gz"), table_kind("events.PQ"), table_kind("events.xlsx")
    ('csv', 'parquet', None)
    """
    name = Path(path).name.lower()
    return next((kind for end, kind in TABLE_SUFFIXES.items() if name.endswith(end)), None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudySettings(_Section):
    """``[study]``: the study's name, its journey stages in order, the end of observation."""

    name: str = Field(min_length=1)
    stages: list[str] = Field(min_length=2)
    observation_end: dt.date | None = None

    @field_validator("stages")
    @classmethod
    def _unique_stages(cls, stages: list[str]) -> list[str]:
        blank = [s for s in stages if not s.strip()]
        if blank:
            msg = "stage names must not be blank"
            raise ValueError(msg)
        dupes = sorted({s for s in stages if stages.count(s) > 1})
        if dupes:
            msg = f"each stage once, found {dupes} more than once"
            raise ValueError(msg)
        problems = name_problems(stages, what="stage", max_length=MAX_NAME_LENGTH)
        if problems:
            raise ValueError("; ".join(problems))
        return stages


class DataSettings(_Section):
    """``[data]``: the three tables (CSV or Parquet), relative to the study file."""

    customers: Path
    events: Path
    feedback: Path | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    drop_duplicates: bool = True

    @field_validator("customers", "events", "feedback")
    @classmethod
    def _known_format(cls, path: Path | None) -> Path | None:
        if path is not None and table_kind(path) is None:
            msg = f"a .csv, .csv.gz or .parquet file, found '{path.name}'"
            raise ValueError(msg)
        return path

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            msg = f"a text encoding Python knows (e.g. 'utf-8', 'latin-1'), found '{encoding}'"
            raise ValueError(msg) from None
        return encoding


class ColumnSettings(_Section):
    """``[columns.<table>]``: renames, canonical name = the column's name in your file."""

    customers: dict[str, str] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)
    feedback: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_canonical_names(self) -> ColumnSettings:
        for table in ("events", "feedback"):
            renames: dict[str, str] = getattr(self, table)
            unknown = sorted(set(renames) - set(CANONICAL_COLUMNS[table]))
            if unknown:
                msg = (
                    f"[columns.{table}] renames canonical columns; {unknown} is not one of "
                    f"{list(CANONICAL_COLUMNS[table])}"
                )
                raise ValueError(msg)
        for table in ("customers", "events", "feedback"):
            renames = getattr(self, table)
            sources = list(renames.values())
            dupes = sorted({s for s in sources if sources.count(s) > 1})
            if dupes:
                msg = f"[columns.{table}] maps the column(s) {dupes} to more than one name"
                raise ValueError(msg)
        return self


class ChurnSettings(_Section):
    """``[churn]``: churn as a customers column, or derived from inactivity."""

    column: str | None = None
    inactivity_days: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_definition(self) -> ChurnSettings:
        if self.column is not None and self.inactivity_days is not None:
            msg = "either column or inactivity_days, not both"
            raise ValueError(msg)
        return self

    @property
    def derived(self) -> bool:
        """True when churn is derived from inactivity rather than read from a column."""
        return self.inactivity_days is not None

    @property
    def churn_column(self) -> str:
        """The customers column that holds churn (before renames are applied)."""
        return self.column or "churned"


class EmotionSettings(_Section):
    """``[emotion]``: instrument scales and the text scorer."""

    rating_scale: tuple[float, float] | None = None
    text_lexicon: bool = True

    @field_validator("rating_scale")
    @classmethod
    def _ordered(cls, scale: tuple[float, float] | None) -> tuple[float, float] | None:
        if scale is not None and not scale[0] < scale[1]:
            msg = f"a pair [min, max] with min < max, found {list(scale)}"
            raise ValueError(msg)
        return scale


class PersonaSettings(_Section):
    """``[personas]``: segmentation settings (used from the personas step on)."""

    k: Literal["auto"] | int = "auto"
    k_range: tuple[int, int] = (2, 8)
    seed: int = 7
    method: Literal["kmeans", "gmm"] = "kmeans"
    features: list[str] | None = None
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("names")
    @classmethod
    def _usable_names(cls, names: dict[str, str]) -> dict[str, str]:
        blank = sorted(k for k, v in names.items() if not v.strip())
        if blank:
            msg = f"the persona names of {blank} are blank"
            raise ValueError(msg)
        problems = [
            p
            for p in name_problems(names.values(), what="persona", max_length=MAX_NAME_LENGTH)
            if "column" not in p  # persona names become file names, never column names
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return names

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, k: object) -> object:
        if k == "auto":
            return k
        if isinstance(k, bool) or not isinstance(k, int):
            msg = f'"auto" or a whole number, found {k!r}'
            raise ValueError(msg)
        if k < 1:
            msg = f"at least 1 persona, found {k}"
            raise ValueError(msg)
        return k

    @field_validator("k_range")
    @classmethod
    def _k_range(cls, k_range: tuple[int, int]) -> tuple[int, int]:
        low, high = k_range
        if not 2 <= low <= high:
            msg = f"a pair [low, high] with 2 <= low <= high, found {list(k_range)}"
            raise ValueError(msg)
        return k_range


class StatisticsSettings(_Section):
    """``[statistics]``: model controls, significance level, emotion step, correction."""

    controls: list[str] = Field(default_factory=list)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    unit_size: float = Field(default=0.5, gt=0, le=2)
    correction: Literal["bh", "holm"] = "bh"


class ReportSettings(_Section):
    """``[reports]``: where reports and artifacts go, the smallest publishable group, and the
    seconds a report's notebook may run in all (past it, the report fails and keeps its
    previous version, marked stale)."""

    output: Path = Path("reports")
    artifacts: Path = Path("processed")
    min_group_size: int = Field(default=10, ge=1)
    notebook_timeout: float = Field(default=1800.0, gt=0)


class Study(BaseModel):
    """A validated study file. Paths are absolute (resolved relative to the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    study: StudySettings
    data: DataSettings
    columns: ColumnSettings = Field(default_factory=ColumnSettings)
    stage_map: dict[str, str] = Field(default_factory=dict)
    valence: dict[str, float] = Field(default_factory=dict)
    churn: ChurnSettings = Field(default_factory=ChurnSettings)
    emotion: EmotionSettings = Field(default_factory=EmotionSettings)
    personas: PersonaSettings = Field(default_factory=PersonaSettings)
    statistics: StatisticsSettings = Field(default_factory=StatisticsSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _usable_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        blank = sorted(k for k, v in labels.items() if not v.strip())
        if blank:
            msg = f"the labels of {blank} are blank"
            raise ValueError(msg)
        long = sorted(k for k, v in labels.items() if len(v) > MAX_NAME_LENGTH)
        if long:
            msg = f"labels of at most {MAX_NAME_LENGTH} characters; {long} are longer"
            raise ValueError(msg)
        return labels

    @field_validator("valence")
    @classmethod
    def _valence_range(cls, valence: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in valence.items() if not -1.0 <= v <= 1.0}
        if bad:
            msg = f"emotions in [-1, 1], found {bad}"
            raise ValueError(msg)
        return valence

    @model_validator(mode="after")
    def _stage_map_targets(self) -> Study:
        stages = set(self.study.stages)
        unknown = {tp: st for tp, st in self.stage_map.items() if st not in stages}
        if unknown:
            msg = (
                f"[stage_map] maps touchpoints to stages that [study] stages does not list: "
                f"{unknown}; stages are {self.study.stages}"
            )
            raise ValueError(msg)
        return self

    @property
    def name(self) -> str:
        """The study's name."""
        return self.study.name

    @property
    def stages(self) -> list[str]:
        """The journey stages in order."""
        return list(self.study.stages)

    @property
    def folder(self) -> Path:
        """The folder that holds the study file."""
        return self.path.parent

    def data_path(self, table: str) -> Path | None:
        """Absolute path of one table (``customers``, ``events`` or ``feedback``)."""
        relative = getattr(self.data, table)
        return None if relative is None else (self.folder / relative).resolve()

    @property
    def output_dir(self) -> Path:
        """Where published reports go."""
        return (self.folder / self.reports.output).resolve()

    @property
    def artifacts_dir(self) -> Path:
        """Where artifacts (Parquet, holding customer ids; never published) go."""
        return (self.folder / self.reports.artifacts).resolve()

    def renames(self, table: str) -> dict[str, str]:
        """Renames for ``DataFrame.rename``: your column -> canonical name."""
        mapping: dict[str, str] = getattr(self.columns, table)
        renames = {source: canonical for canonical, source in mapping.items()}
        if table == "customers" and self.churn.column and "churned" not in mapping:
            renames.setdefault(self.churn.column, "churned")
        return renames


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The study file (TOML).

    Returns
    -------
    Study
        The validated settings; every path resolved relative to the file.

    Raises
    ------
    StudyFileError
        The file is missing, is not valid TOML, or a key is missing or of the wrong kind.
        The message names the file, the key and what was expected.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "study.toml"
    if not path.is_file():
        msg = f"{path}: study file not found"
        raise StudyFileError(msg)
    try:
        # utf-8-sig: editors on Windows save a byte-order mark, which is not part of the TOML
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        msg = f"{path}: the study file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise StudyFileError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}"
        raise StudyFileError(msg) from None
    return study_from_dict(raw, path=path)


def study_from_dict(raw: Mapping[str, Any], *, path: str | Path) -> Study:
    """Validate an already parsed study file (as :func:`load_study` does after reading TOML)."""
    path = Path(path).resolve()
    if "path" in raw:
        msg = f"{path}: 'path' is not a key of the study file"
        raise StudyFileError(msg)
    try:
        return Study.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise StudyFileError(_format_errors(path, exc)) from None


def _format_errors(path: Path, exc: ValidationError) -> str:
    return "; ".join(_format_error(path, err) for err in exc.errors())


def _format_error(path: Path, err: Mapping[str, Any]) -> str:
    # pydantic appends the union member it tried ("int", "literal['auto']"); the user never wrote it
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("literal[", "int", "function-"))]
    key = _key_name(loc)
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"{path.name}: {key} is required but missing"
    if kind == "extra_forbidden":
        return f"{path.name}: unknown key {key}; check its spelling against the README"
    if kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
        if not text.startswith(("either", "[", "the ")):
            text = f"expected {text}"
    else:
        text = f"expected {_describe(kind, ctx)}, found {err.get('input')!r}"
    return f"{path.name}: {text}" if not loc else f"{path.name}: {key}: {text}"


def _describe(kind: str, ctx: Mapping[str, Any]) -> str:
    constraints = {
        "greater_than": "a number greater than {gt}",
        "greater_than_equal": "a number of at least {ge}",
        "less_than": "a number less than {lt}",
        "less_than_equal": "a number of at most {le}",
        "string_too_short": "non-empty text",
        "string_too_long": "text of at most {max_length} characters",
        "too_short": "at least {min_length} items",
        "too_long": "at most {max_length} items",
        "literal_error": "one of {expected}",
    }
    if kind in constraints:
        return constraints[kind].format(**ctx)
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_datetime")
    return _KINDS.get(base, base.replace("_", " "))


def _key_name(loc: list[str]) -> str:
    if not loc:
        return "the file"
    if len(loc) == 1:
        return f"[{loc[0]}]"
    section, *rest = loc
    return f"[{section}] {'.'.join(rest)}"


_KINDS = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "list": "a list",
    "dict": "a table",
    "tuple": "a list of two values",
    "path": "a file path (text)",
    "model": "a table",
}
