"""Charts from the published tables (reporting.charts): valid Vega-Lite, rendered to SVG."""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert

from cjresearch.analysis.journey_map import JourneyMap, build_map
from cjresearch.errors import CJResearchError, StatisticalWarning
from cjresearch.reporting import charts
from helpers import sample_journey_map, sample_pipeline

N = 3_000


@pytest.fixture(scope="module")
def pipeline():
    return sample_pipeline(N)


@pytest.fixture(scope="module")
def jm() -> JourneyMap:
    return sample_journey_map(N)


def emotion_churn(estimate: str = "odds_ratio") -> pd.DataFrame:
    """A table shaped like the statistics step's output (values made up for drawing)."""
    return pd.DataFrame(
        {
            "persona": ["all", "all", "App natives", "Bargain hunters"],
            "stage": ["support", "onboarding", "onboarding", "onboarding"],
            "n_customers": [1249.0, 3000.0, np.nan, 580.0],
            "n_churned": [400.0, 800.0, np.nan, 250.0],
            "unit_size": 0.5,
            estimate: [0.8, 0.6, np.nan, 0.55],
            "ci_low": [0.7, 0.5, np.nan, 0.4],
            "ci_high": [0.95, 0.7, np.nan, 0.75],
            "p_value": [0.01, 0.001, np.nan, 0.002],
            "q_value": [0.02, 0.002, np.nan, 0.004],
            "family": "stage",
            "flags": ["", "", "", "small events"],
            "suppressed": [False, False, True, False],
        }
    )


def km_table() -> pd.DataFrame:
    time = np.arange(0.0, 400.0, 10.0)
    parts = [
        pd.DataFrame(
            {
                "persona": "all",
                "stage": stage,
                "tercile": tercile,
                "time": time,
                "survival": np.linspace(1, floor, len(time)),
                "ci_low": np.linspace(1, floor - 0.05, len(time)),
                "ci_high": np.linspace(1, min(floor + 0.05, 1), len(time)),
                "n_at_risk": np.arange(len(time), 0, -1) * 10,
            }
        )
        for stage in ("support", "onboarding")
        for tercile, floor in (("low", 0.55), ("middle", 0.7), ("high", 0.85))
    ]
    return pd.concat(parts, ignore_index=True)


def all_charts(jm: JourneyMap, stages: list[str]) -> dict[str, alt.TopLevelMixin]:
    colors = charts.persona_colors(jm.personas)
    return {
        "journey_map": charts.journey_map_chart(
            jm.journey_map,
            jm.touchpoints,
            jm.pain_points,
            jm.opportunities,
            jm.channels,
            stages=stages,
            persona="Phone-first traditionalists",
            colors=colors,
        ),
        "emotion_curves": charts.emotion_curves(jm.journey_map, stages=stages, colors=colors),
        "funnel": charts.funnel_chart(jm.funnel, stages=stages, colors=colors),
        "forest_odds": charts.forest_plot(emotion_churn(), stages=stages, colors=colors),
        "forest_hazard": charts.forest_plot(
            emotion_churn("hazard_ratio"), stages=stages, colors=colors
        ),
        "km": charts.km_chart(km_table(), stages=stages),
    }


def datasets(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return spec.get("datasets", {})


@pytest.fixture(scope="module")
def specs(jm, pipeline) -> dict[str, dict[str, Any]]:
    # to_dict validates against the Vega-Lite schema (altair raises on an invalid spec)
    return {name: chart.to_dict() for name, chart in all_charts(jm, pipeline.study.stages).items()}


@pytest.mark.parametrize(
    "name",
    ["journey_map", "emotion_curves", "funnel", "forest_odds", "forest_hazard", "km"],
)
def test_every_chart_is_valid_vega_lite_and_renders_to_svg(specs, name: str) -> None:
    spec = specs[name]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    svg = vl_convert.vegalite_to_svg(spec)
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    # aggregated: small data, no customer ids
    for rows in datasets(spec).values():
        assert len(rows) <= 5000
        for row in rows[:50]:
            assert "customer_id" not in row
    assert "C000" not in json.dumps(spec)


def test_stage_order_follows_the_study(specs, pipeline) -> None:
    stages = list(pipeline.study.stages)
    text = json.dumps(specs["emotion_curves"])
    assert json.dumps(stages) in text  # the x scale's domain, in the study's order
    assert json.dumps(sorted(stages)) not in text
    facet = specs["km"]["facet"]  # panels wrap (a facet with columns), in the study's order
    assert facet["sort"] == stages
    assert specs["km"]["columns"] == 3


def test_persona_colours_are_the_same_in_every_chart(specs, jm) -> None:
    colors = charts.persona_colors(jm.personas)
    assert colors["all"] == charts.ALL_COLOR
    assert len(set(colors.values())) == len(colors)

    def scales(node: Any) -> list[dict[str, Any]]:
        found = []
        if isinstance(node, dict):
            color = node.get("color")
            if isinstance(color, dict) and color.get("field") == "persona":
                found.append(color["scale"])
            for value in node.values():
                found += scales(value)
        elif isinstance(node, list):
            for value in node:
                found += scales(value)
        return found

    for name in ("emotion_curves", "funnel", "forest_odds"):
        for scale in scales(specs[name]):
            for persona, color in zip(scale["domain"], scale["range"], strict=True):
                assert colors[persona] == color, (name, persona)


def test_tooltips_carry_n(specs) -> None:
    for name, spec in specs.items():
        text = json.dumps(spec)
        assert '"tooltip"' in text, name
        assert "n customers" in text or "n at risk" in text, name


def test_suppressed_cells_read_suppressed(pipeline) -> None:
    p = pipeline
    customers = p.tables.customers.head(60)
    keep = set(customers["customer_id"].astype(str))
    events = p.tables.events[p.tables.events["customer_id"].astype(str).isin(keep)]
    personas = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "persona_id": [0] * 50 + [1] * 10,
            "persona_name": ["Many"] * 50 + ["Few"] * 10,
        }
    )
    se = p.stage_emotion[p.stage_emotion["customer_id"].astype(str).isin(keep)]
    with pytest.warns(StatisticalWarning, match="1 of 3 groups"):
        small = build_map(
            events, customers, None, se, None, stages=p.study.stages, personas=personas,
            min_group_size=20,
        )  # fmt: skip
    stages = p.study.stages
    chart = charts.journey_map_chart(
        small.journey_map, small.touchpoints, small.pain_points, stages=stages, persona="Few"
    )
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    assert "suppressed" in svg
    funnel_svg = vl_convert.vegalite_to_svg(
        charts.funnel_chart(small.funnel, stages=stages).to_dict()
    )
    assert "suppressed" in funnel_svg
    forest_svg = vl_convert.vegalite_to_svg(
        charts.forest_plot(emotion_churn(), stages=stages).to_dict()
    )
    assert "suppressed" in forest_svg
    # a suppressed figure is never drawn as a number
    data = datasets(charts.funnel_chart(small.funnel, stages=stages).to_dict())
    few = [r for rows in data.values() for r in rows if r.get("persona") == "Few"]
    assert few and all(r["n"] == "suppressed" for r in few)


def test_labels_cannot_break_out_of_a_page(jm, pipeline) -> None:
    hostile = "<script>alert(1)</script>"
    touchpoints = jm.touchpoints.copy()
    touchpoints["touchpoint"] = touchpoints["touchpoint"].astype(object)
    first_persona = touchpoints.loc[0, "persona"]
    touchpoints.loc[touchpoints["persona"] == first_persona, "touchpoint"] = hostile
    chart = charts.journey_map_chart(
        jm.journey_map, touchpoints, stages=pipeline.study.stages, persona=first_persona
    )
    text = chart.to_json()
    assert "<script" not in text and "</script" not in text
    assert "\u2039script\u203a" in text
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    assert "<script" not in svg
    assert charts.safe_label("a\x00b" + "x" * 300).startswith("ab")
    assert len(charts.safe_label("x" * 300)) == 200


def test_charts_refuse_raw_rows_and_unknown_input(jm, pipeline) -> None:
    stages = pipeline.study.stages
    raw = jm.journey_map.assign(customer_id="C0000001")
    with pytest.raises(CJResearchError, match="customer id column"):
        charts.emotion_curves(raw, stages=stages)
    with pytest.raises(CJResearchError, match="persona 'Nobody' is not in the table"):
        charts.journey_map_chart(jm.journey_map, jm.touchpoints, stages=stages, persona="Nobody")
    with pytest.raises(CJResearchError, match="stages must be"):
        charts.funnel_chart(jm.funnel, stages="awareness")
    with pytest.raises(CJResearchError, match=r"no column\(s\) \['ci_low'"):
        charts.forest_plot(emotion_churn().drop(columns="ci_low"), stages=stages)


def test_persona_colors_are_stable_and_cycle() -> None:
    names = [f"P{i}" for i in range(12)]
    colors = charts.persona_colors(["all", *names])
    assert next(iter(colors)) == "all"
    assert colors["P0"] == charts.PALETTE[0]
    assert colors["P9"] == charts.PALETTE[0]  # cycles after nine
    assert charts.persona_colors(names) == {k: v for k, v in colors.items()}
    with pytest.raises(CJResearchError, match="sequence of names"):
        charts.persona_colors("all")


# --- persona charts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def persona_tables(pipeline):
    from cjresearch.analysis.personas.model import fit_personas
    from cjresearch.analysis.personas.profiles import usage_profile

    p = pipeline
    model = fit_personas(
        p.features,
        p.tables.customers.set_index("customer_id")["churned"],
        requested=p.study.personas.features,
        k=5,
        seed=7,
        n_bootstrap=2,
        n_init=2,
    )
    return model, usage_profile(p.features, model.assignments())


def test_persona_charts_are_valid_and_render(persona_tables, pipeline) -> None:
    model, profile = persona_tables
    colors = charts.persona_colors(["all", *model.personas["persona_name"]])
    made = [
        charts.k_evidence_chart(model.evidence),
        charts.persona_traits_chart(model.traits, model.personas, colors=colors),
        charts.persona_profile_chart(profile, colors=colors),
        charts.persona_profile_chart(
            profile, kind="stage", stages=pipeline.study.stages, colors=colors
        ),
    ]
    for chart in made:
        spec = chart.to_dict()  # validates against the Vega-Lite schema
        assert "<svg" in vl_convert.vegalite_to_svg(spec)
        assert "customer_id" not in json.dumps(spec)
    stage_spec = json.dumps(made[3].to_dict())
    assert stage_spec.index('"awareness"') < stage_spec.index('"renewal"')
    with pytest.raises(CJResearchError, match='kind must be "channel" or "stage"'):
        charts.persona_profile_chart(profile, kind="touchpoint")


def test_a_stage_with_two_groups_of_emotion_is_drawn_too() -> None:
    # ties leave two groups (q1, q2) at a stage: they are drawn and named, never dropped
    km = km_table()
    tied = km[(km["stage"] == "support") & (km["tercile"] != "middle")].copy()
    tied["tercile"] = tied["tercile"].map({"low": "q1", "high": "q2"})
    table = pd.concat([km[km["stage"] != "support"], tied], ignore_index=True)
    spec = charts.km_chart(table, stages=["onboarding", "support"]).to_dict()
    domain = spec["spec"]["layer"][1]["encoding"]["color"]["scale"]["domain"]
    assert domain == [
        "lowest third",
        "middle third",
        "highest third",
        "lower of two groups (ties)",
        "upper of two groups (ties)",
    ]
    dashes = spec["spec"]["layer"][1]["encoding"]["strokeDash"]["scale"]["range"]
    assert len({tuple(d) for d in dashes}) == 5
