"""Progress lines of the artifact steps (not API)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator


class Steps:
    """Tells ``progress`` (when given) what each step did and how long it took: the
    artifacts of a large study take minutes, and a silent terminal looks hung."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        if self.progress is not None:
            self.progress(f"artifacts: {what} in {time.perf_counter() - started:.1f} s")
