"""The statement service as the server configures it, for the app and the bulk importers."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from lrs.services.statements import StatementService
from lrs.settings import Settings
from lrs.store.base import Backend


def statement_service(
    backend: Backend, settings: Settings, pool: ProcessPoolExecutor | None = None
) -> StatementService:
    """The statement service on `backend` as the server configures it (importers use it too)."""
    return StatementService(
        backend.statements,
        backend.attachments,
        backend.activities,
        page_size=settings.statement_page_size,
        max_page_size=settings.max_statement_page_size,
        max_batch=settings.max_batch_size,
        max_attachment_bytes=settings.max_attachment_bytes,
        pool=pool,
    )
