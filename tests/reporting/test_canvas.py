"""The journey-map canvas: lanes by data, the emotion curve in the persona's colour, escaped."""

from __future__ import annotations

import re

import pandas as pd

from cjresearch.reporting.canvas import Lane, harm_words, lane_from_frame, persona_canvas

STAGES = ["onboarding", "support"]
P = "App-first, younger"


def _tables() -> dict[str, pd.DataFrame]:
    the_map = pd.DataFrame(
        {
            "persona": [P, P, "all", "all"],
            "stage": STAGES * 2,
            "n_customers": [500.0, 100.0, 2000.0, 900.0],
            "reach": [1.0, 0.2, 1.0, 0.45],
            "churn_rate": [0.2, 0.3, 0.25, 0.33],
            "emotion_mean": [0.3, -0.2, 0.1, 0.0],
            "emotion_ci_low": [0.25, -0.3, 0.08, -0.05],
            "emotion_ci_high": [0.35, -0.1, 0.12, 0.05],
            "n_emotion": [400.0, 80.0, 1500.0, 700.0],
            "suppressed": False,
        }
    )
    touchpoints = pd.DataFrame(
        {
            "persona": P,
            "stage": ["onboarding", "onboarding", "onboarding", "support"],
            "touchpoint": ["account_setup", "<b>setup_failed</b>", "payment_error", "chat_support"],
            "n_customers": [450.0, 100.0, 0.0, 90.0],
            "share": [0.9, 0.2, 0.0, 0.9],
            "suppressed": False,
        }
    )
    pains = pd.DataFrame(
        {
            "persona": P,
            "stage": ["onboarding", "onboarding"],
            "touchpoint": ["<b>setup_failed</b>", "account_setup"],
            "rank": [1, 2],
            "score": [0.6, 0.0],
            "n_customers": [100, 450],
            "churn_rate": [0.57, 0.2],
            "churn_rate_comparison": [0.21, 0.2],
        }
    )
    verbatims = pd.DataFrame(
        {
            "persona": P,
            "stage": ["onboarding"],
            "touchpoint": ["setup_failed"],
            "pain_rank": [1],
            "kind": ["most negative"],
            "text": ["It <script>broke</script>"],
        }
    )
    return {
        "journey_map": the_map,
        "touchpoints": touchpoints,
        "channels": touchpoints.rename(columns={"touchpoint": "channel"}),
        "pain_points": pains,
        "verbatims": verbatims,
    }


def test_the_canvas_has_every_lane_stage_columns_and_the_persona_colour() -> None:
    canvas = persona_canvas(
        _tables(), persona=P, title="Journey map", stages=STAGES, color="#f58518",
        label=lambda s: s.replace("_", " ").capitalize(),
    )  # fmt: skip
    assert canvas.lane_keys == ["actions", "channels", "emotion", "pain", "opportunities", "quotes"]
    html = str(canvas.html)
    assert "--stages: 2" in html and html.count('class="cj-stage-head"') == 2
    svg = re.search(r"<svg.*?</svg>", html, flags=re.S).group(0)
    assert 'stroke="#f58518"' in svg and 'fill="#f58518"' in svg  # line, points and band
    assert "<polygon" in svg and 'class="cj-all"' in svg  # the band; all customers dashed
    assert "lowest at Support (\u22120.20), highest at Onboarding (+0.30)" in svg
    # only pain points beyond chance, with their churn pair; nothing at 0%
    assert "churn 57% vs 21%" in html and "Account setup: churn" not in html
    assert "Payment error" not in html


def test_every_data_string_is_escaped() -> None:
    html = str(persona_canvas(_tables(), persona=P, title="<i>t</i>", stages=STAGES,
                              color="#4c78a8").html)  # fmt: skip
    assert "<script>" not in html and "<b>" not in html and "<i>t</i>" not in html
    assert "&lt;script&gt;broke" in html


def test_a_lane_is_added_by_data() -> None:
    canvas = persona_canvas(_tables(), persona=P, title="t", stages=STAGES, color="#4c78a8")
    owners = pd.DataFrame({"stage": ["support"], "owner": ["Dana, support lead"]})
    lane = lane_from_frame(owners, key="owners", title="Owner", text="owner")
    added = canvas.with_lane(lane, after="emotion")
    assert added.lane_keys[3] == "owners" and canvas.lane_keys[3] == "pain"
    html = str(added.html)
    assert "Dana, support lead" in html and 'class="cj-lane cj-lane-owners"' in html
    assert isinstance(lane, Lane) and set(lane.cells) == {"support"}


def test_a_pain_point_is_described_by_its_own_evidence_not_by_churn() -> None:
    base = {"churn_rate": 0.20, "churn_rate_comparison": 0.24, "emotion_gap": -0.0156}
    # found by its emotion alone: its lower churn is not offered as the reason
    felt = harm_words(pd.Series({**base, "evidence": "emotion"}))
    assert felt == "felt 0.02 worse (on the -1 to +1 scale)"
    both = harm_words(
        pd.Series({**base, "churn_rate": 0.41, "evidence": "churn; emotion", "drop_off": 0.1})
    )
    assert both == "churn 41% vs 24%; felt 0.02 worse (on the -1 to +1 scale)"
    dropped = harm_words(
        pd.Series({"evidence": "drop_off", "drop_off": 0.30, "drop_off_comparison": 0.1})
    )
    assert dropped == "dropped off 30% vs 10%"
    # an older table without the evidence column: the churn pair, as before
    assert harm_words(pd.Series(base)) == "churn 20% vs 24%"
    # the shrunk estimate the evidence rests on comes before the raw gap
    shrunk = pd.Series({**base, "evidence": "emotion", "emotion_gap_shrunk": -0.031})
    assert harm_words(shrunk) == "felt 0.03 worse (on the -1 to +1 scale)"
