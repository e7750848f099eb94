"""The study file: a small TOML file that tells cjresearch where the data are and how to read them.

:func:`load_study` reads and validates it into a :class:`Study`. Every path in the file is
resolved relative to the file itself, so a study folder can be moved or shared as a whole.
Every error names the file, the key and what was expected::

    study.toml: [personas] k: expected "auto" or a whole number, found 'three'

The format is documented key by key in the README ("The study file").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cjresearch.data.management import (
    KPI_METRICS,
    METRIC_RANGES,
    AlertSettings,
    KpiSettings,
    StageSettings,
    TouchpointSettings,
    parse_target,
)
from cjresearch.data.names import MAX_NAME_LENGTH, name_problems
from cjresearch.data.schema import CANONICAL_COLUMNS
from cjresearch.errors import StudyFileError

__all__ = [
    "KPI_METRICS",
    "METRIC_RANGES",
    "AlertSettings",
    "ChurnSettings",
    "ColumnSettings",
    "DataSettings",
    "EmotionSettings",
    "KpiSettings",
    "PersonaSettings",
    "ReportSettings",
    "SessionSettings",
    "SparkSettings",
    "StageSettings",
    "StatisticsSettings",
    "Study",
    "StudySettings",
    "TouchpointSettings",
    "is_glob",
    "is_spark_table",
    "kpi_key",
    "load_study",
    "parse_target",
    "table_kind",
    "toml_key",
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


#: Prefix of a ``[data]`` table read by name from the Spark session's catalog.
SPARK_TABLE_PREFIX = "spark:"


def is_spark_table(path: str | Path | None) -> bool:
    """Whether a ``[data]`` location names a Spark catalog table (``spark:db.table``).

    >>> is_spark_table("spark:crm.events"), is_spark_table("events.parquet")
    (True, False)
    """
    return path is not None and str(path).startswith(SPARK_TABLE_PREFIX)


def is_glob(path: str | Path) -> bool:
    """Whether a ``[data]`` location is a pattern (``*``, ``?`` or ``[``) matching files.

    >>> is_glob("events/part-*.parquet"), is_glob("events.csv")
    (True, False)
    """
    return any(c in str(path) for c in "*?[")


class DataSettings(_Section):
    """``[data]``: the three tables relative to the study file, and the engine that reads them.

    Each table is a CSV (plain or ``.csv.gz``) or Parquet file, a glob of such files
    (``events/*.parquet``), a folder of Parquet files (plain or Hive-partitioned,
    ``events/stage=onboarding/part-0.parquet``) or, with ``engine = "spark"``, a table of
    the Spark session's catalog (``spark:db.table``).
    """

    customers: Path
    events: Path
    feedback: Path | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    drop_duplicates: bool = True
    engine: Literal["duckdb", "pandas", "spark"] = "duckdb"
    #: DuckDB's own memory for the scans over the event log; above it they spill to disk
    duckdb_memory_limit: str = "1GB"

    @field_validator("customers", "events", "feedback")
    @classmethod
    def _known_format(cls, path: Path | None) -> Path | None:
        if path is None or is_spark_table(path):
            return path
        # a folder (no suffix) is read as a Parquet dataset
        if table_kind(path) is None and "." in path.name:
            msg = (
                f"a .csv, .csv.gz or .parquet file, a glob of them or a folder of Parquet "
                f"files, found '{path.name}'"
            )
            raise ValueError(msg)
        return path

    @model_validator(mode="after")
    def _spark_tables_need_spark(self) -> DataSettings:
        named = [t for t in ("customers", "events", "feedback") if is_spark_table(getattr(self, t))]
        if named and self.engine != "spark":
            msg = (
                f"the {named} location{'s name' if len(named) > 1 else ' names'} a Spark "
                f"table ('{SPARK_TABLE_PREFIX}db.table'); set [data] engine = \"spark\" to "
                "read it"
            )
            raise ValueError(msg)
        return self

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, size: str) -> str:
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", size.strip()):
            msg = f"a size such as '2GB', '512MB' or '1.5GiB', found '{size}'"
            raise ValueError(msg)
        return size.strip()

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


class SparkSettings(_Section):
    """``[spark]``: the Spark session ``engine = "spark"`` builds (local mode by default).

    ``master`` is the Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``);
    ``conf`` holds Spark settings (``"spark.executor.memory" = "8g"``), applied after the
    defaults cjresearch sets (UTC session time zone, microsecond Parquet timestamps).
    """

    master: str = Field(default="local[2]", min_length=1)
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("conf")
    @classmethod
    def _spark_keys(
        cls, conf: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        bad = sorted(k for k in conf if not k.startswith("spark."))
        if bad:
            msg = f"Spark settings whose names start with 'spark.', found {bad}"
            raise ValueError(msg)
        return conf


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
    early_days: int = Field(default=90, ge=1)
    #: Above this many customers the number of personas is searched on a seeded sample.
    search_sample: int = Field(default=50_000, ge=100)

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


class SessionSettings(_Section):
    """``[sessions]``: visits of a clickstream (events that carry a ``session_id`` have them
    already; otherwise ``gap_minutes`` splits each customer's events at longer pauses), the
    stage a visit converts at, and the window of "A then B" step conversion."""

    gap_minutes: float | None = Field(default=None, gt=0)
    goal: str | None = None
    within_steps: int = Field(default=10, ge=1, le=50)
    within_minutes: float | None = Field(default=None, gt=0)


class StatisticsSettings(_Section):
    """``[statistics]``: model controls, significance level, emotion step, correction, and
    how emotion is ordered in time before churn (exposure window, lag, horizon, the lags of
    the sensitivity table), the design and the number of imputations."""

    controls: list[str] = Field(default_factory=list)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    unit_size: float = Field(default=0.5, gt=0, le=2)
    correction: Literal["bh", "holm"] = "bh"
    design: Literal["landmark", "whole_follow_up"] = "landmark"
    exposure_window_days: int = Field(default=30, gt=0, le=3650)
    lag_days: int = Field(default=30, ge=0, le=3650)
    horizon_days: int = Field(default=180, gt=0, le=3650)
    lags: list[int] = Field(default_factory=lambda: [0, 7, 14, 30, 60], min_length=1)
    imputations: int = Field(default=10, ge=2, le=200)
    #: Above this many customers the models are fitted on a seeded stratified sample of it.
    max_model_customers: int = Field(default=1_000_000, ge=100)
    #: The joint model in a second process beside the other models (two cores, more memory).
    parallel: bool = True

    @field_validator("lags")
    @classmethod
    def _distinct_lags(cls, lags: list[int]) -> list[int]:
        bad = [v for v in lags if not 0 <= v <= 3650]
        if bad:
            msg = f"lags of 0 to 3650 days, found {bad}"
            raise ValueError(msg)
        dupes = sorted({v for v in lags if lags.count(v) > 1})
        if dupes:
            msg = f"each lag once, found {dupes} more than once"
            raise ValueError(msg)
        return sorted(lags)


class ReportSettings(_Section):
    """``[reports]``: where reports and artifacts go, the smallest publishable group, and the
    seconds a report's notebook may run in all (past it, the report fails and keeps its
    previous version, marked stale)."""

    output: Path = Path("reports")
    artifacts: Path = Path("processed")
    min_group_size: int = Field(default=10, ge=1)
    notebook_timeout: float = Field(default=1800.0, gt=0)


def _known_stage_key(stage: str, info: ValidationInfo) -> str:
    """A ``[stages.<stage>]`` section's stage must be one of ``[study] stages`` (checked key
    by key, so that the section's own problems are reported beside it)."""
    stages = (info.context or {}).get("stages")
    if stages is not None and stage not in stages:
        msg = f"a stage of [study] stages {stages}, found {stage!r}"
        raise ValueError(msg)
    return stage


_StageKey = Annotated[str, AfterValidator(_known_stage_key)]


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
    # the company's side: [stages.<stage>], [touchpoints.<touchpoint>], [[kpis]], [alerts]
    # (aliases: ``stages`` itself is the property listing [study] stages)
    stage_details: dict[_StageKey, StageSettings] = Field(default_factory=dict, alias="stages")
    touchpoint_details: dict[str, TouchpointSettings] = Field(
        default_factory=dict, alias="touchpoints"
    )
    kpis: list[KpiSettings] = Field(default_factory=list)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    labels: dict[str, str] = Field(default_factory=dict)
    spark: SparkSettings = Field(default_factory=SparkSettings)

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

    @model_validator(mode="after")
    def _management_stages(self) -> Study:
        # Study.model_validate called directly has no validation context: check here what
        # the context lets study_from_dict report entry by entry
        stages = self.study.stages
        unknown = [s for s in self.stage_details if s not in stages]
        if unknown:
            msg = (
                f"[stages.<stage>] sections name stages that [study] stages does not list: "
                f"{unknown}; stages are {stages}"
            )
            raise ValueError(msg)
        names = [k.name for k in self.kpis]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            msg = f"[[kpis]] names must be unique; {twice} appear more than once"
            raise ValueError(msg)
        wrong = [k.name for k in self.kpis if k.stage not in stages]
        if wrong:
            msg = f"[[kpis]] {wrong}: stage is not one of [study] stages {stages}"
            raise ValueError(msg)
        last = [k.name for k in self.kpis if k.metric == "conversion" and k.stage == stages[-1]]
        if last:
            msg = (
                f"[[kpis]] {last}: conversion is the share reaching the next stage, and "
                f"{stages[-1]!r} is the last stage"
            )
            raise ValueError(msg)
        return self

    def owner_of(self, stage: str, touchpoint: str | None = None) -> str | None:
        """Who owns a touchpoint (its ``[touchpoints.<touchpoint>]`` owner) or else its stage
        (``[stages.<stage>]`` owner); None when the study file names nobody."""
        found = self.touchpoint_details.get(touchpoint) if touchpoint is not None else None
        if found is not None and found.owner is not None:
            return found.owner
        details = self.stage_details.get(stage)
        return None if details is None else details.owner

    def kpi_owner(self, kpi: KpiSettings) -> str | None:
        """A KPI's owner: its own ``owner``, else its touchpoint's, else its stage's."""
        return kpi.owner if kpi.owner is not None else self.owner_of(kpi.stage, kpi.touchpoint)

    @property
    def owners(self) -> list[str]:
        """Everyone the study file names as an owner (stages, touchpoints, KPIs), in the
        order first named."""
        named = [d.owner for d in self.stage_details.values()]
        named += [d.owner for d in self.touchpoint_details.values()]
        named += [self.kpi_owner(k) for k in self.kpis]
        return list(dict.fromkeys(o for o in named if o is not None))

    @model_validator(mode="after")
    def _session_goal(self) -> Study:
        goal = self.sessions.goal
        if goal is not None and goal not in self.study.stages:
            msg = f"[sessions] goal must be one of the stages {self.study.stages}, found {goal!r}"
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
        """Absolute path of one table (``customers``, ``events`` or ``feedback``).

        A glob stays a pattern (resolved relative to the study's folder); a Spark table name
        (``spark:db.table``) is returned as written.
        """
        relative = getattr(self.data, table)
        if relative is None or is_spark_table(relative):
            return relative
        return (self.folder / relative).resolve()

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
    section = raw.get("study")
    stages = section.get("stages") if isinstance(section, Mapping) else None
    # the KPI entries and stage sections are checked against the stage list (and KPI names
    # against each other) one by one, so that each problem gets a line of its own
    entries = raw.get("kpis")
    names = (
        [e.get("name") for e in entries if isinstance(e, Mapping)]
        if isinstance(entries, list)
        else []
    )
    context = {
        "stages": list(stages) if isinstance(stages, list) else None,
        "repeated_kpis": {n for n in names if isinstance(n, str) and names.count(n) > 1},
    }
    try:
        return Study.model_validate({**raw, "path": path}, context=context)
    except ValidationError as exc:
        lines = [_format_error(path, err, raw) for err in exc.errors()]
        raise StudyFileError("; ".join(lines), lines=lines) from None


def _format_error(path: Path, err: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    # pydantic appends the union member it tried ("int", "literal['auto']"); the user never wrote it
    loc = [
        str(p)
        for p in err["loc"]
        if not (str(p) == "int" or str(p).startswith(("literal[", "function-")))
    ]
    key = _key_name(loc, raw)
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


def _key_name(loc: list[str], raw: Mapping[str, Any]) -> str:
    if not loc:
        return "the file"
    if len(loc) == 1:
        return f"[{loc[0]}]"
    section, *rest = loc
    rest = [r for r in rest if r != "[key]"]  # a dict key's own error: the key names it
    if section in ("stages", "touchpoints"):
        # one section per stage or touchpoint: [stages.onboarding] owner
        inner = " " + ".".join(rest[1:]) if rest[1:] else ""
        return f"[{section}.{toml_key(rest[0])}]{inner}"
    if section == "kpis" and rest[0].isdigit():
        return _kpi_key(int(rest[0]), rest[1:], raw)
    return f"[{section}] {'.'.join(rest)}"


def toml_key(key: str) -> str:
    """A key as TOML writes it: bare, or quoted when it holds other characters.

    >>> toml_key("setup_failed"), toml_key("setup failed")
    ('setup_failed', '"setup failed"')
    """
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def kpi_key(number: int, name: object) -> str:
    """How errors name a ``[[kpis]]`` entry: by its position (from 1) and its name.

    >>> kpi_key(2, "Onboarding CSAT")
    '[[kpis]] #2 ("Onboarding CSAT")'
    """
    named = f" ({json.dumps(name, ensure_ascii=False)})" if isinstance(name, str) else ""
    return f"[[kpis]] #{number}{named}"


def _kpi_key(index: int, rest: list[str], raw: Mapping[str, Any]) -> str:
    """``[[kpis]] #2 ("Onboarding CSAT") target``: the entry by position and name."""
    entries = raw.get("kpis")
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    name = entry.get("name") if isinstance(entry, Mapping) else None
    inner = " " + ".".join(rest) if rest else ""
    return kpi_key(index + 1, name) + inner


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
