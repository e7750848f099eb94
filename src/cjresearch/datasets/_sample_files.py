"""Tables written block by block, and a truth file whose largest part is streamed (not API).

A study of ten million customers holds about 250 million events: the sample generator writes
them a block of customers at a time, so its memory is that of one block.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from cjresearch._files import atomic_path

#: how the sample's timestamps are written to CSV
CSV_DATES = "%Y-%m-%dT%H:%M:%SZ"


class BlockWriter:
    """Appends blocks of one table to a CSV file (the header once) or to a Parquet file (a
    row group per block, every block cast to the first block's schema)."""

    def __init__(self, path: Path, fmt: Literal["csv", "parquet"]) -> None:
        self.path, self.fmt = path, fmt
        self._parquet: Any = None  # a pyarrow ParquetWriter, from the first block on
        self._schema: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Append one block (customer ids that are categories are written as strings)."""
        frame = frame.assign(
            **{
                column: frame[column].astype("str")
                for column in ("customer_id",)
                if isinstance(frame[column].dtype, pd.CategoricalDtype)
            }
        )
        if self.fmt == "csv":
            frame.to_csv(
                self.path, mode="a", header=self.rows == 0, index=False, date_format=CSV_DATES
            )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._schema))
        self.rows += len(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()


@contextlib.contextmanager
def block_writers(
    directory: Path, tables: Iterable[str], fmt: Literal["csv", "parquet"]
) -> Iterator[dict[str, BlockWriter]]:
    """One writer per table, into ``directory/<table>.<fmt>``; every file appears whole when
    the block ends without an exception, and none of them when it raises."""
    with contextlib.ExitStack() as stack:
        writers = {}
        for table in tables:
            temporary = stack.enter_context(atomic_path(directory / f"{table}.{fmt}"))
            writers[table] = BlockWriter(temporary, fmt)
            stack.callback(writers[table].close)  # closed before the file is renamed
        yield writers


def write_truth(
    path: Path, summary: Mapping[str, object], personas: Iterable[Iterable[tuple[str, str]]]
) -> Path:
    """Write ``summary`` plus ``customer_persona`` (from blocks of (id, persona) pairs) as
    ``json.dumps(..., indent=1)`` would, without holding every customer's entry at once."""
    head = json.dumps({**summary, "customer_persona": {}}, indent=1)
    empty = '"customer_persona": {}\n}'
    with atomic_path(path) as temporary, temporary.open("w", encoding="utf-8") as out:
        out.write(head[: -len(empty)] + '"customer_persona": {')
        separator = "\n"
        for block in personas:
            lines = ",\n".join(f"  {json.dumps(c)}: {json.dumps(p)}" for c, p in block)
            if lines:
                out.write(separator + lines)
                separator = ",\n"
        out.write("\n }\n}\n" if separator == ",\n" else "}\n}\n")
    return path


def study_file_text(
    *,
    name: str,
    stages: Sequence[str],
    observation_end: str,
    fmt: str,
    valence: Mapping[str, float],
    rating_scale: tuple[int, int],
    output: str,
    artifacts: str,
) -> str:
    """The text of the sample study's file (see ``sample.study_toml``)."""
    valence_lines = "\n".join(f"{k} = {v}" for k, v in valence.items())
    return f"""\
# The cjresearch sample study: synthetic data with planted truth (see truth.json).
# Regenerate the data with `cjresearch sample data/sample`.

[study]
name = "{name}"
stages = {json.dumps(list(stages))}
observation_end = "{observation_end}"

[data]
customers = "customers.{fmt}"
events = "events.{fmt}"
feedback = "feedback.{fmt}"

[valence]
{valence_lines}

[churn]
column = "churned"

[emotion]
rating_scale = [{rating_scale[0]}, {rating_scale[1]}]

[personas]
k = "auto"
k_range = [2, 8]
seed = 7
features = ["channel_share_*", "n_touchpoints", "events_per_30_days", "age", "plan"]

[statistics]
controls = ["tenure_months", "plan"]
alpha = 0.05

[reports]
output = {json.dumps(output)}
artifacts = {json.dumps(artifacts)}
min_group_size = 10

# The company's side of the journey: owners, what customers expect, open questions, tools,
# and KPIs with targets (the README's "Journey management").
[stages.onboarding]
owner = "Onboarding team"
expectations = ["Set up in one sitting", "Know who to call"]
questions = ["Why do app users skip the tutorial?"]
tools = ["Setup wizard", "Welcome e-mail"]

[stages.support]
owner = "Customer care"
expectations = ["One contact solves it"]
questions = ["Which issues need a second contact?"]
tools = ["Ticket system", "Phone queue"]

[stages.renewal]
owner = "Retention team"
expectations = ["No surprise on the bill"]

[touchpoints.setup_failed]
owner = "Platform team"

[[kpis]]
name = "Onboarding CSAT"
stage = "onboarding"
metric = "csat"
target = ">= 0.30"

[[kpis]]
name = "Onboarding effort"
stage = "onboarding"
metric = "ces"
target = "<= 4.0"

[[kpis]]
name = "Setup failures reached"
stage = "onboarding"
touchpoint = "setup_failed"
metric = "reach"
target = "<= 0.50"

[[kpis]]
name = "Usage NPS"
stage = "usage"
metric = "nps"
target = ">= -50"
owner = "Product team"

[[kpis]]
name = "Support CSAT"
stage = "support"
metric = "csat"
target = ">= 0.25"

[[kpis]]
name = "Renewal churn"
stage = "renewal"
metric = "churn_rate"
target = "<= 0.30"
"""
