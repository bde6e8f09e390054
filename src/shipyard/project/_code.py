"""The code part of a node's fingerprint: its function and the project code it uses.

A function's digest covers its source text, its default arguments, the values its
closure captured, the module-level constants it reads, and — followed transitively —
the source of every project function and class it refers to by a global name or as an
attribute of a project module (``helpers.clean(...)``). Code from installed libraries is
not read: it counts as its qualified name and its package's version, so upgrading
scikit-learn changes every fingerprint that calls into it, but editing a file in
site-packages does not. Shipyard itself counts as its version.

This is an approximation, and documented as one (docs/cache.md): a function reached
only through data (a callable in a dict, ``getattr`` by a computed name) is not seen,
and a captured value that is not plain data counts by its type alone.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from shipyard.__about__ import __version__
from shipyard.data import value_digest
from shipyard.objects import hash_bytes

__all__ = ["CodeDigests"]

_LIBRARY_DIRS = tuple(
    os.path.realpath(path) + os.sep
    for key in ("stdlib", "platstdlib", "purelib", "platlib")
    if (path := sysconfig.get_paths().get(key))
)
_OWN_PACKAGE = "shipyard"


class CodeDigests:
    """Digests of node functions, computed once per function object and thread-safe.

    >>> digests = CodeDigests()
    >>> def double(x): return 2 * x
    >>> digests.of(double) == digests.of(double)
    True
    """

    def __init__(self) -> None:
        # id(obj) -> (obj, value): the object is kept so its id cannot be reused.
        self._tokens: dict[int, tuple[Any, str]] = {}
        self._digests: dict[int, tuple[Any, str]] = {}
        self._lock = threading.Lock()

    def of(self, func: Callable[..., Any]) -> str:
        """The digest of ``func`` and the project code it reaches."""
        known = self._digests.get(id(func))
        if known is not None and known[0] is func:
            return known[1]
        # The function itself first, then what it reaches in a stable order: two
        # functions that call each other reach the same code but are not the same node.
        root, *reached = self._walk(func)
        digest = str(hash_bytes("\n".join([root, *sorted(reached)]).encode()))
        with self._lock:
            self._digests[id(func)] = (func, digest)
        return digest

    def _walk(self, root: Any) -> Iterator[str]:
        """The token of every object reachable from ``root``, each once."""
        seen: set[int] = set()
        pending = [root]
        while pending:
            obj = pending.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            token, references = self._token(obj)
            yield token
            pending.extend(references)

    def _token(self, obj: Any) -> tuple[str, list[Any]]:
        known = self._tokens.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1], _references(obj)
        token = _describe(obj)
        with self._lock:
            self._tokens[id(obj)] = (obj, token)
        return token, _references(obj)


def _describe(obj: Any) -> str:
    """One object's own contribution: source and values for project code, name and
    version for library code."""
    if isinstance(obj, functools.partial):
        return f"partial:{_values((obj.args, obj.keywords))}"
    target = inspect.unwrap(obj) if callable(obj) else obj
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"
    if not isinstance(target, types.FunctionType | type):
        if callable(target) and not isinstance(target, types.BuiltinFunctionType):
            # A callable instance: its class is walked; its state counts by value.
            return f"instance:{name}:{_values(getattr(target, '__dict__', {}))}"
        return f"library:{name}@{_library_version(target)}"
    if not _is_project_code(target):
        return f"library:{name}@{_library_version(target)}"
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):  # defined in a REPL: fall back to the compiled code
        source = _code_text(target.__code__) if isinstance(target, types.FunctionType) else ""
    if isinstance(target, type):
        return f"class:{name}:{source}"
    constants = _constants(target)
    defaults = (target.__defaults__, target.__kwdefaults__)
    closure = [cell.cell_contents for cell in target.__closure__ or () if _has_value(cell)]
    values = _values((defaults, [c for c in closure if not callable(c)], constants))
    return f"function:{name}:{source}:{values}"


def _references(obj: Any) -> list[Any]:
    """The project functions and classes ``obj`` refers to (walked in turn)."""
    if isinstance(obj, functools.partial):
        return [obj.func]
    target = inspect.unwrap(obj) if callable(obj) else obj
    if isinstance(target, type):
        if not _is_project_code(target):
            return []
        return [
            member
            for value in vars(target).values()
            if isinstance(member := _function_of(value), types.FunctionType)
        ]
    if not isinstance(target, types.FunctionType):
        return [type(target)] if callable(target) else []
    if not _is_project_code(target):
        return []
    found: list[Any] = [cell.cell_contents for cell in target.__closure__ or () if _has_value(cell)]
    found = [value for value in found if callable(value)]
    names = set(_names(target.__code__))
    scope = target.__globals__
    for name in names:
        value = scope.get(name)
        if isinstance(value, types.ModuleType):
            if _is_project_code(value):
                found.extend(
                    member
                    for attr in names
                    if callable(member := getattr(value, attr, None))
                    and not isinstance(member, types.ModuleType)
                )
        elif callable(value):
            found.append(value)
    return found


def _constants(func: types.FunctionType) -> dict[str, Any]:
    """Module-level plain values the function reads (``THRESHOLD = 0.5``)."""
    scope = func.__globals__
    return {
        name: scope[name]
        for name in sorted(set(_names(func.__code__)))
        if name in scope and not callable(scope[name]) and value_digest(scope[name]) is not None
    }


def _names(code: types.CodeType) -> Iterator[str]:
    """Global and attribute names used by ``code`` and the functions nested in it."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _code_text(code: types.CodeType) -> str:
    """The compiled code, when there is no source: bytecode, names and constants."""
    consts = [_code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return f"{code.co_code.hex()}|{code.co_names}|{consts}"


def _values(value: Any) -> str:
    """Plain data by its JSON digest; anything else by its type only."""
    digest = value_digest(_plain(value))
    return str(digest)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value_digest(value) is not None:
        return value
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _function_of(member: Any) -> Any:
    if isinstance(member, staticmethod | classmethod):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member


def _has_value(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _is_project_code(obj: Any) -> bool:
    """Whether ``obj`` belongs to the user's code rather than to an installed library,
    the standard library or Shipyard."""
    module_name = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
    if module_name.partition(".")[0] == _OWN_PACKAGE:
        return False
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None) if module is not None else None
    if isinstance(obj, types.FunctionType):
        path = obj.__code__.co_filename
    if not path:
        return module_name == "__main__"
    return not os.path.realpath(path).startswith(_LIBRARY_DIRS)


def _library_version(obj: Any) -> str:
    module_name = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or ""
    top = module_name.partition(".")[0]
    if top == _OWN_PACKAGE:
        return __version__
    return str(getattr(sys.modules.get(top), "__version__", ""))
