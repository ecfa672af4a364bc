"""The StatementStore contract, asserted on every backend (see conftest.py).

Every behaviour the Protocol docstrings promise is here; records are built directly because
there is no service layer yet. The last section covers what only the MongoDB backend has to
do by itself: all-or-nothing batches without transactions, and recovery after a crash.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import orjson
import pytest

from lrs.errors import BadRequest, StoreUnavailable
from lrs.model.statements import (
    INDEX_KINDS,
    DefinitionUpdate,
    InsertOutcome,
    StatementFilter,
    StatementIndex,
    StatementRecord,
)
from lrs.store import mongo
from lrs.store.base import Backend, StatementStore
from lrs.store.mongo import MongoBackend
from lrs.store.mongo_query import STORED_INDEX, index_keys, kind_index, query_plan

T0 = 1_700_000_000_000_000  # a stored time in microseconds
NAMESPACE = uuid.UUID("6b1c9c7e-5c1e-4d7a-9a53-3f1f8c2a0b11")


def sid(n: int) -> str:
    """A statement id for test number `n`; its order is unrelated to `n`."""
    return str(uuid.uuid5(NAMESPACE, str(n)))


def record(
    n: int,
    stored: int | None = None,
    *,
    voids: int | None = None,
    tag: str = "",
    **keys: tuple[str, ...],
) -> StatementRecord:
    """A record for statement `n`, stored at T0 + n ms unless `stored` (offset in µs) says."""
    body = {
        "id": sid(n),
        "n": n,
        "tag": tag,
        "context": {
            "extensions": {
                "http://example.com/ext.with.dots": {"$set": 1, "a.b": [n], "é": "ü"},
                "$where": "1 == 1",
            }
        },
    }
    if voids is not None:
        body["object"] = {"objectType": "StatementRef", "id": sid(voids)}
    return StatementRecord(
        id=sid(n),
        raw=orjson.dumps(body) + b"  ",  # bytes come back exactly, odd whitespace included
        stored_us=T0 + (n * 1000 if stored is None else stored),
        index=StatementIndex.of(**keys),
        voids=None if voids is None else sid(voids),
        ref=None if voids is None else sid(voids),
    )


def numbers(raws: list[bytes]) -> list[int]:
    return [orjson.loads(raw)["n"] for raw in raws]


def index_sets(index: StatementIndex) -> dict[str, set[str]]:
    """An index compared without regard to key order (the backends may order keys)."""
    return {kind: set(getattr(index, kind)) for kind in INDEX_KINDS}


async def insert(store: StatementStore, *records: StatementRecord) -> InsertOutcome:
    return await store.insert_statements(list(records))


async def query(store: StatementStore, **filters: object) -> list[int]:
    """The statement numbers of one page."""
    page = await store.query_statements(StatementFilter(**filters))  # type: ignore[arg-type]
    return numbers(page.statements)


async def every_page(store: StatementStore, **filters: object) -> list[list[int]]:
    pages: list[list[int]] = []
    after = None
    while True:
        page = await store.query_statements(StatementFilter(after=after, **filters))  # type: ignore[arg-type]
        pages.append(numbers(page.statements))
        if page.next_position is None:
            return pages
        after = page.next_position


# --- insert and get ---------------------------------------------------------------------------


async def test_backend_satisfies_the_protocols(backend: Backend) -> None:
    from lrs.store.base import AttachmentStore, CredentialStore

    assert isinstance(backend.statements, StatementStore)
    assert isinstance(backend.credentials, CredentialStore)
    assert isinstance(backend.attachments, AttachmentStore)


async def test_insert_then_get_returns_the_exact_bytes_and_keys(backend: Backend) -> None:
    store = backend.statements
    first = record(1, agents=("mbox:a@x",), related_agents=("mbox:a@x", "mbox:b@x"))
    second = record(2, verbs=("http://v/x.y",), activities=("http://a/$1",), registrations=("r",))
    assert await insert(store, first, second) == InsertOutcome(stored=True)

    got = await store.get_statements([first.id, second.id, sid(99)])
    assert set(got) == {first.id, second.id}
    for rec in (first, second):
        stored = got[rec.id]
        assert stored.id == rec.id
        assert stored.raw == rec.raw
        assert stored.stored_us == rec.stored_us
        assert stored.voided is False
        assert stored.voids is None
        assert index_sets(stored.index) == index_sets(rec.index)


async def test_get_ignores_unknown_and_repeated_ids(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1))
    assert await store.get_statements([]) == {}
    assert await store.get_statements([sid(7)]) == {}
    got = await store.get_statements([sid(1), sid(1)])
    assert list(got) == [sid(1)]


async def test_empty_batch_is_stored_trivially(backend: Backend) -> None:
    assert await backend.statements.insert_statements([]) == InsertOutcome(stored=True)
    assert await backend.statements.last_stored_us() is None


async def test_a_large_batch_is_stored_whole(backend: Backend) -> None:
    store = backend.statements
    records = [record(n, verbs=("v",)) for n in range(1, 1201)]
    assert (await store.insert_statements(records)).stored
    assert len(await store.get_statements([r.id for r in records])) == 1200
    page = await store.query_statements(StatementFilter(verb="v", limit=2000))
    assert len(page.statements) == 1200


# --- all or nothing ---------------------------------------------------------------------------


async def test_batch_with_one_taken_id_stores_nothing(backend: Backend) -> None:
    store = backend.statements
    taken = record(1, tag="first")
    await insert(store, taken)

    outcome = await insert(store, record(2), record(1, tag="again"), record(3))
    assert outcome.stored is False
    assert set(outcome.existing) == {taken.id}
    assert outcome.existing[taken.id].raw == taken.raw  # the stored one, not the new one
    assert await store.get_statements([sid(2), sid(3)]) == {}
    assert await query(store) == [1]
    assert await store.last_stored_us() == taken.stored_us

    # the caller retries with what is new
    assert (await insert(store, record(2), record(3))).stored
    assert await query(store) == [3, 2, 1]


async def test_existing_names_every_taken_id(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1), record(2))
    outcome = await insert(store, record(2), record(4), record(1))
    assert outcome.stored is False
    assert set(outcome.existing) == {sid(1), sid(2)}
    assert await store.get_statements([sid(4)]) == {}


async def test_rejected_batch_voids_nothing(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1), record(2))
    outcome = await insert(store, record(3, voids=1), record(2))
    assert outcome.stored is False
    assert (await store.get_statements([sid(1)]))[sid(1)].voided is False
    assert await query(store) == [2, 1]


async def test_concurrent_batches_sharing_an_id_store_one(backend: Backend) -> None:
    store = backend.statements
    left = [record(1, tag="left"), record(2, tag="left")]
    right = [record(2, tag="right"), record(3, tag="right")]
    outcomes = await asyncio.gather(store.insert_statements(left), store.insert_statements(right))
    assert sorted(o.stored for o in outcomes) == [False, True]
    winner, loser = (left, right) if outcomes[0].stored else (right, left)
    lost = outcomes[1] if outcomes[0].stored else outcomes[0]
    assert set(lost.existing) == {sid(2)}
    assert lost.existing[sid(2)].raw == next(r.raw for r in winner if r.id == sid(2))
    stored = await store.get_statements([r.id for r in left + right])
    assert {s.raw for s in stored.values()} == {r.raw for r in winner}
    assert {r.id for r in loser} - {r.id for r in winner} - set(stored) == {
        r.id for r in loser if r.id != sid(2)
    }


# --- voiding ----------------------------------------------------------------------------------


async def test_voided_statement_is_hidden_from_queries_but_not_from_get(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1, verbs=("v",)), record(2, verbs=("v",)))
    assert (await insert(store, record(3, voids=1, verbs=("http://adlnet.gov/void",)))).stored

    assert await query(store) == [3, 2]
    assert await query(store, verb="v") == [2]
    got = await store.get_statements([sid(1), sid(3)])
    assert got[sid(1)].voided is True
    assert got[sid(3)].voided is False
    assert got[sid(3)].voids == sid(1)


async def test_voiding_before_the_target_arrives(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1, voids=2))
    assert (await insert(store, record(2, agents=("a",)))).stored
    assert (await store.get_statements([sid(2)]))[sid(2)].voided is True
    assert await query(store) == [1]
    assert await query(store, agent="a") == []


@pytest.mark.parametrize("voiding_first", [True, False])
async def test_voiding_within_one_batch(backend: Backend, voiding_first: bool) -> None:
    store = backend.statements
    batch = [record(1), record(2, voids=1)]
    await store.insert_statements(batch[::-1] if voiding_first else batch)
    assert (await store.get_statements([sid(1)]))[sid(1)].voided is True
    assert await query(store) == [2]


async def test_a_voiding_statement_cannot_be_voided(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1))
    await insert(store, record(2, voids=1))
    await insert(store, record(3, voids=2))
    got = await store.get_statements([sid(1), sid(2)])
    assert got[sid(1)].voided is True
    assert got[sid(2)].voided is False
    assert await query(store) == [3, 2]


async def test_a_voiding_statement_arriving_after_its_voider_is_not_voided(
    backend: Backend,
) -> None:
    store = backend.statements
    await insert(store, record(1))
    await insert(store, record(3, voids=2))  # targets 2, a voiding statement not yet here
    await insert(store, record(2, voids=1))
    got = await store.get_statements([sid(1), sid(2)])
    assert got[sid(2)].voided is False
    assert got[sid(1)].voided is True


@pytest.mark.parametrize("round_", range(3))
async def test_concurrent_voiding_and_target_end_voided(backend: Backend, round_: int) -> None:
    store = backend.statements
    writes = [insert(store, record(1)), insert(store, record(2, voids=1))]
    await asyncio.gather(*(writes if round_ % 2 else writes[::-1]))
    assert (await store.get_statements([sid(1)]))[sid(1)].voided is True
    assert await query(store) == [2]


# --- filters ----------------------------------------------------------------------------------

DATASET = [
    record(
        1,
        agents=("a1",),
        related_agents=("a1", "a9"),
        verbs=("v1",),
        activities=("x1",),
        related_activities=("x1", "x9"),
        registrations=("g1",),
        authorities=("u1",),
    ),
    record(
        2,
        agents=("a2",),
        related_agents=("a2",),
        verbs=("v1",),
        activities=("x2",),
        related_activities=("x2",),
        registrations=("g2",),
        authorities=("u1",),
    ),
    record(
        3,
        agents=("a1", "a2"),
        related_agents=("a1", "a2"),
        verbs=("v2",),
        activities=("x2",),
        related_activities=("x2", "x1"),
        registrations=("g1",),
        authorities=("u2",),
    ),
    record(4, agents=("a9",), related_agents=("a9",), verbs=("v1",), authorities=("u2",)),
]

FILTER_CASES = [
    ({}, [4, 3, 2, 1]),
    ({"agent": "a1"}, [3, 1]),
    ({"agent": "a9"}, [4]),
    ({"agent": "a9", "related_agents": True}, [4, 1]),
    ({"agent": "nobody"}, []),
    ({"verb": "v1"}, [4, 2, 1]),
    ({"activity": "x1"}, [1]),
    ({"activity": "x1", "related_activities": True}, [3, 1]),
    ({"activity": "x9"}, []),
    ({"activity": "x9", "related_activities": True}, [1]),
    ({"registration": "g1"}, [3, 1]),
    ({"authority": "u2"}, [4, 3]),
    ({"agent": "a1", "verb": "v1"}, [1]),
    ({"agent": "a2", "activity": "x2", "registration": "g1"}, [3]),
    ({"agent": "a9", "related_agents": True, "authority": "u1"}, [1]),
    ({"verb": "v1", "authority": "u1", "ascending": True}, [1, 2]),
    ({"verb": "v2", "registration": "g2"}, []),
    ({"ascending": True}, [1, 2, 3, 4]),
    ({"limit": 2}, [4, 3]),
    ({"limit": 2, "ascending": True}, [1, 2]),
    # since is exclusive, until inclusive (stored times are T0 + n ms)
    ({"since_us": T0 + 2000}, [4, 3]),
    ({"until_us": T0 + 2000}, [2, 1]),
    ({"since_us": T0 + 1000, "until_us": T0 + 3000}, [3, 2]),
    ({"since_us": T0 + 1999, "until_us": T0 + 2000}, [2]),
    ({"since_us": T0 + 2000, "until_us": T0 + 2000}, []),
    ({"verb": "v1", "since_us": T0 + 1000, "ascending": True}, [2, 4]),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    FILTER_CASES,
    ids=[",".join(f"{k}={v}" for k, v in f.items()) or "none" for f, _ in FILTER_CASES],
)
async def test_filters(backend: Backend, filters: dict[str, object], expected: list[int]) -> None:
    store = backend.statements
    await store.insert_statements(DATASET)
    assert await query(store, **filters) == expected


async def test_filters_skip_voided_statements(backend: Backend) -> None:
    store = backend.statements
    await store.insert_statements(DATASET)
    await insert(store, record(5, voids=1, authorities=("u1",)))
    assert await query(store, agent="a1") == [3]
    assert await query(store, authority="u1") == [5, 2]


# --- order and pages --------------------------------------------------------------------------


@pytest.mark.parametrize("ascending", [True, False])
async def test_pages_split_at_limit(backend: Backend, ascending: bool) -> None:
    store = backend.statements
    await store.insert_statements([record(n) for n in range(1, 8)])
    pages = await every_page(store, limit=3, ascending=ascending)
    expected = list(range(1, 8)) if ascending else list(range(7, 0, -1))
    assert pages == [expected[0:3], expected[3:6], expected[6:]]


async def test_a_full_last_page_has_no_next_position(backend: Backend) -> None:
    store = backend.statements
    await store.insert_statements([record(n) for n in range(1, 7)])
    assert await every_page(store, limit=3) == [[6, 5, 4], [3, 2, 1]]
    assert (await store.query_statements(StatementFilter(limit=6))).next_position is None
    assert (await store.query_statements(StatementFilter(limit=5))).next_position is not None


async def test_pages_on_an_empty_store(backend: Backend) -> None:
    page = await backend.statements.query_statements(StatementFilter(limit=5))
    assert page.statements == []
    assert page.next_position is None


@pytest.mark.parametrize("ascending", [True, False])
async def test_pages_through_equal_stored_times(backend: Backend, ascending: bool) -> None:
    """A batch shares one stored time: the order is still total and pages never overlap."""
    store = backend.statements
    await store.insert_statements([record(n, stored=5000) for n in range(1, 10)])
    # an import keeps its original, older stored time: it still sorts by it
    await store.insert_statements([record(n, stored=4000) for n in range(10, 13)])
    pages = await every_page(store, limit=2, ascending=ascending)
    seen = [n for page in pages for n in page]
    assert sorted(seen) == list(range(1, 13))
    later = set(range(1, 10))
    assert set(seen[:9] if not ascending else seen[3:]) == later
    other = await every_page(store, limit=4, ascending=not ascending)
    assert [n for page in other for n in page] == seen[::-1]


@pytest.mark.parametrize("ascending", [True, False])
@pytest.mark.parametrize("filtered", [False, True])
async def test_paging_while_statements_arrive(
    backend: Backend, ascending: bool, filtered: bool
) -> None:
    """No statement present at the start is missed or repeated; later ones come after."""
    store = backend.statements
    keys = {"verbs": ("v",)} if filtered else {}
    await store.insert_statements([record(n, **keys) for n in range(1, 11)])
    filters: dict[str, object] = {"limit": 3, "ascending": ascending}
    if filtered:
        filters["verb"] = "v"
    seen: list[int] = []
    after = None
    arriving = 100
    while True:
        page = await store.query_statements(StatementFilter(after=after, **filters))  # type: ignore[arg-type]
        seen.extend(numbers(page.statements))
        if page.next_position is None:
            break
        after = page.next_position
        await insert(store, record(arriving, **keys), record(arriving + 1, **keys))
        arriving += 2
    assert len(seen) == len(set(seen))
    if ascending:
        assert seen[:10] == list(range(1, 11))
        assert seen[10:] == sorted(seen[10:])
        assert all(n >= 100 for n in seen[10:])
    else:
        assert seen == list(range(10, 0, -1))


async def test_a_statement_voided_between_pages_is_not_returned(backend: Backend) -> None:
    store = backend.statements
    await store.insert_statements([record(n) for n in range(1, 7)])
    first = await store.query_statements(StatementFilter(limit=3, ascending=True))
    await insert(store, record(50, voids=5))
    rest = await store.query_statements(
        StatementFilter(limit=10, ascending=True, after=first.next_position)
    )
    assert numbers(first.statements) == [1, 2, 3]
    assert numbers(rest.statements) == [4, 6, 50]


@pytest.mark.parametrize("position", ["not-a-position", "", "x:1"])
async def test_a_forged_position_is_a_bad_request(backend: Backend, position: str) -> None:
    await backend.statements.insert_statements([record(1)])
    with pytest.raises(BadRequest):
        await backend.statements.query_statements(StatementFilter(after=position))


async def test_stored_order_wins_over_arrival_order(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(5), record(3))
    await insert(store, record(4))  # arrives last, stored (e.g. imported) in between
    assert await query(store) == [5, 4, 3]
    assert await every_page(store, limit=1, ascending=True) == [[3], [4], [5]]
    assert await query(store, since_us=T0 + 3000, until_us=T0 + 4000) == [4]


async def test_filtered_queries_follow_stored_order_not_arrival_order(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(5, verbs=("v",)), record(3, verbs=("v",)), record(6))
    await insert(store, record(4, verbs=("v",)))  # imported: stored between 3 and 5
    assert await query(store, verb="v") == [5, 4, 3]
    assert await every_page(store, verb="v", limit=1, ascending=True) == [[3], [4], [5]]
    assert await query(store, verb="v", since_us=T0 + 3000, until_us=T0 + 4000) == [4]


def model_dataset(seed: int, count: int, stored: list[int]) -> list[StatementRecord]:
    """`count` records with keys drawn from small pools: common verbs, rarer agents."""
    rng = random.Random(seed)
    records = []
    for n in range(count):
        agent, other = f"a{rng.randrange(8)}", f"a{rng.randrange(8)}"
        activity, parent = f"x{rng.randrange(6)}", f"c{rng.randrange(2)}"
        records.append(
            record(
                n,
                stored[n],
                agents=(agent,),
                related_agents=(agent, other),
                verbs=(f"v{rng.randrange(3)}",),
                activities=(activity,),
                related_activities=(activity, parent),
                registrations=(f"g{rng.randrange(4)}",),
                authorities=("u1" if n % 5 else "u2",),
            )
        )
    return records


MODEL_QUERIES: list[dict[str, object]] = [
    {"verb": "v1"},
    {"agent": "a3"},
    {"agent": "a3", "related_agents": True},
    {"activity": "c1", "related_activities": True},
    {"activity": "x2"},
    {"registration": "g0", "authority": "u1"},
    {"agent": "a2", "verb": "v0"},
    {"verb": "v2", "activity": "c0", "related_activities": True, "authority": "u1"},
    {"verb": "v1", "since_us": T0 + 40_000},
    {"verb": "v1", "until_us": T0 + 40_000},
    {"agent": "a5", "verb": "v2", "since_us": T0 + 20_000, "until_us": T0 + 90_000},
    {"since_us": T0 + 30_000, "until_us": T0 + 70_000},
]


def model_answer(
    records: list[StatementRecord], voided: set[str], filters: dict[str, object], asc: bool
) -> list[int]:
    """What a query must return: every match, by (stored_us, arrival) as the backends order."""
    kinds = {
        "agent": "related_agents" if filters.get("related_agents") else "agents",
        "verb": "verbs",
        "activity": "related_activities" if filters.get("related_activities") else "activities",
        "registration": "registrations",
        "authority": "authorities",
    }
    since, until = filters.get("since_us"), filters.get("until_us")
    found = [
        (r.stored_us, arrival, orjson.loads(r.raw)["n"])
        for arrival, r in enumerate(records)
        if r.id not in voided
        and all(filters[f] in getattr(r.index, kind) for f, kind in kinds.items() if f in filters)
        and (since is None or r.stored_us > since)  # type: ignore[operator]
        and (until is None or r.stored_us <= until)  # type: ignore[operator]
    ]
    return [n for _us, _arrival, n in sorted(found, reverse=not asc)]


@pytest.mark.parametrize("arrival", ["in stored order", "with an import", "with ties"])
async def test_filtered_pages_match_a_model(backend: Backend, arrival: str) -> None:
    """Every page of every query shape, both directions, against a model of the contract.

    Stored times are distinct (the backends break ties differently: seq or id) except in
    "with ties", where one batch shares a stored time, as every batch stored here does."""
    count = 120
    stored = [n * 1000 for n in range(count)]
    if arrival == "with ties":
        stored = [(n // 10) * 10_000 for n in range(count)]
    if arrival == "with an import":  # the last 20 arrive last, stored between the others
        stored[100:] = [us - 95_500 for us in stored[100:]]
    records = model_dataset(7, count, stored)
    store = backend.statements
    for start in range(0, count, 10):
        await store.insert_statements(records[start : start + 10])
    await insert(store, record(500, voids=17), record(501, voids=42))
    voided = {sid(17), sid(42)}
    for filters in MODEL_QUERIES:
        for asc in (False, True):
            expected = model_answer(records, voided, filters, asc)
            pages = await every_page(store, limit=7, ascending=asc, **filters)
            got = [n for page in pages for n in page if n < 500]
            if arrival == "with ties":  # the tie order is the backend's own: compare groups
                key = {orjson.loads(r.raw)["n"]: r.stored_us for r in records}
                assert [key[n] for n in got] == [key[n] for n in expected], filters
                assert sorted(got) == sorted(expected), filters
            else:
                assert got == expected, (filters, asc)
            assert all(len(page) == 7 for page in pages[:-1]), filters


# --- last stored ------------------------------------------------------------------------------


async def test_last_stored_us(backend: Backend) -> None:
    store = backend.statements
    assert await store.last_stored_us() is None
    await insert(store, record(2), record(1))
    assert await store.last_stored_us() == T0 + 2000
    await insert(store, record(1), record(9))  # rejected: changes nothing
    assert await store.last_stored_us() == T0 + 2000
    await insert(store, record(5))
    assert await store.last_stored_us() == T0 + 5000


async def test_last_stored_us_counts_voided_statements(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1, voids=2))
    await insert(store, record(2))  # newest, and stored voided
    assert await store.last_stored_us() == T0 + 2000


async def test_stored_counts_per_period_include_voided_statements(backend: Backend) -> None:
    store = backend.statements
    # periods of 1 ms from T0: [T0, T0+1ms) holds none, the next two, the last one
    await insert(store, record(1), record(2, stored=1999), record(3, stored=3000))
    await insert(store, record(4, voids=1))  # at T0 + 4 ms, past the last period
    assert await store.stored_counts(T0, 1000, 4) == [0, 2, 0, 1]
    assert await store.stored_counts(T0 + 1000, 3000, 2) == [3, 1]
    assert await store.stored_counts(T0 - 10_000, 1000, 3) == [0, 0, 0]


# --- MongoDB only: batches without transactions -----------------------------------------------


def mongo_only(backend: Backend) -> MongoBackend:
    if not isinstance(backend, MongoBackend):
        pytest.skip("MongoDB batch mechanics")
    return backend


async def test_mongo_has_the_index_each_query_plan_hints(backend: Backend) -> None:
    """Every index a query may hint exists with the keys `index_keys` says (a hint naming a
    missing index fails every query of its shape on a real server)."""
    store = mongo_only(backend).statements
    created = await store._docs.index_information()
    names = [STORED_INDEX, *(kind_index(kind) for kind in INDEX_KINDS)]
    for name in names:
        assert list(created[name]["key"]) == index_keys(name), name
    filters = [StatementFilter(), StatementFilter(agent="a", verb="v", since_us=T0)]
    for query in filters:
        assert query_plan(query).hint in names
        await store.query_statements(query)  # the hint is accepted


async def leave_batch(
    backend: MongoBackend,
    records: list[StatementRecord],
    *,
    state: str,
    age_s: float,
    with_batch_document: bool = True,
) -> str:
    """Write what a writer that stopped mid-batch leaves behind (see mongo's docstring)."""
    token = uuid.uuid4().hex
    if with_batch_document:
        await backend.db["statement_batches"].insert_one(
            {
                "_id": token,
                "state": state,
                "at_us": time.time_ns() // 1000 - int(age_s * 1_000_000),
                "ids": [r.id for r in records],
                "targets": [r.voids for r in records if r.voids],
            }
        )
    await backend.db["statements"].insert_many([mongo._document(r, token) for r in records])
    return token


async def leftovers(backend: MongoBackend) -> tuple[int, int]:
    """(batch documents, pending statements) still in the database."""
    batches = await backend.db["statement_batches"].count_documents({})
    pending = await backend.db["statements"].count_documents({"pending": {"$exists": True}})
    return batches, pending


async def test_mongo_pending_statements_are_invisible(backend: Backend) -> None:
    db = mongo_only(backend)
    await insert(db.statements, record(1))
    await leave_batch(db, [record(2), record(3, voids=1)], state="pending", age_s=0)
    assert await query(db.statements) == [1]
    assert await db.statements.get_statements([sid(2), sid(3)]) == {}
    assert await db.statements.last_stored_us() == T0 + 1000
    assert (await db.statements.get_statements([sid(1)]))[sid(1)].voided is False


async def test_mongo_retry_after_a_crash_before_commit_is_not_blocked(backend: Backend) -> None:
    db = mongo_only(backend)
    await leave_batch(db, [record(1, tag="crashed"), record(2)], state="pending", age_s=3600)
    assert (await insert(db.statements, record(1, tag="retry"), record(2))).stored
    got = await db.statements.get_statements([sid(1)])
    assert orjson.loads(got[sid(1)].raw)["tag"] == "retry"
    assert await query(db.statements) == [2, 1]
    assert await leftovers(db) == (0, 0)


async def test_mongo_orphans_of_an_aborted_batch_do_not_block(backend: Backend) -> None:
    db = mongo_only(backend)
    await leave_batch(db, [record(1)], state="pending", age_s=0, with_batch_document=False)
    assert (await insert(db.statements, record(1, tag="retry"))).stored
    assert await leftovers(db) == (0, 0)


async def test_mongo_a_live_batch_makes_a_retry_wait_then_give_up(backend: Backend) -> None:
    db = mongo_only(backend)
    db.statements.wait_s = 0.05
    await leave_batch(db, [record(1)], state="pending", age_s=0)
    with pytest.raises(StoreUnavailable):
        await insert(db.statements, record(1, tag="retry"), record(2))
    assert await db.statements.get_statements([sid(2)]) == {}
    assert await leftovers(db) == (1, 1)  # the live batch is left alone


async def test_mongo_a_retry_waits_for_a_live_batch_that_commits(backend: Backend) -> None:
    db = mongo_only(backend)
    token = await leave_batch(db, [record(1, tag="first")], state="pending", age_s=0)

    async def finish() -> None:
        await asyncio.sleep(0.05)
        await db.db["statement_batches"].update_one(
            {"_id": token}, {"$set": {"state": "committed"}}
        )

    outcome, _ = await asyncio.gather(insert(db.statements, record(1, tag="retry")), finish())
    assert outcome.stored is False
    assert orjson.loads(outcome.existing[sid(1)].raw)["tag"] == "first"


async def test_mongo_a_committed_batch_is_rolled_forward_by_a_retry(backend: Backend) -> None:
    db = mongo_only(backend)
    await insert(db.statements, record(1))
    await leave_batch(
        db, [record(2, tag="first"), record(3, voids=1)], state="committed", age_s=3600
    )
    outcome = await insert(db.statements, record(2, tag="retry"), record(3, voids=1))
    assert outcome.stored is False
    assert orjson.loads(outcome.existing[sid(2)].raw)["tag"] == "first"
    assert await query(db.statements) == [3, 2]
    assert (await db.statements.get_statements([sid(1)]))[sid(1)].voided is True
    assert await leftovers(db) == (0, 0)


async def test_mongo_open_recovers_every_kind_of_leftover(backend: Backend) -> None:
    db = mongo_only(backend)
    await insert(db.statements, record(1), record(2))
    await leave_batch(db, [record(3), record(4, voids=1)], state="committed", age_s=0)
    await leave_batch(db, [record(5, voids=2)], state="pending", age_s=3600)
    await leave_batch(db, [record(6)], state="aborted", age_s=0)
    await leave_batch(db, [record(7)], state="pending", age_s=0, with_batch_document=False)
    live = await leave_batch(db, [record(8)], state="pending", age_s=0)

    reopened = await MongoBackend.open("unused", db.db.name, client=db.db.client)
    try:
        assert await query(reopened.statements) == [4, 3, 2]
        got = await reopened.statements.get_statements([sid(n) for n in range(1, 9)])
        assert set(got) == {sid(n) for n in (1, 2, 3, 4)}
        assert got[sid(1)].voided and not got[sid(2)].voided
        batches = await db.db["statement_batches"].distinct("_id")
        assert batches == [live]  # a batch still being written is left to its writer
        assert await leftovers(db) == (1, 1)
    finally:
        await reopened.close()


async def test_mongo_target_of_a_pending_voiding_statement_stays_live(backend: Backend) -> None:
    db = mongo_only(backend)
    await leave_batch(db, [record(1, voids=2)], state="pending", age_s=0)
    await insert(db.statements, record(2))
    assert (await db.statements.get_statements([sid(2)]))[sid(2)].voided is False


async def test_mongo_target_of_a_committed_voiding_statement_is_stored_voided(
    backend: Backend,
) -> None:
    db = mongo_only(backend)
    await leave_batch(db, [record(1, voids=2)], state="committed", age_s=0)
    await insert(db.statements, record(2))
    assert (await db.statements.get_statements([sid(2)]))[sid(2)].voided is True


async def test_mongo_statements_keep_dotted_and_dollar_keys_opaque(backend: Backend) -> None:
    db = mongo_only(backend)
    rec = record(1, activities=("http://a.example/x.y?$z=1",))
    await insert(db.statements, rec)
    doc = await db.db["statements"].find_one({"_id": rec.id})
    assert bytes(doc["raw"]) == rec.raw
    assert doc["idx"] == {"activities": ["http://a.example/x.y?$z=1"]}
    assert await query(db.statements, activity="http://a.example/x.y?$z=1") == [1]


async def test_mongo_repeated_id_in_one_batch_is_a_caller_error(backend: Backend) -> None:
    db = mongo_only(backend)
    with pytest.raises(ValueError):
        await insert(db.statements, record(1), record(1))


async def test_mongo_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        await MongoBackend.open(
            "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200&connectTimeoutMS=200", "lrs"
        )


async def test_mongo_a_batch_losing_the_race_for_an_id_leaves_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = mongo_only(backend)
    store = db.statements
    await insert(store, record(2, tag="winner"))
    settled = store._settled
    looks: list[object] = []

    async def blind_once(ids: list[str]) -> tuple[dict, bool]:
        looks.append(ids)
        # the first look misses the id, as when another request takes it just after
        return ({}, False) if len(looks) == 1 else await settled(ids)

    monkeypatch.setattr(store, "_settled", blind_once)
    outcome = await insert(store, record(1), record(2, tag="loser"), record(3))
    assert outcome.stored is False
    assert orjson.loads(outcome.existing[sid(2)].raw)["tag"] == "winner"
    assert await store.get_statements([sid(1), sid(3)]) == {}
    assert await leftovers(db) == (0, 0)


async def test_mongo_a_writer_found_dead_cannot_commit(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = mongo_only(backend)
    store = db.statements
    # another request, for which the batch looks dead
    other = mongo.MongoStatementStore(db.db, db.activities)
    other.pending_timeout_s = 0
    docs = store._docs

    class StallAfterInsert:
        def __getattr__(self, name: str) -> object:
            return getattr(docs, name)

        async def insert_many(self, batch: list[dict], **options: object) -> object:
            result = await docs.insert_many(batch, **options)
            assert await other._resolve(batch[0]["pending"]) is False  # aborted
            return result

    monkeypatch.setattr(store, "_docs", StallAfterInsert())
    with pytest.raises(StoreUnavailable):
        await insert(store, record(1), record(2))
    monkeypatch.undo()
    assert await store.get_statements([sid(1), sid(2)]) == {}
    assert await leftovers(db) == (0, 0)
    assert (await insert(store, record(1), record(2))).stored


# --- export (every statement, voided or not, for migration) -----------------------------------


async def every_export_page(store: StatementStore, limit: int, **window: int) -> list[list[int]]:
    pages: list[list[int]] = []
    after = None
    while True:
        page = await store.export_statements(after, limit, **window)
        pages.append(numbers(page.statements))
        if page.next_position is None:
            return pages
        after = page.next_position


async def test_export_includes_voided_and_voiding_statements(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1), record(2), record(3, voids=1))
    page = await store.export_statements(None, 10)
    assert numbers(page.statements) == [1, 2, 3]
    assert page.next_position is None
    assert await query(store, ascending=True) == [2, 3]


async def test_export_returns_the_exact_bytes(backend: Backend) -> None:
    first = record(1)
    await insert(backend.statements, first)
    page = await backend.statements.export_statements(None, 10)
    assert page.statements == [first.raw]


async def test_export_is_in_stored_order_not_arrival_order(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(3))
    await insert(store, record(1), record(2, stored=5000))  # 2 stored after 3
    assert await every_export_page(store, 10) == [[1, 3, 2]]


async def test_export_pages_through_equal_stored_times(backend: Backend) -> None:
    store = backend.statements
    await insert(store, *[record(n, stored=0) for n in range(1, 8)], record(8, voids=1))
    pages = await every_export_page(store, 3)
    assert [len(p) for p in pages] == [3, 3, 2]
    flat = [n for p in pages for n in p]
    assert sorted(flat) == list(range(1, 9))
    assert flat[:7] == [n for n in flat if n != 8]  # all at T0 first, then 8 at T0 + 8 ms
    assert pages == await every_export_page(store, 3)  # the same order every time


async def test_export_window_since_exclusive_until_inclusive(backend: Backend) -> None:
    store = backend.statements
    await insert(store, *[record(n) for n in range(1, 6)], record(6, voids=2))
    window = {"since_us": T0 + 2000, "until_us": T0 + 6000}
    assert await every_export_page(store, 2, **window) == [[3, 4], [5, 6]]
    assert await every_export_page(store, 10, until_us=T0 + 1000) == [[1]]


async def test_export_of_an_empty_store(backend: Backend) -> None:
    page = await backend.statements.export_statements(None, 5)
    assert page.statements == [] and page.next_position is None


async def test_mongo_export_skips_pending_statements(backend: Backend) -> None:
    db = mongo_only(backend)
    await leave_batch(db, [record(1)], state="pending", age_s=0)
    await insert(db.statements, record(2))
    assert numbers((await db.statements.export_statements(None, 10)).statements) == [2]


# --- awaiting projection (the marketplace projection's work list) -----------------------------


async def awaiting(store: StatementStore, limit: int = 100) -> list[list[int]]:
    """Every page of statements awaiting projection, as statement numbers."""
    pages: list[list[int]] = []
    after = None
    while True:
        page = await store.awaiting_projection(limit, after)
        pages.append(numbers([s.raw for s in page.statements]))
        if page.next_position is None:
            return pages
        after = page.next_position


async def test_every_stored_statement_awaits_projection(backend: Backend) -> None:
    store = backend.statements
    assert await store.count_awaiting_projection() == 0
    assert await awaiting(store) == [[]]
    await insert(store, record(1), record(2))
    await insert(store, record(3, voids=1))
    assert await awaiting(store) == [[1, 2, 3]]
    assert await store.count_awaiting_projection() == 3
    page = await store.awaiting_projection(10)
    by_id = {s.id: s for s in page.statements}
    assert by_id[sid(1)].voided is True  # voided ones are listed, with their state
    assert by_id[sid(3)].voids == sid(1)
    assert by_id[sid(2)].raw == record(2).raw


async def test_marking_projected_removes_from_the_list_and_is_repeatable(
    backend: Backend,
) -> None:
    store = backend.statements
    await insert(store, record(1), record(2), record(3))
    await store.mark_projected([sid(2)])
    await store.mark_projected([sid(2), sid(99)])
    await store.mark_projected([])
    assert await awaiting(store) == [[1, 3]]
    assert await store.count_awaiting_projection() == 2
    assert await query(store) == [3, 2, 1]  # marks do not touch the statements


async def test_awaiting_pages_cover_everything_once(backend: Backend) -> None:
    store = backend.statements
    await insert(store, *[record(n) for n in range(1, 8)])
    pages = await awaiting(store, limit=3)
    assert [n for page in pages for n in page] == [1, 2, 3, 4, 5, 6, 7]
    assert all(len(page) <= 3 for page in pages)


async def test_a_rejected_batch_leaves_nothing_awaiting(backend: Backend) -> None:
    store = backend.statements
    await insert(store, record(1))
    assert not (await insert(store, record(2), record(1, tag="again"))).stored
    assert await awaiting(store) == [[1]]


async def test_mongo_pending_statements_do_not_await_until_committed(backend: Backend) -> None:
    db = mongo_only(backend)
    token = await leave_batch(db, [record(1)], state="pending", age_s=0)
    await insert(db.statements, record(2))
    assert await awaiting(db.statements) == [[2]]
    assert await db.statements.count_awaiting_projection() == 1
    batch = await db.db["statement_batches"].find_one({"_id": token})
    await db.db["statement_batches"].update_one({"_id": token}, {"$set": {"state": "committed"}})
    await db.statements._roll_forward({**batch, "state": "committed"})
    assert await awaiting(db.statements) == [[1, 2]]


def keep_latest(current: dict | None, new: dict) -> dict:
    return {**(current or {}), **new}


async def test_stored_statements_bring_their_activity_definitions(backend: Backend) -> None:
    store = backend.statements
    first = DefinitionUpdate.of({"http://a/1": {"name": {"en": "One"}}}, keep_latest)
    assert (await store.insert_statements([record(1)], first)).stored
    # a definition already held, and a new one
    again = DefinitionUpdate.of(
        {"http://a/1": {"name": {"en": "One"}}, "http://a/2": {"type": "http://t"}}, keep_latest
    )
    assert (await store.insert_statements([record(2)], again)).stored
    changed = DefinitionUpdate.of({"http://a/1": {"description": {"en": "d"}}}, keep_latest)
    assert (await store.insert_statements([record(3)], changed)).stored
    assert await backend.activities.get_activities(["http://a/1", "http://a/2"]) == {
        "http://a/1": {"name": {"en": "One"}, "description": {"en": "d"}},
        "http://a/2": {"type": "http://t"},
    }


async def test_refused_statements_define_nothing(backend: Backend) -> None:
    store = backend.statements
    assert (await store.insert_statements([record(1)])).stored
    update = DefinitionUpdate.of({"http://a/refused": {"name": {"en": "No"}}}, keep_latest)
    outcome = await store.insert_statements([record(2), record(1)], update)
    assert not outcome.stored and list(outcome.existing) == [sid(1)]
    assert await backend.activities.get_activities(["http://a/refused"]) == {}
    assert await store.get_statements([sid(2)]) == {}
