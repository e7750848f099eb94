"""Parameterised notebooks: finding the bundled ones, their parameters, checking values.

**Where the bundled notebooks are.** The product keeps its notebooks in the repository's
top-level ``notebooks/`` folder. :func:`notebooks_dir` looks, in order, at the folder named by
the ``CJRESEARCH_NOTEBOOKS`` environment variable, at ``cjresearch/notebooks/`` inside the
installed package (building a wheel copies every top-level ``notebooks/*.ipynb`` there, see
``setup.py``; ``tests/test_packaging.py`` builds one and checks), and at the top-level
``notebooks/`` of the source tree the package was installed from in editable mode (``make
setup`` does that).

**Parameters.** A notebook declares its parameters in its cell tagged ``parameters``, as
literals (``persona = "p1"``, optionally annotated ``persona: str = "p1"  # help``). Values
given for it are checked against those declarations: an unknown name or a value of the wrong
type is a :class:`~cjresearch.errors.CJResearchError` that lists what the notebook declares.
:func:`cjresearch.reporting.reports.run_notebook` fills two names from the study when the
notebook declares them and the caller does not set them: ``study_file`` (the study file's
absolute path) and ``artifacts_dir`` (the artifacts folder's absolute path).

**Values papermill can pass.** Papermill pastes every value into the notebook as a literal,
so :func:`check_parameter_values` accepts only None, str, bool, int, finite float, list and
dict; anything else (a DataFrame, a Path) would arrive as its ``repr``. Every report's
parameters are checked with it before any kernel starts.
"""

from __future__ import annotations

import ast
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cjresearch.errors import CJResearchError

__all__ = [
    "ARTIFACTS_PARAMETER",
    "STUDY_PARAMETER",
    "NotebookParameter",
    "bundled_notebooks",
    "check_parameter_values",
    "coerce_parameters",
    "find_notebook",
    "notebook_parameters",
    "notebooks_dir",
]

STUDY_PARAMETER = "study_file"
ARTIFACTS_PARAMETER = "artifacts_dir"

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


@dataclass(frozen=True)
class NotebookParameter:
    """One declared parameter: name, type (``str``, ``int``... or ``any``), default, help."""

    name: str
    type_name: str
    default: str
    help: str = ""

    def __str__(self) -> str:
        text = f"{self.name}: {self.type_name} = {self.default}"
        return f"{text}  ({self.help})" if self.help else text


def notebooks_dir() -> Path | None:
    """The folder of the bundled notebooks (see the module's docstring), or None."""
    env = os.environ.get("CJRESEARCH_NOTEBOOKS")
    here = Path(__file__).resolve().parent.parent  # the cjresearch package
    candidates = [Path(env)] if env else []
    candidates += [here / "notebooks", here.parent.parent / "notebooks"]
    return next((c for c in candidates if c.is_dir()), None)


def bundled_notebooks() -> list[Path]:
    """The bundled notebooks, sorted by name."""
    folder = notebooks_dir()
    return [] if folder is None else sorted(folder.glob("*.ipynb"))


def _is_text(value: object) -> bool:
    """False for text that cannot be written as UTF-8 (arguments that were not UTF-8 reach
    Python as lone surrogates), inside lists and dicts too."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, Mapping):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_is_text(v) for v in value)
    return True


def find_notebook(notebook: str | Path) -> Path:
    """A notebook file: an existing ``.ipynb`` path, or the name of a bundled notebook
    (``personas``). Any other file is refused without being read."""
    path = Path(notebook)
    if path.is_file():
        if path.suffix != ".ipynb":
            msg = f"{path}: not a notebook (a Jupyter notebook's file name ends in .ipynb)"
            raise CJResearchError(msg)
        return path
    for candidate in bundled_notebooks():
        if path.name in (candidate.name, candidate.stem):
            return candidate
    names = [p.stem for p in bundled_notebooks()]
    msg = f"notebook {str(notebook)!r} not found: not a file, nor a bundled notebook {names}"
    raise CJResearchError(msg)


def _type_of(declared: str, default: str) -> str:
    if declared in _TYPES:
        return declared
    try:
        value = ast.literal_eval(default)
    except (ValueError, SyntaxError):
        return "any"
    for name, types in _TYPES.items():
        if type(value) in types[:1]:
            return name
    return "any"


def notebook_parameters(notebook: str | Path) -> list[NotebookParameter]:
    """The parameters a notebook declares in its ``parameters`` cell (papermill's inspector)."""
    import papermill as pm

    path = Path(notebook)
    try:
        declared = pm.inspect_notebook(os.fspath(path))
    except Exception as exc:
        # never the error's text: it may quote the file's content
        msg = f"cannot read the parameters of {path}: not a readable Jupyter notebook"
        msg += f" ({type(exc).__name__})"
        raise CJResearchError(msg) from exc
    return [
        NotebookParameter(
            name,
            _type_of(str(info.get("inferred_type_name", "")), str(info.get("default", ""))),
            str(info.get("default", "")),
            str(info.get("help", "") or ""),
        )
        for name, info in declared.items()
    ]


def _from_text(raw: str, type_name: str) -> Any:
    if type_name == "str":
        return raw
    if type_name == "int":
        return int(raw)
    if type_name == "float":
        return float(raw)
    if type_name == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        msg = "expected true or false"
        raise ValueError(msg)
    if type_name in ("list", "dict"):
        return json.loads(raw)
    try:  # "any": a JSON value if it is one, else the text
        return json.loads(raw)
    except ValueError:
        return raw


def coerce_parameters(
    notebook: str | Path,
    values: Mapping[str, Any] | Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """Check values against a notebook's declared parameters and convert text to their types.

    Parameters
    ----------
    notebook
        The notebook.
    values
        A mapping of typed values (from Python), or ``(name, text)`` pairs (from the command
        line's ``-p NAME VALUE``), whose text is converted to the declared type (JSON for
        lists and dicts, true/false for booleans).

    Raises
    ------
    CJResearchError
        An unknown name or a value of the wrong type; the message lists the declarations.
    """
    declared = {p.name: p for p in notebook_parameters(notebook)}
    listing = "; ".join(str(p) for p in declared.values()) or "no parameters"
    pairs = list(values.items()) if isinstance(values, Mapping) else list(values)
    result: dict[str, Any] = {}
    for name, value in pairs:
        parameter = declared.get(name)
        if parameter is None:
            msg = f"{Path(notebook).name} has no parameter {name!r}. It declares: {listing}"
            raise CJResearchError(msg)
        type_name = parameter.type_name
        if not _is_text(value):
            msg = (
                f"parameter {name!r} of {Path(notebook).name}: the value is not UTF-8 text "
                "(check the terminal's encoding or the scheduler's locale)"
            )
            raise CJResearchError(msg)
        if isinstance(values, Mapping):
            converted = value
        else:
            try:
                converted = _from_text(str(value), type_name)
            except ValueError as exc:
                msg = (
                    f"parameter {name!r} of {Path(notebook).name} takes a {type_name}, "
                    f"got {value!r} ({exc}). It declares: {listing}"
                )
                raise CJResearchError(msg) from None
        accepted = _TYPES.get(type_name)
        wrong_type = accepted is not None and (
            not isinstance(converted, accepted)
            or (isinstance(converted, bool) and type_name in ("int", "float"))
        )
        if wrong_type:
            msg = (
                f"parameter {name!r} of {Path(notebook).name} takes a {type_name}, got "
                f"{type(converted).__name__} {converted!r}. It declares: {listing}"
            )
            raise CJResearchError(msg)
        result[name] = converted
    return result


def check_parameter_values(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check that parameters are plain values papermill injects as literals.

    Only None, str, bool, int, finite float, list and dict (with str keys) are accepted,
    nested to any depth; anything else (a DataFrame, a Path, a tuple) would reach the
    notebook as its ``repr`` pasted into code.

    Returns
    -------
    dict
        A copy of ``parameters``.

    Raises
    ------
    CJResearchError
        A name that is not an identifier or a value of another type.

    >>> check_parameter_values({"persona": "p1", "k": 3, "ids": [1, 2]})
    {'persona': 'p1', 'k': 3, 'ids': [1, 2]}
    """

    def check(value: Any, where: str) -> None:
        if value is None or isinstance(value, str | bool | int):
            return
        if isinstance(value, float):
            if not math.isfinite(value):
                msg = f"parameter {where} is {value!r}; only finite numbers can be passed"
                raise CJResearchError(msg)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                check(item, f"{where}[{i}]")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    msg = f"parameter {where} has a key {key!r}; dict keys must be text"
                    raise CJResearchError(msg)
                check(item, f"{where}[{key!r}]")
            return
        msg = (
            f"parameter {where} is a {type(value).__name__}; notebooks take only None, str, "
            "bool, int, float, list or dict (pass a path, not a table)"
        )
        raise CJResearchError(msg)

    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            msg = f"parameter name {name!r} is not a Python identifier"
            raise CJResearchError(msg)
        check(value, repr(name))
    return dict(parameters)
