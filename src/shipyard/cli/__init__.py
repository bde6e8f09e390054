"""The ``shipyard`` command line: ``shipyard <noun> <verb>`` plus top-level verbs.

Exit codes: 0 success, 1 a user-facing error (message and hint, no traceback),
2 bad usage, 3 an internal failure (traceback with ``--debug``), 130 interrupted.
"""

from __future__ import annotations

import sys

from shipyard.errors import ShipyardError

__all__ = ["main"]

EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``shipyard`` console script."""
    from shipyard.cli._app import app
    from shipyard.cli._output import CliState, print_error, print_internal_error

    state = CliState()
    try:
        app(args=argv, prog_name="shipyard", obj=state)
    except ShipyardError as error:
        print_error(error, debug=state.debug)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:
        print_internal_error(error, debug=state.debug)
        sys.exit(EXIT_INTERNAL_ERROR)
