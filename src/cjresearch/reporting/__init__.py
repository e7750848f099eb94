"""Reporting: a build's artifacts -> published pages.

Lowest first: each module imports only modules listed before it.

- ``charts``: Altair charts of the published tables; ``views``: what each report shows.
- ``notebooks``: finding the bundled notebooks, their parameters, checking values.
- ``html``: the HTML export of an executed notebook (offline, provenance footer).
- ``execute``: running notebooks with papermill in a pool of warm kernels (``_warm``).
- ``publish``: the output folder's lock, slugs and all-or-nothing publishes.
- ``portal``: ``index.html``, the page that links every report.
- ``reports``: plan, run and publish the reports whose inputs changed.
"""
