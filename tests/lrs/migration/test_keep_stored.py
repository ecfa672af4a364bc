"""`StatementService.store_statements(keep_stored=True)`: a statement's own `stored` is kept."""

from __future__ import annotations

import orjson
import pytest

from lrs.errors import ValidationError
from lrs.services.factory import statement_service
from lrs.settings import Settings
from lrs.store.base import Backend
from lrs.xapi.timestamps import timestamp_us
from tests.lrs.migration.helpers import sid, statement

AUTHORITY = {"objectType": "Agent", "mbox": "mailto:importer@example.com"}


async def test_kept_stored_orders_and_filters_the_statement(backend: Backend) -> None:
    service = statement_service(backend, Settings())
    own = "2019-06-07T08:09:10.5+02:00"
    body = [statement(1, stored=own), statement(2)]

    await service.store_statements(body, authority=AUTHORITY, version="1.0.3", keep_stored=True)

    found = await backend.statements.get_statements([sid(1), sid(2)])
    kept = orjson.loads(found[sid(1)].raw)
    assert kept["stored"] == own  # returned exactly as given
    assert kept["timestamp"] == own  # xAPI 1.0.3 Part 2 §2.4.7: timestamp defaults to stored
    assert found[sid(1)].stored_us == timestamp_us(own)
    assert found[sid(2)].stored_us > found[sid(1)].stored_us  # no stored: minted now
    assert await backend.statements.last_stored_us() == found[sid(2)].stored_us


async def test_without_keep_stored_the_lrs_assigns_it(backend: Backend) -> None:
    service = statement_service(backend, Settings())
    await service.store_statements(
        statement(1, stored="2019-06-07T08:09:10Z"), authority=AUTHORITY, version="1.0.3"
    )
    found = (await backend.statements.get_statements([sid(1)]))[sid(1)]
    assert orjson.loads(found.raw)["stored"] != "2019-06-07T08:09:10Z"


@pytest.mark.parametrize("bad", ["2016-12-31T23:59:60Z", "yesterday"])
async def test_a_kept_stored_must_be_a_timestamp(backend: Backend, bad: str) -> None:
    service = statement_service(backend, Settings())
    body = [statement(1), statement(2, stored=bad)]
    with pytest.raises(ValidationError) as raised:
        await service.store_statements(body, authority=AUTHORITY, version="1.0.3", keep_stored=True)
    assert raised.value.path == "[1].stored"
    assert await backend.statements.get_statements([sid(1), sid(2)]) == {}
