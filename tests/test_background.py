"""A call run in a forked child (cjresearch._background): the same value as run in place, its
warnings and errors brought back, a dead child named, an abandoned one stopped."""

from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from cjresearch._background import Background, can_fork, helper_thread, in_halves, submit
from cjresearch.errors import CJResearchError, StatisticalWarning

pytestmark = pytest.mark.skipif(not can_fork(), reason="forks only on Linux")


def _work(n: int, seed: int) -> tuple[int, np.ndarray]:
    return os.getpid(), np.random.default_rng(seed).normal(size=n)


def _warns(text: str) -> int:
    warnings.warn(text, StatisticalWarning, stacklevel=1)
    return 1


def _fails() -> None:
    raise ValueError("no variation at stage 'support'")


def _dies() -> None:
    os._exit(3)


def _sleeps(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()), encoding="ascii")
    time.sleep(60)


def test_the_child_gives_what_the_call_gives_here() -> None:
    with Background(_work, 1000, 7, what="the draw") as job:
        assert job.forked
        pid, values = job.result()
        with pytest.raises(RuntimeError, match="collected already"):
            job.result()  # once: a second call would run it again, here
    assert pid != os.getpid()  # it did run elsewhere
    np.testing.assert_array_equal(values, _work(1000, 7)[1])


def test_without_parallel_the_call_runs_here() -> None:
    with Background(_work, 10, 7, what="the draw", parallel=False) as job:
        assert not job.forked
        pid, _ = job.result()
    assert pid == os.getpid()


def test_the_childs_warnings_are_warned_again_when_collected() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Background(_warns, "joint model: not converged in 1 model(s)", what="w") as job:
            assert job.result() == 1
    said = [(w.category, str(w.message)) for w in caught]
    assert said == [(StatisticalWarning, "joint model: not converged in 1 model(s)")]


def test_an_error_in_the_child_is_raised_in_the_caller() -> None:
    with (
        pytest.raises(ValueError, match="no variation at stage 'support'"),
        Background(_fails, what="the joint model") as job,
    ):
        job.result()


def test_a_child_that_dies_is_named_with_its_exit_code() -> None:
    with (
        pytest.raises(CJResearchError, match=r"the joint model .*exit code 3"),
        Background(_dies, what="the joint model") as job,
    ):
        job.result()


def test_leaving_the_block_without_the_result_stops_the_child(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    with pytest.raises(KeyboardInterrupt), Background(_sleeps, str(marker), what="w"):
        for _ in range(500):  # the child has started once it wrote its pid
            if marker.exists() and marker.read_text(encoding="ascii"):
                break
            time.sleep(0.01)
        raise KeyboardInterrupt  # as Ctrl-C in the caller
    pid = int(marker.read_text(encoding="ascii"))
    with pytest.raises(ProcessLookupError):  # stopped and reaped: no such process
        os.kill(pid, 0)


def test_calls_in_halves_give_their_values_in_order_with_or_without_a_helper() -> None:
    threads: set[str] = set()

    def call(i: int):
        def run() -> int:
            threads.add(threading.current_thread().name)
            return i * i

        return run

    calls = [call(i) for i in range(5)]
    assert in_halves(helper_thread("test"), calls) == [0, 1, 4, 9, 16]
    assert len(threads) == 2  # this thread and the helper
    threads.clear()
    assert in_halves(None, calls) == [0, 1, 4, 9, 16]
    assert threads == {threading.current_thread().name}
    assert submit(None, pow, 2, 5).result() == 32


def test_a_forked_child_makes_its_own_helper_thread() -> None:
    here = helper_thread("test")

    def theirs() -> bool:
        return helper_thread("test") is not here and helper_thread("test").submit(int).result() == 0

    with Background(theirs, what="the helper") as job:
        assert job.result()


def _unpicklable() -> object:
    return lambda: None  # a lambda cannot be pickled


def test_a_value_that_cannot_come_back_is_an_error_in_words() -> None:
    with (
        pytest.raises(CJResearchError, match="could not be sent back"),
        Background(_unpicklable, what="w") as job,
    ):
        job.result()
