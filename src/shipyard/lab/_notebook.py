"""Running a notebook headless, as Jupyter would, and as a tracked run.

:func:`execute_notebook` runs every cell of a notebook in a new kernel (nbclient), with
parameters injected the papermill way (see ``_parameters``), and keeps the executed
notebook, outputs and errors included. The kernel starts in the notebook's folder, as in
Jupyter, so a notebook that works there works here. A failing cell stops the run with a
:class:`NotebookError` naming the cell as its author counts it (every cell of their
notebook, markdown included; not the cell Shipyard injected), the exception, and where
the executed notebook is.

:func:`run_notebook` does the same inside a tracked run: the parameters become the run's
params, ``shipyard.log_metric(...)`` calls in the notebook land in the run (the kernel
gets ``SHIPYARD_RUN_ID``), and the executed notebook is kept as the run's artifact
``notebook.ipynb``.

>>> done = execute_notebook("notebooks/train.ipynb", parameters={"lr": 0.05})  # doctest: +SKIP
>>> done.injected, round(done.duration_s)  # doctest: +SKIP
(('lr',), 4)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from shipyard.errors import NotebookError, ProjectError
from shipyard.lab._kernel import client_class, failure_of, require, run_client
from shipyard.lab._parameters import cell_label, inject_cell

__all__ = [
    "ExecutedNotebook",
    "NotebookRun",
    "execute",
    "execute_notebook",
    "read_notebook",
    "run_notebook",
    "write_notebook",
]

_ARTIFACT = "notebook.ipynb"
#: ``on_cell(label, position, total)``: a code cell starts (label as errors name it).
CellProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExecutedNotebook:
    """A notebook that ran to its end. ``notebook`` is the executed nbformat node (outputs
    included), ``output`` where it was written (or None), ``injected`` the parameter names
    injected, ``warnings`` what the injection warned about."""

    path: Path
    output: Path | None
    notebook: Any
    duration_s: float
    injected: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class NotebookRun:
    """A notebook run recorded as a tracked run (``shipyard runs show RUN_ID``).
    ``output`` is the copy written where the caller asked (None if they did not);
    ``artifact_digest`` the executed notebook kept with the run as ``notebook.ipynb``."""

    run_id: str
    status: str
    output: Path | None
    artifact_digest: str
    duration_s: float
    warnings: tuple[str, ...]


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
    cwd: str | os.PathLike[str] | None = None,
    kernel_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ExecutedNotebook:
    """Run every cell of the notebook at ``path`` in a new kernel, top to bottom.

    ``parameters`` are injected after the cell tagged ``parameters`` (papermill's
    convention); ``timeout_s`` limits each cell. The kernel runs in ``cwd`` (default: the
    notebook's folder) with ``env`` added to this process's environment; ``kernel_name``
    replaces the kernel the notebook names. The executed notebook is written to
    ``output`` atomically, also when a cell fails. A failure raises NotebookError.
    """
    source = Path(path)
    nb = read_notebook(source)
    injected, warnings = inject_cell(nb, parameters or {}, notebook=str(source))
    return execute(
        nb,
        source,
        output=Path(output) if output is not None else None,
        timeout_s=timeout_s,
        cwd=cwd,
        kernel_name=kernel_name,
        env=env,
        injected=injected,
        warnings=warnings,
    )


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` as an nbformat v4 node; NotebookError if it is not one."""
    if not path.is_file():
        raise NotebookError(
            f"Notebook {path} does not exist.",
            hint=f"Give the path of an .ipynb file, absolute or relative to {Path.cwd()}.",
        )
    nbformat = require("nbformat")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # JSON, schema and version errors all mean "not readable"
        raise NotebookError(
            f"{path} is not a notebook that can be read: {exc}.",
            hint="Open it in Jupyter to check it, or restore it from git.",
        ) from None


def write_notebook(nb: Any, path: Path) -> Path:
    """Write ``nb`` to ``path`` atomically (temp file, then rename); returns the path."""
    from shipyard.data._paths import write_text

    write_text(path, require("nbformat").writes(nb))
    return path


def execute(
    nb: Any,
    source: Path,
    *,
    output: Path | None = None,
    timeout_s: float = 600.0,
    cwd: str | os.PathLike[str] | None = None,
    kernel_name: str | None = None,
    env: Mapping[str, str] | None = None,
    injected: list[str] | tuple[str, ...] = (),
    warnings: list[str] | tuple[str, ...] = (),
    to_write: Callable[[Any], Any] | None = None,
    kept_as: str | None = None,
    on_cell: CellProgress | None = None,
) -> ExecutedNotebook:
    """Run the notebook node ``nb`` read from ``source`` (parameters already injected).
    ``to_write`` turns the executed node into what is written to ``output``; ``kept_as``
    says where a failure's message tells the user to find it (default: ``output``);
    ``on_cell(label, position, total)`` is told of each code cell as it starts."""
    if not (isinstance(timeout_s, int | float) and timeout_s > 0):
        raise NotebookError(
            f"The timeout per cell must be a positive number of seconds, not {timeout_s!r}.",
            hint="Pass --timeout 600 (timeout_s=600.0), or more for slow cells.",
        )
    client = client_class()(nb, timeout=timeout_s, kernel_name=kernel_name or "")
    if on_cell is not None:
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]

        def started(index: int) -> None:  # nbclient reports markdown cells too
            if index in code:
                on_cell(cell_label(nb, index), code.index(index) + 1, len(code))

        client.started_cell = started
    folder = Path(cwd) if cwd is not None else source.resolve().parent
    start = perf_counter()
    failure: Exception | None = None
    try:
        run_client(client, cwd=str(folder), env={**os.environ, **(env or {})})
    except Exception as exc:  # nbclient's cell errors, timeouts, dead or missing kernels
        failure = exc
    duration = perf_counter() - start
    written = write_notebook(to_write(nb) if to_write else nb, output) if output else None
    if failure is not None:
        error = failure_of(source, nb, client.cell_index, failure, timeout_s, written, kept_as)
        raise error from None
    return ExecutedNotebook(source, written, nb, duration, tuple(injected), tuple(warnings))


def run_notebook(
    path: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
    project_root: str | os.PathLike[str] | None = None,
    env_name: str | None = None,
    experiment: str | None = None,
    kernel_name: str | None = None,
    on_cell: CellProgress | None = None,
) -> NotebookRun:
    """Run a notebook as a tracked run of its project (``shipyard notebook run``).

    The project is the one at or above the notebook's folder unless ``project_root`` is
    given. The run is named after the notebook and tagged ``source=notebook`` and
    ``notebook=<path in the project>``; ``parameters`` are its params; the notebook's
    ``shipyard.log_metric(...)`` calls log to it; the executed notebook is its artifact
    ``notebook.ipynb``, also written to ``output`` when given. ``env_name`` is recorded
    with the run and set as ``SHIPYARD_ENV`` in the kernel. The run ends ``finished``, or
    ``failed`` with the error kept and the NotebookError raised (its ``run_id`` set).
    ``on_cell(label, position, total)`` is told of each code cell as it starts.
    """
    from shipyard.settings import ENV_VARIABLE
    from shipyard.tracking import _run, _stores

    source = Path(path)  # as given, for messages; resolved where it matters
    root = _project_of(source.resolve(), project_root)
    nb = read_notebook(source)  # a missing or broken notebook records no run
    client_class()  # nor does a missing nbclient (the lab extra)
    injected, warnings = inject_cell(nb, parameters or {}, notebook=str(source))
    tracking = _stores.tracking_for(root)
    assert tracking is not None  # there is a project, so there is its SQLite store
    run = _run.create_run(
        tracking,
        name=source.stem,
        experiment=experiment,
        project_root=root,
        project=root.name,
        env=env_name,
        tags={"source": "notebook", "notebook": _relative(source.resolve(), root)},
    )
    kernel_env = run.child_environment()
    if env_name:
        kernel_env[ENV_VARIABLE] = env_name
    scratch = Path(tempfile.mkdtemp(prefix="shipyard-notebook-"))
    target = Path(output) if output is not None else scratch / _ARTIFACT
    try:
        with _run.finishing(run):
            if parameters:
                run.log_params(parameters)
            try:
                executed = execute(
                    nb,
                    source,
                    output=target,
                    timeout_s=timeout_s,
                    kernel_name=kernel_name,
                    env=kernel_env,
                    injected=injected,
                    warnings=warnings,
                    kept_as=None if output else f"kept with run {run.id} as artifact {_ARTIFACT}",
                    on_cell=on_cell,
                )
            except NotebookError as error:
                error.run_id = run.id
                if error.output is not None:
                    run.log_artifact(error.output, name=_ARTIFACT)
                raise
            digest = run.log_artifact(target, name=_ARTIFACT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    kept = executed.output if output is not None else None
    return NotebookRun(run.id, "finished", kept, digest, executed.duration_s, executed.warnings)


def _project_of(source: Path, given: str | os.PathLike[str] | None) -> Path:
    from shipyard.settings import find_project_root

    if given is not None:
        return Path(given).resolve()
    try:
        return find_project_root(source.parent)
    except ProjectError:
        raise ProjectError(
            f"Notebook {source} is not inside a Shipyard project, so there is no project "
            "to track its run in.",
            hint="Put the notebook in a project's folder (e.g. notebooks/), or pass "
            "project_root=; to run it without tracking, use shipyard.lab.execute_notebook.",
        ) from None


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
