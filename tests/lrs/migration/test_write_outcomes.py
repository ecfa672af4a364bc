"""`StatementService.store_statements` reports what it did with each statement of a write."""

from __future__ import annotations

import pytest

from lrs.errors import StatementConflict
from lrs.services.factory import statement_service
from lrs.services.outcomes import StatementOutcome, WriteResult
from lrs.settings import Settings
from lrs.store.base import Backend
from tests.lrs.migration.helpers import sid, statement

AUTHORITY = {"objectType": "Agent", "mbox": "mailto:importer@example.com"}
STORED, PRESENT = StatementOutcome.STORED, StatementOutcome.PRESENT


async def test_each_statement_is_stored_or_already_present_in_request_order(
    backend: Backend,
) -> None:
    service = statement_service(backend, Settings())
    first = await service.store_statements(
        [statement(1), statement(2)], authority=AUTHORITY, version="1.0.3"
    )
    assert first == WriteResult([sid(1), sid(2)])
    assert first.outcomes() == [(sid(1), STORED), (sid(2), STORED)]

    again = await service.store_statements(
        [statement(3), statement(2), statement(1)], authority=AUTHORITY, version="1.0.3"
    )
    assert again.ids == [sid(3), sid(2), sid(1)]
    assert again.outcomes() == [(sid(3), STORED), (sid(2), PRESENT), (sid(1), PRESENT)]


async def test_every_statement_already_present(backend: Backend) -> None:
    service = statement_service(backend, Settings())
    await service.store_statements(statement(1), authority=AUTHORITY, version="1.0.3")
    upper = statement(1, id=sid(1).upper())
    again = await service.store_statements(upper, authority=AUTHORITY, version="1.0.3")
    assert again.outcomes() == [(sid(1), PRESENT)]  # ids as the store keys them


async def test_put_reports_its_statement(backend: Backend) -> None:
    service = statement_service(backend, Settings())
    body = statement(1)
    del body["id"]
    put = await service.put_statement(sid(1), body, authority=AUTHORITY, version="1.0.3")
    assert put.outcomes() == [(sid(1), STORED)]


async def test_a_conflict_names_the_statement_and_stores_nothing(backend: Backend) -> None:
    service = statement_service(backend, Settings())
    await service.store_statements(statement(1), authority=AUTHORITY, version="1.0.3")
    changed = statement(1, result={"completion": True})
    with pytest.raises(StatementConflict) as raised:
        await service.store_statements(
            [statement(2), changed], authority=AUTHORITY, version="1.0.3"
        )
    assert raised.value.statement_id == sid(1)
    assert list(await backend.statements.get_statements([sid(1), sid(2)])) == [sid(1)]
