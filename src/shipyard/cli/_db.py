"""``shipyard db ...``: the metadata store's schema revision and its migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._options import JsonOption, command_group
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from shipyard.metadata import MetadataStore

__all__ = ["app"]

app = command_group(
    "The metadata store of runs, params, metrics and lineage: its schema revision "
    "(status) and migrations (upgrade). SQLite stores upgrade themselves; PostgreSQL "
    "stores need `shipyard db upgrade`."
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        help="The store: sqlite:///path/to/shipyard.db or "
        "postgresql+psycopg://user:password@host/db. Default: SHIPYARD_DB, else "
        ".shipyard/shipyard.db of the project here.",
        show_default=False,
    ),
]


@app.command("upgrade")
def upgrade(url: UrlOption = None) -> None:
    """Migrate the store's schema to the revision this Shipyard needs (safe to repeat).

    Back up a shared database first. A schema newer than this Shipyard is refused.
    """
    store = _open(url)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    if before == after:
        say(f"[green]✓[/green] {store.url} is already at revision {after}")
    else:
        say(f"[green]✓[/green] {store.url} upgraded from {before or 'empty'} to {after}")


@app.command("status")
def status(url: UrlOption = None, as_json: JsonOption = False) -> None:
    """Show the store's schema revision against the one this Shipyard needs.

    States: up to date, behind (run `shipyard db upgrade`), empty (no tables yet), newer
    (upgrade Shipyard). The exit code is 0 whatever the state is; scripts read --json.
    """
    store = _open(url)
    try:
        current, head, known = store.current_revision(), store.head_revision(), store.revisions()
    finally:
        store.close()
    if current == head:
        state = "up to date"
    elif current is None:
        state = "empty"
    elif current in known:
        state = "behind"
    else:
        state = "newer"
    report = {
        "url": store.url,
        "dialect": store.dialect,
        "current": current,
        "head": head,
        "state": state,
    }
    if as_json:
        emit_json("status", report)
        return
    print_table("Metadata store", ["url", "dialect", "current", "head", "state"], [report.values()])
    if state in ("behind", "empty") and store.dialect != "sqlite":
        say("Run `shipyard db upgrade` to migrate it.")
    elif state == "newer":
        say("A newer Shipyard migrated this store: upgrade Shipyard to use it.")


def _open(url: str | None) -> MetadataStore:
    import os

    from shipyard.metadata import DB_ENV_VARIABLE, MetadataStore

    if url or os.environ.get(DB_ENV_VARIABLE):
        return MetadataStore.open_unchecked(url)
    from shipyard.settings import Settings

    return MetadataStore.open_unchecked(project_root=Settings.for_project().project_root)
