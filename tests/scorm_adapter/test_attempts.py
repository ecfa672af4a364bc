"""How a commit's order is decided, and what applying it does to the attempt's state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lrs.errors import Conflict
from scorm_adapter.attempts import AttemptState, Commit, CommitOrder, applied, order_commit

STATE = AttemptState(
    learner={"mbox": "mailto:ada@example.com"},
    course_iri="https://lms.example.com/c",
    sco_iri="https://lms.example.com/c/s",
    attempt_iri="https://lms.example.com/c/s?attemptId=1",
    version="1.2",
    session="s1",
    authority={"mbox": "mailto:lms@example.com"},
    credential_key="k",
)


def after(state: AttemptState, commit: Commit) -> AttemptState:
    return applied(state, commit, {**state.snapshot, **commit.elements})


def test_first_commit_applies() -> None:
    assert order_commit(STATE, Commit({"cmi.core.lesson_status": "passed"})) is CommitOrder.APPLY


def test_same_content_is_a_duplicate_whatever_its_seq() -> None:
    commit = Commit({"cmi.core.lesson_status": "passed"}, seq=1)
    state = after(STATE, commit)
    assert order_commit(state, commit) is CommitOrder.DUPLICATE
    assert order_commit(state, replace(commit, seq=9)) is CommitOrder.DUPLICATE
    assert order_commit(state, replace(commit, seq=2, finish=True)) is CommitOrder.APPLY


def test_lower_seq_is_stale_higher_applies_equal_with_other_data_conflicts() -> None:
    state = after(STATE, Commit({"cmi.core.lesson_location": "a"}, seq=5))
    assert (
        order_commit(state, Commit({"cmi.core.lesson_location": "b"}, seq=4)) is CommitOrder.STALE
    )
    assert (
        order_commit(state, Commit({"cmi.core.lesson_location": "b"}, seq=6)) is CommitOrder.APPLY
    )
    with pytest.raises(Conflict):
        order_commit(state, Commit({"cmi.core.lesson_location": "b"}, seq=5))


def test_after_finish_receipt_order_commits_are_stale_and_seq_commits_conflict() -> None:
    state = after(STATE, Commit({"cmi.core.lesson_status": "passed"}, seq=2, finish=True))
    assert state.finished
    assert order_commit(state, Commit({"cmi.core.lesson_location": "x"})) is CommitOrder.STALE
    assert (
        order_commit(state, Commit({"cmi.core.lesson_location": "x"}, seq=1)) is CommitOrder.STALE
    )
    with pytest.raises(Conflict):
        order_commit(state, Commit({"cmi.core.lesson_location": "x"}, seq=3))


def test_without_seq_a_shorter_session_time_is_stale() -> None:
    state = after(STATE, Commit({"cmi.core.session_time": "00:10:00"}))
    assert order_commit(state, Commit({"cmi.core.session_time": "00:09:59"})) is CommitOrder.STALE
    assert order_commit(state, Commit({"cmi.core.session_time": "00:10:01"})) is CommitOrder.APPLY
    assert order_commit(state, Commit({"cmi.core.session_time": "garbage"})) is CommitOrder.APPLY


def test_seq_is_kept_when_a_later_commit_has_none() -> None:
    state = after(after(STATE, Commit({"a": "1"}, seq=3)), Commit({"a": "2"}))
    assert state.seq == 3


def test_total_time_adds_finished_sessions_only() -> None:
    state = after(STATE, Commit({"cmi.core.session_time": "00:10:00"}))
    assert not state.total_known
    state = after(state, Commit({"cmi.core.session_time": "00:20:00"}, finish=True))
    assert state.total_known and state.total_time_document() == {"total_time": "PT20M"}
    resumed = state.new_session("s2", STATE.authority, "k")
    assert "cmi.core.session_time" not in resumed.snapshot
    resumed = after(resumed, Commit({"cmi.core.session_time": "00:05:30.5"}, finish=True))
    assert resumed.total_time_document() == {"total_time": "PT25M30.5S"}


def test_new_session_keeps_data_and_sent_ids_drops_session_elements() -> None:
    state = replace(
        STATE,
        snapshot={
            "cmi.core.entry": "ab-initio",
            "cmi.core.exit": "suspend",
            "cmi.core.lesson_location": "p3",
        },
        seq=7,
        finished=True,
        digests=("d",),
        sent=("id-1",),
    )
    resumed = state.new_session("s2", {"mbox": "mailto:other@example.com"}, "k2")
    assert resumed.snapshot == {"cmi.core.lesson_location": "p3"}
    assert (resumed.seq, resumed.finished, resumed.digests) == (None, False, ())
    assert resumed.sent == ("id-1",) and resumed.session == "s2" and resumed.credential_key == "k2"


def test_state_json_round_trip() -> None:
    state = after(STATE, Commit({"cmi.core.lesson_status": "passed"}, seq=1))
    state = replace(state, sent=("a",), pending=({"id": "a"},), names={"sco_name": {"en": "S"}})
    assert AttemptState.from_json(state.to_json()) == state
