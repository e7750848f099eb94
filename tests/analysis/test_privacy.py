"""Redaction of personal data and small-cell suppression (cjresearch.analysis.privacy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.privacy import (
    check_publishable,
    display_frame,
    id_tokens,
    redact,
    redact_text,
    suppress,
)
from cjresearch.datasets.sample import _PII
from cjresearch.errors import CJResearchError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail jane.doe@example.com now", "Mail [email] now"),
        ("first.last+tag@mail.co.uk wrote", "[email] wrote"),
        ("Call me back on +44 20 7946 0958", "Call me back on [phone]"),
        ("+1 (415) 555-0100", "[phone]"),
        ("phone+4915123456789", "phone[phone]"),
        ("call (415) 555-0100 today", "call [phone] today"),
        ("415.555.0100 ok", "[phone] ok"),
        ("415-555-0100", "[phone]"),
        ("0800 123 4567", "[phone]"),
        ("tel: 020 7946 0958.", "tel: [phone]."),
        ("My card 4111 1111 1111 1111 was charged", "My card [number] was charged"),
        ("4111-1111-1111-1111.", "[number]."),
        ("amex 3782-822463-10005", "amex [number]"),
        ("4111111111111111", "[number]"),
        ("Account number 99887766554433", "Account number [number]"),
        ("ref 123456789", "ref [number]"),
        ("ssn 123-45-6789", "ssn [number]"),
        ("See https://example.com/account?user=884213&token=abc", "See [url]"),
        ("www.example.com/x?id=3 there", "[url] there"),
        ("https://user:pw@host.com/x", "[url]"),
        ("http://example.com/page#section-2", "[url]"),
    ],
)
def test_redact_replaces_personal_data(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I waited 40 minutes on hold",
        "in 2026 it was better",
        "paid $12.99 a month",
        "paid $1,299.00 for 1,000,000 points",
        "on 2026-03-01 at 09:30",
        "order 12345 arrived",
        "ref 1234 5678",
        "25-30 days",
        "1/2/2026",
        "The 1990s",
        "v2.3.1 release",
        "version 10.0.19045",
        "3.14159265358",
        "ip 192.168.0.1",
        "see https://example.com/help",
        "10+ years, score 9+10",
        "3 weeks and 2 days",
        "",
    ],
)
def test_redact_keeps_ordinary_numbers_and_plain_urls(text: str) -> None:
    assert redact_text(text) == text


def test_the_sample_studys_personal_data_is_all_redacted() -> None:
    # The sample generator plants these fragments in 4% of comments.
    out = redact([f"Fine.{pii}" for pii in _PII])
    for text in out:
        assert "@" not in text
        assert "4111" not in text
        assert "7946" not in text
        assert "token" not in text
        assert "99887766554433" not in text
        assert any(p in text for p in ("[email]", "[phone]", "[number]", "[url]"))


def test_redact_keeps_index_and_missing_values() -> None:
    texts = pd.Series(["mail a@b.co", None, "fine"], index=[10, 11, 12])
    out = redact(texts)
    assert out.index.tolist() == [10, 11, 12]
    assert out[10] == "mail [email]"
    assert pd.isna(out[11])
    assert out[12] == "fine"
    assert texts[10] == "mail a@b.co"  # not modified


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "persona": ["all", "A", "B", "C"],
            "stage": ["s", "s", "s", "s"],
            "n_customers": [100, 60, 35, 5],
            "rate": [0.5, 0.4, 0.6, 1.0],
            "label": ["x", "y", "z", "w"],
        }
    )


def test_suppress_blanks_small_rows_and_flags_them() -> None:
    table = _table()
    out = suppress(table, min_group_size=10)
    assert out["suppressed"].tolist() == [False, False, False, True]
    assert out.loc[3, ["n_customers", "rate"]].isna().all()
    assert out.loc[3, "label"] == "w"  # not a figure column by default
    assert out.loc[0, "n_customers"] == 100
    assert table["n_customers"].tolist() == [100, 60, 35, 5]  # input untouched


def test_suppress_named_columns_and_combined_flags() -> None:
    first = suppress(_table(), min_group_size=50, columns=["rate", "label"])
    assert first["suppressed"].tolist() == [False, False, True, True]
    assert first.loc[2:, "label"].isna().all()
    # a second pass by another count keeps earlier flags
    second = first.assign(n_other=[5, 100, 100, 100])
    again = suppress(second, min_group_size=10, count_col="n_other", columns=["rate"])
    assert again["suppressed"].tolist() == [True, False, True, True]


def test_complementary_suppression_hides_a_second_cell() -> None:
    out = suppress(_table(), min_group_size=10, complementary_by=["stage"])
    # C (5) is small; the smallest other cell (B, 35) is hidden too, so C = all - A - B
    # cannot be recovered by subtraction.
    assert out["suppressed"].tolist() == [False, False, True, True]


def test_suppress_treats_missing_counts_as_small() -> None:
    table = pd.DataFrame({"n_customers": [np.nan, 20.0], "x": [1.0, 2.0]})
    assert suppress(table, min_group_size=10)["suppressed"].tolist() == [True, False]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_suppress_rejects_a_bad_threshold(bad: object) -> None:
    with pytest.raises(CJResearchError, match="min_group_size must be a whole number"):
        suppress(_table(), min_group_size=bad)  # type: ignore[arg-type]


def test_suppress_names_a_missing_column() -> None:
    with pytest.raises(CJResearchError, match="no count column 'n'"):
        suppress(_table(), min_group_size=10, count_col="n")
    with pytest.raises(CJResearchError, match=r"no column\(s\) \['nope'\]"):
        suppress(_table(), min_group_size=10, columns=["nope"])


def test_display_frame_reads_suppressed_not_zero() -> None:
    out = display_frame(suppress(_table(), min_group_size=10))
    assert out.loc[3, "n_customers"] == "suppressed"
    assert out.loc[3, "rate"] == "suppressed"
    assert out.loc[0, "n_customers"] == 100
    # missing figures of a visible row are "not measured", not suppressed
    visible = pd.DataFrame({"n_customers": [20], "rate": [np.nan], "suppressed": [False]})
    assert pd.isna(display_frame(visible).loc[0, "rate"])


def test_customer_ids_are_refused() -> None:
    frame = pd.DataFrame({"customer_id": ["C1"], "n_customers": [12]})
    with pytest.raises(CJResearchError, match="customer id column"):
        check_publishable(frame, name="t")
    check_publishable(frame.drop(columns="customer_id"), name="t")
    leaked = pd.DataFrame({"path": ["C0000001"], "n_customers": [12]})
    with pytest.raises(CJResearchError, match="holds 1 customer id value"):
        check_publishable(leaked, customer_ids=["C0000001", "C0000002"])
    check_publishable(pd.DataFrame({"path": ["a > b"]}), customer_ids=["C0000001"])


# --------------------------------------------------------------------- hostile personal data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # phones: North American with its leading 1, parentheses, international groups
        ("call 1-800-555-0199 now", "call [phone] now"),
        ("call 1 (800) 555-0199", "call [phone]"),
        ("1.800.555.0199.", "[phone]."),
        ("(800) 555-0199", "[phone]"),
        ("ring +44 20 7946 0958!", "ring [phone]!"),
        # cards: dots, one or two spaces, hyphens
        ("card 4012.8888.8888.1881 declined", "card [number] declined"),
        ("card 4012  8888  8888  1881", "card [number]"),
        ("card 4012 8888 8888 1881", "card [number]"),
        ("card 4012-8888-8888-1881", "card [number]"),
        ("card 4012--8888--8888--1881", "card [number]"),
        ("card 4111111111111111, thanks", "card [number], thanks"),
        ("acct 99887766554433.", "acct [number]."),
        # national ids with spaces or hyphens
        ("ssn 078 05 1120 on file", "ssn [number] on file"),
        ("ssn 078-05-1120", "ssn [number]"),
        # e-mail addresses with letters of any script
        ("write to jörg@bücher.de please", "write to [email] please"),
        ("mail user@例え.jp", "mail [email]"),
        ("почта иван@пример.рф", "почта [email]"),
        ("ünïcødé.name+tag@exämple.co.uk", "[email]"),
    ],
)
def test_redact_broader_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "on 2026-03-01 it broke",
        "from 2026-03-01 to 2026-03-31",
        "2026-03-01T09:30:00Z",
        "01.03.2026 and 1.3.2026",
        "it cost 1,299.00 and then 12,345.67",
        "€1.299,00 per year",
        "45% of the time, 12.5% more",
        "version 2.0.1 and v10.2.3",
        "at 10:30 or 09:30:15",
        "between 10-20 minutes, 2020-2024",
        "1-2 days, 24/7 support",
        "1 000 000 points",
        "ip 192.168.100.200",
        "I waited 1 hour",
        "None of the staff helped",
    ],
)
def test_redact_keeps_dates_prices_percentages_versions_and_times(text: str) -> None:
    assert redact_text(text) == text


def test_redact_replaces_the_studys_own_customer_ids() -> None:
    ids = ["C0000069", "C0000070", "u-8f3a.2", "48213", "12", "2024"]
    texts = pd.Series(
        [
            "My customer number is C0000069",
            "c0000069 again, and C0000070.",
            "ticket for (C0000069)/C0000070 filed",
            "user u-8f3a.2 wrote",
            "my number is 48213",
            "C00000690 is someone else",  # a longer token is not the id
            "waited 12 minutes in 2024",  # too short to be told from counts and years
        ]
    )
    out = redact(texts, customer_ids=ids)
    assert out.tolist() == [
        "My customer number is [id]",
        "[id] again, and [id].",
        "ticket for ([id])/[id] filed",
        "user [id] wrote",
        "my number is [id]",
        "C00000690 is someone else",
        "waited 12 minutes in 2024",
    ]
    # prepared once, reused: the same result
    prepared = id_tokens(ids)
    assert redact(texts, customer_ids=prepared).tolist() == out.tolist()
    assert sorted(prepared) == ["48213", "c0000069", "c0000070", "u-8f3a.2"]
    # without ids the sample-style id is not personal data by pattern (7 digits)
    assert redact_text("My customer number is C0000069") == "My customer number is C0000069"


def test_redact_is_one_pass_placeholders_are_not_matched_again() -> None:
    # an id that reads like a placeholder's word must not turn "[email]" into "[[id]]"
    out = redact_text("mail jane@example.com", customer_ids=["email", "jane"])
    assert out == "mail [email]"
    # a URL's digits are not also a phone number or a card
    assert redact_text("https://x.com/?p=4111111111111111&t=+4420794609") == "[url]"
