"""Reporting: a build's artifacts -> published pages.

Lowest first: each module imports only modules listed before it.

- ``charts``: Altair charts of the published tables; ``formats``: tables for reading
  (great_tables); ``figures``: charts as images with alt text; ``digest``: findings in a
  few sentences; ``canvas``: the journey-map canvas; ``views``: what each report shows;
  ``analyses``: the analysis notebooks' views; ``summary``: the portal's executive summary.
- ``notebooks``: finding the bundled notebooks, their parameters, checking values.
- ``html``: the HTML export of an executed notebook (offline, provenance footer).
- ``execute``: running notebooks with papermill in a pool of warm kernels (``_warm``).
- ``publish``: the output folder's lock, slugs and all-or-nothing publishes.
- ``portal``: ``index.html``, the executive summary that links every report, and
  ``status.html``.
- ``pdf``: the published pages printed to PDF by a headless Chromium (``build --pdf``).
- ``reports``: plan, run and publish the reports whose inputs changed.
"""
