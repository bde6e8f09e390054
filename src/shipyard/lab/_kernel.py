"""Driving a Jupyter kernel through nbclient for a headless run, and what its failures mean.

nbclient is told which cell runs (so an error names it), stops a kernel that timed out at
once instead of waiting out a polite shutdown, and runs on an event loop of our own
without nbclient's SIGINT handler: Ctrl-C then stops the kernel and reaches the caller as
KeyboardInterrupt, so a tracked run ends ``interrupted``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipyard._imports import require as require_module
from shipyard.errors import NotebookError
from shipyard.lab._parameters import cell_label, cell_number

__all__ = ["client_class", "failure_of", "require", "run_client"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MAX_MESSAGE = 500  # characters of an exception message quoted in the error


def failure_of(  # noqa: PLR0917 - one call site, all of it needed
    source: Path,
    nb: Any,
    index: int,
    error: Exception,
    timeout_s: float,
    written: Path | None,
    kept_as: str | None,
) -> NotebookError:
    """The NotebookError for what nbclient raised while running cell ``index``."""
    exceptions = require("nbclient").exceptions
    where, number = cell_label(nb, index), cell_number(nb, index)
    if kept_as:  # somewhere the user cannot simply open
        opened = (
            "`shipyard runs artifact RUN notebook.ipynb` writes the executed notebook out as "
            "a file (or run again with --output PATH); open it"
        )
    elif written:
        opened, kept_as = f"Open {written} in Jupyter to see every cell's output", f"at {written}"
    else:
        opened = "Pass --output PATH (output=) to keep the executed notebook with its outputs"
    shown = f" The executed notebook, with the error, is {kept_as}." if kept_as else ""
    details: dict[str, Any] = {"cell": number, "output": written}
    if isinstance(error, exceptions.CellTimeoutError):
        message = f"{where} was still running after the {timeout_s:g} s timeout per cell"
        return NotebookError(
            f"Notebook {source}: {message}, so the kernel was stopped.{shown}",
            hint="Allow more time with --timeout SECONDS (timeout_s= in Python), or make "
            f"the cell faster. {opened}.",
            exception_type="TimeoutError",
            **details,
        )
    if isinstance(error, exceptions.DeadKernelError):
        return NotebookError(
            f"Notebook {source}: the kernel died while running {where}.{shown}",
            hint="The cell may have run out of memory or ended the process (os._exit, a "
            f"crash in native code). {opened}; run the cell in Jupyter to see more.",
            exception_type="DeadKernelError",
            **details,
        )
    if isinstance(error, exceptions.CellExecutionError):
        text = str(error.evalue).strip()
        text = text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"
        text = text if text.endswith((".", "!", "?", "…")) else text + "."
        return NotebookError(
            f"Notebook {source} failed at {where}: {error.ename}: {text}{shown}",
            hint=f"{opened} and the traceback; fix the cell in {source}, then run it again.",
            exception_type=str(error.ename),
            exception_message=str(error.evalue),
            traceback=_traceback(nb, index) or _ANSI.sub("", str(error.traceback)),
            **details,
        )
    if type(error).__name__ == "NoSuchKernel":
        return NotebookError(
            f"Notebook {source} needs the Jupyter kernel '{error.args[0]}', which is not "
            "installed here.",
            hint="Install ipykernel in the environment that has your project "
            '(pip install "shipyard[lab]") and register it with `python -m ipykernel install '
            "--user`, or pick an installed kernel (`jupyter kernelspec list`) with --kernel.",
            output=written,
        )
    raise error


def _traceback(nb: Any, index: int) -> str:
    """The traceback of the error output of cell ``index``, as plain text."""
    if not 0 <= index < len(nb.cells):
        return ""
    for output in nb.cells[index].get("outputs", []):
        if output.get("output_type") == "error":
            return _ANSI.sub("", "\n".join(output.get("traceback", [])))
    return ""


def run_client(client: Any, **start: Any) -> None:
    """Run every cell. Ctrl-C stops the kernel and raises KeyboardInterrupt here (nbclient
    would catch the signal itself, and fail later on the kernel it shut down)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # called from a running loop (a notebook): nbclient runs it on a helper thread
        client.execute(**start)
        return
    loop = asyncio.new_event_loop()
    loop.add_signal_handler = _no_signal_handler  # type: ignore[method-assign]
    task = loop.create_task(client.async_execute(**start))
    try:
        loop.run_until_complete(task)
    except KeyboardInterrupt:
        client.shutdown_kernel = "immediate"
        task.cancel()  # nbclient's own cleanup then stops the kernel
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        raise
    finally:
        leftover = asyncio.all_tasks(loop)  # nbclient's pollers of an interrupted cell
        for pending in leftover:
            pending.cancel()
        if leftover:
            gathered = asyncio.gather(*leftover, return_exceptions=True)
            loop.run_until_complete(gathered)
        loop.close()


def _no_signal_handler(*args: Any) -> None:
    raise RuntimeError("signals are left to the caller")  # what nbclient expects off-main


@functools.cache
def client_class() -> type:
    """nbclient's client, told which cell runs and quick to stop a kernel that timed out."""
    nbclient = require("nbclient")

    class HeadlessClient(nbclient.NotebookClient):  # type: ignore[misc, name-defined]
        def __init__(self, nb: Any, **options: Any) -> None:
            super().__init__(nb, **options)
            self.cell_index = -1
            self.on_cell_start = self._started
            #: Called with the index of each cell as it starts (progress display).
            self.started_cell: Callable[[int], None] | None = None

        def _started(self, cell: Any, cell_index: int) -> None:
            self.cell_index = cell_index
            if self.started_cell is not None:
                self.started_cell(cell_index)

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            if getattr(self.km, "ipykernel", False):
                # ipykernel's start-up warnings (unencrypted TCP on localhost) are noise
                # on a headless run's stderr; errors are still shown.
                self.extra_arguments = [*self.extra_arguments, "--IPKernelApp.log_level=ERROR"]
            await super().async_start_new_kernel(**kwargs)

        async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
            # A cell that timed out is still busy: asking it to shut down politely would
            # wait out the kernel manager's grace period for nothing.
            self.shutdown_kernel = "immediate"
            return await super()._async_handle_timeout(timeout, cell)

    return HeadlessClient


def require(module: str) -> Any:
    """``module`` imported, or MissingDependencyError naming the ``lab`` extra."""
    return require_module(module, purpose="Running a notebook", extra="lab")
