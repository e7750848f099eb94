"""Publishing: slugs that cannot escape, the output lock, all-or-nothing publishes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cjresearch.errors import CJResearchError
from cjresearch.reporting.publish import (
    STATE_DIR,
    OutputLockedError,
    PublishTransaction,
    assign_slugs,
    lock_output,
    recover,
    safe_relpath,
    slugify,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HOSTILE = [
    "../../etc/passwd",
    "..",
    ".",
    "/absolute/path",
    "a/b\\c",
    "nul\x00byte",
    "CON",
    "nul",
    "index",
    "",
    "   ",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Café Crème",
    "ｐｅｒｓｏｎａ",  # full-width letters: NFKD makes them ASCII
    "İstanbul",
    "😀😀",
    "a" * 500,
]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every published file's bytes (the private state folder excluded)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and STATE_DIR not in p.relative_to(folder).parts
    }


@pytest.mark.parametrize("name", HOSTILE)
def test_slugify_hostile_names_stay_inside_the_folder(name: str, tmp_path: Path) -> None:
    slug = slugify(name)
    assert SLUG.match(slug), slug
    assert len(slug) <= 80
    assert slug not in {"con", "nul", "index", "manifest"}
    target = (tmp_path / "personas" / f"{slug}.html").resolve()
    assert target.parent == (tmp_path / "personas").resolve()


def test_slugify_examples() -> None:
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("ｐｅｒｓｏｎａ") == "persona"
    assert slugify("Café Crème") == "cafe-creme"
    assert slugify("😀😀") == "report"
    assert slugify("CON") == "con-report"


@given(st.text(max_size=200))
def test_slugify_property(name: str) -> None:
    slug = slugify(name)
    assert SLUG.match(slug)
    assert "/" not in slug and ".." not in slug and "\x00" not in slug


@given(st.lists(st.text(max_size=30), max_size=12))
def test_assign_slugs_distinct_and_order_independent(names: list[str]) -> None:
    forward = assign_slugs(names)
    backward = assign_slugs(list(reversed(names)))
    assert forward == backward
    assert len(set(forward.values())) == len(set(names))


def test_assign_slugs_collisions_are_deterministic() -> None:
    slugs = assign_slugs(["Price seekers", "price-seekers", "PRICE SEEKERS!"])
    # sorted names: "PRICE SEEKERS!" < "Price seekers" < "price-seekers"
    assert slugs == {
        "PRICE SEEKERS!": "price-seekers",
        "Price seekers": "price-seekers-2",
        "price-seekers": "price-seekers-3",
    }


@pytest.mark.parametrize("bad", ["../x.html", "/etc/passwd", "a/../../b", "a\x00b", "", "a/./../b"])
def test_safe_relpath_rejects_escapes(bad: str) -> None:
    with pytest.raises(CJResearchError, match="stay inside the output folder"):
        safe_relpath(bad)


def test_transaction_rejects_escaping_paths(tmp_path: Path) -> None:
    with (
        PublishTransaction(tmp_path, "run1") as tx,
        pytest.raises(CJResearchError, match="refusing"),
    ):
        tx.write_text("../outside.html", "x")
    assert not (tmp_path.parent / "outside.html").exists()


def make_published(folder: Path) -> dict[str, bytes]:
    with PublishTransaction(folder, "run-old") as tx:
        tx.write_text("index.html", "old index")
        tx.write_text("personas/a.html", "old a")
        tx.write_text("personas/b.html", "old b")
        tx.commit()
    return snapshot(folder)


def test_commit_publishes_and_cleans_staging(tmp_path: Path) -> None:
    before = make_published(tmp_path)
    assert before == {
        "index.html": b"old index",
        "personas/a.html": b"old a",
        "personas/b.html": b"old b",
    }
    with PublishTransaction(tmp_path, "run-new") as tx:
        tx.write_text("personas/a.html", "new a")
        tx.write_text("stages/s.html", "new s")
        tx.remove("personas/b.html")
        assert tx.commit() == ["personas/a.html", "stages/s.html"]
    assert snapshot(tmp_path) == {
        "index.html": b"old index",
        "personas/a.html": b"new a",
        "stages/s.html": b"new s",
    }
    assert list((tmp_path / STATE_DIR / "staging").iterdir()) == []


def test_exception_before_commit_leaves_folder_untouched(tmp_path: Path) -> None:
    before = make_published(tmp_path)
    with pytest.raises(RuntimeError), PublishTransaction(tmp_path, "run-new") as tx:
        tx.write_text("personas/a.html", "new a")
        raise RuntimeError("notebook crashed")
    assert snapshot(tmp_path) == before


def test_interrupt_during_publish_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = make_published(tmp_path)
    real_replace = os.replace
    calls = {"n": 0}

    def interrupted_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # after two files were already published
            raise KeyboardInterrupt
        real_replace(src, dst)

    with PublishTransaction(tmp_path, "run-new") as tx:
        tx.write_text("index.html", "new index")
        tx.write_text("personas/a.html", "new a")
        tx.write_text("personas/b.html", "new b")
        tx.write_text("stages/new.html", "new stage")
        tx.remove("personas/b.html")
        monkeypatch.setattr(os, "replace", interrupted_replace)
        with pytest.raises(KeyboardInterrupt):
            tx.commit()
        monkeypatch.setattr(os, "replace", real_replace)
    assert calls["n"] >= 3
    assert snapshot(tmp_path) == before


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cjresearch.reporting import _swap
    from cjresearch.reporting.publish import PublishTransaction
    folder, when = sys.argv[1], sys.argv[2]
    if when.endswith("in-place"):  # a file system that cannot exchange folders
        _swap.can_exchange = lambda folder: False
    real_replace, real_exchange = os.replace, _swap.exchange
    count = 0
    def dying_replace(src, dst):
        global count
        count += 1
        if count == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)
    def exchange_then_die(a, b):
        real_exchange(a, b)
        os.kill(os.getpid(), signal.SIGKILL)
    with PublishTransaction(folder, "run-killed") as tx:
        tx.write_text("index.html", "new index")
        tx.write_text("personas/a.html", "new a")
        tx.write_text("stages/new.html", "new stage")
        tx.remove("personas/b.html")
        if when == "before-commit":
            os.kill(os.getpid(), signal.SIGKILL)
        if when == "after-exchange":
            assert _swap.can_exchange(Path(folder))  # probed (and remembered) first
            _swap.exchange = exchange_then_die
        else:
            os.replace = dying_replace
        tx.commit()
    """
)
NEW = {"index.html": b"new index", "personas/a.html": b"new a", "stages/new.html": b"new stage"}


@pytest.mark.parametrize(
    "when", ["before-commit", "during-commit", "after-exchange", "during-commit-in-place"]
)
def test_kill_minus_nine_leaves_the_old_folder_or_the_new_one(tmp_path: Path, when: str) -> None:
    before = make_published(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path), when], capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    after = {"before-commit": before, "during-commit": before, "after-exchange": NEW}
    if when in after:
        assert snapshot(tmp_path) == after[when]  # a reader sees one version, whole
    else:
        assert snapshot(tmp_path) != before  # renamed file by file, the kill hit mid-way...
    with lock_output(tmp_path, run_id="next"):
        rolled = recover(tmp_path)
    assert rolled == (["run-killed"] if when == "during-commit-in-place" else [])
    assert snapshot(tmp_path) == after.get(when, before)  # ...and the next run restores it
    assert list((tmp_path / STATE_DIR / "staging").iterdir()) == []
    assert [p.name for p in tmp_path.parent.iterdir() if ".cjresearch-" in p.name] == []


READER = textwrap.dedent(
    """
    import os, sys, time
    folder, seconds = sys.argv[1], float(sys.argv[2])
    names = ["index.html", "personas/a.html", "stages/s.html"]
    seen, deadline = set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        fd = os.open(folder, os.O_RDONLY)  # one look at the folder: every file through it
        try:
            versions = set()
            for name in names:
                with open(os.open(name, os.O_RDONLY, dir_fd=fd), encoding="utf-8") as f:
                    versions.add(f.read().split()[0])
        except FileNotFoundError:  # the version looked at was replaced and removed: look again
            continue
        finally:
            os.close(fd)
        if len(versions) != 1:
            print("mixed", sorted(versions), flush=True)
            sys.exit(1)
        seen |= versions
    print(len(seen), flush=True)
    """
)


def test_no_reader_ever_sees_half_of_a_publish(tmp_path: Path) -> None:
    site = tmp_path / "site"
    names = ["index.html", "personas/a.html", "stages/s.html"]
    with PublishTransaction(site, "run-0") as tx:
        for name in names:
            tx.write_text(name, "v0 page")
        tx.commit()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(site), "4"], stdout=subprocess.PIPE, text=True
    )
    version = 0
    while reader.poll() is None:
        version += 1
        with PublishTransaction(site, f"run-{version}") as tx:
            for name in names:
                tx.write_text(name, f"v{version} page")
            tx.commit()
    out = reader.stdout.read() if reader.stdout else ""
    assert reader.returncode == 0, out
    assert version > 5 and int(out) > 1  # it read through many publishes, each one whole


def test_a_symbolic_link_inside_the_output_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    site = tmp_path / "site"
    site.mkdir()
    (site / "analysis").symlink_to(outside, target_is_directory=True)
    with (
        pytest.raises(CJResearchError, match=r"analysis is a symbolic link"),
        PublishTransaction(site, "run-1") as tx,
    ):
        tx.write_text("analysis/emotion-churn.html", "page")
        tx.commit()
    assert list(outside.iterdir()) == []


def test_a_symlinked_staging_folder_is_not_cleaned_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    (victim / "precious").mkdir(parents=True)
    site = tmp_path / "site"
    (site / STATE_DIR).mkdir(parents=True)
    (site / STATE_DIR / "staging").symlink_to(victim, target_is_directory=True)
    with (
        pytest.raises(CJResearchError, match=r"staging is a symbolic link"),
        lock_output(site, run_id="run-1"),
    ):
        recover(site)
    assert (victim / "precious").is_dir()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from cjresearch.reporting.publish import lock_output
    with lock_output(sys.argv[1], run_id="run-A"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_second_run_exits_at_once_with_who_holds_the_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with (
            pytest.raises(OutputLockedError, match=r"locked by run run-A \(pid \d+ .*\) since 20"),
            lock_output(tmp_path, run_id="run-B"),
        ):
            pass
        assert time.monotonic() - started < 30  # "at once": no waiting loop
        with (
            pytest.raises(OutputLockedError, match="locked by run run-A"),
            lock_output(tmp_path, run_id="run-C", wait=True, timeout=0.5, poll=0.1),
        ):
            pass
        # The holder dies without releasing: its lock is taken over.
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with lock_output(tmp_path, run_id="run-D") as lock:
            assert lock.took_over is not None
            assert lock.took_over["run_id"] == "run-A"
    finally:
        holder.kill()
        holder.wait()
    with lock_output(tmp_path, run_id="run-E") as lock:
        assert lock.took_over is None  # run-D released properly
