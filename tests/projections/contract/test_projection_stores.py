"""FactStore, WorkStore, AggregateStore and IdentityStore contracts, on every backend."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from projections.store import ProjectionStores
from projections.store.base import (
    AggregateStore,
    Claim,
    Conflict,
    Fact,
    FactStore,
    IdentityStore,
    Member,
    OutboxEvent,
    RecordSave,
    WorkStore,
)


def fact(n: int, member: str | None = "E1", activity: str | None = "A", **kw: object) -> Fact:
    options = {"actor_key": f"email:u{n}@x.com", "stored_us": n, "data": {"n": n, "k.$": [1]}}
    options.update(kw)
    return Fact(f"s{n:03d}", member_id=member, activity_id=activity, **options)  # type: ignore[arg-type]


def event(n: int, member: str = "E1", activity: str = "A") -> OutboxEvent:
    return OutboxEvent(f"evt_{n}", "learning.updated", member, activity, n, orjson.dumps({"n": n}))


def test_stores_satisfy_the_protocols(stores: ProjectionStores) -> None:
    assert isinstance(stores.facts, FactStore)
    assert isinstance(stores.work, WorkStore)
    assert isinstance(stores.aggregates, AggregateStore)
    assert isinstance(stores.identities, IdentityStore)


# --- facts ------------------------------------------------------------------------------------


async def test_facts_round_trip_and_replace(stores: ProjectionStores) -> None:
    await stores.facts.put_facts([fact(1), fact(2, member=None)])
    got = await stores.facts.get_facts(["s001", "s002", "s999"])
    assert got == {"s001": fact(1), "s002": fact(2, member=None)}
    await stores.facts.put_facts([fact(1, member="E2", activity="B")])
    assert (await stores.facts.get_facts(["s001"]))["s001"].pair == ("E2", "B")
    await stores.facts.put_facts([])
    assert await stores.facts.get_facts([]) == {}


async def test_replacing_facts_gives_them_as_they_were(stores: ProjectionStores) -> None:
    await stores.facts.put_facts([fact(1), fact(2, voided=True)])
    before, voided = await stores.facts.replace_facts(
        [fact(1, activity="B"), fact(2, activity="B"), fact(3)], ["s001", "s009"]
    )
    assert before == {"s001": fact(1), "s002": fact(2, voided=True)}  # s003 was not there
    assert sorted(f.statement_id for f in voided) == ["s001", "s009"]
    got = await stores.facts.get_facts(["s001", "s002", "s003", "s009"])
    assert got["s001"] == fact(1, activity="B", voided=True)
    assert got["s002"] == fact(2, activity="B", voided=True)  # voided stays set
    assert got["s003"] == fact(3) and got["s009"].activity_id is None  # a tombstone
    assert await stores.facts.replace_facts([]) == ({}, [])


async def pair_facts(stores: ProjectionStores, member_id: str, activity_id: str) -> list[Fact]:
    """One pair's non-voided facts, through the batch read the worker uses."""
    pair = (member_id, activity_id)
    return (await stores.facts.facts_for_pairs([pair])).get(pair, [])


async def test_facts_by_pair_actor_and_unmatched(stores: ProjectionStores) -> None:
    await stores.facts.put_facts(
        [fact(1), fact(2), fact(3, activity="B"), fact(4, member=None), fact(5, member=None)]
    )
    assert [f.statement_id for f in await pair_facts(stores, "E1", "A")] == [
        "s001",
        "s002",
    ]
    assert await pair_facts(stores, "E1", "Z") == []
    by_actor = await stores.facts.facts_for_actors(["email:u3@x.com", "email:u4@x.com"])
    assert [f.statement_id for f in by_actor] == ["s003", "s004"]
    assert [f.statement_id for f in await stores.facts.unmatched_facts(10)] == ["s004", "s005"]
    assert [f.statement_id for f in await stores.facts.unmatched_facts(1, "s004")] == ["s005"]
    assert await stores.facts.count_unmatched() == 2


async def test_facts_for_many_pairs(stores: ProjectionStores) -> None:
    await stores.facts.put_facts(
        [fact(3), fact(1), fact(2, activity="B"), fact(4, member="E2"), fact(5, member=None)]
    )
    await stores.facts.void_facts(["s003"])
    got = await stores.facts.facts_for_pairs([("E1", "A"), ("E1", "B"), ("E1", "A"), ("E9", "A")])
    assert {p: [f.statement_id for f in fs] for p, fs in got.items()} == {
        ("E1", "A"): ["s001"],
        ("E1", "B"): ["s002"],
    }
    assert got[("E1", "A")] == [fact(1)]
    assert await stores.facts.facts_for_pairs([]) == {}
    many = [(f"E{n}", "A") for n in range(1200)]  # more pairs than one query takes
    await stores.facts.put_facts([fact(10 + n, member=m) for n, (m, _a) in enumerate(many)])
    assert len(await stores.facts.facts_for_pairs(many)) == 1200


async def test_counted_facts_and_pairs_page_in_order(stores: ProjectionStores) -> None:
    await stores.facts.put_facts(
        [fact(1, activity="B"), fact(2), fact(3), fact(4, member=None), fact(5, member="E0")]
    )
    await stores.facts.void_facts(["s003", "s006"])  # s006: a tombstone
    assert [f.statement_id for f in await stores.facts.counted_facts(10)] == [
        "s001",
        "s002",
        "s005",
    ]
    assert [f.statement_id for f in await stores.facts.counted_facts(1, "s001")] == ["s002"]
    assert await stores.facts.counted_pairs(10) == [("E0", "A"), ("E1", "A"), ("E1", "B")]
    assert await stores.facts.counted_pairs(1, ("E0", "A")) == [("E1", "A")]
    assert await stores.facts.counted_pairs(5, ("E1", "B")) == []
    # a pair with more facts than the page: every pair still comes once
    await stores.facts.put_facts([fact(20 + n, member="E1", activity="A") for n in range(7)])
    assert await stores.facts.counted_pairs(2) == [("E0", "A"), ("E1", "A")]
    assert await stores.facts.counted_pairs(2, ("E0", "A")) == [("E1", "A"), ("E1", "B")]


async def test_voiding_facts_is_monotonic_and_leaves_tombstones(stores: ProjectionStores) -> None:
    await stores.facts.put_facts([fact(1), fact(2, member=None)])
    voided = await stores.facts.void_facts(["s001", "s002", "s003"])
    assert {f.statement_id: f.voided for f in voided} == {"s001": True, "s002": True, "s003": True}
    tombstone = next(f for f in voided if f.statement_id == "s003")
    assert tombstone.pair is None and tombstone.activity_id is None
    # the target's fact arrives after its voiding statement: it stays voided
    await stores.facts.put_facts([fact(3), fact(1)])
    got = await stores.facts.get_facts(["s001", "s003"])
    assert got["s003"].voided and got["s003"].pair == ("E1", "A") and got["s001"].voided
    assert await pair_facts(stores, "E1", "A") == []
    assert await stores.facts.count_unmatched() == 0
    assert await stores.facts.facts_for_actors(["email:u1@x.com"]) == []


async def test_facts_put_with_the_statements_they_void(stores: ProjectionStores) -> None:
    """A slice's facts and its voiding statements' targets in one call: the facts are written
    first (a target in the same slice is then voided), and the voided facts come back."""
    voided = await stores.facts.put_facts([fact(1)], ["s001", "s004"])
    assert sorted((f.statement_id, f.voided) for f in voided) == [("s001", True), ("s004", True)]
    await stores.facts.put_facts([fact(2)])
    voided = await stores.facts.put_facts([fact(3)], ["s002", "s002"])
    assert [(f.statement_id, f.voided, f.pair) for f in voided] == [("s002", True, ("E1", "A"))]
    got = await stores.facts.get_facts(["s001", "s002", "s003", "s004"])
    assert {sid: f.voided for sid, f in got.items()} == {
        "s001": True,
        "s002": True,
        "s003": False,
        "s004": True,
    }
    assert got["s004"].pair is None  # a tombstone
    assert [f.statement_id for f in await pair_facts(stores, "E1", "A")] == ["s003"]
    assert await stores.facts.put_facts([], []) == []
    assert await stores.facts.put_facts([fact(5)]) == []


async def test_deleting_facts(stores: ProjectionStores) -> None:
    await stores.facts.put_facts([fact(1), fact(2)])
    await stores.facts.delete_facts(["s001", "s404"])
    await stores.facts.delete_facts([])
    assert list(await stores.facts.get_facts(["s001", "s002"])) == ["s002"]


# --- work -------------------------------------------------------------------------------------


async def test_claims_are_exclusive_until_they_expire(stores: ProjectionStores) -> None:
    work = stores.work
    assert await work.claim(["a", "b"], "w1", now_us=100, lease_us=50) == {"a", "b"}
    assert await work.claim(["b", "c"], "w2", now_us=120, lease_us=50) == {"c"}
    assert await work.claim(["a"], "w1", now_us=130, lease_us=50) == {"a"}  # renew own
    assert await work.claim(["a", "b"], "w2", now_us=160, lease_us=50) == {"b"}  # b expired
    await work.release(["a", "b"], "w1")  # b is w2's now: untouched
    assert await work.claim(["a", "b"], "w3", now_us=161, lease_us=50) == {"a"}
    assert await work.claim([], "w3", now_us=161, lease_us=50) == set()


async def test_concurrent_claims_never_share_an_id(stores: ProjectionStores) -> None:
    ids = [f"s{n}" for n in range(40)]
    got = await asyncio.gather(
        *(stores.work.claim(ids, f"w{k}", now_us=1, lease_us=10) for k in range(5))
    )
    assert sum(len(g) for g in got) == 40
    assert set().union(*got) == set(ids)


async def test_progress(stores: ProjectionStores) -> None:
    first = await stores.work.progress()
    assert first.last_applied_stored_us is None and first.applied == 0
    await stores.work.note_applied(500, 3)
    await stores.work.note_applied(400, 2)  # an older batch finishing later
    got = await stores.work.progress()
    assert got.last_applied_stored_us == 500 and got.applied == 5


# --- aggregates -------------------------------------------------------------------------------


async def save(stores: ProjectionStores, rev: int, record: dict | None, version: int, **kw):  # type: ignore[no-untyped-def]
    options = {"member_id": "E1", "activity_id": "A", "now_us": 1000 + rev, "event": None}
    options.update(kw)
    member, activity = options.pop("member_id"), options.pop("activity_id")
    return await stores.aggregates.save_record(
        member, activity, expected_rev=rev, record=record, version=version, **options
    )


async def test_records_compare_and_set(stores: ProjectionStores) -> None:
    aggregates = stores.aggregates
    assert await aggregates.get_record("E1", "A") is None
    assert await save(stores, 0, {"v": 1, "a.b": {"$x": 1}}, 1, event=event(1))
    assert not await save(stores, 0, {"v": 9}, 1, event=event(9))  # lost the race
    got = await aggregates.get_record("E1", "A")
    assert got is not None and (got.rev, got.version) == (1, 1)
    assert got.record == {"v": 1, "a.b": {"$x": 1}}
    assert await save(stores, 1, {"v": 2}, 2, event=event(2), now_us=5000)
    assert not await save(stores, 1, {"v": 3}, 3, event=event(3))
    got = await aggregates.get_record("E1", "A")
    assert got is not None and (got.rev, got.version, got.record) == (2, 2, {"v": 2})


async def test_a_quiet_save_replaces_the_content_without_an_event(
    stores: ProjectionStores,
) -> None:
    assert await save(stores, 0, {"v": 1}, 1, event=event(1))
    assert await save(stores, 1, {"v": 1, "mapping": 2}, 1, now_us=7000, quiet=True)
    assert await save(stores, 2, {"v": 9}, 1, now_us=8000)  # neither: only the rev moves
    got = await stores.aggregates.get_record("E1", "A")
    assert got is not None and (got.rev, got.version) == (3, 1)
    assert (got.record, got.updated_us) == ({"v": 1, "mapping": 2}, 7000)
    await stores.aggregates.publish_events()
    assert [e.id for e in await stores.deliveries.unfanned_events(10)] == ["evt_1"]
    assert await stores.aggregates.save_records([saving(2, 3, event=None, quiet=True)]) == {
        ("E1", "A")
    }
    assert (await stores.aggregates.get_record("E1", "A")).record == {"n": 2}  # type: ignore[union-attr]


def saving(n: int, rev: int, member: str = "E1", activity: str = "A", **kw: object) -> RecordSave:
    options: dict = {"record": {"n": n}, "version": 1, "now_us": 100 + n, "event": event(n)}
    options.update(kw)
    return RecordSave(member, activity, expected_rev=rev, **options)


async def test_records_saved_together_each_compare_and_set(stores: ProjectionStores) -> None:
    aggregates = stores.aggregates
    assert await aggregates.save_records([saving(1, 0), saving(2, 0, member="E2")]) == {
        ("E1", "A"),
        ("E2", "A"),
    }
    assert await aggregates.save_records([]) == set()
    saved = await aggregates.save_records(
        [
            saving(3, 1, version=2),  # wins
            saving(4, 0, member="E2"),  # loses: E2/A exists at rev 1
            saving(5, 0, activity="B", record=None, event=None, version=0),  # a bare tombstone
            saving(6, 1, member="E2", activity="C"),  # loses: nothing stored yet
        ]
    )
    assert saved == {("E1", "A"), ("E1", "B")}
    got = await aggregates.get_records([("E1", "A"), ("E2", "A"), ("E1", "B"), ("E2", "C")])
    assert {p: (r.rev, r.version, r.record) for p, r in got.items()} == {
        ("E1", "A"): (2, 2, {"n": 3}),
        ("E2", "A"): (1, 1, {"n": 2}),
        ("E1", "B"): (1, 0, None),
    }
    assert await aggregates.get_records([]) == {}
    await aggregates.publish_events()
    events = await stores.deliveries.unfanned_events(10)
    assert sorted(e.id for e in events) == ["evt_1", "evt_2", "evt_3"]  # losers left none
    # update times of the changed records grow in save order
    page = await aggregates.page_records(limit=10)
    assert [r.record for r in page.records] == [{"n": 2}, {"n": 3}]


async def test_concurrent_batch_saves_of_one_record_let_one_win(
    stores: ProjectionStores,
) -> None:
    await stores.aggregates.save_records([saving(1, 0)])
    got = await asyncio.gather(
        *(
            stores.aggregates.save_records(
                [saving(10 + k, 1, version=2), saving(20 + k, 0, f"W{k}")]
            )
            for k in range(4)
        )
    )
    assert sum(("E1", "A") in g for g in got) == 1
    assert all((f"W{k}", "A") in g for k, g in enumerate(got))
    stored = await stores.aggregates.get_record("E1", "A")
    assert stored is not None and stored.rev == 2


async def test_a_save_without_event_moves_only_the_rev(stores: ProjectionStores) -> None:
    await save(stores, 0, {"v": 1}, 1, event=event(1), now_us=10)
    before = await stores.aggregates.get_record("E1", "A")
    assert await save(stores, 1, {"v": 1}, 1, now_us=999)
    after = await stores.aggregates.get_record("E1", "A")
    assert before is not None and after is not None
    assert after.rev == 2 and after.record == before.record
    assert (after.version, after.updated_us) == (before.version, before.updated_us)


async def test_removed_records_are_tombstones(stores: ProjectionStores) -> None:
    await save(stores, 0, {"v": 1}, 1, event=event(1))
    await save(stores, 1, None, 2, event=event(2))
    got = await stores.aggregates.get_record("E1", "A")
    assert got is not None and got.record is None and got.rev == 2
    assert await stores.aggregates.member_records("E1") == []
    assert (await stores.aggregates.page_records()).records == []
    removed = await stores.aggregates.page_records(include_removed=True)
    assert [r.record for r in removed.records] == [None]


async def test_events_are_saved_with_their_record(stores: ProjectionStores) -> None:
    await save(stores, 0, {"v": 1}, 1, event=event(1))
    await save(stores, 1, {"v": 2}, 2, event=event(2))
    await save(stores, 0, {"v": 1}, 1, event=event(3, member="E2"), member_id="E2")
    await save(stores, 2, {"v": 2}, 2)  # no change, no event
    await stores.aggregates.publish_events()
    await stores.aggregates.publish_events()  # repeatable
    got = await stores.deliveries.unfanned_events(10)
    assert sorted(e.id for e in got) == ["evt_1", "evt_2", "evt_3"]
    assert {e.id: orjson.loads(e.body)["n"] for e in got} == {"evt_1": 1, "evt_2": 2, "evt_3": 3}
    assert [e.id for e in got if e.member_id == "E1"] == ["evt_1", "evt_2"]  # in order


async def test_member_events_are_added_once_each(stores: ProjectionStores) -> None:
    member_event = event(7, member="E9", activity="")
    assert await stores.aggregates.add_events([member_event, event(8, "E9", "")]) == 2
    assert await stores.aggregates.add_events([member_event]) == 0  # its id is there: skipped
    assert await stores.aggregates.add_events([]) == 0
    got = await stores.deliveries.unfanned_events(10)
    assert [(e.id, e.member_id, e.activity_id, e.body) for e in got] == [
        (e.id, "E9", "", e.body) for e in (member_event, event(8, "E9", ""))
    ]


async def test_member_records_and_pages(stores: ProjectionStores) -> None:
    for n, (member, activity) in enumerate([("E1", "B"), ("E1", "A"), ("E2", "A"), ("E1", "C")]):
        await save(stores, 0, {"n": n}, 1, member_id=member, activity_id=activity, now_us=10 + n)
    mine = await stores.aggregates.member_records("E1")
    assert [r.activity_id for r in mine] == ["A", "B", "C"]
    seen, after = [], None
    while True:
        page = await stores.aggregates.page_records(after=after, limit=3)
        seen += [r.record["n"] for r in page.records if r.record]
        if page.next_position is None:
            break
        after = page.next_position
    assert seen == [0, 1, 2, 3]  # update order
    first = await stores.aggregates.page_records(limit=1)
    later = await stores.aggregates.page_records(since_us=first.records[0].updated_us)
    assert [r.record["n"] for r in later.records if r.record] == [1, 2, 3]


async def test_a_bad_page_position_is_refused(stores: ProjectionStores) -> None:
    with pytest.raises(ValueError):
        await stores.aggregates.page_records(after="not a position")


# --- identities -------------------------------------------------------------------------------


async def test_deleting_members_removes_their_claims(stores: ProjectionStores) -> None:
    ids = stores.identities
    await ids.put_members([Member("prov_x", ("x@example.com",)), Member("E1", ())])
    await ids.put_claims([Claim("email:x@example.com", "prov_x"), Claim("email:y@z.org", "E1")])
    before = await ids.identity_version()
    await ids.delete_members(["prov_x"])
    await ids.delete_members([])
    assert list(await ids.get_members(["prov_x", "E1"])) == ["E1"]
    assert await ids.claims_for(["email:x@example.com"]) == {}
    assert await ids.member_for_keys(["email:y@z.org"]) == {"email:y@z.org": "E1"}
    assert await ids.identity_version() > before


async def test_identity_map_members(stores: ProjectionStores) -> None:
    ids = stores.identities
    assert await ids.identity_version() == 0
    ada = Member(
        "E1",
        ("a@x.com", "b@x.com"),
        name="Ada",
        department="R&D",
        manager="E9",
        employment_status="on_leave",
        worker_type="contractor",
        effective_at="2026-01-01T00:00:00.000000Z",
        accounts=(("https://lms.example.com", "u-1"), ("https://moodle.example", "7")),
    )
    await ids.put_members([ada, Member("E2", ("c@x",))])
    version = await ids.identity_version()
    assert version > 0
    assert await ids.get_member("E1") == ada
    assert await ids.get_member("E404") is None
    assert await ids.get_members(["E2", "E404", "E1", "E2"]) == {
        "E1": ada,
        "E2": Member("E2", ("c@x",)),
    }
    assert await ids.get_members([]) == {}
    assert await ids.member_statuses() == {"E1": "on_leave", "E2": "active"}
    await ids.put_members([])
    await ids.put_claims([])
    assert await ids.identity_version() == version  # nothing written, nothing moved


async def test_identity_claims_history_and_conflicts(stores: ProjectionStores) -> None:
    ids = stores.identities
    await ids.put_claims(
        [
            Claim("email:a@x.com", "E1", "2020-01-01"),
            Claim("email:old@x.com", "E1", "2019-01-01", "2020-01-01"),
            Claim("email:c@x.com", "E2"),
            Claim("email:c@x.com", "E3"),
            Claim("account:https://l\nu", "E2"),
        ]
    )
    assert await ids.member_for_keys(
        ["email:a@x.com", "email:old@x.com", "email:c@x.com", "account:https://l\nu", "email:z"]
    ) == {"email:a@x.com": "E1", "email:old@x.com": "E1", "account:https://l\nu": "E2"}
    assert await ids.member_claims(["E1", "E404"]) == {
        "E1": [
            Claim("email:a@x.com", "E1", "2020-01-01"),
            Claim("email:old@x.com", "E1", "2019-01-01", "2020-01-01"),
        ]
    }
    assert list(await ids.claims_for(["email:c@x.com", "email:z"])) == ["email:c@x.com"]
    await ids.put_claims([Claim("email:a@x.com", "E1", "2020-01-01", "2021-01-01")])  # replaced
    assert (await ids.claims_for(["email:a@x.com"]))["email:a@x.com"][0].valid_to == "2021-01-01"
    assert await ids.conflicts() == [Conflict("email:c@x.com", ("E2", "E3"))]

    version = await ids.identity_version()
    assert await ids.resolve("email:c@x.com", "E3", "2026-01-01") == ["E2"]
    assert await ids.identity_version() > version
    assert await ids.conflicts() == []
    assert await ids.member_for_keys(["email:c@x.com"]) == {"email:c@x.com": "E3"}
    assert await ids.resolutions(["email:c@x.com", "email:a@x.com"]) == {"email:c@x.com": "E3"}


async def test_unmatched_counts_per_actor_key(stores: ProjectionStores) -> None:
    await stores.facts.put_facts(
        [
            fact(1, member=None),
            fact(2, member=None, actor_key="email:u1@x.com"),
            fact(3),
            fact(4, member=None, activity=None),
            fact(5, member=None, actor_key="hris:E9"),
        ]
    )
    await stores.facts.void_facts(["s005"])
    assert await stores.facts.unmatched_counts() == {"email:u1@x.com": 2}


async def test_mongo_driver_errors_are_store_unavailable(
    stores: ProjectionStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymongo.errors import AutoReconnect

    from lrs.errors import StoreUnavailable
    from projections.store.mongo import MongoFactStore

    if not isinstance(stores.facts, MongoFactStore):
        pytest.skip("MongoDB driver errors")

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise AutoReconnect("primary stepped down")

    monkeypatch.setattr(stores.facts._docs, "count_documents", unreachable)  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailable):
        await stores.facts.count_unmatched()


async def test_identity_claims_deleted_and_a_merged_member_kept(
    stores: ProjectionStores,
) -> None:
    ids = stores.identities
    await ids.put_claims([Claim("email:a@x.com", "E1"), Claim("email:a@x.com", "E2")])
    await ids.put_claims([Claim("hris:E1", "E2", "2026-01-01")])
    version = await ids.identity_version()
    await ids.delete_claims([("email:a@x.com", "E1"), ("email:none@x.com", "E1")])
    assert await ids.identity_version() > version
    assert await ids.claims_for(["email:a@x.com", "hris:E1"]) == {
        "email:a@x.com": [Claim("email:a@x.com", "E2")],
        "hris:E1": [Claim("hris:E1", "E2", "2026-01-01")],
    }
    version = await ids.identity_version()
    await ids.delete_claims([])
    assert await ids.identity_version() == version
    await ids.put_members([Member("E1", ("a@x.com",), merged_into="E2")])
    assert (await ids.get_member("E1")) == Member("E1", ("a@x.com",), merged_into="E2")
