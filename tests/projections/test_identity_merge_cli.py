"""`lrs identities merge` / `unmerge` through the CLI entry point, on a SQLite data dir: facts
move with their statement ids, events for what changed, reconcile without drift, later
statements follow the merge, the undo restores both members, audited and verifiable."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.cli import main
from projections.store import ProjectionStores
from tests.projections.conftest import COURSE, hris_actor, mbox_actor, statement
from tests.projections.test_identity_cli import (
    LMS,
    data_dir,
    on_stores,
    records,
    run,
    store,
    write,
)

__all__ = ["data_dir"]  # the autouse fixture: a SQLite data dir per test

GRACE, ADA = "grace@example.com", "ada@example.com"


def events(data: Path) -> list[tuple[str, str, str]]:
    """(type, member, activity) of every change event so far, in order."""

    async def job(_backend: Any, stores: ProjectionStores) -> list[tuple[str, str, str]]:
        await stores.aggregates.publish_events()
        found = await stores.deliveries.unfanned_events(10_000)
        bodies = [orjson.loads(e.body) for e in found]
        return [(b["type"], b["member_id"], b["activity_id"]) for b in bodies]

    return on_stores(data, job)


def record(data: Path, member_id: str, activity: str) -> dict[str, Any] | None:
    async def job(_backend: Any, stores: ProjectionStores) -> dict[str, Any] | None:
        found = await stores.aggregates.get_record(member_id, activity)
        return found.record if found else None

    return on_stores(data, job)


def two_members(data: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """E1 (grace, an LMS account, its HRIS id) and E2 (ada), with statements; E1's ids."""
    hris = write(data / "hris.csv", f"employee_id,email\nE1,{GRACE}\nE2,{ADA}\nE3,c@example.com\n")
    run(capsys, "identities", "import", hris)
    run(capsys, "identities", "link", "E1", "--account", LMS, "u-1")
    ids = [str(uuid.uuid4()) for _ in range(4)]
    lms = {"account": {"homePage": LMS, "name": "u-1"}}
    actors = [mbox_actor(GRACE), mbox_actor(GRACE), hris_actor("E1"), lms]
    store(
        data,
        *(
            statement("completed", actor=a, activity=f"{COURSE}/{n}", id=i)
            for n, (a, i) in enumerate(zip(actors, ids, strict=True), start=1)
        ),
        statement("passed", actor=mbox_actor(ADA), activity=f"{COURSE}/1"),
        statement("passed", actor=mbox_actor(ADA), activity=f"{COURSE}/9"),
    )
    assert (records(data, "E1"), records(data, "E2")) == (4, 2)
    return ids


def test_a_merge_moves_records_with_events_and_no_drift_then_undo_restores(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = two_members(data_dir, capsys)
    seen = len(events(data_dir))
    merged = run(capsys, "identities", "merge", "E1", "E2", "--reason", "same person")
    assert (merged["from"], merged["into"], merged["reason"]) == ("E1", "E2", "same person")
    assert merged["statements_reprojected"] == 4
    assert merged["before"]["from"]["records"] == 4 and merged["after"]["from"]["records"] == 0
    assert merged["before"]["into"]["records"] == 2 and merged["after"]["into"]["records"] == 5
    assert merged["after"]["from"]["claims"] == []
    assert [c[0] for c in merged["after"]["into"]["claims"]] == [
        f"account:{LMS}\nu-1",
        f"email:{ADA}",
        f"email:{GRACE}",
        "hris:E1",  # statements by E1's HRIS account project to E2
    ]
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (0, 5)
    changed = sorted(events(data_dir)[seen:])
    assert changed == sorted(
        [("learning.removed", "E1", f"{COURSE}/{n}") for n in range(1, 5)]
        + [("learning.updated", "E2", f"{COURSE}/1")]
        + [("learning.created", "E2", f"{COURSE}/{n}") for n in range(2, 5)]
    )
    first = record(data_dir, "E2", f"{COURSE}/1")
    assert first is not None and ids[0] in first["provenance"]["statements"]  # provenance kept
    assert run(capsys, "reconcile")["drift"] == 0
    again = run(capsys, "identities", "import", str(data_dir / "hris.csv"))  # E1's row again
    assert again["conflicts"] == [] and run(capsys, "identities", "conflicts") == []
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (0, 5)  # E2's moved claims
    assert run(capsys, "identities", "import", str(data_dir / "hris.csv"))["written"] == 0

    store(  # after the merge, E1's old address and HRIS account project to E2
        data_dir,
        statement("completed", actor=mbox_actor(GRACE), activity=f"{COURSE}/5"),
        statement("completed", actor=hris_actor("E1"), activity=f"{COURSE}/6"),
    )
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (0, 7)
    assert run(capsys, "reconcile")["drift"] == 0

    [entry] = run(capsys, "audit", "--type", "identities.merged")
    assert entry["seq"] == merged["audit_seq"] and entry["actor"] == "cli"
    assert entry["details"]["reason"] == "same person"
    assert entry["before"] == merged["before"]

    seen = len(events(data_dir))
    undone = run(capsys, "identities", "unmerge", str(merged["audit_seq"]), "--reason", "oops")
    assert undone["type"] == "identities.unmerged"
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (6, 2)
    assert undone["after"]["from"]["claims"] == merged["before"]["from"]["claims"]
    assert undone["after"]["into"]["claims"] == merged["before"]["into"]["claims"]
    assert ("learning.removed", "E2", f"{COURSE}/2") in events(data_dir)[seen:]
    assert run(capsys, "reconcile")["drift"] == 0
    assert main(["identities", "unmerge", str(merged["audit_seq"])]) == 2  # undone already
    assert "not merged into E2" in capsys.readouterr().err
    [unmerged] = run(capsys, "audit", "--type", "identities.unmerged")
    assert unmerged["details"]["merge_seq"] == merged["audit_seq"]
    assert main(["audit", "verify"]) == 0


def test_refused_merges_write_nothing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two_members(data_dir, capsys)
    entries = len(run(capsys, "audit"))
    for argv, message in (
        (["E1", "E1"], "into itself"),
        (["E404", "E2"], "no member E404"),
        (["E1", "E404"], "no member E404"),
        (["E1", "E2", "--reason", " "], "needs a reason"),
    ):
        reason = [] if "--reason" in argv else ["--reason", "r"]
        assert main(["identities", "merge", *argv, *reason]) == 2
        assert message in capsys.readouterr().err
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (4, 2)
    assert len(run(capsys, "audit")) == entries
    merged = run(capsys, "identities", "merge", "E1", "E2", "--reason", "dup")
    assert main(["identities", "merge", "E1", "E3", "--reason", "again"]) == 2
    assert "E1 is merged into E2" in capsys.readouterr().err
    assert main(["identities", "merge", "E3", "E1", "--reason", "into merged"]) == 2
    assert main(["identities", "unmerge", "1"]) == 2  # an import entry, not a merge
    assert "is not a merge" in capsys.readouterr().err

    later = run(capsys, "identities", "merge", "E3", "E2", "--reason", "another")
    assert main(["identities", "unmerge", str(merged["audit_seq"])]) == 2
    assert f"audit entry {later['audit_seq']}" in capsys.readouterr().err
    assert records(data_dir, "E1") == 0
    run(capsys, "identities", "unmerge", str(later["audit_seq"]))
    run(capsys, "identities", "unmerge", str(merged["audit_seq"]))  # now the newest
    assert (records(data_dir, "E1"), records(data_dir, "E2")) == (4, 2)
    assert run(capsys, "reconcile")["drift"] == 0
    assert main(["audit", "verify"]) == 0
