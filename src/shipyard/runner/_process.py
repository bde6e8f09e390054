"""The process runner: node functions run in worker processes, I/O stays in this one.

The parent loads each node's inputs, sends the node and its inputs to a worker (pickled),
and saves the outputs the worker sends back. So every dataset, in memory or on disk,
behaves exactly as under the sequential runner, and no worker needs credentials or
connections. Workers are started with ``spawn``: a fresh interpreter per worker is
slower to start than ``fork`` but safe when the parent has threads (progress bars,
database pools, the thread runner), and behaves the same on Linux, macOS and Windows.
"""

from __future__ import annotations

import os
import pickle
import traceback
from concurrent.futures import BrokenExecutor, Executor, Future
from time import perf_counter
from typing import Any

from shipyard.errors import NodeError, RunnerError
from shipyard.pipeline import Node, Pipeline
from shipyard.runner._execution import failure_location, node_error
from shipyard.runner._pool import PoolRunner
from shipyard.runner._runner import Run

__all__ = ["ProcessRunner"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_PICKLE_HINT = (
    "Run with --runner thread (threads share memory, nothing is pickled), or make the "
    "node take and return picklable data (DataFrames, arrays, dicts), not open "
    "connections, generators or locks."
)


class ProcessRunner(PoolRunner):
    """Runs independent nodes at the same time in worker processes, one CPU each.

    Use it for CPU-bound pure-Python nodes. Node functions must be importable (defined in
    a module, not in a notebook cell or ``__main__``) and their data picklable. The
    default ``max_workers`` is the number of CPUs.
    """

    def _default_workers(self) -> int:
        return os.cpu_count() or 1

    def _open(self, run: Run, workers: int) -> Executor:
        # multiprocessing is imported here, not at import time: most runs never need it.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _check_nodes_picklable(run.pipeline)
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def _submit(self, run: Run, executor: Executor, node: Node) -> tuple[Future[Any], Any]:
        started = perf_counter()
        inputs: dict[str, Any] = {}
        try:
            inputs = run.steps.load_inputs(node)
            run.steps.before_run(node, inputs)
            payload = _pack(node, inputs)
        except Exception as exc:
            run.steps.report_error(node, inputs, exc)
            raise
        return executor.submit(run_in_worker, node.name, payload), (inputs, started)

    def _finish(self, run: Run, node: Node, future: Future[Any], context: Any) -> float:
        inputs, started = context
        try:
            succeeded, payload, detail = _result(node, future)
            if not succeeded:
                run.steps.report_error(node, inputs, payload)
                raise node_error(node, payload, location=detail) from payload
            outputs = pickle.loads(payload)
            run.steps.save_outputs(node, outputs)
            run.steps.after_run(node, inputs, outputs, detail)
        except NodeError:
            raise
        except Exception as exc:
            run.steps.report_error(node, inputs, exc)
            raise
        return perf_counter() - started


def run_in_worker(node_name: str, payload: bytes) -> tuple[bool, Any, Any]:
    """In a worker: run the node. Returns ``(True, pickled outputs, seconds)`` or
    ``(False, exception, where it was raised)`` when the node's function raised."""
    try:
        node, inputs = pickle.loads(payload)
    except Exception as exc:
        raise RunnerError(
            f"A worker process could not unpickle node '{node_name}' or its inputs: "
            f"{type(exc).__name__}: {exc}",
            hint="Define node functions in a module of your project (not in a notebook or a "
            "script run as __main__), or run with --runner thread.",
        ) from None
    start = perf_counter()
    try:
        outputs = node.run(inputs)
    except Exception as exc:
        return False, _portable(exc), failure_location(exc)
    duration = perf_counter() - start
    return True, _pack_outputs(node, outputs), duration


def _check_nodes_picklable(pipeline: Pipeline) -> None:
    for item in pipeline.nodes:
        try:
            pickle.dumps(item, protocol=_PROTOCOL)
        except Exception as exc:
            raise RunnerError(
                f"Node '{item.name}' cannot run in a worker process: its function "
                f"{item.func!r} cannot be pickled ({type(exc).__name__}: {exc}).",
                hint="Define the function at the top level of a module (not a lambda or a "
                "function inside another function), or run with --runner thread.",
            ) from exc


def _pack(node: Node, inputs: dict[str, Any]) -> bytes:
    try:
        return pickle.dumps((node, inputs), protocol=_PROTOCOL)
    except Exception as exc:
        for name, data in inputs.items():
            try:
                pickle.dumps(data, protocol=_PROTOCOL)
            except Exception as data_exc:
                raise RunnerError(
                    f"Dataset '{name}' cannot be sent to a worker process for node "
                    f"'{node.name}': it cannot be pickled ({type(data_exc).__name__}: "
                    f"{data_exc}).",
                    hint=_PICKLE_HINT,
                ) from data_exc
        raise RunnerError(
            f"Node '{node.name}' cannot be sent to a worker process: {exc}", hint=_PICKLE_HINT
        ) from exc


def _pack_outputs(node: Node, outputs: dict[str, Any]) -> bytes:
    try:
        return pickle.dumps(outputs, protocol=_PROTOCOL)
    except Exception:
        for name, data in outputs.items():
            try:
                pickle.dumps(data, protocol=_PROTOCOL)
            except Exception as exc:
                raise RunnerError(
                    f"Output '{name}' of node '{node.name}' cannot be sent back from the "
                    f"worker process: it cannot be pickled ({type(exc).__name__}: {exc}).",
                    hint=_PICKLE_HINT,
                ) from None
        raise


def _portable(error: Exception) -> Exception:
    """``error`` with the worker's traceback as a note, or a RuntimeError carrying its text
    if it does not survive pickling (an exception class with a custom ``__init__``)."""
    text = "".join(traceback.format_exception(error))
    try:
        error.add_note(f"Raised in a worker process:\n{text}")
        pickle.loads(pickle.dumps(error, protocol=_PROTOCOL))
    except Exception:
        substitute = RuntimeError(f"{type(error).__name__}: {error}")
        substitute.add_note(f"Raised in a worker process:\n{text}")
        return substitute
    return error


def _result(node: Node, future: Future[Any]) -> tuple[bool, Any, Any]:
    try:
        return future.result()
    except BrokenExecutor as exc:
        raise RunnerError(
            f"The worker process running node '{node.name}' stopped unexpectedly: {exc}",
            hint="It may have run out of memory or crashed in native code. Try fewer "
            "--max-workers, or --runner sequential to see the error in this process.",
        ) from exc
