"""HTML export: an executed notebook as an offline page, code hidden, with a provenance footer.

This is the HTML export of reports. The explorer's export (a selection's tables as CSV and
its charts as SVG, in a folder) is another thing:
:meth:`cjresearch.explore.widgets.Explorer.export`.

nbconvert's ``lab`` and ``classic`` page templates load require.js and MathJax from a CDN
(and widget state from unpkg), so this module renders only the cells with nbconvert's
``basic`` template and wraps them in its own page (``templates/report.html.j2``): inline
CSS, no script, no external load, a link back to the portal and the provenance footer.
Input cells and the cells tagged ``parameters`` / ``injected-parameters`` are removed
(``report_mode`` does not hide code in nbconvert's HTML).

**Charts.** Reports show Altair charts as static SVG: the notebook enables Altair's ``svg``
renderer (``alt.renderers.enable("svg")``, rendered in the kernel by vl-convert), and
nbconvert (>= 7.17) writes SVG outputs as ``<img src="data:image/svg+xml;base64,...">``. The
chart is data inside the file, renders with no network and no JavaScript, and an SVG inside
an ``<img>`` cannot run a script even if a data string tried to; the price is no tooltips.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2

from cjresearch._files import utc_stamp
from cjresearch._version import __version__
from cjresearch.errors import CJResearchError

__all__ = ["Provenance", "export_html", "external_loads", "render_template"]

_REMOVE_TAGS = ("parameters", "injected-parameters")
_LOAD_ATTRS = {"src", "href", "srcset", "data", "action", "poster", "formaction", "xlink:href"}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(
    r"(?:url\(\s*['\"]?\s*(?:https?:)?//|@import\s+['\"]?\s*(?:https?:)?//)", re.IGNORECASE
)


@dataclass(frozen=True)
class Provenance:
    """Where a page comes from: what the provenance footer of every page shows.

    Parameters
    ----------
    study
        The study's name.
    data_hashes
        File name -> SHA-256 of the data read (a report adds the files it reads itself).
    versions
        Package -> version.
    run_id
        The build's run id (default, when publishing: a new one).
    built_at
        When the page was built, ISO 8601 UTC (default: now).
    """

    study: str | None = None
    data_hashes: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    built_at: str | None = None


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cjresearch.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _exporter() -> Any:
    """nbconvert's exporter, made once per process: it compiles its Jinja templates on first
    use, which costs more than the export of a report itself."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = _REMOVE_TAGS
    exporter = HTMLExporter(config=config, template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_output_stdin = True
    return exporter


def render_template(name: str, **context: Any) -> str:
    """Render one of the package's Jinja2 templates (autoescaped)."""
    return _environment().get_template(name).render(version=__version__, **context)


def _shown(value: Any) -> str:
    """A parameter value as the footer shows it: paths reduced to their last part."""
    if isinstance(value, str) and (os.sep in value or "/" in value) and os.path.isabs(value):
        return Path(value).name
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def export_html(
    notebook: str | Path | Any,
    *,
    title: str,
    parameters: Mapping[str, Any] | None = None,
    provenance: Provenance | None = None,
    portal_href: str | None = "../index.html",
    offline: bool = True,
) -> str:
    """An executed notebook as one self-contained HTML page.

    Parameters
    ----------
    notebook
        Path of an executed notebook, or a ``nbformat.NotebookNode``.
    title
        The page title (escaped).
    parameters
        The notebook's parameters, shown in the footer (absolute paths by their last part
        only).
    provenance
        The rest of the footer: study, data read, versions, run id and time (default: now).
    portal_href
        Relative link back to the portal (None for no link).
    offline
        Refuse a page that would load anything from the network (e.g. a chart made with
        Altair's default renderer, which loads vega from a CDN, or a web image in markdown).

    Returns
    -------
    str
        The page. It loads nothing from the network (see :func:`external_loads`).

    Raises
    ------
    CJResearchError
        With ``offline``, the page would load something from the network; the message
        names it and the fix for charts.
    """
    import nbformat

    node = (
        nbformat.read(os.fspath(notebook), as_version=4)
        if isinstance(notebook, str | Path)
        else nbformat.from_dict(notebook)
    )
    # Widget state makes nbconvert templates pull the widget manager from unpkg.
    node.metadata.pop("widgets", None)
    body, _ = _exporter().from_notebook_node(node)
    if offline and (loads := external_loads(body)):
        msg = (
            f"the page would load {len(loads)} resource(s) from the network, e.g. {loads[0]}; "
            'render charts as SVG (alt.renderers.enable("svg")) and embed images as files'
        )
        raise CJResearchError(msg)
    origin = provenance or Provenance()
    return render_template(
        "report.html.j2",
        title=title,
        body=body,
        study=origin.study,
        built_at=origin.built_at or utc_stamp(),
        run_id=origin.run_id,
        portal_href=portal_href,
        parameters=[(k, _shown(v)) for k, v in (parameters or {}).items()],
        data_hashes=sorted(origin.data_hashes.items()),
        versions=sorted(origin.versions.items()),
    )


class _LoadFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None or name not in _LOAD_ATTRS or (tag == "a" and name == "href"):
                continue
            if _REMOTE.match(value) and not value.lower().startswith("data:"):
                self.loads.append(f"<{tag} {name}={value[:120]}>")
            if name == "srcset" and re.search(r"(?:https?:)?//", value):
                self.loads.append(f"<{tag} srcset={value[:120]}>")

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style":
            self.loads += [f"css {m.group(0)}" for m in _CSS_REMOTE.finditer(data)]


def external_loads(html: str) -> list[str]:
    """Everything in a page that the browser would fetch from the network.

    Attributes that load (``src``, ``href`` of anything but ``<a>``, ``srcset``, ``data``,
    ``action``, ``poster``...) with a remote or protocol-relative URL, and CSS ``url(...)``
    and ``@import`` of remote URLs. A plain hyperlink (``<a href>``) is not a load.

    >>> external_loads('<script src="https://cdn.example/x.js"></script><a href="https://x">x</a>')
    ['<script src=https://cdn.example/x.js>']
    """
    finder = _LoadFinder()
    finder.feed(html)
    finder.close()
    return finder.loads
