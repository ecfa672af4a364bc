"""QualityStore contract, on every backend."""

from __future__ import annotations

from projections.store import ProjectionStores
from projections.store.quality import (
    DISMISSED,
    OPEN,
    RESOLVED,
    QualityIssue,
    QualityStore,
)

SCORE = {"raw": 12, "max": 10}


def issue(sid: str, reason: str = "score_without_scale", **kw: object) -> QualityIssue:
    values: dict = {"field": "score", "value": SCORE, "member_id": "E1", "activity_id": "http://a"}
    values.update(kw)
    return QualityIssue(sid, reason, **values)


async def test_issues_are_one_item_per_reason_and_statement(stores: ProjectionStores) -> None:
    quality = stores.quality
    assert isinstance(quality, QualityStore)
    await quality.record_issues([issue("s1"), issue("s2")], "1", 10)
    # seen again (a re-projection): updated, not duplicated
    await quality.record_issues([issue("s1", value={"raw": 13, "max": 10})], "2", 20)
    items = await quality.list_items()
    assert [i.item_id for i in items] == ["score_without_scale:s1", "score_without_scale:s2"]
    first = items[0]
    assert (first.state, first.mapping_version, first.first_seen_us, first.last_seen_us) == (
        OPEN,
        "2",
        10,
        20,
    )
    assert first.issue.value == {"raw": 13, "max": 10} and first.issue.member_id == "E1"
    assert await quality.reason_counts() == {"score_without_scale": 2}


async def test_values_with_dotted_keys_round_trip(stores: ProjectionStores) -> None:
    value = {"http://example.com/ext.v1": {"$x": [1, None]}}
    await stores.quality.record_issues([issue("s1", value=value)], "1", 1)
    item = await stores.quality.get_item("score_without_scale:s1")
    assert item is not None and item.issue.value == value
    assert await stores.quality.get_item("nope:s1") is None


async def test_resolving_keeps_what_is_still_wrong(stores: ProjectionStores) -> None:
    quality = stores.quality
    await quality.record_issues(
        [issue("s1"), issue("s1", "unknown_learner"), issue("s2"), issue("s3")], "1", 1
    )
    keep = {"unknown_learner:s1"}
    assert await quality.resolve_issues(["s1", "s2"], keep, 5) == 2
    assert await quality.reason_counts() == {"score_without_scale": 1, "unknown_learner": 1}
    assert await quality.reason_counts(RESOLVED) == {"score_without_scale": 2}
    # only one reason
    assert await quality.resolve_issues(["s1", "s3"], (), 6, reasons=["unknown_learner"]) == 1
    assert await quality.reason_counts() == {"score_without_scale": 1}
    assert await quality.resolve_issues([], (), 7) == 0
    # a resolved item seen again opens again
    await quality.record_issues([issue("s2")], "1", 8)
    assert (await quality.get_item("score_without_scale:s2")).state == OPEN  # type: ignore[union-attr]


async def test_dismissed_items_stay_dismissed(stores: ProjectionStores) -> None:
    quality = stores.quality
    await quality.record_issues([issue("s1"), issue("s2")], "1", 1)
    assert await quality.set_state(["score_without_scale:s1", "nope"], DISMISSED, 2) == 1
    assert await quality.set_state(["score_without_scale:s1"], DISMISSED, 3) == 0
    await quality.record_issues([issue("s1"), issue("s2"), issue("s3")], "1", 4)
    assert await quality.reason_counts() == {"score_without_scale": 2}
    assert await quality.reason_counts(DISMISSED) == {"score_without_scale": 1}
    dismissed = await quality.list_items(DISMISSED)
    assert [i.issue.statement_id for i in dismissed] == ["s1"]
    assert dismissed[0].last_seen_us == 2


async def test_listing_pages_by_reason_and_state(stores: ProjectionStores) -> None:
    quality = stores.quality
    issues = [issue(f"s{n}") for n in range(5)] + [issue("s0", "invalid_certificate_url")]
    await quality.record_issues(issues, "1", 1)
    page = await quality.list_items(limit=2)
    assert [i.item_id for i in page] == ["invalid_certificate_url:s0", "score_without_scale:s0"]
    rest = await quality.list_items(limit=10, after=page[-1].item_id)
    assert [i.issue.statement_id for i in rest] == ["s1", "s2", "s3", "s4"]
    only = await quality.list_items(reason="invalid_certificate_url")
    assert len(only) == 1 and only[0].issue.field == "score"
    await quality.resolve_issues(["s4"], (), 2)
    assert len(await quality.list_items(None)) == 6
    assert len(await quality.list_items(RESOLVED)) == 1


async def test_an_erasure_forgets_the_items_of_its_statements_and_member(
    stores: ProjectionStores,
) -> None:
    quality = stores.quality
    await quality.record_issues(
        [issue("s1"), issue("s2", member_id="E2"), issue("s3", member_id="E2"), issue("s4")],
        "1",
        1,
    )
    await quality.set_state(["score_without_scale:s3"], DISMISSED, 2)
    assert await quality.forget_items(["s1", "s9"], "E2") == 3
    assert [i.issue.statement_id for i in await quality.list_items(None)] == ["s4"]
