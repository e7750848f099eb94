"""One suppression pass over everything a build publishes, so that no figure describing
fewer than ``min_group_size`` customers can be read, subtracted or looked up elsewhere.

Each analysis suppresses its own small cells (:func:`cjresearch.analysis.privacy.suppress`),
but a reader holds every published table at once. :func:`protect` therefore runs last,
over the whole set, and repeats four rules until none applies:

1. **Small counts.** A row is suppressed when any of its counts of customers (every numeric
   ``n_*`` column except :data:`NOT_COUNTS`) is between 1 and ``min_group_size - 1``, when
   its complement is (``n_customers - n_churned``: the customers who did *not* churn; and
   ``n_persona - n_customers``: the persona's customers who did not reach the stage), or when
   a churn rate times its count implies such a number of churners or of stayers.
2. **The same cell elsewhere.** A count hidden in one table is hidden in every table that
   publishes the same count (the same column, the same persona, stage, touchpoint and channel,
   and the same value), e.g. a touchpoint's customers in ``touchpoints`` and in
   ``pain_points``. Tables with no counts of their own (``findings``) and tables of quoted
   or written text (``verbatims``, ``opportunities``) lose the rows whose persona, stage
   and touchpoint are suppressed in another table with the same cells.
3. **Differencing across personas.** Where a table has an ``all`` row beside the persona
   rows of the same cell, the customers the visible persona rows leave out (the ``all``
   count minus the visible ones) must be 0 or at least ``min_group_size``; otherwise the
   smallest visible persona row is suppressed too (secondary suppression). Persona sizes
   in ``personas`` are checked the same way against the number of customers in the study.
4. **Withdrawn personas.** A persona whose size is suppressed is withdrawn: its rows in every
   table are suppressed, and it gets no report.

Suppressed rows are blanked and flagged (``suppressed`` is True; tables that had no such
column get one) where the table has a ``suppressed`` or ``flags`` column; in other tables
(survival curves, findings, verbatims, paths) the row is removed. :class:`Disclosure`
counts both, per table, for the build manifest.

What is not covered: combinations of three or more tables other than the ones above, and
zero cells ("nobody in this persona churned") which say something about a whole group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjresearch.data.schema import ALL

__all__ = ["KEY_COLUMNS", "NOT_COUNTS", "Disclosure", "protect"]

#: Columns that say which cell a row describes: never blanked.
KEY_COLUMNS = frozenset(
    {
        "persona",
        "persona_id",
        "persona_name",
        "stage",
        "touchpoint",
        "channel",
        "level",
        "from_stage",
        "from_touchpoint",
        "to_stage",
        "to_touchpoint",
        "kind",
        "item",
        "path",
        "tercile",
        "model",
        "source",
        "feature",
        "family",
        "rank",
        "pain_rank",
        "step",
        "metric",
        "k",
    }
)
#: ``n_*`` columns that do not count customers (or events of customers).
NOT_COUNTS = frozenset({"n_stages", "n_parameters", "n_tests", "n_imputations", "n_lags"})
#: The columns that name a cell across tables (besides the persona).
_CELL = ("stage", "touchpoint", "channel")
#: The columns a table's persona is named in.
_PERSONA = ("persona", "persona_name")
#: (whole, part): the part's complement in the whole counts customers too.
_COMPLEMENTS = (("n_customers", "n_churned"), ("n_persona", "n_customers"))
#: Tables whose ``n_events`` are churners among ``n_customers``.
_CHURN_EVENTS = frozenset({"logrank", "time_to_churn"})
#: (rate, count): rate x count is a number of churners.
_RATES = (("churn_rate", "n_customers"), ("churn_rate_observed", "n_customers"))
#: Columns whose rows are compared only within one curve (not additive across personas).
_NOT_ADDITIVE = frozenset({"n_at_risk"})
_MAX_ROUNDS = 50


@dataclass
class Disclosure:
    """What :func:`protect` did, per table: rows blanked (and flagged), rows removed, and
    single figures blanked in rows that stay."""

    blanked: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """The manifest's ``disclosure`` entry (tables with nothing suppressed left out)."""
        return {
            "blanked_rows": {k: v for k, v in sorted(self.blanked.items()) if v},
            "removed_rows": {k: v for k, v in sorted(self.removed.items()) if v},
            "blanked_cells": {k: v for k, v in sorted(self.cells.items()) if v},
        }


def protect(
    tables: Mapping[str, pd.DataFrame], *, min_group_size: int, n_customers: int
) -> tuple[dict[str, pd.DataFrame], Disclosure]:
    """Every published table with the cells a reader could use to learn about fewer than
    ``min_group_size`` customers suppressed (see the module docstring).

    Parameters
    ----------
    tables
        The publishable tables by name, each already suppressed by its own analysis. Not
        modified.
    min_group_size
        The study's smallest group.
    n_customers
        The number of customers in the study (the total persona sizes add up to).

    Returns
    -------
    tables : dict of pandas.DataFrame
        The same tables, in the same order, with the same columns (plus ``suppressed``
        where rows were blanked in a table that had none).
    disclosure : Disclosure
        The rows blanked and removed per table.
    """
    state = _State(tables, min_group_size, n_customers)
    for _ in range(_MAX_ROUNDS):
        before = state.n_hidden()
        state.small_counts()
        state.same_cells()
        state.personas_withdrawn()
        state.differencing()
        if state.n_hidden() == before:
            break
    return state.result()


class _State:
    """The tables and, per table, the boolean (rows x columns) mask of cells to blank."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], k: int, n_customers: int) -> None:
        self.k = k
        self.total = n_customers
        self.frames = {name: frame.reset_index(drop=True) for name, frame in tables.items()}
        self.figures = {
            name: [c for c in frame.columns if c not in KEY_COLUMNS and c not in _FLAGS]
            for name, frame in self.frames.items()
        }
        self.mask = {
            name: np.repeat(_flagged(frame).to_numpy()[:, None], len(self.figures[name]), axis=1)
            for name, frame in self.frames.items()
        }
        self.counts = {name: _count_columns(frame) for name, frame in self.frames.items()}

    def n_hidden(self) -> int:
        return int(sum(mask.sum() for mask in self.mask.values()))

    def small(self, values: pd.Series | np.ndarray) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            return (array > 0) & (np.round(array) < self.k)

    def rows(self, name: str) -> np.ndarray:
        """Rows of which every figure is blanked."""
        mask = self.mask[name]
        if not mask.shape[1]:
            return np.zeros(len(mask), dtype=bool)
        return np.asarray(mask.all(axis=1), dtype=bool)

    def hide_rows(self, name: str, rows: np.ndarray) -> None:
        self.mask[name][rows] = True

    def hidden_cell(self, name: str, col: str) -> np.ndarray:
        return self.mask[name][:, self.figures[name].index(col)]

    def hide_family(self, name: str, row: int, col: str) -> None:
        """Blank ``col`` and the figures that follow from it in one row (the whole row when
        ``col`` counts the customers the row describes)."""
        family = _FAMILIES.get(col)
        if family is None or (col == "n_events" and name in _CHURN_EVENTS):
            self.mask[name][row] = True
            return
        for j, figure in enumerate(self.figures[name]):
            if figure == col or any(part in figure for part in family):
                self.mask[name][row, j] = True

    def small_counts(self) -> None:
        for name, frame in self.frames.items():
            small = np.zeros(len(frame), dtype=bool)
            for col in self.counts[name]:
                small |= self.small(frame[col])
            pairs = list(_COMPLEMENTS)
            if name in _CHURN_EVENTS:
                pairs.append(("n_customers", "n_events"))
            for whole, part in pairs:
                if whole in frame and part in frame:
                    small |= self.small(_numeric(frame[whole]) - _numeric(frame[part]))
            for rate, count in _RATES:
                if rate in frame and count in frame:
                    n = _numeric(frame[count])
                    churned = np.round(_numeric(frame[rate]) * n)
                    small |= self.small(churned) | self.small(n - churned)
            self.hide_rows(name, small)

    def same_cells(self) -> None:
        """A count hidden in one table is hidden wherever the same cell shows the same
        value; tables without counts lose the rows of cells hidden elsewhere."""
        hidden_cells: dict[tuple[str, tuple[str, ...], tuple[object, ...]], set[float]] = {}
        hidden_rows: set[tuple[tuple[str, ...], tuple[object, ...]]] = set()
        cells: dict[str, list[tuple[object, ...]]] = {}
        for name, frame in self.frames.items():
            keys = _cell_columns(frame)
            if not keys:
                continue
            cells[name] = [tuple(_norm(v) for v in r) for r in frame[list(keys)].itertuples(False)]
            rows = self.rows(name)
            for i in np.flatnonzero(rows):
                hidden_rows.add((keys, cells[name][i]))
            for col in self.counts[name]:
                values = _numeric(frame[col]).to_numpy()
                for i in np.flatnonzero(self.hidden_cell(name, col) & ~np.isnan(values)):
                    hidden_cells.setdefault((col, keys, cells[name][i]), set()).add(values[i])
        for name, frame in self.frames.items():
            if name not in cells:
                continue
            keys = _cell_columns(frame)
            if not self.counts[name] or _QUOTES & set(frame.columns):
                lost = [(keys, cell) in hidden_rows for cell in cells[name]]
                self.hide_rows(name, np.asarray(lost, dtype=bool))
            for col in self.counts[name]:
                values = _numeric(frame[col]).to_numpy()
                open_ = ~self.hidden_cell(name, col) & ~np.isnan(values)
                for i in np.flatnonzero(open_):
                    if values[i] in hidden_cells.get((col, keys, cells[name][i]), ()):
                        self.hide_family(name, int(i), col)

    def personas_withdrawn(self) -> None:
        """Every row of a persona whose size is hidden (in ``personas``) is suppressed."""
        personas = self.frames.get("personas")
        if personas is None or "persona_name" not in personas or "n_customers" not in personas:
            return
        gone_rows = self.hidden_cell("personas", "n_customers")
        gone = set(personas.loc[gone_rows, "persona_name"].astype(str))
        if not gone:
            return
        ids = set()
        if "persona_id" in personas:
            ids = set(personas.loc[gone_rows, "persona_id"].astype(str))
        for name, frame in self.frames.items():
            rows = np.zeros(len(frame), dtype=bool)
            for col in _PERSONA:
                if col in frame:
                    rows |= frame[col].astype(str).isin(gone).to_numpy()
            if "persona_id" in frame and ids:
                rows |= frame["persona_id"].astype(str).isin(ids).to_numpy()
            self.hide_rows(name, rows)

    def differencing(self) -> None:
        personas = self.frames.get("personas")
        if personas is not None and "n_customers" in personas:
            self._complete("personas", np.arange(len(personas)), "n_customers", self.total)
        for name, frame in self.frames.items():
            persona = next((c for c in _PERSONA if c in frame), None)
            if persona is None or name == "personas":
                continue
            is_all = frame[persona].astype(str).eq(ALL).to_numpy()
            if not is_all.any():
                continue
            group_cols = [c for c in frame.columns if c in KEY_COLUMNS and c not in _NON_GROUP]
            groups = (
                frame.groupby(group_cols, dropna=False, sort=False).indices
                if group_cols
                else {(): np.arange(len(frame))}
            )
            for positions in groups.values():
                rows = np.asarray(positions)
                everyone = rows[is_all[rows]]
                if len(everyone) != 1:
                    continue
                members = rows[~is_all[rows]]
                for col in self.counts[name]:
                    if col in _NOT_ADDITIVE or self.hidden_cell(name, col)[everyone[0]]:
                        continue
                    total = _numeric(frame[col]).iloc[everyone[0]]
                    if pd.notna(total):
                        self._complete(name, members, col, float(total))

    def _complete(self, name: str, members: np.ndarray, col: str, total: float) -> None:
        """Blank the smallest visible member cells until the customers the visible ones
        leave out of ``total`` are 0 or at least k (secondary suppression)."""
        values = _numeric(self.frames[name][col]).to_numpy()
        while True:
            hidden = self.hidden_cell(name, col)
            visible = members[~hidden[members] & ~np.isnan(values[members])]
            if not len(visible):
                return
            rest = total - values[visible].sum()
            if not self.small(np.array([rest]))[0]:
                return
            self.hide_family(name, int(visible[np.argmin(values[visible])]), col)

    def result(self) -> tuple[dict[str, pd.DataFrame], Disclosure]:
        out: dict[str, pd.DataFrame] = {}
        report = Disclosure()
        for name, frame in self.frames.items():
            mask = self.mask[name]
            already = _flagged(frame).to_numpy()
            rows = self.rows(name) & (len(self.figures[name]) > 0)
            partial = mask.any(axis=1) & ~rows
            if "suppressed" in frame or "flags" in frame:
                out[name] = _blank(frame, self.figures[name], mask, rows)
                report.blanked[name] = int((rows & ~already).sum())
            else:
                kept = _blank(frame, self.figures[name], mask, None)
                out[name] = kept.loc[~rows].reset_index(drop=True)
                report.removed[name] = int(rows.sum())
            report.cells[name] = int(mask[partial].sum())
        return out, report


#: Columns of quoted or written text: such rows go with the cells they speak of.
_QUOTES = frozenset({"text", "reason"})
#: Columns that flag a row, never blanked.
_FLAGS = frozenset({"suppressed", "flags"})
#: Figures blanked with a count when only that count must go (name parts they contain);
#: counts not listed take their whole row with them.
_FAMILIES: dict[str, tuple[str, ...]] = {
    "n_emotion": ("emotion",),
    "n_events": ("share",),
    "n_transitions": (),
    "n_from_previous": ("conversion",),
    "n_texts": (),
    "n_customers_with_text": (),
}
#: Key columns that differ between the persona rows of one cell (so never group them).
_NON_GROUP = frozenset({"persona", "persona_id", "persona_name", "rank", "pain_rank", "family"})


def _flagged(frame: pd.DataFrame) -> pd.Series:
    if "suppressed" in frame:
        return frame["suppressed"].fillna(False).astype(bool)
    return pd.Series(False, index=frame.index)


def _count_columns(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if str(c).startswith("n_")
        and c not in NOT_COUNTS
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _cell_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    persona = next((c for c in _PERSONA if c in frame), None)
    cell = tuple(c for c in _CELL if c in frame)
    return ((persona,) if persona else ()) + cell if persona or cell else ()


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _norm(value: object) -> object:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _blank(
    frame: pd.DataFrame, figures: list[str], mask: np.ndarray, rows: np.ndarray | None
) -> pd.DataFrame:
    """``frame`` with the masked cells missing and, when ``rows`` is given, ``suppressed``
    set on those rows."""
    if not mask.any():
        return frame
    out = frame.copy()
    for j, col in enumerate(figures):
        cells = mask[:, j]
        if not cells.any():
            continue
        if pd.api.types.is_bool_dtype(out[col]):
            # a flag of what is suppressed says so; any other yes/no (a finding, a converged
            # fit) is not shown for a suppressed figure: False, so that no reader trips on NA
            out.loc[cells, col] = str(col).endswith("_suppressed")
        elif pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(float)
            out.loc[cells, col] = np.nan
        else:
            out[col] = out[col].astype(object)
            out.loc[cells, col] = None
    if rows is not None:
        out["suppressed"] = _flagged(frame).to_numpy() | rows
    return out
