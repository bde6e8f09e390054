"""``%load_ext shipyard``: the project's session, catalog, params and pipelines in a notebook.

Loading the extension (a kernel started by ``shipyard lab`` loads it by itself) opens the
project at or above the current folder (a notebook runs in its own folder) and puts four
names in the notebook::

    session     the opened project: session.run("training"), session.settings.env, ...
    catalog     its data catalog: catalog.load("customers_raw")
    params      its merged parameters, a dict
    pipelines   its pipelines by name

It also lets ``shipyard.log_metric`` / ``log_metrics`` / ``log_params`` work without a
``with shipyard.start_run():`` block: the first such call records a run named after the
notebook (tag ``source=notebook``), which ends when the kernel stops. A notebook that
never logs leaves no run behind, and one executed headlessly (``$SHIPYARD_RUN_ID`` set)
logs to the run that executes it instead. The magics (``%shipyard``, ``%reload_shipyard``)
are in ``_magics``.

IPython is never imported here: this module only runs inside an IPython shell, which
hands itself to :func:`load_ipython_extension`.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
import weakref
from collections.abc import Mapping
from functools import partial
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from shipyard.errors import ProjectError, ShipyardError
from shipyard.settings import find_project_root

if TYPE_CHECKING:
    from shipyard.project import Session
    from shipyard.settings import Settings
    from shipyard.tracking import ActiveRun

__all__ = [
    "NAMES",
    "NotebookLab",
    "is_dataset",
    "load_ipython_extension",
    "notebook_name",
    "print_error",
    "render_error",
    "unload_ipython_extension",
]

logger = logging.getLogger("shipyard.lab")

#: The names the extension puts in the notebook, in the order the status line gives them.
NAMES = ("session", "catalog", "params", "pipelines")
#: Where the notebook's file name can be found: VS Code's variable, then ipykernel's
#: (set from the JPY_SESSION_NAME that Jupyter Server gives a notebook's kernel).
_NOTEBOOK_VARIABLES = ("__vsc_ipynb_file__", "__session__")
_OPEN_HINT = (
    "`%cd` into a project folder and run `%reload_shipyard`, or open one with "
    "`%shipyard open PATH` (a folder with a Shipyard pyproject.toml; `shipyard new NAME` "
    "makes one)."
)

_labs: weakref.WeakKeyDictionary[Any, NotebookLab] = weakref.WeakKeyDictionary()
_exit_hook: list[bool] = []  # the atexit hook is registered once per process


class NotebookLab:
    """What the extension keeps for one IPython shell: the session and the names it put in
    the notebook, and which project the notebook's default run is for."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session: Session | None = None
        self.injected: dict[str, object] = {}
        self._tracked: tuple[Path, str] | None = None

    def open(self, path: str | os.PathLike[str] | None = None, *, env: str | None = None) -> None:
        """Open the project at or above ``path`` (default: the current folder) and put its
        names in the notebook. Nothing changes unless it opens completely: a broken
        catalog or pipeline fails here, with its own message, not at first use."""
        from shipyard.project import Session

        root = _project_root(Path.cwd() if path is None else Path(path).expanduser())
        session = Session.open(root, env=env)
        names: dict[str, object] = {
            "session": session,
            "catalog": session.catalog,
            "params": session.params,
            "pipelines": dict(session.pipelines),
        }
        self.forget_names()
        self.shell.push(names)
        self.injected, self.session = names, session
        self._track(session.settings)

    def reload(self, *, env: str | None = None) -> None:
        """Read the project again (config, catalog, params, pipeline code) after edits;
        with no project open yet, open the one at or above the current folder."""
        if self.session is None:
            self.open(env=env)
            return
        settings = self.session.settings
        _forget_modules(settings.package_name)
        self.open(settings.project_root, env=env or settings.env)

    def require_session(self) -> Session:
        """The open session, or a ProjectError saying how to open one."""
        if self.session is None:
            raise ProjectError(
                f"No Shipyard project is open in this notebook (folder {Path.cwd()}).",
                hint=_OPEN_HINT,
            )
        return self.session

    def status(self) -> str:
        """One line: the project, its env, how many datasets, which pipelines."""
        if self.session is None:
            return f"Shipyard: no project open (folder {Path.cwd()})."
        settings = self.session.settings
        datasets = sum(map(is_dataset, self.session.catalog.list()))
        pipelines = ", ".join(sorted(self.session.pipelines)) or "none"
        return (
            f"Shipyard: project '{settings.project_root.name}' (env {settings.env}), "
            f"{datasets} dataset{'s' if datasets != 1 else ''}, pipelines: {pipelines}. "
            f"Names: {', '.join(NAMES)}; `%shipyard --help` for the magics."
        )

    def forget_names(self) -> None:
        """Take the injected names out of the notebook, except those the user reassigned."""
        namespace = self.shell.user_ns
        for name, value in self.injected.items():
            if namespace.get(name) is value:
                del namespace[name]
        self.injected = {}

    def close(self) -> None:
        """End the notebook's default run (if one was made) and forget the project."""
        from shipyard.tracking import end_default_run, use_default_run

        if self._tracked is not None:
            use_default_run(None)
            self._tracked = None
        end_default_run()  # a run found through $SHIPYARD_RUN_ID is only forgotten, not ended
        self.forget_names()
        self.session = None

    def _track(self, settings: Settings) -> None:
        """Point logging calls made outside any run at a run of this notebook, made on
        the first such call. A run of another project (or env) opened before ends here."""
        from shipyard.tracking import RUN_ID_VARIABLE, end_default_run, use_default_run

        key = (settings.project_root, settings.env)
        if key == self._tracked:
            return  # a reload of the same project keeps the notebook's run
        if self._tracked is not None:
            use_default_run(None)
            end_default_run()
            self._tracked = None
        if os.environ.get(RUN_ID_VARIABLE):
            return  # executed headlessly: logging goes to the run that executes the notebook
        use_default_run(partial(_notebook_run, self.shell.user_ns, settings))
        self._tracked = key
        if not _exit_hook:
            atexit.register(_end_at_exit)
            _exit_hook.append(True)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext shipyard``: register the magics, open the project at or above the current
    folder and print one status line. Outside a project it says how to open one. Loading
    again only prints the status line again."""
    from shipyard.lab._magics import register_magics

    lab = _labs.get(ipython)
    if lab is not None:
        print(lab.status())
        return
    lab = _labs[ipython] = NotebookLab(ipython)
    register_magics(ipython, lab)
    try:
        lab.open(env=None)  # env: $SHIPYARD_ENV (the project kernel sets it), else default
    except ShipyardError as error:
        print_error(error)
        return
    print(lab.status())


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext shipyard``: end the notebook's run, remove the injected names (those
    still holding what the extension put there) and the magics."""
    from shipyard.lab._magics import unregister_magics

    lab = _labs.pop(ipython, None)
    if lab is None:
        return
    unregister_magics(ipython)
    lab.close()


def notebook_name(namespace: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> str:
    """The notebook's file stem, for the name of its run; ``ipython`` when not known.

    >>> notebook_name({"__session__": "notebooks/explore.ipynb"}, {})
    'explore'
    >>> notebook_name({}, {})
    'ipython'
    """
    candidates = [namespace.get(name) for name in _NOTEBOOK_VARIABLES]
    candidates.append(environ.get("JPY_SESSION_NAME"))
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return PurePath(candidate).stem
    return "ipython"


def is_dataset(name: str) -> bool:
    """Whether a catalog name is a dataset, not one of the parameter entries the session
    adds (``parameters``, ``params:...``)."""
    return name != "parameters" and not name.startswith("params:")


def print_error(error: ShipyardError) -> None:
    """A user-facing error as the CLI shows it: message and hint, no traceback."""
    sys.stderr.write(render_error(error) + "\n")


def render_error(error: ShipyardError) -> str:
    """``Error: <message>`` and ``hint: <hint>`` lines."""
    return f"Error: {error.message}" + (f"\nhint: {error.hint}" if error.hint else "")


def _project_root(start: Path) -> Path:
    if not start.is_dir():
        raise ProjectError(f"{start} is not a folder.", hint=_OPEN_HINT)
    try:
        return find_project_root(start)
    except ProjectError:
        raise ProjectError(
            f"No Shipyard project at or above {start.resolve()}: the names "
            f"{', '.join(NAMES)} are not set.",
            hint=_OPEN_HINT,
        ) from None


def _forget_modules(package: str) -> None:
    """Drop the project's modules, so that the next session imports its code as edited."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _notebook_run(namespace: Mapping[str, Any], settings: Settings) -> ActiveRun:
    """The notebook's run, made on its first logging call outside any other run."""
    from shipyard.tracking._run import create_run
    from shipyard.tracking._stores import tracking_for

    tracking = tracking_for(settings.project_root)
    assert tracking is not None  # a project root always has a store
    return create_run(
        tracking,
        name=notebook_name(namespace),
        project_root=settings.project_root,
        project=settings.package_name,
        env=settings.env,
        tags={"source": "notebook"},
    )


def _end_at_exit() -> None:
    """The kernel is stopping: the notebook's run (if one was made) ends ``finished``."""
    from shipyard.tracking import end_default_run

    try:
        end_default_run()
    except Exception as exc:  # the process is exiting: say so, but do not fail the exit
        logger.warning("The notebook's run could not be ended: %s", exc)
