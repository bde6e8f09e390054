"""Output for people, shared by the CLI and the notebook magics: Rich tables on stdout."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["print_table"]


def print_table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """A Rich table on stdout (a terminal, or a notebook cell's output)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console(highlight=False).print(table)
