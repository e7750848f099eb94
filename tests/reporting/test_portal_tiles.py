"""The portal tiles' sparkline: a readable scale, the same on every tile."""

from __future__ import annotations

import re

from cjresearch.reporting.portal import sparkline


def _ys(svg: str) -> list[float]:
    return [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]


def test_the_sparkline_scale_is_given_and_values_beyond_it_stay_inside() -> None:
    curve = [{"stage": "A", "emotion": 0.25}, {"stage": "B", "emotion": -0.5}]
    # 40 px high, 0 at 20, 16 px to the top at +span: +0.25 of 0.5 is 8 px up
    assert _ys(sparkline(curve, "#123456", span=0.5)) == [12.0, 36.0]
    assert _ys(sparkline(curve, "#123456")) == [16.0, 28.0]  # default scale: -1 to +1
    assert _ys(sparkline([{"stage": "A", "emotion": 0.9}], "#123456", span=0.5)) == [4.0]
    assert 'aria-label="Emotion across the stages: lowest at B, highest at A"' in sparkline(
        curve, "#123456"
    )
