"""The notebook's magics: ``%shipyard run|catalog|runs|open`` and ``%reload_shipyard``.

They do in a notebook what the matching commands do in a terminal (``shipyard run``,
``shipyard catalog list|describe``, ``shipyard runs list``), on the project the extension
opened. A Shipyard error fails the cell (so "Run all" and headless runs stop there) but
shows only its message and hint: the exception renders itself through IPython's
``_render_traceback_`` protocol, so no traceback hides the hint.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

from shipyard._console import print_table
from shipyard.errors import LabError, ProjectError, ShipyardError
from shipyard.lab._extension import NotebookLab, is_dataset, render_error

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["register_magics", "unregister_magics"]

MAGICS = ("shipyard", "reload_shipyard")
#: Metrics shown per run in ``%shipyard runs`` (as in ``shipyard runs list``).
KEY_METRICS = 3


_EXAMPLES = """examples:
  %shipyard run                                  the __default__ pipeline
  %shipyard run -p training --params model.C=0.5 another pipeline, other parameters
  %shipyard run --nodes train_model --env prod   one node, with conf/prod
  %shipyard catalog                              list the datasets
  %shipyard catalog customers_raw                describe one
  %shipyard runs 5                               the last 5 tracked runs
  %shipyard open ../other-project                open another project here
  %reload_shipyard                               read conf/ and the pipelines' code again
  %shipyard COMMAND --help                       a command's options
"""


class _HelpShown(Exception):
    """argparse printed help (``--help``): the magic has nothing more to do."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as a LabError and never exits the kernel."""

    def error(self, message: str) -> NoReturn:
        raise LabError(
            f"%{self.prog.removeprefix('%')}: {message}.",
            hint=f"{self.format_usage().strip()}  (`%shipyard --help` explains each one)",
        )

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _HelpShown


def register_magics(shell: Any, lab: NotebookLab) -> None:
    """Add ``%shipyard`` and ``%reload_shipyard`` to ``shell``, working on ``lab``."""
    commands = _Commands(lab)
    parser = _shipyard_parser()
    reload_parser = _reload_parser()

    def shipyard(line: str) -> None:
        _dispatch(parser, line, lambda args: args.command(commands, args))

    def reload_shipyard(line: str) -> None:
        _dispatch(reload_parser, line, commands.reload)

    shipyard.__doc__ = parser.format_help()
    reload_shipyard.__doc__ = reload_parser.format_help()
    shell.register_magic_function(shipyard, magic_kind="line", magic_name="shipyard")
    shell.register_magic_function(reload_shipyard, magic_kind="line", magic_name="reload_shipyard")


def unregister_magics(shell: Any) -> None:
    """Take the magics out of ``shell`` again (IPython has no public call for it)."""
    line_magics = shell.magics_manager.magics["line"]
    for name in MAGICS:
        line_magics.pop(name, None)


def _dispatch(parser: _Parser, line: str, action: Callable[[argparse.Namespace], None]) -> None:
    try:
        try:
            words = shlex.split(line)
        except ValueError as exc:  # an unclosed quote
            parser.error(str(exc).lower())
        args = parser.parse_args(words)
        if getattr(args, "command", True) is None:
            parser.print_help()
            return
        action(args)
    except _HelpShown:
        return
    except ShipyardError as error:
        # IPython shows what this returns instead of the traceback; the cell still fails.
        error._render_traceback_ = partial(_error_lines, error)  # type: ignore[attr-defined]
        raise


def _error_lines(error: ShipyardError) -> list[str]:
    return render_error(error).splitlines()


class _Commands:
    """The subcommands, on the project of one notebook."""

    def __init__(self, lab: NotebookLab) -> None:
        self.lab = lab

    def reload(self, args: argparse.Namespace) -> None:
        self.lab.reload(env=args.env)
        print(self.lab.status())

    def open(self, args: argparse.Namespace) -> None:
        self.lab.open(args.path, env=args.env)
        print(self.lab.status())

    def run(self, args: argparse.Namespace) -> None:
        from shipyard.project import RunProgress, Session

        session = self.lab.require_session()
        if args.env or args.params:
            # Another env or other params: a session of its own; the notebook's stays as is.
            session = Session.open(
                session.settings.project_root,
                env=args.env or session.settings.env,
                params=_params(args.params),
            )
        progress = RunProgress(stream=sys.stdout)  # plain lines in a notebook: stdout, not red
        session.hooks.register(progress)
        try:
            result = session.run(args.pipeline, node_names=_names(args.nodes))
        finally:
            session.hooks.unregister(progress)
        cached = f", {len(result.cached)} from the node cache" if result.cached else ""
        print(
            f"✓ Run {result.run_id}: {len(result.completed)} nodes of '{args.pipeline}' in "
            f"{result.duration_s:.2f}s{cached} (env {session.settings.env}); "
            "`%shipyard runs` lists it."
        )

    def catalog(self, args: argparse.Namespace) -> None:
        session = self.lab.require_session()
        catalog = session.catalog
        if args.name is not None:
            described = catalog.describe(args.name)
            print_table(f"Dataset '{args.name}'", ["field", "value"], sorted(described.items()))
            return
        rows = []
        for name in filter(is_dataset, catalog.list()):
            described = catalog.describe(name)
            rows.append(
                (name, described.get("type"), described.get("filepath"), described.get("origin"))
            )
        print_table(
            f"{len(rows)} datasets (env {session.settings.env})",
            ["name", "type", "location", "defined in"],
            rows,
        )

    def runs(self, args: argparse.Namespace) -> None:
        from shipyard.metadata import metrics, runs
        from shipyard.tracking._compare import run_seconds, run_status
        from shipyard.tracking._stores import DB_VARIABLE, tracking_for

        session = self.lab.session
        tracking = tracking_for(session.settings.project_root if session is not None else None)
        if tracking is None:
            raise ProjectError(
                f"No project is open and ${DB_VARIABLE} is not set: there is no run store to read.",
                hint="Open a project with `%shipyard open PATH`, or set "
                f"{DB_VARIABLE} to the team's store.",
            )
        with tracking.store.connect() as conn:
            found = runs.search(conn, limit=args.n)
            latest = metrics.latest_of(conn, [record.id for record in found])
        if not found:
            print(f"No runs in {tracking.store.url} yet.")
            return
        print_table(
            f"Last {len(found)} runs in {tracking.store.url}",
            ["id", "started (UTC)", "status", "pipeline / name", "duration", "metrics"],
            [
                (
                    record.id,
                    record.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    run_status(record),
                    record.pipeline or record.name,
                    _seconds(run_seconds(record)),
                    _metrics(latest[record.id]),
                )
                for record in found
            ],
        )


def _shipyard_parser() -> _Parser:
    parser = _Parser(
        prog="%shipyard",
        description="Shipyard in this notebook, on the project the extension opened "
        "(the names session, catalog, params, pipelines).",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    run = commands.add_parser("run", help="Run a pipeline; tracked like `shipyard run`.")
    run.add_argument("--pipeline", "-p", default="__default__", help="The pipeline to run.")
    run.add_argument("--env", "-e", help="Run with conf/ENV instead of the notebook's env.")
    run.add_argument(
        "--params", metavar="KEY=VALUE,...", help="Override parameters: 'model.C=0.5,x=1'."
    )
    run.add_argument("--nodes", "-n", metavar="NODES", help="Only these nodes (comma-separated).")
    run.set_defaults(command=_Commands.run)

    catalog = commands.add_parser("catalog", help="List the datasets, or describe one.")
    catalog.add_argument("name", nargs="?", help="A dataset to describe.")
    catalog.set_defaults(command=_Commands.catalog)

    listing = commands.add_parser("runs", help="The last N tracked runs, newest first.")
    listing.add_argument("n", nargs="?", type=_positive, default=10, help="How many (10).")
    listing.set_defaults(command=_Commands.runs)

    opening = commands.add_parser("open", help="Open the project at or above PATH.")
    opening.add_argument("path", metavar="PATH", help="A project folder (or one inside it).")
    opening.add_argument("--env", "-e", help="Configuration environment (default: as usual).")
    opening.set_defaults(command=_Commands.open)
    return parser


def _reload_parser() -> _Parser:
    parser = _Parser(
        prog="%reload_shipyard",
        description="Read the project again after edits: config, catalog, params and the "
        "pipelines' code. The names session, catalog, params, pipelines are replaced.",
    )
    parser.add_argument("--env", "-e", help="Switch to this environment (default: the same).")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("N must be 1 or more")
    return value


def _params(text: str | None) -> dict[str, Any] | None:
    from shipyard.config import parse_params_overrides

    return parse_params_overrides(text) if text else None


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _metrics(values: dict[str, float]) -> str:
    shown = ", ".join(f"{key}={value:.6g}" for key, value in list(values.items())[:KEY_METRICS])
    return shown + (" …" if len(values) > KEY_METRICS else "")
