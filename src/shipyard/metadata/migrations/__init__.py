"""Alembic migrations of the metadata store, run programmatically by MetadataStore."""
