"""Names that become file and column names: one normaliser (cjresearch.data.names)."""

from __future__ import annotations

import pytest

from cjresearch.analysis.journeys import sanitise_name as journeys_sanitise_name
from cjresearch.data.names import (
    column_collisions,
    look_alike,
    name_problems,
    sanitise_name,
    slugify,
)
from cjresearch.errors import CJResearchError
from cjresearch.reporting.publish import slugify as publish_slugify


def test_the_upper_layers_use_the_one_normaliser() -> None:
    assert journeys_sanitise_name is sanitise_name
    assert publish_slugify is slugify


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Sign-up (Web)", "sign_up_web"),  # as before the move
        ("Café Crème", "cafe_creme"),
        ("ｐｅｒｓｏｎａ", "persona"),  # full-width letters fold to ASCII
        ("お問い合わせ", "お問い合わせ"),  # letters of any script are kept ...
        ("が", "が"),  # ... with their marks (か + dakuten is recomposed, not dropped)
        ("Straße", "straße"),
        ("हिन्दी", "हिन्दी"),  # spacing marks of Devanagari stay in the word
        ("🛒", "shopping_trolley"),  # symbols are spelled by their Unicode name
        ("📱 App", "mobile_phone_app"),
        ("web\u200b", "web"),  # invisible characters are separators
    ],
)
def test_sanitise_name(name: str, expected: str) -> None:
    assert sanitise_name(name) == expected


def test_sanitised_names_fit_in_a_file_name() -> None:
    for name in ("x" * 300, "認" * 300, "🛒" * 60):
        fragment = sanitise_name(name)
        assert 0 < len(fragment.encode("utf-8")) <= 100
        assert not fragment.endswith("_")
        assert f"stage-{fragment}".isprintable()


def test_a_name_with_nothing_to_keep_is_an_error() -> None:
    with pytest.raises(CJResearchError, match="no letters or digits"):
        sanitise_name("--")
    with pytest.raises(CJResearchError, match="no letters or digits"):
        sanitise_name("\u200b")


def test_look_alike_pairs() -> None:
    assert look_alike(["web", "app", "web\u200b", "ｗｅｂ", "w eb", "we  b", "we b"]) == [
        ("web", "web\u200b"),
        ("web", "ｗｅｂ"),
        ("we  b", "we b"),
    ]
    assert look_alike(["Web", "web"]) == []  # case is visible: a column collision instead


def test_column_collisions() -> None:
    assert column_collisions(["Web", "web", "Sign up", "sign-up", "app", "--"]) == [
        ("Web", "web", "web"),
        ("Sign up", "sign-up", "sign_up"),
    ]


def test_name_problems_list_every_reason_once() -> None:
    problems = name_problems(
        ["usage", "usage\u200d", "Usage", "x" * 101, "--"], what="stage", max_length=100
    )
    assert problems == [
        f"the stage name '{'x' * 37}...' has 101 characters; names "
        "become file names, so at most 100 are allowed",
        "the stage name '--' has no letters, digits or symbols to put in a column name; rename it",
        "the stage names 'usage' and 'usage\\u200d' look the same (they differ only in invisible "
        "characters, spacing or Unicode compatibility forms); use one spelling",
        "the stage names 'usage' and 'Usage' both become 'usage' in column names (letters "
        "lowercased, other characters as '_'); rename one of them",
    ]
    assert name_problems(["認知", "購入", "🛒"], what="stage", max_length=100) == []
