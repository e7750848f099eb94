"""The sample generator in blocks: a study of any size written one block of customers at a
time, with the rows of the whole study and the one-generator sample kept for small sizes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cjresearch.data.study import load_study
from cjresearch.data.tables import load_tables
from cjresearch.datasets.sample import generate_sample, sample_blocks, write_sample

TABLES = ("customers", "events", "feedback")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as read back: customer ids as strings, no categories."""
    return frame.assign(customer_id=frame["customer_id"].astype("str")).reset_index(drop=True)


@pytest.fixture(scope="module")
def blocks_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("blocks")
    return write_sample(folder, n_customers=2_500, seed=5, fmt="parquet", block=1_000)


def test_a_study_written_in_blocks_has_the_rows_of_the_whole(blocks_study: Path) -> None:
    whole = generate_sample(2_500, seed=5, block=1_000)
    for table in TABLES:
        written = pd.read_parquet(blocks_study.parent / f"{table}.parquet")
        pd.testing.assert_frame_equal(written, _plain(getattr(whole, table)), check_dtype=False)
    # one row group per block: the memory of the writer is that of one block
    assert pq.ParquetFile(blocks_study.parent / "events.parquet").num_row_groups == 3


def test_the_streamed_truth_is_the_whole_truth_as_json(blocks_study: Path) -> None:
    whole = generate_sample(2_500, seed=5, block=1_000)
    text = (blocks_study.parent / "truth.json").read_text(encoding="utf-8")
    assert text == json.dumps(whole.truth, indent=1) + "\n"
    truth = json.loads(text)
    assert len(truth["customer_persona"]) == 2_500
    assert sum(p["n_customers"] for p in truth["personas"]) == 2_500


def test_blocks_make_one_valid_study_with_unique_ids(blocks_study: Path) -> None:
    tables = load_tables(load_study(blocks_study))
    assert tables.drops == [] or all(d.n_rows == 0 for d in tables.drops)
    assert tables.customers["customer_id"].is_unique
    assert len(tables.customers) == 2_500
    assert tables.customers["customer_id"].iloc[-1] == "C0002500"
    assert set(tables.events["customer_id"].astype(str)) <= set(tables.customers["customer_id"])


def test_the_first_block_is_the_one_generator_sample() -> None:
    first = next(sample_blocks(2_500, seed=5, block=1_000))
    small = generate_sample(1_000, seed=5)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(first, table), getattr(small, table))
    # and the other blocks are drawn from generators of their own
    second = list(sample_blocks(2_500, seed=5, block=1_000))[1]
    assert second.customers["customer_id"].iloc[0] == "C0001001"
    assert not second.customers["age"].equals(first.customers["age"])


def test_csv_in_blocks_holds_the_same_rows_as_parquet(blocks_study: Path, tmp_path: Path) -> None:
    said: list[tuple[int, int]] = []
    csv = write_sample(
        tmp_path,
        n_customers=2_500,
        seed=5,
        fmt="csv",
        block=1_000,
        progress=lambda *a: said.append(a),
    )
    assert said == [(1_000, 2_500), (2_000, 2_500), (2_500, 2_500)]
    for table in TABLES:
        from_csv = pd.read_csv(csv.parent / f"{table}.csv")
        from_parquet = pd.read_parquet(blocks_study.parent / f"{table}.parquet")
        assert len(from_csv) == len(from_parquet), table
        assert from_csv["customer_id"].tolist() == from_parquet["customer_id"].tolist(), table
    header = (csv.parent / "events.csv").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("customer_id,") for line in header) == 1  # the header once


# sha256 of the files `write_sample(n_customers=150, seed=3, fmt="csv")` wrote before the
# generator had blocks (commit 3a12165): a study of one block keeps its rows, byte for byte
_ONE_GENERATOR_SHA256 = {
    "customers.csv": "d0fbf4be50b884dd6293a7345015d14c6fd394267c110e4c9bbef47c80c5fae8",
    "events.csv": "cb833ef0b96f55c03076113844b7f4ce7b5af9cb68b9333f2026c28ee3c8a4a4",
    "feedback.csv": "787577653d2945d0c697917f32c24c7c77ad45afc8296277f9b906229b5cfe4d",
    "truth.json": "74fd931f6ecfb864354afb560f5dccadfb7174b2b2e07a0a977e0bf7eb51839b",
}


def test_a_study_of_one_block_is_byte_identical_to_the_one_generator_sample(
    tmp_path: Path,
) -> None:
    path = write_sample(tmp_path, n_customers=150, seed=3, fmt="csv")
    found = {
        name: hashlib.sha256((path.parent / name).read_bytes()).hexdigest()
        for name in _ONE_GENERATOR_SHA256
    }
    assert found == _ONE_GENERATOR_SHA256


def test_a_block_of_no_customers_is_an_error() -> None:
    with pytest.raises(ValueError, match="block must be at least 1, found 0"):
        generate_sample(10, block=0)
    with pytest.raises(ValueError, match="n_customers must be at least 1, found 0"):
        next(sample_blocks(0))
