"""`cjresearch explore`: the parameterised notebook, the ports, the command lines, the launch.

No server is started here (tests/explore/test_browser.py starts a real one): the process
launch is replaced by a recorder.
"""

from __future__ import annotations

import http.server
import importlib
import importlib.util
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from typer.testing import CliRunner

from cjresearch.cli import app
from cjresearch.errors import CJResearchError
from cjresearch.explore import server as explore
from cjresearch.reporting.notebooks import find_notebook, notebook_parameters
from helpers import FIXTURE_STUDY

FIXTURE = FIXTURE_STUDY
EXPLORER = find_notebook("explore")  # notebooks/explore.ipynb

runner = CliRunner()


def _cells(notebook: Path) -> list[Any]:
    return nbformat.read(notebook, as_version=4).cells


# -- the notebook ---------------------------------------------------------------------------


def test_prepare_notebook_injects_the_study_as_literals_after_the_parameters_cell(
    tmp_path: Path,
) -> None:
    artifacts = tmp_path / "artifacts"
    written = explore.prepare_notebook(FIXTURE / "study.toml", artifacts)
    assert written == artifacts / "explore" / "explore.ipynb"  # beside the artifacts by default
    cells = _cells(written)
    tags = [cell.metadata.get("tags", []) for cell in cells]
    index = tags.index(["parameters"])
    assert tags[index + 1] == ["injected-parameters"]
    injected = cells[index + 1].source
    study = os.fspath((FIXTURE / "study.toml").resolve())
    assert f"study_file = {study!r}".replace("'", '"') in injected
    assert f'artifacts_dir = "{artifacts.resolve()}"' in injected
    # the rest of the notebook is the source's, unexecuted
    assert [c.source for c in cells if c is not cells[index + 1]] == [
        c.source for c in _cells(EXPLORER)
    ]
    assert all(not c.get("outputs") for c in cells if c.cell_type == "code")
    # the dashboard's template, next to it
    template = written.parent / explore.JUPYTER_DATA_DIR / "voila" / "templates" / "cjresearch"
    assert json.loads((template / "conf.json").read_text()) == {"base_template": "lab"}
    assert "cdn.jsdelivr.net" in (template / "index.html.j2").read_text()  # the links it empties


def test_the_bundled_explorer_takes_the_study_and_artifacts_as_parameters() -> None:
    names = [p.name for p in notebook_parameters(EXPLORER)]
    assert names == ["study_file", "artifacts_dir"]


def test_prepare_notebook_twice_replaces_the_copy(tmp_path: Path) -> None:
    first = explore.prepare_notebook(
        FIXTURE / "study.toml", tmp_path / "a", notebook=EXPLORER, into=tmp_path / "nb"
    )
    second = explore.prepare_notebook(
        FIXTURE / "study.toml", tmp_path / "b", notebook=EXPLORER, into=tmp_path / "nb"
    )
    assert first == second
    injected = [c.source for c in _cells(second) if "injected-parameters" in c.metadata["tags"]]
    assert len(injected) == 1 and str((tmp_path / "b").resolve()) in injected[0]
    assert sorted(p.name for p in (tmp_path / "nb").iterdir()) == [
        explore.JUPYTER_DATA_DIR,
        EXPLORER.name,
    ]  # no staging file left behind


def test_prepare_notebook_keeps_an_installed_kernel_and_falls_back_otherwise(
    tmp_path: Path,
) -> None:
    source = nbformat.read(EXPLORER, as_version=4)
    source.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "x"}
    orphan = tmp_path / "orphan.ipynb"
    nbformat.write(source, orphan)
    written = explore.prepare_notebook(FIXTURE / "study.toml", tmp_path, notebook=orphan)
    kernelspec = nbformat.read(written, as_version=4).metadata["kernelspec"]
    assert kernelspec["name"] == explore.FALLBACK_KERNEL

    kept = explore.prepare_notebook(FIXTURE / "study.toml", tmp_path, notebook=EXPLORER)
    assert nbformat.read(kept, as_version=4).metadata["kernelspec"]["name"] in (
        "cjresearch",  # make setup installs it
        explore.FALLBACK_KERNEL,
    )


def test_prepare_notebook_names_a_missing_notebook(tmp_path: Path) -> None:
    with pytest.raises(CJResearchError, match="not found"):
        explore.prepare_notebook(FIXTURE / "study.toml", tmp_path, notebook="no_such_notebook")


# -- ports ----------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((explore.LOOPBACK, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_free_port_is_bindable_on_loopback() -> None:
    port = explore.free_port()
    assert 0 < port < 65536
    assert explore.port_is_free(port)
    assert explore.choose_port(None) > 0


def test_a_taken_port_is_refused(taken_port: int) -> None:
    assert not explore.port_is_free(taken_port)
    assert explore.free_port() != taken_port
    with pytest.raises(CJResearchError, match=f"port {taken_port} is not free on 127.0.0.1"):
        explore.choose_port(taken_port)


def test_a_free_port_given_is_kept() -> None:
    port = explore.free_port()
    assert explore.choose_port(port) == port


# -- command lines --------------------------------------------------------------------------


def test_lab_command(tmp_path: Path) -> None:
    notebook = tmp_path / "explore.ipynb"
    assert explore.lab_command(notebook, allow_root=False) == [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        str(notebook),
        "--ServerApp.ip=127.0.0.1",
    ]
    assert explore.lab_command(notebook, port=8899, browser=False, allow_root=True)[-3:] == [
        "--ServerApp.port=8899",
        "--no-browser",
        "--allow-root",
    ]
    as_root = os.geteuid() == 0  # JupyterLab refuses root without --allow-root
    assert ("--allow-root" in explore.lab_command(notebook)) == as_root


def test_dashboard_command_binds_loopback_only(tmp_path: Path) -> None:
    notebook = tmp_path / "explore.ipynb"
    assert explore.dashboard_command(notebook, port=8123) == [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        "--port=8123",
        "--Voila.ip=127.0.0.1",
        "--template=cjresearch",
    ]
    assert explore.dashboard_url(8123) == "http://127.0.0.1:8123/"


def test_dashboard_environment_puts_the_template_first(tmp_path: Path) -> None:
    notebook = tmp_path / "explore.ipynb"
    env = explore.dashboard_environment(notebook, {"PATH": "/bin", "JUPYTER_PATH": "/other"})
    assert env == {
        "PATH": "/bin",
        "JUPYTER_PATH": f"{tmp_path.resolve() / explore.JUPYTER_DATA_DIR}{os.pathsep}/other",
    }
    bare = explore.dashboard_environment(notebook, {})
    assert bare["JUPYTER_PATH"] == str(tmp_path.resolve() / explore.JUPYTER_DATA_DIR)


# -- launching ------------------------------------------------------------------------------


class FakeProcess:
    """A server process: runs until ``wait``; ``interrupt`` makes the first wait a Ctrl-C."""

    def __init__(self, *, interrupt: bool = False, code: int = 0) -> None:
        self.interrupt = interrupt
        self.code = code
        self.terminated = False

    def poll(self) -> int | None:
        return None

    def wait(self, timeout: float | None = None) -> int:
        if self.interrupt and not self.terminated:
            raise KeyboardInterrupt
        return self.code

    def terminate(self) -> None:
        self.terminated = True

    def kill(self) -> None:  # pragma: no cover - only when terminate is ignored
        self.terminated = True


@pytest.fixture
def answering_server() -> Iterator[str]:
    """A loopback HTTP server that answers 404 to everything, like Voila to the probe."""
    server = http.server.HTTPServer((explore.LOOPBACK, 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{explore.LOOPBACK}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_launch_opens_the_browser_once_the_server_answers(
    answering_server: str, tmp_path: Path
) -> None:
    calls: list[tuple[list[str], dict[str, Any]]] = []
    opened: list[str] = []

    def popen(command: list[str], **kwargs: Any) -> FakeProcess:
        calls.append((command, kwargs))
        return FakeProcess(code=3)

    code = explore.launch(
        ["voila", "x.ipynb"],
        cwd=tmp_path,
        env={"A": "1"},
        open_url=answering_server,
        popen=popen,
        open_browser=opened.append,
    )
    assert code == 3
    assert calls == [(["voila", "x.ipynb"], {"cwd": str(tmp_path), "env": {"A": "1"}})]
    assert opened == [answering_server]


def test_launch_stops_the_server_on_ctrl_c(tmp_path: Path) -> None:
    process = FakeProcess(interrupt=True)
    code = explore.launch(["jupyter"], cwd=tmp_path, popen=lambda *a, **k: process)
    assert code == 0 and process.terminated


def test_wait_until_answering_gives_up_when_the_server_died() -> None:
    url = explore.dashboard_url(explore.free_port())
    assert not explore.wait_until_answering(url, timeout=30, alive=lambda: False)


def test_wait_until_answering_sees_a_server(answering_server: str) -> None:
    assert explore.wait_until_answering(answering_server, timeout=30)


# -- the command ----------------------------------------------------------------------------


@dataclass
class Recorded:
    """What `cjresearch explore` asked for: artifacts folders computed, servers launched."""

    computed: list[Path] = field(default_factory=list)
    launches: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """`cjresearch explore` with artifacts not computed and servers not started: recorded."""
    record = Recorded()

    def launch(command: list[str], **kwargs: Any) -> int:
        record.launches.append({"command": command, **kwargs})
        return 0

    monkeypatch.setattr(explore, "launch", launch)
    monkeypatch.setattr(
        importlib.import_module("cjresearch.artifacts.compute"),
        "compute_artifacts",
        lambda study, folder: record.computed.append(Path(folder)),
    )
    return record


def test_explore_dashboard_serves_the_notebook_on_a_free_loopback_port(
    recorded: Recorded, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    result = runner.invoke(
        app,
        ["explore", str(FIXTURE / "study.toml"), "--dashboard", "--artifacts", str(artifacts)],
    )
    assert result.exit_code == 0, result.output
    assert recorded.computed == [artifacts]
    [launched] = recorded.launches
    notebook = artifacts / "explore" / "explore.ipynb"
    assert notebook.is_file()
    command = launched["command"]
    port = int(next(a for a in command if a.startswith("--port=")).removeprefix("--port="))
    assert command == explore.dashboard_command(notebook, port=port)
    assert launched["cwd"] == notebook.parent
    assert launched["env"]["JUPYTER_PATH"].startswith(str(notebook.parent.resolve()))
    assert launched["open_url"] == f"http://127.0.0.1:{port}/"
    assert f"http://127.0.0.1:{port}/" in result.stdout


def test_explore_opens_jupyterlab_by_default(recorded: Recorded, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    port = explore.free_port()
    result = runner.invoke(
        app,
        [
            "explore",
            str(FIXTURE / "study.toml"),
            "--artifacts",
            str(artifacts),
            "--no-browser",
            "--port",
            str(port),
        ],
    )
    assert result.exit_code == 0, result.output
    [launched] = recorded.launches
    notebook = artifacts / "explore" / "explore.ipynb"
    assert launched["command"] == explore.lab_command(notebook, port=port, browser=False)
    assert launched["cwd"] == notebook.parent
    assert "env" not in launched and "open_url" not in launched


def test_explore_dashboard_no_browser(recorded: Recorded, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "explore",
            str(FIXTURE / "study.toml"),
            "--dashboard",
            "--no-browser",
            "--artifacts",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert recorded.launches[0]["open_url"] is None


def test_explore_a_bad_study_exits_2_with_one_line(recorded: Recorded, tmp_path: Path) -> None:
    result = runner.invoke(app, ["explore", str(tmp_path / "missing.toml"), "--dashboard"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "missing.toml" in lines[0]
    assert "Traceback" not in result.output
    assert recorded == Recorded()  # nothing computed, nothing launched


def test_explore_a_taken_port_exits_2_with_one_line(recorded: Recorded, taken_port: int) -> None:
    result = runner.invoke(
        app, ["explore", str(FIXTURE / "study.toml"), "--dashboard", "--port", str(taken_port)]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: port {taken_port} is not free on 127.0.0.1; choose another with --port, or omit it"
    )
    assert recorded == Recorded()


@pytest.mark.parametrize(("flag", "missing"), [([], "jupyterlab"), (["--dashboard"], "voila")])
def test_explore_without_the_explore_extra_says_how_to_install_it(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch, flag: list[str], missing: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a)
    )
    result = runner.invoke(app, ["explore", str(FIXTURE / "study.toml"), *flag])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: cjresearch explore needs {missing}, which a plain install leaves out: "
        "pip install 'cjresearch[explore]'"
    )
    assert recorded == Recorded()  # nothing computed, nothing launched


def test_explore_dashboard_without_a_study_uses_the_sample_with_absolute_paths(
    recorded: Recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No study argument: the bundled sample study (generated on first use), its artifacts
    resolved before Voila changes into the notebook's folder, and from any working folder."""
    import shutil

    from cjresearch import cli

    sample = tmp_path / "data" / "sample"
    shutil.copytree(FIXTURE, sample, ignore=shutil.ignore_patterns("processed", "reports"))
    monkeypatch.setattr(cli, "_ensure_sample", lambda: sample / "study.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["explore", "--dashboard", "--no-browser"])
    assert result.exit_code == 0, result.output
    [computed] = recorded.computed
    assert computed.is_absolute() and computed.is_relative_to(sample.resolve())
    [launched] = recorded.launches
    notebook = computed / "explore" / "explore.ipynb"
    assert launched["cwd"] == notebook.parent and launched["open_url"] is None
    text = notebook.read_text(encoding="utf-8")
    assert json.dumps(str(computed))[1:-1] in text  # the artifacts, as an absolute literal
