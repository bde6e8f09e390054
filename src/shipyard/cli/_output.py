"""How the CLI talks: JSON on stdout for scripts, tables on stdout for people,
messages, progress and errors on stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from shipyard._console import print_table
from shipyard.errors import ShipyardError

__all__ = ["CliState", "emit_json", "print_error", "print_internal_error", "print_table", "say"]


@dataclass
class CliState:
    """Options of the root command that every subcommand and ``main`` can see."""

    debug: bool = False


def emit_json(key: str, value: Any) -> None:
    """Write ``{key: value}`` as the one JSON document on stdout."""
    import json

    sys.stdout.write(json.dumps({key: value}, indent=2, default=str, allow_nan=False) + "\n")


def say(message: str) -> None:
    """A line for the person at the terminal, on stderr (stdout stays parseable)."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(message)


def print_error(error: ShipyardError, *, debug: bool) -> None:
    """The message and hint of a user-facing error; the traceback only with --debug."""
    if debug:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    sys.stderr.write(f"Error: {error.message}\n")
    if error.hint:
        sys.stderr.write(f"hint: {error.hint}\n")


def print_internal_error(error: BaseException, *, debug: bool) -> None:
    """An unexpected failure: a bug in Shipyard or in project code outside a node."""
    if debug:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    sys.stderr.write(f"Internal error: {type(error).__name__}: {error}\n")
    if not debug:
        sys.stderr.write("hint: Run again with --debug to see the traceback.\n")
