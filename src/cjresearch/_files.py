"""Files written whole or not at all, cached file hashes and UTC timestamps (not API).

Every file the package writes outside a publish transaction goes through :func:`atomic_path`
(or the writers built on it): the content is written to a temporary file beside the target
(``.<name>.<random>.tmp<suffix>``, so that it stays on the same file system and keeps the
suffix that writers such as numpy's ``savez`` insist on) and renamed over the target with
:func:`os.replace` only when it is complete. A reader sees the old file or the new one,
never half of one; a failure leaves the old file and no temporary one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "append_text",
    "atomic_dir",
    "atomic_path",
    "file_sha256",
    "utc_now",
    "utc_stamp",
    "write_json",
    "write_text",
]


def _temporary(path: Path, suffix: str) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed over ``path`` when the
    block ends without an exception, removed when it raises. Parent folders are created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(target, target.suffix)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Like :func:`atomic_path` for a folder that must not exist yet: the block fills a
    temporary folder, which is renamed to ``path`` when it ends without an exception."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(target, "")
    temporary.mkdir()
    try:
        yield temporary
        os.rename(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically; returns the path."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def append_text(path: str | os.PathLike[str], text: str) -> Path:
    """Append UTF-8 text to ``path`` atomically: the old content and the new are written to
    a temporary file that replaces ``path``, so a reader (or a crash) sees the file before
    the append or after it, never a half-written last line. Returns the path."""
    target = Path(path)
    with atomic_path(target) as temporary, temporary.open("wb") as out:
        if target.is_file():
            with target.open("rb") as old:
                shutil.copyfileobj(old, out)
        out.write(text.encode("utf-8"))
    return target


def write_json(path: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON (non-JSON values as text) atomically."""
    return write_text(path, json.dumps(payload, indent=2, default=str) + "\n")


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in chunks; remembered per (path, size, mtime) so that
    a build that checks its inputs twice reads them once."""
    path = Path(path)
    stat = path.stat()
    key = (os.fspath(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _HASH_CACHE.get(key)
    if cached is None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        cached = _HASH_CACHE[key] = digest.hexdigest()
    return cached


def utc_now() -> dt.datetime:
    """The current time in UTC (time-zone aware)."""
    return dt.datetime.now(dt.UTC)


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """An ISO 8601 UTC timestamp to the second, e.g. ``2026-06-30T06:00:00+00:00``."""
    return (moment or utc_now()).isoformat(timespec="seconds")
