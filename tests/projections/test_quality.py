"""The score rule, the mapping's scope and the data-quality queue, through the worker."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from lrs.store.base import Backend
from projections.reconcile import Reconciler
from projections.store import ProjectionStores
from projections.store.quality import DISMISSED, OPEN, RESOLVED
from projections.store.sqlite_quality import OPEN_ITEMS_OF_STATEMENTS, QUALITY_SCHEMA
from projections.worker import ProjectionWorker
from tests.projections.conftest import (
    COURSE,
    HRIS,
    Writer,
    at,
    claim,
    hris_actor,
    mbox_actor,
    statement,
)

# Statements shaped as Open edX (event-routing-backends) sends them.
EDX = "https://courses.example.edu"
COURSE_ID = f"{EDX}/course/course-v1:Org+CS101+2024"
TYPE = "http://adlnet.gov/expapi/activities/"


def edx(verb: str, object_id: str, activity_type: str, **extra: Any) -> dict[str, Any]:
    """An Open edX statement: typed activity, a course context."""
    return {
        "actor": hris_actor("E1"),
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": object_id,
            "definition": {"type": activity_type, "name": {"en-US": object_id[-12:]}},
        },
        "context": {"contextActivities": {"parent": [{"id": COURSE_ID, "objectType": "Activity"}]}},
        "timestamp": at(),
        **extra,
    }


def edx_learner_day() -> list[dict[str, Any]]:
    """A learner's day on Open edX: enrolment, forum, navigation, views, a graded problem set."""
    block = f"{EDX}/xblock/block-v1:Org+CS101+2024+type@"
    discussion = "http://id.tincanapi.com/activitytype/discussion"
    resource = "http://id.tincanapi.com/activitytype/resource"
    return [
        edx("http://adlnet.gov/expapi/verbs/registered", COURSE_ID, TYPE + "course"),
        edx("https://w3id.org/xapi/acrossx/verbs/posted", f"{EDX}/forum/thread-1", discussion),
        edx("https://w3id.org/xapi/acrossx/verbs/posted", f"{EDX}/forum/thread-2", discussion),
        edx("https://w3id.org/xapi/dod-isd/verbs/navigated", block + "sequential+1", resource),
        edx("https://w3id.org/xapi/dod-isd/verbs/navigated", block + "sequential+2", resource),
        edx("http://id.tincanapi.com/verb/viewed", block + "html+intro", resource),
        edx(
            "https://w3id.org/xapi/acrossx/verbs/evaluated",
            block + "problem+q1",
            "http://adlnet.gov/expapi/activities/cmi.interaction",
            result={"score": {"raw": 1, "min": 0, "max": 1, "scaled": 1}, "success": True},
        ),
        edx(
            "http://adlnet.gov/expapi/verbs/passed",
            COURSE_ID,
            TYPE + "course",
            result={"score": {"scaled": 0.85}, "success": True, "completion": True},
        ),
    ]


async def records(stores: ProjectionStores, member: str = "E1") -> dict[str, dict]:
    return {
        r.activity_id: r.record
        for r in await stores.aggregates.member_records(member)
        if r.record is not None
    }


async def open_items(stores: ProjectionStores) -> dict[str, Any]:
    return {i.item_id: i for i in await stores.quality.list_items(OPEN)}


async def test_a_score_with_max_and_no_min_counts_from_zero(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await writer.store(statement("scored", result={"score": {"raw": 8, "max": 10}}))
    await worker.drain()
    got = (await records(stores))[COURSE]
    assert got["score"]["value"] == 80.0 and got["score"]["max"] == 10
    assert await open_items(stores) == {}


async def test_a_score_without_usable_scale_is_queued_not_dropped_silently(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    (sid,) = await writer.store(statement("scored", result={"score": {"raw": -2, "max": 10}}))
    await worker.drain()
    assert (await records(stores))[COURSE]["score"] is None
    items = await open_items(stores)
    assert list(items) == [f"score_without_scale:{sid}"]
    issue = items[f"score_without_scale:{sid}"].issue
    assert (issue.field, issue.value, issue.member_id, issue.activity_id) == (
        "score",
        {"raw": -2, "max": 10},
        "E1",
        COURSE,
    )


async def test_a_bad_certificate_url_is_queued(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    cert = "urn:lrs-marketplace:extension:certificate"
    (sid,) = await writer.store(
        statement("completed", result={"extensions": {cert: "ftp://certs/1.pdf"}})
    )
    await worker.drain()
    assert (await records(stores))[COURSE]["certificate_ref"] is None
    item = (await open_items(stores))[f"invalid_certificate_url:{sid}"]
    assert (item.issue.field, item.issue.value) == ("certificate_ref", "ftp://certs/1.pdf")


async def test_an_unenrolment_verb_the_table_does_not_know_is_queued(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    """Open edX unenrols with `http://id.tincanapi.com/verb/unregistered`, a verb the default
    table does not list: the learner would stay `active` silently."""
    unregistered = "http://id.tincanapi.com/verb/unregistered"
    await writer.store(edx("http://adlnet.gov/expapi/verbs/registered", COURSE_ID, TYPE + "course"))
    (sid,) = await writer.store(edx(unregistered, COURSE_ID, TYPE + "course"))
    (viewed,) = await writer.store(
        edx("http://id.tincanapi.com/verb/viewed", COURSE_ID, TYPE + "course")
    )
    await worker.drain()
    assert (await records(stores))[COURSE_ID]["enrollment_state"] == "active"
    items = await open_items(stores)
    assert list(items) == [f"unknown_enrollment_state:{sid}"]  # not the view
    issue = items[f"unknown_enrollment_state:{sid}"].issue
    assert (issue.field, issue.value, issue.member_id) == ("enrollment_state", unregistered, "E1")
    assert viewed not in str(items)


async def test_open_edx_navigation_forum_and_views_make_no_records(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    ids = await writer.store(*edx_learner_day())
    await worker.drain()
    assert list(await records(stores)) == [COURSE_ID]  # not 6 more for threads and pages
    course = (await records(stores))[COURSE_ID]
    assert course["learning_completed"] is True and course["score"]["value"] == 85.0
    # the out-of-scope problem carries a score: the operator sees it, nothing else does
    items = await open_items(stores)
    assert list(items) == [f"out_of_scope_with_result:{ids[6]}"]
    problem = items[f"out_of_scope_with_result:{ids[6]}"].issue
    assert problem.value["score"]["raw"] == 1 and problem.member_id == "E1"
    await stores.aggregates.publish_events()
    events = await stores.deliveries.unfanned_events(100)
    assert {e.activity_id for e in events} == {COURSE_ID}
    assert await backend.statements.count_awaiting_projection() == 0  # all kept in the LRS
    stored = await backend.statements.get_statements(ids)
    assert len(stored) == 8


async def test_widening_the_scope_reprojects_without_drift_and_resolves_the_queue(
    backend: Backend,
    stores: ProjectionStores,
    worker: ProjectionWorker,
    writer: Writer,
    tmp_path: Any,
) -> None:
    from projections.facts import Projector
    from tests.projections.conftest import projection_settings

    ids = await writer.store(*edx_learner_day())
    await worker.drain()
    text = projection_settings().mapping_path.read_text()
    wider = text.replace("# version: 2", "# version: 3") + (
        "scope,object.definition.type,include,pattern,"
        "http://adlnet.gov/expapi/activities/cmi.interaction,,problems,,\n"
    )
    path = tmp_path / "mapping.csv"
    path.write_text(wider)
    new = Projector.from_settings(projection_settings(mapping_path=path))
    new_worker = ProjectionWorker(backend.statements, stores, new)
    reconciler = Reconciler(backend.statements, stores, new, new_worker)
    report = await reconciler.reconcile(fix=True)
    assert report.fixed > 0
    assert (await reconciler.reconcile()).drift == 0
    assert len(await records(stores)) == 2  # the course and the problem
    # the problem's item is resolved by the re-projection: it maps now
    assert await open_items(stores) == {}
    resolved = await stores.quality.list_items(RESOLVED)
    assert [i.issue.statement_id for i in resolved] == [ids[6]]


async def test_an_unknown_learner_is_queued_then_resolved_when_the_hris_knows_them(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    (sid,) = await writer.store(statement("completed", actor=mbox_actor("new@example.com")))
    await worker.drain()
    item = (await open_items(stores))[f"unknown_learner:{sid}"]
    assert (item.issue.field, item.issue.value, item.issue.member_id) == (
        "actor",
        "email:new@example.com",
        None,
    )
    await claim(stores, "E7", "new@example.com")
    await worker.drain()  # the identity map moved: held facts re-resolved
    assert await open_items(stores) == {}
    assert (await records(stores, "E7"))[COURSE]["learning_completed"] is True


async def test_an_address_two_members_claim_is_a_conflict_item(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    await claim(stores, "E2", "shared@example.com")
    await claim(stores, "E3", "shared@example.com")
    (sid,) = await writer.store(statement("completed", actor=mbox_actor("shared@example.com")))
    await worker.drain()
    item = (await open_items(stores))[f"identity_conflict:{sid}"]
    assert item.issue.value == {"actor": "email:shared@example.com", "claimants": ["E2", "E3"]}


async def test_reprojection_does_not_duplicate_and_keeps_dismissals(
    backend: Backend, stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    bad = {"score": {"raw": -3}}
    first, second = await writer.store(
        statement("scored", result=bad), statement("scored", result=bad, timestamp=at())
    )
    await worker.drain()
    await stores.quality.set_state([f"score_without_scale:{first}"], DISMISSED, 1)
    await worker.reapply([first, second])
    await worker.reapply([first, second])
    assert list(await open_items(stores)) == [f"score_without_scale:{second}"]
    assert len(await stores.quality.list_items(None)) == 2
    assert HRIS  # the statements' actor: an HRIS account the identity map knows


async def test_voiding_a_statement_resolves_its_items(
    stores: ProjectionStores, worker: ProjectionWorker, writer: Writer
) -> None:
    from tests.projections.conftest import voiding

    (sid,) = await writer.store(statement("scored", result={"score": {"raw": 300}}))
    await worker.drain()
    assert list(await open_items(stores)) == [f"score_without_scale:{sid}"]
    await writer.store(voiding(sid))
    await worker.drain()
    assert await open_items(stores) == {}
    assert [i.item_id for i in await stores.quality.list_items(RESOLVED)] == [
        f"score_without_scale:{sid}"
    ]


async def test_upgrading_to_the_scoped_mapping_removes_out_of_scope_records(
    backend: Backend, stores: ProjectionStores, writer: Writer, tmp_path: Any
) -> None:
    """Records made before the scope existed (every activity) are removed by reconcile --fix,
    with a `learning.removed` event each, and reconcile is at 0 drift after."""
    from projections.facts import Projector
    from tests.projections.conftest import projection_settings

    shipped = projection_settings().mapping_path.read_text().splitlines(keepends=True)
    unscoped = "".join(line for line in shipped if not line.startswith("scope,"))
    path = tmp_path / "v1.csv"
    path.write_text(unscoped.replace("# version: 2", "# version: 1"))
    old = Projector.from_settings(projection_settings(mapping_path=path))
    await writer.store(*edx_learner_day())
    await ProjectionWorker(backend.statements, stores, old).drain()
    assert len(await records(stores)) == 7  # threads, pages, the problem: each a "record"
    await stores.aggregates.publish_events()
    before = len(await stores.deliveries.unfanned_events(1000))

    new = Projector.from_settings(projection_settings())
    reconciler = Reconciler(
        backend.statements, stores, new, ProjectionWorker(backend.statements, stores, new)
    )
    fixed = await reconciler.reconcile(fix=True)
    assert (fixed.fixed, fixed.reprojected) == (6, 1)  # the removed ones; the course's record
    assert list(await records(stores)) == [COURSE_ID]
    assert (await reconciler.reconcile()).drift == 0
    await stores.aggregates.publish_events()
    events = (await stores.deliveries.unfanned_events(1000))[before:]
    removed = [e for e in events if e.type == "learning.removed"]
    assert len(removed) == 6 and COURSE_ID not in {e.activity_id for e in removed}


def test_open_items_of_statements_are_found_by_the_statement_index() -> None:
    """Not by the state index, which walks every open item (the queue of a large backlog's
    unknown learners holds hundreds of thousands)."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(QUALITY_SCHEMA)
    sql = OPEN_ITEMS_OF_STATEMENTS.format(", ".join("?" * 500))
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, ("open", *range(500)))]
    assert plan == [
        "SEARCH marketplace_quality USING INDEX marketplace_quality_statement (statement_id=?)"
    ]


class CountedWrites:
    """A quality store noting the size of each `record_issues` in `writes`."""

    def __init__(self, real: Any, writes: list[int]) -> None:
        self._real = real
        self._writes = writes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def record_issues(self, issues: Any, version: str, now_us: int) -> None:
        self._writes.append(len(issues))
        await self._real.record_issues(issues, version, now_us)


async def test_notes_held_over_slices_end_as_if_each_slice_wrote_in_turn(
    stores: ProjectionStores,
) -> None:
    """A batch's slices hold their notes (`QualityRecorder.hold`) and `write` them in one
    write of the items: an item found before its statement is settled is resolved, one found
    by the settling slice or after it stays open, and an older open item is resolved."""
    from projections.quality import SCORE, HeldNotes, QualityRecorder
    from projections.store.quality import QualityIssue

    def issue(sid: str) -> QualityIssue:
        return QualityIssue(sid, SCORE, "score", {"raw": 300}, "E1", COURSE)

    writes: list[int] = []
    counted = CountedWrites(stores.quality, writes)
    recorder = QualityRecorder(counted, stores.identities, lambda: "1", lambda: 5)
    await recorder.note([], [issue("w")], [], {})  # open from an earlier batch
    notes = HeldNotes()
    await recorder.hold(notes, [], [issue("x")], [], {})
    await recorder.hold(notes, ["x", "w", "z", "v"], [issue("z")], [], {})
    await recorder.hold(notes, [], [issue("v")], [], {})
    assert writes == [1]  # held: nothing written yet
    assert await stores.quality.get_item(f"{SCORE}:x") is None
    await recorder.write(notes)
    assert writes == [1, 3]  # the slices' items in one write
    assert sorted(await open_items(stores)) == [f"{SCORE}:v", f"{SCORE}:z"]
    resolved = [i.item_id for i in await stores.quality.list_items(RESOLVED)]
    assert sorted(resolved) == [f"{SCORE}:w", f"{SCORE}:x"]


async def test_a_batch_writes_its_slices_quality_items_once(
    stores: ProjectionStores,
    make_worker: Callable[..., ProjectionWorker],
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The items of a batch's slices (held learners here) go to the queue in one write,
    before the checkpoint; a statement voided before it is claimed has none."""
    from projections import worker as worker_module
    from projections.quality import UNKNOWN_LEARNER
    from tests.projections.conftest import voiding

    monkeypatch.setattr(worker_module, "_SLICE", 2)
    writes: list[int] = []
    worker = make_worker(batch=10)
    worker._quality._store = CountedWrites(stores.quality, writes)
    strangers = [mbox_actor(f"stranger{n}@example.com") for n in range(4)]
    ids = await writer.store(*(statement("attempted", actor=a) for a in strangers))
    await writer.store(voiding(ids[0]))  # in the third slice
    assert await worker.run_once() == 5
    assert writes == [3]  # three slices, one write
    assert sorted(await open_items(stores)) == sorted(f"{UNKNOWN_LEARNER}:{i}" for i in ids[1:])
    assert await worker._statements.count_awaiting_projection() == 0
