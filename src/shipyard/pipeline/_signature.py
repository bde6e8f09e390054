"""Checking, when a node is built, that its function can be called with the node's inputs.

A mistake here would otherwise surface only at run time, possibly hours into a run.
``inspect.signature`` costs tens of microseconds, so the accepted input shapes are
remembered per function: a 10,000-node pipeline built from one function inspects it once.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable
from typing import Any

from shipyard.errors import PipelineError

__all__ = ["check_callable_with", "describe_function", "function_name"]

# function -> input shapes it accepts: an int (that many positional inputs) or a tuple of
# keyword names. Weak keys, so a cached function can still be garbage-collected.
_accepted: weakref.WeakKeyDictionary[Callable[..., Any], set[int | tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)

_HINT = (
    "Give the node one input per parameter of its function: a list of dataset names fills "
    "the parameters by position, a dict {parameter: dataset} fills them by name."
)


def check_callable_with(
    func: Callable[..., Any], shape: int | tuple[str, ...], node_name: str, inputs: object
) -> None:
    """Raise PipelineError unless ``func`` accepts ``shape`` (positional count or names)."""
    try:
        known = _accepted.get(func)
    except TypeError:  # not weak-referenceable or not hashable: check without the cache
        known = None
    if known is not None and shape in known:
        return
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature to check against
        return
    try:
        if isinstance(shape, int):
            signature.bind(*range(shape))
        else:
            signature.bind(**dict.fromkeys(shape))
    except TypeError as exc:
        passed = (
            f"{shape} positional input(s) {inputs!r}"
            if isinstance(shape, int)
            else f"keyword inputs {inputs!r}"
        )
        raise PipelineError(
            f"Node '{node_name}': function '{function_name(func)}{signature}' cannot be "
            f"called with {passed}: {exc}.",
            hint=_HINT,
        ) from None
    with contextlib.suppress(TypeError):  # not cacheable; checked again next time
        _accepted.setdefault(func, set()).add(shape)


def function_name(func: Callable[..., Any]) -> str:
    """The short name of a node function: ``clean``, ``fit``, ``lambda``."""
    inner = getattr(func, "func", None)  # functools.partial
    if inner is not None and not hasattr(func, "__name__"):
        return function_name(inner)
    name = getattr(func, "__name__", None) or type(func).__name__
    return name.replace("<lambda>", "lambda")


def describe_function(func: Callable[..., Any]) -> str:
    """The dotted path of a node function: ``churn.nodes.clean``, ``churn.model.Model.fit``."""
    inner = getattr(func, "func", None)
    if inner is not None and not hasattr(func, "__qualname__"):
        return describe_function(inner)
    module = getattr(func, "__module__", None) or type(func).__module__
    qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{module}.{qualname}"
