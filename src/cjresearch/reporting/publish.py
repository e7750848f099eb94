"""Publishing: safe file names, one lock per output folder, and all-or-nothing publishes.

A build never writes into the published folder directly. It writes every file into a
staging folder inside the output folder (``<output>/.cjresearch/staging/<run_id>/``, so
that renames stay on one file system) and then publishes them with :func:`os.replace`:

1. every file that will be replaced is first hard-linked to a backup inside the staging
   folder, and a journal naming the files is written (the commit point);
2. the staged files are renamed over the published ones, one ``os.replace`` each;
3. the journal is marked done and the staging folder removed.

An exception during step 2 (``KeyboardInterrupt`` included) restores the backups at once.
A process killed during step 2 (``kill -9``, power loss) leaves the journal behind; the next
run, under the lock, calls :func:`recover` and restores the backups. So a reader sees the
old folder or the new one, never a half-written file, and an interrupted build leaves the
folder as it was.

The lock is ``<output>/.cjresearch/lock``, held with ``flock`` (released by the kernel when
the process dies, so a lock of a dead process is taken over) and holding the run id, process
id and start time that the "locked by" message quotes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cjresearch._files import atomic_path, utc_now, utc_stamp
from cjresearch.data.names import slugify
from cjresearch.errors import CJResearchError, OutputLockedError
from cjresearch.reporting import _swap

__all__ = [
    "SITE_ENTRIES",
    "STATE_DIR",
    "OutputLock",
    "PublishTransaction",
    "assign_slugs",
    "check_output_folder",
    "lock_output",
    "new_run_id",
    "recover",
    "safe_relpath",
    "slugify",
]

#: Private bookkeeping inside the output folder (lock, staging, state); never linked to.
STATE_DIR = ".cjresearch"
#: What a build writes at the top of its output folder.
SITE_ENTRIES = (
    "index.html",
    "status.html",
    "manifest.json",
    "alerts.json",
    "tables",
    "personas",
    "stages",
    "analysis",
    "owners",
)


def check_output_folder(
    output: str | Path,
    *,
    inputs: Iterable[str | Path | None] = (),
    artifacts: str | Path | None = None,
) -> Path:
    """The output folder, resolved, once it is safe to publish into; else a one-line error.

    Refused: the file system's root or the home folder; a folder holding the study's input
    files or its artifacts (they hold customer ids), or one inside the artifacts; a folder
    that holds what a build writes (``index.html``, ``tables/``... :data:`SITE_ENTRIES`)
    without being a cjresearch output folder (no ``.cjresearch/`` bookkeeping): those are the
    user's own files; and a site folder or the bookkeeping that is a symbolic link.

    Raises
    ------
    CJResearchError
        The folder is not safe to publish into; the message says why and names the file.
    """
    path = Path(output).expanduser().resolve()
    where, fix = f"the output folder {path}", "(set [reports] output or --out)"
    if path == Path(path.anchor) or path == Path.home().resolve():
        msg = f"{where} is not a folder of its own: not the root or home folder {fix}"
        raise CJResearchError(msg)
    for item in inputs:
        if item is not None and Path(item).resolve().is_relative_to(path):
            msg = (
                f"{where} holds the study's input {Path(item).name}; a build would publish "
                f"beside (or over) it: choose a folder of its own {fix}"
            )
            raise CJResearchError(msg)
    if artifacts is not None:
        folder = Path(artifacts).resolve()
        if folder.is_relative_to(path) or path.is_relative_to(folder):
            msg = (
                f"{where} and the artifacts folder {folder} overlap; the artifacts hold "
                f"customer ids and must never be published: keep them apart {fix}"
            )
            raise CJResearchError(msg)
    if path.is_dir() and not (path / STATE_DIR).is_dir():
        theirs = [name for name in SITE_ENTRIES if (path / name).exists()]
        if theirs:
            msg = (
                f"{where} already holds {', '.join(theirs)}, which cjresearch did not write; "
                f"choose an empty folder (or a previous build's) so nothing of yours is "
                f"overwritten {fix}"
            )
            raise CJResearchError(msg)
    for name in (*SITE_ENTRIES, STATE_DIR):
        _refuse_links(path, f"{name}/-")
    return path


def assign_slugs(names: Iterable[str]) -> dict[str, str]:
    """Distinct slugs for distinct names, independent of the order they come in.

    Names whose slugs collide are disambiguated in sorted order of the names: the first keeps
    the plain slug, the next get ``-2``, ``-3``...

    >>> assign_slugs(["Ann B", "ann-b", "Zed"])
    {'Ann B': 'ann-b', 'Zed': 'zed', 'ann-b': 'ann-b-2'}
    """
    unique = sorted(set(names))
    taken: set[str] = set()
    result: dict[str, str] = {}
    for name in unique:
        base = slugify(name)
        slug, i = base, 1
        while slug in taken:
            i += 1
            slug = f"{base}-{i}"
        taken.add(slug)
        result[name] = slug
    return result


def safe_relpath(relative: str | os.PathLike[str]) -> PurePosixPath:
    """``relative`` as a POSIX path that stays inside its root; otherwise CJResearchError.

    >>> safe_relpath("personas/a.html")
    PurePosixPath('personas/a.html')
    """
    text = os.fspath(relative)
    path = PurePosixPath(text.replace("\\", "/"))
    if (
        not text
        or "\x00" in text
        or path.is_absolute()
        or any(part in ("..", ".", "") for part in path.parts)
        or not path.parts
    ):
        msg = (
            f"refusing to publish {text!r}: "
            "paths must be relative and stay inside the output folder"
        )
        raise CJResearchError(msg)
    return path


# --------------------------------------------------------------------------- the lock


def new_run_id() -> str:
    """A run id: UTC time and a random suffix, e.g. ``20260630T060000Z-1a2b3c4d``.

    It names the lock's holder and the publish's staging folder.
    """
    return f"{utc_now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class OutputLock:
    """A held lock: who holds it (this process) and since when."""

    path: Path
    run_id: str
    pid: int
    since: str
    took_over: dict[str, Any] | None
    _fd: int

    def release(self) -> None:
        """Release the lock (idempotent)."""
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def lock_output(
    output: str | Path,
    *,
    run_id: str,
    wait: bool = False,
    timeout: float | None = None,
    poll: float = 0.2,
) -> Iterator[OutputLock]:
    """Hold the output folder's lock for the duration of a ``with`` block.

    Parameters
    ----------
    output
        The output folder (created if missing).
    run_id
        This run's id, quoted to anyone who finds the folder locked.
    wait
        Wait for the lock instead of failing at once.
    timeout
        With ``wait``, give up after this many seconds (default: wait for ever).
    poll
        Seconds between attempts while waiting.

    Yields
    ------
    OutputLock
        ``took_over`` holds the record of a previous holder that died with the lock file
        still naming it (its lock was released by the kernel), else None.

    Raises
    ------
    OutputLockedError
        The folder is locked by another live run: "locked by run X (pid P) since T".
    """
    output = Path(output)
    path = output / STATE_DIR / "lock"
    _refuse_links(output, f"{STATE_DIR}/staging/-")  # the bookkeeping stays inside
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = _read_holder(path)
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    msg = (
                        f"{output} is locked by run {holder.get('run_id', '?')} "
                        f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}) "
                        f"since {holder.get('since', '?')}; wait for it to finish or use --wait"
                    )
                    raise OutputLockedError(msg) from None
                time.sleep(poll)
    except BaseException:
        os.close(fd)
        raise
    previous = _read_holder(path)
    took_over = previous if previous.get("pid") and not previous.get("released") else None
    since = utc_stamp()
    record = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": since}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    lock = OutputLock(path, run_id, os.getpid(), since, took_over, fd)
    try:
        yield lock
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({**record, "released": True}).encode(), 0)
        lock.release()


# --------------------------------------------------------------------------- publishing


def _staging_root(output: Path) -> Path:
    return output / STATE_DIR / "staging"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class PublishTransaction:
    """Stage files for an output folder, then publish them all at once or not at all.

    Use it as a context manager: leaving the block without :meth:`commit` (an exception, a
    return) discards the staged files and leaves the output folder untouched.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> with PublishTransaction(out, "run1") as tx:
    ...     _ = tx.write_text("personas/a.html", "<p>a</p>")
    ...     tx.commit()
    ['personas/a.html']
    >>> (out / "personas" / "a.html").read_text()
    '<p>a</p>'
    """

    def __init__(self, output: str | Path, run_id: str) -> None:
        self.output = Path(output)
        self.run_id = run_id
        self.root = _staging_root(self.output) / safe_relpath(run_id).as_posix().replace("/", "-")
        self.files = self.root / "files"
        self._staged: dict[str, Path] = {}
        self._removed: set[str] = set()
        self._done = False

    def __enter__(self) -> PublishTransaction:
        self.files.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.discard()

    def path(self, relative: str | os.PathLike[str]) -> Path:
        """The staging path for a file that will be published at ``output/relative``."""
        rel = safe_relpath(relative)
        target = self.files / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        self._staged[rel.as_posix()] = target
        return target

    def write_text(self, relative: str | os.PathLike[str], text: str) -> Path:
        """Stage a text file (UTF-8)."""
        target = self.path(relative)
        target.write_text(text, encoding="utf-8")
        return target

    def write_bytes(self, relative: str | os.PathLike[str], data: bytes) -> Path:
        """Stage a binary file."""
        target = self.path(relative)
        target.write_bytes(data)
        return target

    def adopt(self, relative: str | os.PathLike[str], source: str | Path) -> Path:
        """Move an already written file into the staging folder."""
        target = self.path(relative)
        shutil.move(os.fspath(source), target)
        return target

    def remove(self, relative: str | os.PathLike[str]) -> None:
        """Remove a published file on commit (restored if the publish is undone)."""
        rel = safe_relpath(relative).as_posix()
        self._staged.pop(rel, None)
        self._removed.add(rel)

    @property
    def staged(self) -> list[str]:
        """Relative paths staged so far (only those whose file exists)."""
        return sorted(rel for rel, p in self._staged.items() if p.is_file())

    def commit(self) -> list[str]:
        """Publish every staged file (and removal); all or nothing.

        The next version of the output folder is built beside it and exchanged with it in
        one step (:mod:`cjresearch.reporting._swap`), so that no reader ever sees half of a
        publish; where the file system cannot exchange folders, the files are renamed one
        by one after a journal that a killed publish is rolled back from.

        Returns
        -------
        list of str
            The relative paths published (written; removals not included).

        Raises
        ------
        CJResearchError
            A folder on the way to a published file is a symbolic link.
        """
        if self._done:
            msg = "this publish transaction is already finished"
            raise CJResearchError(msg)
        staged = self.staged
        removed = sorted(self._removed - set(staged))
        for rel in (*staged, *removed):
            _refuse_links(self.output, rel)
        if _swap.can_exchange(self.output):
            self._exchange(staged, removed)
        else:
            self._in_place(staged, removed)
        return staged

    def _exchange(self, staged: list[str], removed: list[str]) -> None:
        following = _swap.next_folder(self.output, self.root.name)
        try:
            staging = _staging_root(self.output)
            _swap.link_tree(self.output, following, skip=[staging])
            (following / staging.relative_to(self.output)).mkdir(parents=True, exist_ok=True)
            for rel in removed:
                (following / rel).unlink(missing_ok=True)
            for rel in staged:
                target = following / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.files / rel, target)
            for folder in {(following / rel).parent for rel in staged} | {following}:
                _fsync_dir(folder)
            _swap.exchange(self.output, following)
        except BaseException:
            shutil.rmtree(following, ignore_errors=True)
            raise
        self._done = True
        _fsync_dir(self.output.parent)
        # the previous version, this run's staging folder inside it
        shutil.rmtree(following, ignore_errors=True)

    def _in_place(self, staged: list[str], removed: list[str]) -> None:
        backups = self.root / "backup"
        entries: list[dict[str, Any]] = []
        for rel in staged:
            existed = _back_up(self.output / rel, backups / rel)
            entries.append({"path": rel, "existed": existed, "remove": False})
        for rel in removed:
            if _back_up(self.output / rel, backups / rel):
                entries.append({"path": rel, "existed": True, "remove": True})
        # the commit point: the journal, written whole and flushed to disk
        with (
            atomic_path(self.root / "journal.json") as partial,
            partial.open("w", encoding="utf-8") as handle,
        ):
            json.dump({"run_id": self.run_id, "files": entries}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(self.root)
        try:
            for entry in entries:
                target = self.output / entry["path"]
                if entry["remove"]:
                    target.unlink(missing_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.files / entry["path"], target)
            (self.root / "done").touch()
        except BaseException:
            _roll_back(self.output, self.root)
            self._done = True
            raise
        for folder in {(self.output / e["path"]).parent for e in entries}:
            _fsync_dir(folder)
        self._done = True
        shutil.rmtree(self.root, ignore_errors=True)

    def discard(self) -> None:
        """Drop the staged files; the output folder is left as it is."""
        self._done = True
        shutil.rmtree(self.root, ignore_errors=True)


def _back_up(target: Path, backup: Path) -> bool:
    """Keep a published file's current version (a hard link, else a copy) for a roll-back;
    False when there is no such file."""
    if not target.is_file():
        return False
    backup.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return True


def _roll_back(output: Path, root: Path) -> None:
    """Undo a publish that was interrupted after its commit point."""
    journal = root / "journal.json"
    entries: list[dict[str, Any]]
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        entries = []
    for entry in reversed(entries):
        rel = safe_relpath(entry["path"])
        target = output / rel
        backup = root / "backup" / rel
        if entry["existed"]:
            if backup.is_file():
                os.replace(backup, target)
        else:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
    shutil.rmtree(root, ignore_errors=True)


def recover(output: str | Path) -> list[str]:
    """Clean up after builds that died: roll back unfinished publishes, drop staging folders.

    Call it while holding the lock (:func:`lock_output`). A publish that was killed after its
    commit point and before it finished is undone from its backups, so the folder is exactly
    as it was before that build; one that finished is just cleaned up.

    Returns
    -------
    list of str
        The run ids whose publish was rolled back.
    """
    output = Path(output)
    for sibling in _swap.stale_siblings(output):
        shutil.rmtree(sibling, ignore_errors=True)  # a next or old version a kill left
    root = _staging_root(output)
    rolled: list[str] = []
    _refuse_links(output, f"{STATE_DIR}/staging/-")  # never clean up through a link
    if not root.is_dir():
        return rolled
    for staging in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        if (staging / "journal.json").is_file() and not (staging / "done").exists():
            _roll_back(output, staging)
            rolled.append(staging.name)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    return rolled


def _refuse_links(output: Path, relative: str) -> None:
    """Refuse to publish through a symbolic link: every folder between ``output`` and
    ``output/relative`` must be a real folder, so that nothing lands outside the output."""
    here = output
    for part in PurePosixPath(relative).parts[:-1] if relative else ():
        here = here / part
        if here.is_symlink():
            msg = (
                f"{here} is a symbolic link: cjresearch publishes only into real folders inside "
                f"{output}; remove the link (or choose another output folder)"
            )
            raise CJResearchError(msg)
