"""What a subscription with scopes gets of each kind of event (`projections.event_view`)."""

from __future__ import annotations

from typing import Any

import orjson

from projections.event_view import body_for, view_of, visible_event

RECORD = {
    "member_id": "E1",
    "activity_id": "https://lms.example.com/c/1",
    "learning_completed": True,
    "score": {"value": 80.0},
    "email": "ada@example.com",
    "provenance": {"score": ["s1"], "learning_completed": ["s1"]},
}


def event(kind: str = "learning.updated", **extra: Any) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "type": kind,
        "tags": ["learning.completed", "score.changed"],
        "changes": ["learning_completed", "score", "provenance"],
        "data": RECORD,
        **extra,
    }


def test_no_scopes_or_every_field_sees_the_event_as_it_is() -> None:
    assert view_of(()) is None and view_of(["admin"]) is None
    assert visible_event(event(), None) == event()
    body = orjson.dumps(event())
    assert body_for(body, None) is body


def test_hidden_fields_leave_data_changes_and_tags() -> None:
    seen = visible_event(event(), view_of(["read:completions"]))
    assert seen is not None
    assert seen["tags"] == ["learning.completed"]
    assert seen["changes"] == ["learning_completed", "provenance"]
    assert "score" not in seen["data"] and "email" not in seen["data"]
    assert "score" not in seen["data"]["provenance"]


def test_an_update_of_hidden_fields_only_is_not_for_it() -> None:
    scores_only = event(changes=["score", "provenance"], tags=["score.changed"])
    assert visible_event(scores_only, view_of(["read:completions"])) is None
    assert visible_event(scores_only, view_of(["read:scores"])) is not None
    created = event("learning.created", changes=["score", "provenance"])
    assert visible_event(created, view_of(["read:completions"])) is not None


def test_member_events_need_the_profile_fields_but_an_erasure_goes_to_all() -> None:
    terminated = {"id": "e", "type": "member.terminated", "employment_status": "terminated"}
    erased = {"id": "e", "type": "member.erased", "member_id": "E1"}
    assert visible_event(terminated, view_of(["read:completions"])) is None
    assert visible_event(terminated, view_of(["read:profile"])) == terminated
    assert visible_event(erased, view_of(["read:completions"])) == erased


def test_the_body_sent_is_cut_too() -> None:
    sent = orjson.loads(body_for(orjson.dumps(event()), view_of(["read:scores"])))
    assert sent["data"]["score"] == {"value": 80.0}
    assert "learning_completed" not in sent["data"]
    assert sent["tags"] == ["score.changed"]
