"""Independent computations that the analysis tests pin their golden values to."""

from __future__ import annotations

import math


def wilson_closed_form(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927) score interval of ``k / n``, written out by hand."""
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half
