"""Quoting customers (analysis.verbatims): the pool, scoring and redaction, the size rule, picks."""

from __future__ import annotations

import pandas as pd

from cjresearch.analysis.cube import build_cube
from cjresearch.analysis.emotion import score_texts
from cjresearch.analysis.journey_map import build_map
from cjresearch.analysis.personas.profiles import persona_verbatims
from cjresearch.analysis.verbatims import KINDS, comment_pool, n_quotable, pick, scored
from helpers import planted_personas, sample_pipeline


def test_the_pool_keeps_rows_with_a_comment() -> None:
    feedback = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d"], "text": ["slow app", "", None, "  fine "]}
    )
    assert comment_pool(feedback)["customer_id"].tolist() == ["a", "d"]
    assert comment_pool(None) is None
    assert comment_pool(feedback.drop(columns="text")) is None


def test_comments_are_scored_as_written_with_the_lexicon_setting_and_redacted() -> None:
    raw = ["The setup wizard crashed twice, mail me at jo@example.com", "love it"]
    pool = pd.DataFrame({"raw": raw})
    for cx_lexicon in (True, False):
        out = scored(pool, cx_lexicon=cx_lexicon, customer_ids=None)
        expected = score_texts(pd.Series(raw), cx_lexicon=cx_lexicon).tolist()
        assert out["text_emotion"].tolist() == expected
    assert scored(pool, cx_lexicon=True, customer_ids=None)["text"].tolist() == [
        "The setup wizard crashed twice, mail me at [email]",
        "love it",
    ]
    assert list(pool.columns) == ["raw"]  # not modified


def test_a_pool_of_too_few_customers_is_not_quoted() -> None:
    assert n_quotable(pd.Series(["a", "b", "a"]), min_group_size=2) == 2
    assert n_quotable(pd.Series(["a", "a", "a"]), min_group_size=2) is None


def _pool() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["x", "x", "y", "y", "z", "w"],
            "raw": ["bad jo@a.com", "bad jo@b.com", "ok", "meh", "good", "meh"],
            "text": ["bad [email]", "bad [email]", "ok", "meh", "good", "meh"],
            "text_emotion": [-0.6, -0.6, 0.1, 0.0, 0.5, 0.0],
        }
    )


def test_most_negative_and_typical_among_distinct_redacted_texts() -> None:
    picked = pick(_pool(), most_negative=1, typical=2)
    assert picked["kind"].tolist() == [KINDS[0], KINDS[1], KINDS[1]]
    # distinct texts: bad, ok, meh, good; their median is 0.05; ties keep the pool's order
    assert picked["text"].tolist() == ["bad [email]", "ok", "meh"]
    assert picked["rank"].tolist() == [1, 2, 3]
    assert picked["median_emotion"].tolist() == [0.05] * 3


def test_distinct_as_written_keeps_comments_that_redact_alike() -> None:
    picked = pick(_pool(), most_negative=3, typical=0, distinct_by="raw")
    assert picked["raw"].tolist() == ["bad jo@a.com", "bad jo@b.com", "meh"]


def test_one_per_customer_picks_each_customers_comment_closest_to_the_median() -> None:
    # median of all six comments: 0.0; y's closest is "meh" (before "ok"), w's "meh" goes as y
    # quoted that text already, then z's "good" and x's "bad"
    picked = pick(_pool(), most_negative=0, typical=3, typical_rule="one per customer")
    assert picked["customer_id"].tolist() == ["y", "z", "x"]
    assert picked["text"].tolist() == ["meh", "good", "bad [email]"]
    assert picked["median_emotion"].tolist() == [0.0] * 3
    assert set(picked["kind"]) == {KINDS[1]}


def test_pools_by_column_are_picked_separately_in_the_order_of_their_values() -> None:
    pool = pd.concat([_pool().assign(cell=2), _pool().head(3).assign(cell=1)], ignore_index=True)
    picked = pick(pool, most_negative=2, typical=0, by=["cell"])
    assert picked["cell"].tolist() == [1, 1, 2, 2]
    assert picked.groupby("cell")["rank"].apply(list).to_dict() == {1: [1, 2], 2: [1, 2]}


def test_every_quoting_path_writes_the_studys_own_customer_ids_as_id() -> None:
    """Customers quote their own ids ("my customer number is C0000069"): the journey map's
    verbatims, the persona verbatims and the explorer's comments all publish ``[id]``."""
    p = sample_pipeline(3_000)
    personas = planted_personas(p.sample.truth)
    feedback = p.tables.feedback.copy()
    commented = feedback["text"].notna().to_numpy()
    own = feedback["customer_id"].astype(str).str.lower()  # any letter case is found
    feedback.loc[commented, "text"] = "My customer number is " + own[commented] + ", it crashed"
    jm = build_map(
        p.tables.events,
        p.tables.customers,
        p.observations,
        p.stage_emotion,
        feedback,
        stages=p.study.stages,
        personas=personas,
    )
    cube = build_cube(
        customers=p.tables.customers,
        events=p.tables.events,
        observations=p.observations,
        assignments=personas,
        stages=p.study.stages,
        feedback=feedback,
    )
    quoted = {
        "journey map": jm.verbatims["text"],
        "personas": persona_verbatims(feedback, personas, per_persona=3, min_group_size=10)["text"],
        "explorer": cube.verbatims["text"],
    }
    ids = [str(i).lower() for i in p.tables.customers["customer_id"]]
    for where, texts in quoted.items():
        assert len(texts) > 0, where
        assert (texts == "My customer number is [id], it crashed").all(), where
        joined = " ".join(texts).lower()
        assert not any(i in joined for i in ids), where
