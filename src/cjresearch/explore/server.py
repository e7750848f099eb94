"""Exploring a study live: the explorer notebook in JupyterLab, or served as a Voila dashboard.

:func:`prepare_notebook` writes a copy of the bundled ``explore.ipynb`` into the artifacts
folder (``<artifacts>/explore/explore.ipynb``: it shows customer-level artifacts, so it stays
beside them, never with the published reports) with the study's paths injected as literals
after its ``parameters`` cell (papermill's ``parameterize_notebook``; nothing is executed).
:func:`lab_command` and :func:`dashboard_command` are the command lines that open it;
:func:`launch` runs one in the foreground until it exits or is interrupted.

The dashboard binds the loopback interface only (``127.0.0.1``), on a free port unless one
is given: Voila has no token, so nothing else on the network may reach it. It uses a small
Voila template, ``cjresearch`` (Voila's ``lab`` template without its two Font Awesome
stylesheets from jsDelivr, which the page bundles anyway), so the dashboard asks no other
host for anything; the template is written beside the notebook and found through
``JUPYTER_PATH`` (:func:`dashboard_environment`).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cjresearch.errors import CJResearchError
from cjresearch.reporting.notebooks import ARTIFACTS_PARAMETER, STUDY_PARAMETER, find_notebook

__all__ = [
    "EXPLORE_NOTEBOOK",
    "LOOPBACK",
    "check_installed",
    "choose_port",
    "dashboard_command",
    "dashboard_environment",
    "dashboard_url",
    "free_port",
    "lab_command",
    "launch",
    "port_is_free",
    "prepare_notebook",
    "wait_until_answering",
]

#: The bundled explorer notebook's name (``notebooks/explore.ipynb``).
EXPLORE_NOTEBOOK = "explore"
#: The only interface the dashboard listens on.
LOOPBACK = "127.0.0.1"
#: Where :func:`prepare_notebook` writes the parameterised copy, inside the artifacts folder.
EXPLORE_DIR = "explore"
#: The Voila template of the dashboard, and where it is written beside the notebook.
VOILA_TEMPLATE = "cjresearch"
JUPYTER_DATA_DIR = ".jupyter-data"
_TEMPLATE_FILES = {
    "conf.json": '{"base_template": "lab"}\n',
    # Voila's lab template links Font Awesome from a CDN although its bundle carries the
    # fonts: point those links at inert data: URLs so that the page loads nothing remote.
    "index.html.j2": (
        "{%- extends 'lab/index.html.j2' -%}\n"
        "{%- block notebook_css -%}\n"
        "{{ super() | replace('https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/"
        "css/', 'data:text/css,') }}\n"
        "{%- endblock notebook_css -%}\n"
    ),
}
#: The kernel a notebook falls back to when its own is not installed (ipykernel's native one).
FALLBACK_KERNEL = "python3"


def prepare_notebook(
    study_file: str | Path,
    artifacts_dir: str | Path,
    *,
    notebook: str | Path = EXPLORE_NOTEBOOK,
    into: str | Path | None = None,
) -> Path:
    """Write a copy of the explorer notebook with the study's paths as its parameters.

    Parameters
    ----------
    study_file
        The study file; injected as ``study_file`` (absolute path).
    artifacts_dir
        The study's artifacts folder; injected as ``artifacts_dir`` (absolute path).
    notebook
        A notebook file or a bundled notebook's name (default: the bundled explorer).
    into
        Folder for the copy (default: ``<artifacts_dir>/explore``).

    Returns
    -------
    Path
        The copy, ``<into>/<notebook's file name>``, written atomically.

    Raises
    ------
    CJResearchError
        The notebook is not found or cannot be read.
    """
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    source = find_notebook(notebook)
    try:
        # papermill's reader adds the metadata its parameterize_notebook expects
        nb = load_notebook_node(os.fspath(source))
    except (OSError, ValueError) as exc:
        msg = f"cannot read the explorer notebook {source}: {exc}"
        raise CJResearchError(msg) from exc
    kernel = _available_kernel(nb.metadata.get("kernelspec", {}).get("name"))
    nb.metadata["kernelspec"] = {
        **nb.metadata.get("kernelspec", {}),
        "name": kernel,
        "language": "python",
    }
    if kernel == FALLBACK_KERNEL:
        nb.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    parameters = {
        STUDY_PARAMETER: os.fspath(Path(study_file).resolve()),
        ARTIFACTS_PARAMETER: os.fspath(Path(artifacts_dir).resolve()),
    }
    nb = parameterize_notebook(nb, parameters, kernel_name=kernel, language="python")
    folder = Path(into) if into is not None else Path(artifacts_dir) / EXPLORE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    # a JupyterLab already showing the copy must never read half a file
    handle, staging = tempfile.mkstemp(dir=folder, prefix=".explore-", suffix=".ipynb")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(nb, stream)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    _write_voila_template(folder)
    return target


def _write_voila_template(folder: Path) -> Path:
    template = folder / JUPYTER_DATA_DIR / "voila" / "templates" / VOILA_TEMPLATE
    template.mkdir(parents=True, exist_ok=True)
    for name, text in _TEMPLATE_FILES.items():
        (template / name).write_text(text, encoding="utf-8")
    return template


def _available_kernel(name: str | None) -> str:
    """The notebook's kernel if it is installed (``make setup`` installs ``cjresearch``)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if name and name in KernelSpecManager().find_kernel_specs():
        return name
    return FALLBACK_KERNEL


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on at ``host`` now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(port: int | None = None) -> int:
    """``port`` if it is free on the loopback interface; a free one if ``port`` is None.

    Raises
    ------
    CJResearchError
        ``port`` is taken (or not a valid port).
    """
    if port is None:
        return free_port()
    if not 0 < port < 65536 or not port_is_free(port):
        msg = f"port {port} is not free on {LOOPBACK}; choose another with --port, or omit it"
        raise CJResearchError(msg)
    return port


#: What each way of exploring needs beyond a plain install (the ``[explore]`` extra).
_NEEDS = {
    "lab": ("jupyterlab", "ipywidgets", "anywidget"),
    "dashboard": ("voila", "ipywidgets", "anywidget"),
}


def check_installed(*, dashboard: bool) -> None:
    """Raise a one-line error unless the packages to explore with are installed.

    A plain ``pip install cjresearch`` builds and publishes on a server; JupyterLab, Voila and
    the widgets come with the ``[explore]`` extra (``make setup`` installs it).

    Raises
    ------
    CJResearchError
        A package of the ``[explore]`` extra is missing; the message says how to install it.
    """
    missing = [
        name
        for name in _NEEDS["dashboard" if dashboard else "lab"]
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        msg = (
            f"cjresearch explore needs {', '.join(missing)}, which a plain install leaves out: "
            "pip install 'cjresearch[explore]'"
        )
        raise CJResearchError(msg)


def lab_command(
    notebook: str | Path,
    *,
    port: int | None = None,
    browser: bool = True,
    allow_root: bool | None = None,
) -> list[str]:
    """``jupyter lab <notebook>`` with this Python's JupyterLab, on the loopback interface.

    ``allow_root`` (default: whether this process runs as root, as in many containers) adds
    ``--allow-root``, without which JupyterLab refuses to start as root; it still listens on
    127.0.0.1 only and asks for its token.
    """
    command = [sys.executable, "-m", "jupyter", "lab", os.fspath(notebook)]
    command.append(f"--ServerApp.ip={LOOPBACK}")
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if not browser:
        command.append("--no-browser")
    if allow_root is None:
        allow_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if allow_root:
        command.append("--allow-root")
    return command


def dashboard_command(notebook: str | Path, *, port: int) -> list[str]:
    """``voila <notebook>`` with this Python's Voila, on ``127.0.0.1:<port>`` only."""
    return [
        sys.executable,
        "-m",
        "voila",
        os.fspath(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={LOOPBACK}",
        f"--template={VOILA_TEMPLATE}",
    ]


def dashboard_environment(
    notebook: str | Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of :func:`dashboard_command`: ``base`` (default: this process's) with
    the notebook's folder's Voila template first on ``JUPYTER_PATH``."""
    env = dict(os.environ if base is None else base)
    data = os.fspath(Path(notebook).resolve().parent / JUPYTER_DATA_DIR)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (data, env.get("JUPYTER_PATH")) if p)
    return env


def dashboard_url(port: int) -> str:
    """Where the dashboard of :func:`dashboard_command` answers."""
    return f"http://{LOOPBACK}:{port}/"


def wait_until_answering(
    url: str, *, timeout: float = 60.0, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Poll ``url``'s server until it answers any HTTP request; False on timeout or death.

    A path that does not exist is asked for, so the poll neither starts a kernel nor runs
    the notebook.
    """
    probe = url.rstrip("/") + "/cjresearch-ready-probe"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(probe, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # a 404 is an answer
        except OSError:
            time.sleep(0.2)
    return False


def launch(
    command: Sequence[str],
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    open_url: str | None = None,
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    open_browser: Callable[[str], object] = webbrowser.open,
) -> int:
    """Run a server command in the foreground until it exits or Ctrl-C stops it.

    Parameters
    ----------
    command
        From :func:`lab_command` or :func:`dashboard_command`.
    cwd
        The server's working directory (the notebook's folder).
    env
        The server's environment (default: this process's).
    open_url
        Opened in the user's browser once the server answers (the dashboard's URL).

    Returns
    -------
    int
        The server's exit code (0 after Ctrl-C).
    """
    process = popen(list(command), cwd=os.fspath(cwd), env=None if env is None else dict(env))
    try:
        if open_url is not None and wait_until_answering(
            open_url, alive=lambda: process.poll() is None
        ):
            open_browser(open_url)
        return int(process.wait())
    except KeyboardInterrupt:
        # Jupyter servers shut their kernels down on SIGINT (which they got too) or SIGTERM
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0
