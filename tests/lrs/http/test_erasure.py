"""Erasing a person from the xAPI data (`lrs.services.erasure`), on every backend.

Driven through the service the projection calls, observed through the HTTP API as a client
sees it, and by searching everything the store holds (every SQLite table and file of the data
directory; every MongoDB collection) for the person's name and identifiers.
"""

from __future__ import annotations

import hashlib
import sqlite3
import string
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.model.erasure import ErasedPage, ErasureCounts
from lrs.services.erasure import erase_person, person_keys
from lrs.store.base import ErasableStatements
from lrs.store.mongo import MongoBackend
from lrs.store.sqlite import SQLiteBackend
from lrs.xapi.erasure import erase_agents_raw, pseudonymous_agent
from tests.lrs.http.conftest import LRSClient

NAME = "Ada Lovelace"
MBOX = "mailto:ada.lovelace@example.com"
SHA1 = hashlib.sha1(MBOX.encode(), usedforsecurity=False).hexdigest()
OPENID = "https://openid.example.com/ada-lovelace"
ADA = {"objectType": "Agent", "name": NAME, "mbox": MBOX}
ADA_HASHED = {"objectType": "Agent", "mbox_sha1sum": SHA1}
ADA_OPENID = {"objectType": "Agent", "name": NAME, "openid": OPENID}
BOB = {"objectType": "Agent", "name": "Bob", "mbox": "mailto:bob@example.com"}
IFIS = [{"mbox": MBOX}, {"openid": OPENID}]
HOME = "http://lrs.test/erased"
PSEUDONYM = pseudonymous_agent(HOME, "pm_0001")
SECRETS = [NAME, "ada.lovelace", OPENID, SHA1]
VERB = {"id": "http://adlnet.gov/expapi/verbs/experienced"}
ACTIVITY = "http://example.com/activities/erasure"
GROUP = {"objectType": "Group", "name": "Team", "member": [BOB, ADA_HASHED]}


def statement(actor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": VERB,
        "object": {"objectType": "Activity", "id": ACTIVITY},
        **extra,
    }


def ref(target: str) -> dict[str, Any]:
    return {"objectType": "StatementRef", "id": target}


def story() -> dict[str, dict[str, Any]]:
    """Statements naming Ada in each agent place, others inheriting her, one without her."""
    own = statement(ADA)
    taught = statement(BOB, context={"instructor": ADA})
    return {
        "own": own,
        "taught": taught,
        "group": statement(GROUP),
        "object": statement(BOB, object=ADA_OPENID),
        "sub": statement(
            BOB,
            object={"objectType": "SubStatement", "actor": ADA, "verb": VERB, "object": BOB},
        ),
        "refers": statement(BOB, object=ref(own["id"])),
        "voids": statement(
            BOB, verb={"id": "http://adlnet.gov/expapi/verbs/voided"}, object=ref(taught["id"])
        ),
        "other": statement(BOB),
    }


NAMING = ("own", "taught", "group", "object", "sub")  # name Ada in an agent place
INHERITING = ("refers", "voids")  # only refer to a statement naming her


async def post(lrs: LRSClient, statements: list[dict[str, Any]]) -> None:
    response = await lrs.http.post("/xapi/statements", json=statements, headers=lrs.headers())
    assert response.status == 200, await response.text()


async def query(lrs: LRSClient, agent: dict[str, Any], related: bool = False) -> set[str]:
    params = {"agent": orjson.dumps(agent).decode(), "limit": "100"}
    if related:
        params["related_agents"] = "true"
    response = await lrs.http.get("/xapi/statements", params=params, headers=lrs.headers())
    assert response.status == 200
    return {s["id"] for s in (await response.json())["statements"]}


async def get_one(lrs: LRSClient, sid: str, voided: bool = False) -> tuple[int, Any]:
    name = "voidedStatementId" if voided else "statementId"
    response = await lrs.http.get("/xapi/statements", params={name: sid}, headers=lrs.headers())
    return response.status, (await response.json() if response.status == 200 else None)


def agent_params(agent: dict[str, Any], **extra: str) -> dict[str, str]:
    return {"agent": orjson.dumps(agent).decode(), **extra}


async def put_documents(lrs: LRSClient) -> None:
    for path, params in (
        ("/xapi/agents/profile", agent_params(ADA, profileId="prefs")),
        ("/xapi/activities/state", agent_params(ADA, activityId=ACTIVITY, stateId="s")),
        ("/xapi/activities/state", agent_params(ADA_OPENID, activityId=ACTIVITY, stateId="s")),
        ("/xapi/activities/state", agent_params(BOB, activityId=ACTIVITY, stateId="s")),
    ):
        body = orjson.dumps({"learner": params["agent"]})
        headers = lrs.headers(**{"Content-Type": "application/json", "If-None-Match": "*"})
        response = await lrs.http.put(path, params=params, data=body, headers=headers)
        assert response.status == 204, await response.text()


async def document_status(lrs: LRSClient, agent: dict[str, Any]) -> int:
    params = agent_params(agent, activityId=ACTIVITY, stateId="s")
    response = await lrs.http.get("/xapi/activities/state", params=params, headers=lrs.headers())
    return response.status


async def seeded(lrs: LRSClient) -> dict[str, dict[str, Any]]:
    statements = story()
    await post(lrs, list(statements.values()))
    await put_documents(lrs)
    return statements


async def erase(lrs: LRSClient, policy: str, page_size: int = 3) -> ErasureCounts:
    return await erase_person(
        lrs.backend, IFIS, "pm_0001", policy, home_page=HOME, page_size=page_size
    )


def ids(statements: dict[str, dict[str, Any]], names: tuple[str, ...]) -> set[str]:
    return {statements[name]["id"] for name in names}


OLD_AGENTS = [ADA, ADA_HASHED, ADA_OPENID]


async def assert_old_identifiers_find_nothing(lrs: LRSClient) -> None:
    for agent in OLD_AGENTS:
        assert await query(lrs, agent) == set()
        assert await query(lrs, agent, related=True) == set()


async def test_pseudonymise_moves_every_statement_to_the_pseudonym(lrs: LRSClient) -> None:
    statements = await seeded(lrs)
    before = set().union(*[await query(lrs, a, related=True) for a in OLD_AGENTS])
    before_agent = set().union(*[await query(lrs, a) for a in OLD_AGENTS])
    # the agent filter: actor, Group member, object, and a StatementRef's target's
    assert before_agent == ids(statements, ("own", "group", "object", "refers"))
    counts = await erase(lrs, "pseudonymise")
    assert counts == ErasureCounts(
        statements_pseudonymised=len(NAMING),
        statements_unlinked=len(INHERITING),
        documents_deleted=3,
    )
    await assert_old_identifiers_find_nothing(lrs)
    assert await query(lrs, PSEUDONYM, related=True) == before
    assert await query(lrs, PSEUDONYM) == before_agent
    status, own = await get_one(lrs, statements["own"]["id"])
    assert status == 200
    assert own["actor"] == {"objectType": "Agent", **PSEUDONYM}
    status, taught = await get_one(lrs, statements["taught"]["id"], voided=True)
    assert status == 200
    assert taught["context"]["instructor"] == {"objectType": "Agent", **PSEUDONYM}
    assert taught["actor"] == BOB
    status, group = await get_one(lrs, statements["group"]["id"])
    assert group["actor"]["member"] == [BOB, {"objectType": "Agent", **PSEUDONYM}]


async def test_delete_removes_the_statements_naming_the_person(lrs: LRSClient) -> None:
    statements = await seeded(lrs)
    counts = await erase(lrs, "delete")
    assert counts == ErasureCounts(
        statements_deleted=len(NAMING), statements_unlinked=len(INHERITING), documents_deleted=3
    )
    await assert_old_identifiers_find_nothing(lrs)
    assert await query(lrs, PSEUDONYM, related=True) == set()
    for name in NAMING:
        assert (await get_one(lrs, statements[name]["id"]))[0] == 404
        assert (await get_one(lrs, statements[name]["id"], voided=True))[0] == 404
    # statements referring to an erased one stay (the voiding statement among them)
    for name in (*INHERITING, "other"):
        assert (await get_one(lrs, statements[name]["id"]))[0] == 200
    assert await query(lrs, BOB) == ids(statements, ("refers", "voids", "other"))


@pytest.mark.parametrize("policy", ["pseudonymise", "delete"])
async def test_documents_about_the_person_are_deleted(lrs: LRSClient, policy: str) -> None:
    await seeded(lrs)
    assert await document_status(lrs, ADA) == 200
    await erase(lrs, policy)
    profile = agent_params(ADA, profileId="prefs")
    response = await lrs.http.get("/xapi/agents/profile", params=profile, headers=lrs.headers())
    assert response.status == 404
    assert await document_status(lrs, ADA) == 404
    assert await document_status(lrs, ADA_OPENID) == 404
    assert await document_status(lrs, BOB) == 200


@pytest.mark.parametrize("policy", ["pseudonymise", "delete"])
async def test_nothing_stored_names_the_person(lrs: LRSClient, policy: str, tmp_path: Path) -> None:
    await seeded(lrs)
    search = (
        mongo_secrets(lrs.backend)
        if isinstance(lrs.backend, MongoBackend)
        else sqlite_secrets(lrs.backend, tmp_path)
    )
    assert len(await search()) >= len(SECRETS)  # the search finds them before
    await erase(lrs, policy)
    assert await search() == []


async def erase_page(lrs: LRSClient, limit: int, *, delete: bool = False) -> ErasedPage:
    """One page of the store's erasure, as `erase_person` runs it."""
    store = lrs.backend.statements
    assert isinstance(store, ErasableStatements)
    keys = person_keys(IFIS)
    return await store.erase_agent_page(
        keys,
        lambda raw: erase_agents_raw(raw, set(keys), PSEUDONYM),
        replacement="account:" + HOME + "\npm_0001",
        delete=delete,
        limit=limit,
    )


async def test_an_interrupted_erasure_finishes_when_run_again(lrs: LRSClient) -> None:
    statements = await seeded(lrs)
    partial = await erase_page(lrs, 2)
    assert partial.pseudonymised + partial.unlinked == 2
    assert not partial.done
    rest = await erase(lrs, "pseudonymise")
    assert rest.statements_pseudonymised + partial.pseudonymised == len(NAMING)
    await assert_old_identifiers_find_nothing(lrs)
    assert len(await query(lrs, PSEUDONYM, related=True)) == 6
    again = await erase(lrs, "pseudonymise")
    assert again == ErasureCounts()
    assert (await get_one(lrs, statements["own"]["id"]))[1]["actor"]["account"]["name"] == "pm_0001"


async def test_the_person_stored_again_after_erasure_is_found(lrs: LRSClient) -> None:
    """The store forgets the person's keys (SQLite: its key dictionary and the writer's cache
    of it), so a statement naming them later is indexed afresh."""
    await seeded(lrs)
    while not (await erase_page(lrs, 100, delete=True)).done:
        pass
    again = statement(ADA)
    await post(lrs, [again, statement(BOB)])
    assert await query(lrs, ADA) == {again["id"]}
    assert await query(lrs, {"mbox": "mailto:bob@example.com"}, related=True)


def sqlite_secrets(backend: SQLiteBackend, data_dir: Path) -> Callable[[], Awaitable[list[str]]]:
    async def search() -> list[str]:
        return found_secrets(backend, data_dir)

    return search


async def stored_secrets(
    backend: Any, data_dir: Path, secrets: Sequence[str] = SECRETS
) -> list[str]:
    """Where `secrets` appear in anything the backend stores (either kind of backend)."""
    if isinstance(backend, MongoBackend):
        return await _mongo_secrets(backend, secrets)
    return found_secrets(backend, data_dir, secrets)


def found_secrets(
    backend: SQLiteBackend, data_dir: Path, secrets: Sequence[str] = SECRETS
) -> list[str]:
    """Where `secrets` appear in the SQLite tables (every row, every column) and data files."""
    _refuse_chance_matches(secrets)
    found = []
    conn = sqlite3.connect(backend.engine.path)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                text = b" ".join(_bytes(value) for value in row)
                found += [f"{table}: {s}" for s in secrets if s.encode() in text]
    finally:
        conn.close()
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path.name}: {s}" for s in secrets if s.encode() in content]
    return found


def _refuse_chance_matches(secrets: Sequence[str]) -> None:
    """The stores hold random hex (ids, salts, digests): a short secret made only of hex
    digits would be found there by chance in some runs, so a search for one proves nothing."""
    chance = [s for s in secrets if len(s) < 32 and set(s.lower()) <= set(string.hexdigits)]
    assert not chance, f"secrets that random hex can contain: {chance}"


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def mongo_secrets(backend: MongoBackend) -> Callable[[], Awaitable[list[str]]]:
    return partial(_mongo_secrets, backend)


async def _mongo_secrets(backend: MongoBackend, secrets: Sequence[str] = SECRETS) -> list[str]:
    """Where `secrets` appear in any document of any collection, serialised."""
    _refuse_chance_matches(secrets)
    found = []
    for name in await backend.db.list_collection_names():
        async for doc in backend.db[name].find({}):
            text = _serialised(doc)
            found += [f"{name}: {s}" for s in secrets if s.encode() in text]
    return found


def _serialised(value: Any) -> bytes:
    if isinstance(value, dict):
        return b" ".join(_serialised(k) + b" " + _serialised(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return b" ".join(_serialised(v) for v in value)
    return _bytes(value)
