"""Replacing a whole folder at once: the next version beside it, then one atomic exchange.

A reader of the output folder must see the old site or the new one, never a mix, even when
the publishing process is killed half-way. Renaming files one by one cannot promise that;
exchanging two folders can: the next version of the folder is built beside it (every
unchanged file hard-linked, so nothing is copied), and Linux's ``renameat2(RENAME_EXCHANGE)``
swaps the two names in one step. The old version, now under the sibling's name, is deleted
afterwards; a process killed before the swap leaves the old folder as it was, one killed
after it leaves the new one, and either way a sibling that the next run removes.

Where the exchange is not available (another kernel, a file system that refuses it, a
parent folder that is not writable) :func:`can_exchange` says so and the caller publishes
file by file with its journal instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

__all__ = ["can_exchange", "exchange", "link_tree", "next_folder", "stale_siblings"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 1 << 1
#: The prefix of the sibling folder a publish builds (``.<output>.cjresearch-<run id>``).
_MARK = ".cjresearch-"
_SUPPORTED: dict[int, bool] = {}


def _renameat2() -> object | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
        function.argtypes += [ctypes.c_uint]
        function.restype = ctypes.c_int
    return function


def exchange(a: Path, b: Path) -> None:
    """Swap the names of two folders on one file system, atomically.

    Raises
    ------
    OSError
        The exchange is not possible (``ENOSYS``, ``EINVAL``, ``EXDEV``...).
    """
    function = _renameat2()
    if function is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    code = function(  # type: ignore[operator]
        _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE
    )
    if code != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), os.fspath(a), None, os.fspath(b))


def can_exchange(folder: Path) -> bool:
    """Whether folders beside ``folder`` can be exchanged with it (tried once per file
    system, on two empty folders of our own in its parent)."""
    parent = folder.parent
    try:
        device = parent.stat().st_dev
    except OSError:
        return False
    if device not in _SUPPORTED:
        probe = [parent / f".{folder.name}{_MARK}probe-{os.getpid()}-{i}" for i in (1, 2)]
        try:
            for path in probe:
                path.mkdir()
            exchange(*probe)
            _SUPPORTED[device] = True
        except OSError:
            _SUPPORTED[device] = False
        finally:
            for path in probe:
                shutil.rmtree(path, ignore_errors=True)
    return _SUPPORTED[device]


def next_folder(folder: Path, run_id: str) -> Path:
    """Where the next version of ``folder`` is built."""
    return folder.parent / f".{folder.name}{_MARK}{run_id}"


def stale_siblings(folder: Path) -> list[Path]:
    """Next or old versions of ``folder`` that a killed publish left beside it (real
    folders of ours only: never a link, never a folder without our bookkeeping)."""
    prefix = f".{folder.name}{_MARK}"
    try:
        candidates = list(folder.parent.iterdir())
    except OSError:
        return []
    return sorted(
        p for p in candidates if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()
    )


def link_tree(source: Path, target: Path, *, skip: Iterable[Path] = ()) -> None:
    """``target`` as a copy of ``source`` made of hard links (symbolic links copied as
    links, never followed); the folders in ``skip`` are left out."""
    skipped = {p.resolve() for p in skip}
    target.mkdir()
    for root, folders, files in os.walk(source, followlinks=False):
        here = Path(root)
        there = target / here.relative_to(source)
        kept = []
        for name in folders:
            path = here / name
            if path.resolve() in skipped and not path.is_symlink():
                continue
            if path.is_symlink():
                os.symlink(os.readlink(path), there / name)
                continue
            (there / name).mkdir()
            kept.append(name)
        folders[:] = kept
        for name in files:
            path = here / name
            if path.is_symlink():
                os.symlink(os.readlink(path), there / name)
            else:
                os.link(path, there / name)
