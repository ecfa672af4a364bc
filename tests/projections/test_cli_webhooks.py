"""`lrs worker --once`, `lrs webhooks ...` and `lrs reconcile --fix` during ingest through the
CLI, delivering to a receiver that verifies every signature (a thread of its own: the command
runs its own event loop)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from lrs.cli import main
from projections import service
from projections.reconcile import Reconciler
from tests.projections.conftest import COURSE, hris_actor, statement
from tests.projections.test_cli import data_dir, store  # noqa: F401  (the autouse data dir)
from tests.projections.webhook_receiver import ThreadedReceiver, threaded_receiver


@pytest.fixture(autouse=True)
def internal_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers listen on http://127.0.0.1, which subscriptions refuse by default."""
    monkeypatch.setenv("LRS_WEBHOOK_ALLOW_INTERNAL", "1")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def worker_once(capsys: pytest.CaptureFixture[str]) -> str:
    """`lrs worker --once`; what it printed."""
    assert main(["worker", "--once"]) == 0
    return capsys.readouterr().out


def subscribe(capsys: pytest.CaptureFixture[str], receiver: ThreadedReceiver, *opts: str) -> str:
    """Subscribe the receiver (learning it the secret); the subscription id."""
    created = run_json(capsys, "webhooks", "subscribe", "--url", receiver.url, *opts)
    receiver.secret = created["secret"]
    return str(created["id"])


def test_worker_once_delivers_the_whole_backlog(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    with threaded_receiver() as receiver:
        subscribe(capsys, receiver)
        # more events than one delivery round (100) sends
        store(data_dir, *(statement("attempted", activity=f"{COURSE}/{n}") for n in range(150)))
        assert main(["worker", "--once"]) == 0
        out = capsys.readouterr().out
        assert receiver.rejected == 0
        assert len({e["id"] for e in receiver.events}) == 150
        assert "applied 150 statements" in out and "150 deliveries attempted" in out
        assert main(["marketplace", "status"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["webhook_deliveries_pending"] == 0
        assert status["webhook_deliveries_delivered"] == 150


def test_redeliver_an_unknown_id_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhooks", "redeliver", "no-such-id"]) == 1
    captured = capsys.readouterr()
    assert "no-such-id: no such dead letter" in captured.err
    assert "queued for delivery again" not in captured.out


def test_replay_sends_current_state_to_one_subscription_only(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    with threaded_receiver() as late, threaded_receiver() as other:
        other_id = subscribe(capsys, other)
        store(
            data_dir,
            *(
                statement("completed", actor=hris_actor(m), activity=f"{COURSE}/{n}")
                for m in ("E1", "E2")
                for n in range(3)
            ),
        )
        worker_once(capsys)
        assert len(other.events) == 6
        late_id = subscribe(capsys, late, "--activity", f"{COURSE}/0", "--activity", f"{COURSE}/1")

        replayed = run_json(capsys, "webhooks", "replay", late_id)
        assert (replayed["records"], replayed["queued"]) == (6, 4)  # its activity filter
        worker_once(capsys)
        assert late.rejected == 0 and len(other.events) == 6  # the others get nothing
        assert all(e["replay"] is True and e["type"] == "learning.updated" for e in late.events)
        assert sorted((e["member_id"], e["activity_id"][-1]) for e in late.events) == [
            ("E1", "0"),
            ("E1", "1"),
            ("E2", "0"),
            ("E2", "1"),
        ]
        event = late.events[0]
        assert event["data"]["learning_completed"] is True and "learning.completed" in event["tags"]
        assert event["version"] == 1 and "replay" not in other.events[0]

        assert run_json(capsys, "webhooks", "replay", late_id, "--member", "E2")["queued"] == 2
        future = "2999-01-01T00:00:00Z"
        assert run_json(capsys, "webhooks", "replay", late_id, "--since", future)["queued"] == 0
        worker_once(capsys)
        assert [e["member_id"] for e in late.events[4:]] == ["E2", "E2"]
        assert len(other.events) == 6 and other_id != late_id

    assert main(["webhooks", "replay", "sub_nope"]) == 1
    assert "no subscription sub_nope" in capsys.readouterr().err


def test_reconcile_fix_during_ingest_counts_what_it_fixed_and_succeeds(
    data_dir: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store(data_dir, *(statement("attempted", activity=f"{COURSE}/a{n}") for n in range(2)))
    arriving = [statement("completed", activity=f"{COURSE}/b{n}") for n in range(5)]

    class Ingesting(Reconciler):
        """Another process stores statements as the second comparison starts reading."""

        def __init__(self, statements: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(ReadHook(statements, data_dir, arriving), *args, **kwargs)

    monkeypatch.setattr(service, "Reconciler", Ingesting)
    assert main(["reconcile", "--fix"]) == 0  # was: "fixed -3" and exit 1
    out = capsys.readouterr().out
    assert "fixed 2" in out and "drift new since the run began 5" in out


class ReadHook:
    """A statement store whose second full read first waits for another process to store
    statements (SQLite: a second connection, in a thread with its own loop)."""

    def __init__(self, real: Any, directory: Path, statements: list[dict[str, Any]]) -> None:
        self._real, self._data_dir, self._statements = real, directory, statements
        self._reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def query_statements(self, query: Any) -> Any:
        if query.after is None:
            self._reads += 1
            if self._reads == 2:
                await asyncio.to_thread(store, self._data_dir, *self._statements)
        return await self._real.query_statements(query)
