"""Extending a record by facts that only add to it (projections.increment) equals folding all
of the pair's facts: a property over random fact sequences, the cases it must refuse, and the
worker taking that path (and only that read) for a batch that only adds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.aggregates import fold_for_member
from projections.facts import Projector
from projections.increment import Growth, extend
from projections.store import ProjectionStores
from projections.store.base import Fact, Member
from tests.projections.conftest import COURSE, Writer, at, statement, voiding

PAIR = ("E1", "course-1")
VERSION = "1"

_times = st.sampled_from([f"2024-03-01T00:00:0{n}.000000Z" for n in range(8)])
_score = st.fixed_dictionaries(
    {"value": st.sampled_from([0.2, 0.5, 0.5, 0.9]), "raw": st.integers(0, 3)}
)
_data = st.fixed_dictionaries(
    {"last_activity_at": _times, "verb_id": st.sampled_from(["v:attempted", "v:passed", "v:x"])},
    optional={
        "learning_completed": st.just(True),
        "completed_at": _times,
        "success": st.sampled_from(["passed", "failed"]),
        "score": _score,
        "enrollment_state": st.sampled_from(["active", "dropped"]),
        "certificate_ref": st.sampled_from(["cert-a", "cert-b"]),
        "email": st.sampled_from(["a@example.com", "b@example.com"]),
        "badge_awarded.badge_id": st.sampled_from(["b1", "b2"]),
        "badge_awarded.issued_at": _times,
    },
)
_members = st.one_of(
    st.none(),
    st.builds(
        Member,
        member_id=st.just("E1"),
        emails=st.sampled_from([(), ("m@example.com",), ("n@example.com",)]),
        employment_status=st.sampled_from(["active", "terminated"]),
    ),
)


def _facts(datas: list[dict[str, Any]], voided: list[bool]) -> list[Fact]:
    return [
        Fact(f"s{n:03d}", "mbox:x", PAIR[0], PAIR[1], n, voided=v, data=d)
        for n, (d, v) in enumerate(zip(datas, voided, strict=False))
    ]


@settings(max_examples=400, deadline=None)
@given(
    datas=st.lists(_data, min_size=1, max_size=12),
    voided=st.lists(st.booleans(), min_size=12, max_size=12),
    cut=st.integers(0, 12),
    before=_members,
    after=_members,
)
def test_extending_equals_folding_all_or_refuses(
    datas: list[dict[str, Any]], voided: list[bool], cut: int, before: Any, after: Any
) -> None:
    facts = _facts(datas, [v and n % 3 == 0 for n, v in enumerate(voided)])
    old, new = facts[:cut], facts[cut:]
    record = fold_for_member(*PAIR, old, before, VERSION)
    extended = extend(PAIR, record, new, after, VERSION)
    if extended is not None:
        assert extended == fold_for_member(*PAIR, facts, after, VERSION)


@settings(max_examples=200, deadline=None)
@given(datas=st.lists(_data, min_size=2, max_size=12), cut=st.integers(1, 11), member=_members)
def test_later_counted_facts_are_always_extended(
    datas: list[dict[str, Any]], cut: int, member: Any
) -> None:
    """Facts strictly later than all the record counts, under a member with an address (or
    facts that all carry one): never refused, so the property above is not vacuous."""
    for n, data in enumerate(datas):
        data["last_activity_at"] = f"2024-03-01T00:00:{n:02d}.000000Z"
        data.setdefault("email", "f@example.com")
    facts = _facts(datas, [False] * len(datas))
    old, new = facts[: min(cut, len(facts) - 1)], facts[min(cut, len(facts) - 1) :]
    record = fold_for_member(*PAIR, old, member, VERSION)
    extended = extend(PAIR, record, new, member, VERSION)
    assert extended is not None
    assert extended == fold_for_member(*PAIR, facts, member, VERSION)


def _two() -> tuple[dict[str, Any], list[Fact]]:
    facts = _facts(
        [
            {"last_activity_at": "2024-03-01T00:00:01.000000Z", "score": {"value": 0.5}},
            {"last_activity_at": "2024-03-01T00:00:02.000000Z", "success": "passed"},
        ],
        [False, False],
    )
    record = fold_for_member(*PAIR, facts[:1], None, VERSION)
    assert record is not None
    return record, facts


def test_what_cannot_be_shown_equal_is_refused() -> None:
    record, facts = _two()
    later = facts[1]
    assert extend(PAIR, record, [later], None, VERSION) is not None
    assert extend(PAIR, None, [later], None, VERSION) is None  # no record: rebuild
    assert extend(PAIR, record, [later], None, "2") is None  # another mapping version
    voided = Fact(**{**later.__dict__, "voided": True})
    assert extend(PAIR, record, [voided], None, VERSION) is None
    again = Fact(**{**later.__dict__, "statement_id": facts[0].statement_id})
    assert extend(PAIR, record, [again], None, VERSION) is None  # already counted
    same_time = Fact(
        **{**later.__dict__, "data": {**later.data, "last_activity_at": record["last_activity_at"]}}
    )
    assert extend(PAIR, record, [same_time], None, VERSION) is None  # not strictly later
    elsewhere = Fact(**{**later.__dict__, "activity_id": "course-2"})
    assert extend(PAIR, record, [elsewhere], None, VERSION) is None
    # A record the rules could not have made (completed without a completing statement).
    edited = {**record, "learning_completed": True}
    assert extend(PAIR, edited, [later], None, VERSION) is None


def test_growth_keeps_only_pairs_that_only_gained_facts() -> None:
    _record, facts = _two()
    first, second = facts
    moved = Fact(**{**second.__dict__, "activity_id": "course-2"})
    growth = Growth()
    growth.note([first], {}, [])
    other = Growth()
    other.note([moved], {moved.statement_id: second}, [])
    growth.merge(other)
    assert growth.added_to(PAIR) == []  # `second` left PAIR: mixed
    assert growth.added_to(("E1", "course-2")) == []
    clean = Growth()
    clean.note([first, second], {}, [])
    assert clean.added_to(PAIR) == [first.statement_id, second.statement_id]
    clean.note([], {}, [second])
    assert clean.added_to(PAIR) == []


async def test_a_batch_that_only_adds_extends_the_record_without_reading_all_facts(
    stores: ProjectionStores, make_worker, writer: Writer, projector: Projector
) -> None:
    """Through the worker: a later batch of new statements extends the stored record (no
    read of the pair's facts); a void in a batch makes it rebuild; the record always equals
    a fold of all its facts."""
    from dataclasses import replace as with_

    real = stores.facts
    rebuilt: list[list[tuple[str, str]]] = []

    class Spy:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        async def facts_for_pairs(self, pairs):  # type: ignore[no-untyped-def]
            rebuilt.append(list(pairs))
            return await real.facts_for_pairs(pairs)

    def worker():  # type: ignore[no-untyped-def]
        made = make_worker()
        made._stores = with_(stores, facts=Spy())  # type: ignore[arg-type]
        return made

    async def folded() -> dict[str, Any] | None:
        facts = (await real.facts_for_pairs([("E1", COURSE)])).get(("E1", COURSE), [])
        member = (await stores.identities.get_members(["E1"])).get("E1")
        return fold_for_member("E1", COURSE, facts, member, projector.mapping.version)

    await writer.store(statement("attempted", timestamp=at(1)))
    assert await worker().drain() == 1
    assert rebuilt == [[("E1", COURSE)]]  # no record yet: built from its facts
    [passed] = await writer.store(
        statement("passed", timestamp=at(2), result={"score": {"raw": 70}})
    )
    await writer.store(statement("completed", timestamp=at(3)))
    assert await worker().drain() == 2
    assert rebuilt == [[("E1", COURSE)]]  # extended: no further read of its facts
    stored = await stores.aggregates.get_record("E1", COURSE)
    assert stored is not None and stored.record == await folded()
    assert stored.record["success"] == "passed" and stored.record["score"]["raw"] == 70
    await writer.store(voiding(passed))
    assert await worker().drain() == 1
    assert rebuilt[-1] == [("E1", COURSE)]  # a void: rebuilt from all its facts
    stored = await stores.aggregates.get_record("E1", COURSE)
    assert stored is not None and stored.record == await folded()
    assert stored.record["success"] is None
