"""Alembic environment: run by :class:`shipyard.metadata.MetadataStore`, never by alembic.ini.

The store passes an open Connection in ``config.attributes["connection"]``; migrations run
on it, in its transaction. A new revision is a new file in ``versions/`` written like
``0001_initial.py`` (``revision = "0002"``, ``down_revision = "0001"``), with explicit
column definitions: never import the current schema there.
"""

from __future__ import annotations

from alembic import context

from shipyard.metadata._schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Shipyard's migrations run through `shipyard db upgrade` (MetadataStore.upgrade), "
        "which passes the connection; they have no alembic.ini of their own."
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
