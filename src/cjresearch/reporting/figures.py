"""Figures: a chart as a static SVG image with alt text that says what it shows.

A report shows its charts as images (see :mod:`cjresearch.reporting.html`): the SVG is
rendered in the kernel (Altair's ``save`` through vl-convert, no browser or network), sits
in the page as a data URI inside an ``<img>`` (which cannot run a script whatever a label
says), and carries an ``alt`` text written from the data ("Emotion per stage ...: lowest at
Support, +0.20"), so that a screen reader, a text-only view and a printed page that lost its
images still say what the chart shows. Static images have no tooltips: the pages never
point readers to one; the numbers are in the tables beside the charts.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from typing import Any

from cjresearch.reporting.formats import Html

__all__ = ["Figure"]

_SIZE = re.compile(r'<svg[^>]*?\bwidth="(?P<w>[\d.]+)"[^>]*?\bheight="(?P<h>[\d.]+)"')


@dataclass(frozen=True)
class Figure:
    """A chart with its alt text (and an optional caption below it).

    ``chart`` is the Altair chart (``figure.chart.to_dict()`` is its spec, the test of a
    chart); a notebook displays the figure as an image.
    """

    chart: Any
    alt: str
    caption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The chart's Vega-Lite spec."""
        return dict(self.chart.to_dict())

    def svg(self) -> str:
        """The chart as SVG text."""
        buffer = io.StringIO()
        self.chart.save(buffer, format="svg")
        return buffer.getvalue()

    @property
    def html(self) -> Html:
        svg = self.svg()
        size = _SIZE.search(svg)
        dims = f' width="{float(size["w"]):.0f}" height="{float(size["h"]):.0f}"' if size else ""
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        caption = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return Html(
            f'<figure class="cj-figure"><img src="data:image/svg+xml;base64,{data}"'
            f' alt="{html.escape(self.alt, quote=True)}"{dims}>{caption}</figure>'
        )

    def __repr__(self) -> str:
        return self.alt  # the notebook's text/plain output: what the chart shows

    def _repr_html_(self) -> str:
        return str(self.html)
