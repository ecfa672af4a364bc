"""The contract suites start from empty stores (no HRIS members seeded)."""

from __future__ import annotations

import pytest

from lrs.store.base import Backend
from projections.store import ProjectionStores, open_stores


@pytest.fixture
async def stores(backend: Backend) -> ProjectionStores:
    """The projection's stores on the test backend, empty."""
    return await open_stores(backend)
