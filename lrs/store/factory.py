"""Choose and open the backend the settings name: MongoDB when a URI is set, else SQLite."""

from __future__ import annotations

from lrs.settings import Settings
from lrs.store.base import Backend


async def open_backend(settings: Settings) -> Backend:
    """Open the configured backend, creating its schema or indexes."""
    if settings.mongodb_uri:
        from lrs.store.mongo import MongoBackend

        return await MongoBackend.open(
            settings.mongodb_uri,
            settings.mongodb_database,
            server_selection_ms=settings.mongodb_server_selection_ms,
            write_timeout_ms=settings.mongodb_write_timeout_ms,
            recovery_interval_s=settings.mongodb_recovery_interval_s,
        )
    from lrs.store.sqlite import SQLiteBackend

    return SQLiteBackend(settings.data_dir)
