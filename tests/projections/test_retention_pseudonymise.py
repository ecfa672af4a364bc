"""Retention's `pseudonymise` action (`P5Y; contract; pseudonymise`, issue 17 item 9): a
member all of whose learning is past the period has their statements pseudonymised by
`apply`, audited without naming them, resumable; on every backend, and through the CLI."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from lrs.cli import main
from lrs.settings import Settings
from lrs.store.base import Backend
from projections.facts import Projector
from projections.retention_policy import parse_policy
from projections.service import Projection, open_projection
from projections.settings import SPEC_DIR
from projections.store.base import Claim, Member
from tests.lrs.http.test_erasure import found_secrets
from tests.projections.conftest import (
    COURSE,
    Writer,
    hris_actor,
    mbox_actor,
    projection_settings,
    statement,
)
from tests.projections.test_cli import run_json, store
from tests.projections.test_cli_privacy import hris_knows
from tests.projections.test_retention import ACTIVITY_ROW, Clock, us

POLICY = "P5Y; contract; pseudonymise"
NAME = "Edith Oldlearner"


def pseudonymising_mapping(directory: Path) -> Path:
    """The shipped mapping with activities kept 5 years, then their learners pseudonymised."""
    text = (SPEC_DIR / "marketplace-mapping.csv").read_text()
    assert ACTIVITY_ROW in text
    path = directory / "mapping.csv"
    path.write_text(text.replace(ACTIVITY_ROW, f"if_activity,yes,,one,{POLICY}"))
    return path


def test_the_policy_reads_and_refuses_an_unknown_action() -> None:
    policy = parse_policy(POLICY)
    assert not isinstance(policy, str) and (policy.action, policy.text) == ("pseudonymise", POLICY)
    with pytest.raises(ValueError, match="retention action 'forget'"):
        parse_policy("P5Y; contract; forget")


async def seeded(backend: Backend, tmp_path: Path, writer: Writer, clock: Clock) -> Projection:
    """E1 and E3 learnt only in 2017, E2 in 2017 and 2023; projected in 2019."""
    settings = projection_settings(mapping_path=pseudonymising_mapping(tmp_path))
    projector = replace(Projector.from_settings(settings), clock=clock)
    projection = await open_projection(
        backend, Settings(data_dir=tmp_path), settings, projector=projector
    )
    await projection.stores.identities.put_members(
        [Member(m, (f"{m.lower()}@example.com",)) for m in ("E1", "E2", "E3")]
    )
    await projection.stores.identities.put_claims(
        [Claim(f"email:{m}@example.com", m.upper(), "2016-01-01") for m in ("e1", "e3")]
    )
    old = "2017-05-01T00:00:00Z"
    await writer.store(
        statement("completed", actor=hris_actor("E1"), activity=f"{COURSE}/a", timestamp=old),
        statement("completed", actor=mbox_actor("e1@example.com"), timestamp=old),
        statement("completed", actor=hris_actor("E2"), timestamp=old),
        statement("passed", actor=hris_actor("E2"), timestamp="2023-01-01T00:00:00Z"),
        statement("completed", actor=mbox_actor("e3@example.com"), timestamp=old),
    )
    await projection.worker.drain()
    return projection


async def actors(backend: Backend, ids: list[str]) -> list[Any]:
    stored = await backend.statements.get_statements(ids)
    return [orjson.loads(s.raw)["actor"] for s in stored.values()]


async def test_apply_pseudonymises_members_wholly_past_resumably(
    backend: Backend, tmp_path: Path, writer: Writer
) -> None:
    clock = Clock(us("2019-01-01T00:00:00"))
    projection = await seeded(backend, tmp_path, writer, clock)
    facts = await projection.stores.facts.counted_facts(100)
    ids = {m: [f.statement_id for f in facts if f.member_id == m] for m in ("E1", "E2", "E3")}
    clock.now_us = us("2024-06-01T00:00:00")
    dry = await projection.retention.dry_run()
    assert dry.members_to_pseudonymise() == ["E1", "E3"]  # E2 learnt in 2023 too
    real, done = projection.retention._pseudonymise, []
    assert real is not None

    async def cut_short(member_id: str) -> int:
        if done:
            raise RuntimeError("cut short")
        done.append(member_id)
        return await real(member_id)

    projection.retention._pseudonymise = cut_short
    with pytest.raises(RuntimeError, match="cut short"):
        await projection.retention.apply()
    projection.retention._pseudonymise = real
    applied = await projection.retention.apply()  # finishes: E3 is still due
    assert (applied.members_pseudonymised, applied.statements_pseudonymised) == (1, 1)
    for member in ("E1", "E3"):
        for actor in await actors(backend, ids[member]):
            assert actor["account"]["name"].startswith("erased_"), actor
            held = orjson.dumps(actor).decode()
            # the HRIS account name and the address (a pseudonym's random letters may hold "e3")
            assert f'"{member}"' not in held and f"{member.lower()}@example.com" not in held
    assert all("E2" in orjson.dumps(a).decode() for a in await actors(backend, ids["E2"]))
    assert await projection.stores.aggregates.member_records("E1") == []
    assert await projection.stores.identities.get_member("E1") is not None  # the member stays
    assert (await projection.reconciler.reconcile()).drift == 0
    assert (await projection.retention.apply()).members_pseudonymised == 0
    entries = [e for e in await projection.audit.entries() if e.type == "retention.applied"]
    assert [e.details.get("members_pseudonymised") for e in entries] == [None, 1]
    assert "E3" not in orjson.dumps([e.details for e in entries]).decode()


def test_retention_pseudonymises_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LRS_HRIS_HOME_PAGE", "https://hris.example.com")
    monkeypatch.delenv("LRS_MONGODB_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    now = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    named_e1 = {**hris_actor("E1"), "name": NAME}  # a name only the statement holds
    store(
        tmp_path,
        statement("completed", actor=named_e1, timestamp="2015-03-01T00:00:00Z"),
        statement("completed", actor=hris_actor("E2"), timestamp="2015-03-01T00:00:00Z"),
        statement("passed", actor=hris_actor("E2"), activity=f"{COURSE}/new", timestamp=now),
    )
    hris_knows(tmp_path, "E1", "E2")
    assert main(["worker", "--once"]) == 0  # projected before the mapping had a period
    monkeypatch.setenv("LRS_MARKETPLACE_MAPPING", str(pseudonymising_mapping(tmp_path)))
    capsys.readouterr()
    assert main(["retention", "--dry-run"]) == 0
    assert "statements of 1 members to pseudonymise" in capsys.readouterr().out
    applied = run_json(capsys, "retention", "--apply")
    assert (applied["members_pseudonymised"], applied["statements_pseudonymised"]) == (1, 1)
    assert run_json(capsys, "retention", "--dry-run")["members_to_pseudonymise"] == 0
    assert run_json(capsys, "reconcile")["drift"] == 0
    [entry] = run_json(capsys, "audit", "--type", "retention.applied", "--limit", "1")
    assert entry["details"]["members_pseudonymised"] == 1 and "E1" not in str(entry)
    assert run_json(capsys, "audit", "verify")["intact"]
    database: Any = type("D", (), {"engine": type("E", (), {"path": tmp_path / "lrs.sqlite3"})})
    assert found_secrets(database, tmp_path, [NAME]) == []  # no free page keeps it either
